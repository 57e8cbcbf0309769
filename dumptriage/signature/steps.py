"""The signature pipeline: an ordered list of small steps, each adding a part and a note.

Modelled on socorro's signature generator (mozilla-services/socorro
``socorro/signature/generator.py``: rules with a predicate and an action, applied in order
to one result that collects notes), so that every bucket explains how it was made.

A hung guest's vmcore (vCPUs, no stop code) gives ``hang CULPRIT`` (the blamed driver).
A signature is ``BUGCHECK[/SUBTYPE] FRAME``, for example ``0x133/0x0 nt!KiProcessExpiredTimerList``
or ``0x7e qutmdrv+0x4db``: the stop code (the ``_M`` variants folded into their base code),
the subtype where the catalogue defines one for the code, and the first relevant frame of
the crashing thread's stack after the skip list (``skip_frames.toml``); without such a
frame, the report's probable culprit module, else ``no-stack``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dumptriage.signature.frames import SkipList, builtin_skip_list, frame_name, module_name

# The _M variants are "the same failure" with bit 28 set (Microsoft's bug check reference,
# e.g. 0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M and 0x100000EA), so they bucket
# together with their base code.
M_VARIANT_BIT = 0x10000000


@dataclass
class Draft:
    """What the steps build: the parts of the signature so far and the notes."""

    parts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, step: str, text: str) -> None:
        self.notes.append(f"{step}: {text}")


@dataclass(frozen=True)
class Signature:
    """The bucket key and how it was made (one note per step that did something)."""

    signature: str
    bugcheck: str
    subtype: str | None
    frame: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "bugcheck": self.bugcheck,
                "subtype": self.subtype, "frame": self.frame, "notes": list(self.notes)}


Step = Callable[[dict[str, Any], Draft, SkipList], None]


def bugcheck_code(report: dict[str, Any], draft: Draft, skip: SkipList) -> None:
    """The stop code as WinDbg's bucket ids write it (``0x133``), _M variants folded."""
    bug = report.get("bugcheck") or {}
    code = bug.get("code")
    if not isinstance(code, int) and report.get("vcpus"):
        # A hung guest's memory (a host-side vmcore) records no stop code: its bucket is a
        # hang, keyed by the frame below (the blamed vCPU's module).
        draft.parts["bugcheck"] = "hang"
        draft.note("bugcheck", "no stop code: a hung guest's memory, "
                   f"{len(report['vcpus'])} vCPUs")
        return
    if not isinstance(code, int):
        draft.parts["bugcheck"] = "unknown"
        draft.note("bugcheck", "the report has no bugcheck code")
        return
    name = bug.get("name") or "unnamed"
    if code & M_VARIANT_BIT and str(name).endswith("_M"):
        draft.parts["bugcheck"] = f"{code & ~M_VARIANT_BIT:#x}"
        draft.note("bugcheck", f"{code:#x} {name} is the _M variant of "
                   f"{code & ~M_VARIANT_BIT:#x}: bucketed with it")
        return
    draft.parts["bugcheck"] = f"{code:#x}"
    draft.note("bugcheck", f"{code:#x} {name}")


def subtype(report: dict[str, Any], draft: Draft, skip: SkipList) -> None:
    """The subtype value where the catalogue defines one for this code (bugcheck.subtype)."""
    sub = (report.get("bugcheck") or {}).get("subtype")
    if not isinstance(sub, dict) or sub.get("value") is None:
        return
    value = str(sub["value"]).lower()
    draft.parts["subtype"] = value
    summary = sub.get("summary") or "no summary in the catalogue"
    draft.note("subtype", f"Arg{sub.get('arg', '?')} = {value}: {summary}")


def first_relevant_frame(report: dict[str, Any], draft: Draft, skip: SkipList) -> None:
    """The first frame of the stack not on the skip list; scanned (heuristic) frames only
    when no trusted frame is left."""
    skipped: list[str] = []
    fallback = None
    for raw in _from_the_fault(report.get("stack") or [], draft):
        if not isinstance(raw, dict):
            continue
        frame = frame_name(raw, skip)
        if frame is None:
            continue
        entry = skip.match(frame.key) if frame.function else None
        if entry is not None:
            if frame.key not in skipped:
                skipped.append(frame.key)
            continue
        if frame.heuristic:
            fallback = fallback or frame
            continue
        _take(draft, frame.key, skipped, "")
        return
    if fallback is not None:
        _take(draft, fallback.key, skipped, " (found by a stack scan: heuristic)")
    elif skipped:
        draft.note("frame", f"every frame is on the skip list ({', '.join(skipped)})")


def _from_the_fault(stack: Sequence[Any], draft: Draft) -> Sequence[Any]:
    """The frames from the exception context on, when the walk found one: what ran before
    it is the exception dispatcher reaching KeBugCheckEx (KiExceptionDispatch,
    RtlDispatchException), the frames WinDbg's ``.cxr`` leaves out of its bucket."""
    for i, raw in enumerate(stack):
        if isinstance(raw, dict) and raw.get("method") == "exception_context":
            if i:
                draft.note("frame", f"from the exception context on ({i} frames of the "
                           "exception dispatch before it left out)")
            return stack[i:]
    return stack


def _take(draft: Draft, key: str, skipped: Sequence[str], how: str) -> None:
    draft.parts["frame"] = key
    passed = f", after skipping {', '.join(skipped)}" if skipped else ""
    draft.note("frame", f"{key}{how}{passed}")


def culprit_module(report: dict[str, Any], draft: Draft, skip: SkipList) -> None:
    """No relevant frame: the report's probable culprit module stands in."""
    if "frame" in draft.parts:
        return
    culprit = report.get("culprit") or {}
    name = module_name(culprit.get("module"), skip) if isinstance(culprit, dict) else None
    if name:
        draft.parts["frame"] = name
        draft.note("culprit", f"no relevant stack frame: the probable culprit {name}")
        return
    draft.parts["frame"] = "no-stack"
    draft.note("culprit", "no relevant stack frame and no probable culprit")


PIPELINE: tuple[Step, ...] = (bugcheck_code, subtype, first_relevant_frame, culprit_module)


def generate(report: dict[str, Any], pipeline: Sequence[Step] = PIPELINE,
             skip: SkipList | None = None) -> Signature:
    skip = skip or builtin_skip_list()
    draft = Draft()
    for step in pipeline:
        step(report, draft, skip)
    bug = draft.parts.get("bugcheck", "unknown")
    sub = draft.parts.get("subtype")
    frame = draft.parts.get("frame", "no-stack")
    head = f"{bug}/{sub}" if sub is not None else bug
    return Signature(f"{head} {frame}", bug, sub, frame, tuple(draft.notes))
