"""The signature pipeline, step by step: each case is (why it exists, report, expected).

Reports are minimal dicts of the JSON contract (schema/report-v1.schema.json): the steps
read only bugcheck.code/name/subtype, stack[].module/symbol/offset/method and culprit.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dumptriage.signature import signature
from dumptriage.signature.frames import builtin_skip_list
from dumptriage.signature.steps import (
    Draft,
    bugcheck_code,
    culprit_module,
    first_relevant_frame,
    subtype,
)
from tests.batch.helpers import STORY

SKIP = builtin_skip_list()


def frame(module: str | None, symbol: str | None, offset: str = "0x10",
          method: str = "frame_pointer") -> dict[str, Any]:
    return {"module": module, "symbol": symbol, "offset": offset, "method": method}


def run_step(step: Any, report: dict[str, Any]) -> Draft:
    draft = Draft()
    step(report, draft, SKIP)
    return draft


BUGCHECK_CASES = [
    ("plain code, WinDbg's bucket spelling", {"code": 0x133, "name": "DPC_WATCHDOG_VIOLATION"},
     "0x133"),
    ("_M variant folds into its base code (Microsoft: the same failure)",
     {"code": 0x1000007E, "name": "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"}, "0x7e"),
    ("bit 28 without _M in the name is a code of its own, not folded",
     {"code": 0x10000001, "name": "SOMETHING"}, "0x10000001"),
    ("a report without a code (a transcript that lost its BugCheck line)", {}, "unknown"),
]


@pytest.mark.parametrize(("why", "bug", "expected"), BUGCHECK_CASES,
                         ids=[c[0] for c in BUGCHECK_CASES])
def test_bugcheck_step(why: str, bug: dict[str, Any], expected: str) -> None:
    draft = run_step(bugcheck_code, {"bugcheck": bug})
    assert draft.parts["bugcheck"] == expected
    assert draft.notes and draft.notes[0].startswith("bugcheck:")


SUBTYPE_CASES = [
    ("the catalogue's subtype (0x133 Arg1 0: single DPC) is part of the key",
     {"subtype": {"arg": 1, "value": "0x0", "summary": "a single DPC"}}, "0x0"),
    ("no subtype defined for the code: nothing added", {"subtype": None}, None),
    ("a subtype without a value is ignored", {"subtype": {"arg": 1}}, None),
]


@pytest.mark.parametrize(("why", "bug", "expected"), SUBTYPE_CASES,
                         ids=[c[0] for c in SUBTYPE_CASES])
def test_subtype_step(why: str, bug: dict[str, Any], expected: str | None) -> None:
    draft = run_step(subtype, {"bugcheck": bug})
    assert draft.parts.get("subtype") == expected
    assert bool(draft.notes) == (expected is not None)


FRAME_CASES = [
    ("KeBugCheckEx is skipped: it tops every stack",
     [frame("ntoskrnl.exe", "nt!KeBugCheckEx+0x1e"), frame("foo.sys", "foo!Bar+0x3")],
     "foo!Bar"),
    ("clock-interrupt frames of a 0x101/0x133 are skipped (hal alias of halmacpi.dll)",
     [frame("halmacpi.dll", "HalpClockInterrupt+0x50"), frame("ntkrpamp.exe",
      "nt!KeUpdateSystemTime+0x10"), frame("Ntfs.sys", "Ntfs!NtfsCommonWrite+0x22")],
     "Ntfs!NtfsCommonWrite"),
    ("no function known: module+offset, the image name shortened as WinDbg does",
     [frame("qutmdrv.sys", "qutmdrv+0x4db", "0x4db")], "qutmdrv+0x4db"),
    ("no symbol at all: module+offset from the frame's offset",
     [frame("viostor.sys", None, "0x1A2B")], "viostor+0x1a2b"),
    ("a scanned frame loses to a trusted one further down",
     [frame("evil.sys", "evil!X+0x1", method="scan"), frame("good.sys", "good!Y+0x2")],
     "good!Y"),
    ("only scanned frames left: the first one is taken (noted as heuristic)",
     [frame("ntoskrnl.exe", "nt!KeBugCheckEx+0x1e"), frame("evil.sys", "evil!X", method="scan")],
     "evil!X"),
    ("a frame without module or symbol is passed over",
     [frame(None, None), frame("a.sys", "a!F+0x1")], "a!F"),
    ("kernel image names all become nt (ntkrnlmp.exe)",
     [frame("ntkrnlmp.exe", "KiProcessExpiredTimerList+0x1")], "nt!KiProcessExpiredTimerList"),
]


@pytest.mark.parametrize(("why", "stack", "expected"), FRAME_CASES,
                         ids=[c[0] for c in FRAME_CASES])
def test_frame_step_must_match(why: str, stack: list[dict[str, Any]], expected: str) -> None:
    draft = run_step(first_relevant_frame, {"stack": stack})
    assert draft.parts["frame"] == expected
    assert draft.notes[-1].startswith(f"frame: {expected}")


NO_FRAME_CASES = [
    ("only skip-listed frames: no frame chosen, the note lists them",
     [frame("ntoskrnl.exe", "nt!KeBugCheckEx+0x1e"), frame("ntoskrnl.exe", "nt!KiPageFault")]),
    ("an empty stack (a header-only dump)", []),
]


@pytest.mark.parametrize(("why", "stack"), NO_FRAME_CASES, ids=[c[0] for c in NO_FRAME_CASES])
def test_frame_step_must_not_match(why: str, stack: list[dict[str, Any]]) -> None:
    draft = run_step(first_relevant_frame, {"stack": stack})
    assert "frame" not in draft.parts


CULPRIT_CASES = [
    ("no relevant frame: the probable culprit's module", {"module": "amdppm.sys"}, "amdppm"),
    ("no frame and no culprit", None, "no-stack"),
]


@pytest.mark.parametrize(("why", "culprit", "expected"), CULPRIT_CASES,
                         ids=[c[0] for c in CULPRIT_CASES])
def test_culprit_step(why: str, culprit: dict[str, Any] | None, expected: str) -> None:
    draft = run_step(culprit_module, {"culprit": culprit})
    assert draft.parts["frame"] == expected


def test_culprit_step_leaves_a_chosen_frame() -> None:
    draft = Draft(parts={"frame": "a!F"})
    culprit_module({"culprit": {"module": "b.sys"}}, draft, SKIP)
    assert draft.parts["frame"] == "a!F" and not draft.notes


def test_whole_pipeline_on_the_story_report(tmp_path: Any) -> None:
    from dumptriage import analyze

    report = analyze(STORY / "MEMORY.DMP").to_dict()
    sig = signature(report)
    # The story's stack (samples/win7-x86-clock-watchdog): KeBugCheckEx, then the clock
    # interrupt (KeUpdateRunTime, KeUpdateSystemTime) and IofCallDriver are skipped. The
    # next frame's export name, nt!MmSetAddressRangeModified+0x1c378, is too far from the
    # export to name its function (WinDbg's symbols say KeFlushMultipleRangeTb,
    # shared/story/windbg-analyze.txt): module+offset (0x83c8ce13 - base 0x83c13000).
    assert sig.signature == "0x101 nt+0x79e13"
    assert [n.split(":")[0] for n in sig.notes] == ["bugcheck", "frame"]
    assert "nt!KeBugCheckEx" in sig.notes[1]
    assert signature(json.loads(json.dumps(report))) == sig  # the dict form is enough


def test_subtype_appears_in_the_signature() -> None:
    report = {"bugcheck": {"code": 0x133, "name": "DPC_WATCHDOG_VIOLATION",
                           "subtype": {"arg": 1, "value": "0x1", "summary": "total"}},
              "stack": [frame("ntoskrnl.exe", "nt!KeAccumulateTicks+0x1"),
                        frame("netkvm.sys", "netkvm+0x20", "0x20")]}
    assert signature(report).signature == "0x133/0x1 netkvm+0x20"


def test_a_far_export_name_is_not_a_function_unless_a_pdb_or_debugger_gave_it() -> None:
    far = {"module": "ntoskrnl.exe", "symbol": "nt!MmSetAddressRangeModified+0x1c378",
           "offset": "0x79e13", "method": "frame_pointer"}
    near = dict(far, symbol="nt!KeFlushMultipleRangeTb+0x2d5")
    for frames, expected in (([far], "0x1 nt+0x79e13"),
                             ([near], "0x1 nt!KeFlushMultipleRangeTb"),
                             ([dict(far, symbol_source="pdb")], "0x1 nt!MmSetAddressRangeModified"),
                             ([dict(far, method="debugger")], "0x1 nt!MmSetAddressRangeModified")):
        report = {"bugcheck": {"code": 1, "name": None}, "stack": frames}
        assert signature(report).signature == expected


def test_a_hung_guests_vmcore_buckets_as_a_hang_by_its_culprit() -> None:
    report = {"bugcheck": None, "stack": [], "vcpus": [{"index": 0}, {"index": 1}],
              "culprit": {"module": "spindrv.sys", "reason": "spinning with IF=0"}}
    found = signature(report)
    assert found.signature == "hang spindrv"
    assert found.notes[0] == "bugcheck: no stop code: a hung guest's memory, 2 vCPUs"
    # Without vCPUs a missing stop code stays "unknown".
    assert signature({"bugcheck": None, "stack": []}).bugcheck == "unknown"
