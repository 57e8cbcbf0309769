"""'Probably caused by': the module to blame, always with the reason in words.

Order of evidence, strongest first:
1. a bugcheck argument that is the faulting instruction's address (fault_address.tsv):
   the module holding that address;
2. the first non-inbox module among the frames the walk trusts (the saved context and
   the frame-pointer chain);
3. the first non-inbox module among scanned frames (weaker: a raw scan also finds stale
   return addresses).
An inbox module can be the culprit through (1). Nothing found gives None.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from dumptriage.catalogue.tsv import read_rows
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.model.dump import BugCheck, Frame, Module
from dumptriage.model.report import Culprit

# Frames the walk derived from saved registers and unwind data, not guessed by the scan.
TRUSTED = ("context", "exception_context", "frame_pointer", "unwind")


@cache
def fault_address_args() -> dict[int, tuple[int, str]]:
    """Stop code -> (argument number, what it holds)."""
    return {int(code, 16): (int(arg), meaning) for code, arg, meaning, _ in
            read_rows("fault_address.tsv")}


def probable_culprit(bugcheck: BugCheck, frames: Sequence[Frame], modules: ModuleMap,
                     name: str | None = None) -> Culprit | None:
    """``name``: the stop code's name from the catalogue (None when it has none)."""
    return (_from_fault_address(bugcheck, name, modules)
            or _from_frames(frames, modules, TRUSTED, "on the crashing thread's stack")
            or _from_frames(frames, modules, ("scan",),
                            "found by the raw stack scan (it may be a stale return address)"))


def _from_fault_address(bugcheck: BugCheck, name: str | None,
                        modules: ModuleMap) -> Culprit | None:
    rule = fault_address_args().get(bugcheck.code)
    if rule is None:
        return None
    arg, meaning = rule
    address = bugcheck.args[arg - 1]
    module = modules.find(address)
    if module is None:
        return None
    name = name or f"bugcheck {bugcheck.code:#x}"
    return Culprit(module.name, f"Arg{arg} of {name} is the {meaning}: {address:#x} lies in "
                                f"{module.name} (+{address - module.base:#x})")


def _from_frames(frames: Sequence[Frame], modules: ModuleMap, methods: tuple[str, ...],
                 where: str) -> Culprit | None:
    suspects: list[Module] = []
    for frame in frames:
        if frame.method not in methods or frame.address is None:
            continue
        module = modules.find(frame.address)
        if module is not None and module.module_class != "inbox" and module not in suspects:
            suspects.append(module)
    return blame([(m.name, m.module_class, m.vendor) for m in suspects], where)


def blame(suspects: Sequence[tuple[str, str, str | None]], where: str) -> Culprit | None:
    """The first of the non-inbox ``suspects`` (name, class, vendor), in words."""
    if not suspects:
        return None
    name, module_class, vendor = suspects[0]
    kind = {"third_party": "third-party", "virtio": "virtio-win"}.get(
        module_class, "unclassified (not known to ship with Windows)")
    by = f" ({vendor})" if vendor else ""
    if len(suspects) == 1:
        return Culprit(name, f"{name}{by} is the only {kind} module {where}")
    others = ", ".join(s[0] for s in suspects[1:])
    return Culprit(name, f"{name}{by} is the first {kind} module {where} (also there: {others})")
