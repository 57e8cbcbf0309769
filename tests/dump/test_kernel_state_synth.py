"""Modules, processors, stack and culprit against the builder's ground truth.

Covers memory dumps (the story's x86 PAE summary dump, a 3-CPU Windows 10 x64 dump with
one NULL KPRCB.Context) and triage minidumps for x86 and x64.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dumptriage import analyze
from dumptriage.synth import BuiltDump, DumpSpec, build, presets


def _report(tmp_path: Path, factory: Callable[[], DumpSpec]) -> tuple[BuiltDump, dict[str, Any]]:
    built = build(factory())
    path = tmp_path / "dump.dmp"
    path.write_bytes(built.data or b"")
    return built, analyze(path).to_dict()


def _hex(value: int) -> str:
    return f"{value:#x}"


def test_story_summary_dump(tmp_path: Path) -> None:
    built, report = _report(tmp_path, presets.win7_x86_pae_summary)
    # Modules: every one the builder listed, in load order, with its PE facts.
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    by_name = {m["name"]: m for m in report["modules"]}
    assert by_name["qutmdrv.sys"]["class"] == "third_party"
    assert by_name["qutmdrv.sys"]["vendor"] == "Qihoo 360"
    assert by_name["netkvm.sys"]["class"] == by_name["viostor.sys"]["class"] == "virtio"
    assert by_name["ntkrpamp.exe"]["pdb"]["name"] == "ntkrpamp.pdb"
    assert by_name["ntkrpamp.exe"]["version"] == "6.1.7601.18205"
    # Processors: CPU 0 crashed, CPU 1 is the hung one (Arg4 = 1, Arg3 = its KPRCB).
    cpus = {p["index"]: p for p in report["processors"]}
    assert cpus[0]["crashed"] and not cpus[0]["hung"]
    assert cpus[1]["hung"] and cpus[1]["prcb"] == "0x807a3120"
    for cpu in built.cpus:
        assert cpus[cpu.index]["prcb"] == _hex(cpu.prcb)
        assert cpus[cpu.index]["thread"] == _hex(cpu.thread)
        assert (cpus[cpu.index]["ip"], cpus[cpu.index]["sp"]) == (_hex(cpu.ip), _hex(cpu.sp))
    # Stack: WinDbg's frames (windbg-analyze.txt) through nt, Ntfs, FLTMGR and qutmdrv.
    chain = [f["symbol"] for f in report["stack"] if f["method"] != "scan"]
    for expected in ("nt!KeBugCheckEx+0x1e", "Ntfs+0x7ed3f", "FLTMGR+0xd3cb",
                     "qutmdrv+0x4db", "nt!IofCallDriver+0x63", "nt!NtFlushBuffersFile+0x1d7"):
        assert expected in chain, expected
    assert report["culprit"] == {
        "module": "qutmdrv.sys",
        "reason": "qutmdrv.sys (Qihoo 360) is the only third-party module on the crashing "
                  "thread's stack"}
    # Unloaded drivers from MmUnloadedDrivers.
    assert [(u["name"], u["start"], u["end"]) for u in report["unloaded_modules"]] == [
        (u.name, _hex(u.start), _hex(u.end)) for u in built.unloaded]
    assert report["anomalies"] == []


def test_null_context_pointer_falls_back_to_the_processor_state_frame(tmp_path: Path) -> None:
    built, report = _report(tmp_path, presets.win10_x64_cpus)
    cpus = {p["index"]: p for p in report["processors"]}
    assert len(cpus) == len(built.cpus) == 3
    for cpu in built.cpus:
        ours = cpus[cpu.index]
        assert (ours["ip"], ours["sp"], ours["fp"]) == (_hex(cpu.ip), _hex(cpu.sp), _hex(cpu.bp))
        expected_source = ("KPRCB.Context" if cpu.context_va is not None
                           else "KPRCB.ProcessorState.ContextFrame")
        assert ours["context_source"] == expected_source
        assert ours["crashed"] == cpu.crashed


@pytest.mark.parametrize("factory", [presets.triage_x86_story, presets.triage_x64_story],
                         ids=["x86", "x64"])
def test_triage_minidumps(tmp_path: Path, factory: Callable[[], DumpSpec]) -> None:
    built, report = _report(tmp_path, factory)
    assert report["dump"]["dump_type"] == "triage"
    # A minidump names drivers by their path in the string pool (as spelled there).
    assert [m["name"].lower() for m in report["modules"]] == [
        m.name.lower() for m in built.modules]
    assert [m["base"] for m in report["modules"]] == [_hex(m.base) for m in built.modules]
    crashed = [p for p in report["processors"] if p["crashed"]]
    truth = [c for c in built.cpus if c.crashed]
    assert [(p["prcb"], p["ip"], p["sp"]) for p in crashed] == [
        (_hex(c.prcb), _hex(c.ip), _hex(c.sp)) for c in truth]
    assert report["stack"][0]["method"] == "context"
    assert report["culprit"] is not None
    if built.arch == "x86":
        assert report["culprit"]["module"] == "qutmdrv.sys"
        assert any(p["hung"] for p in report["processors"])
    else:
        assert report["culprit"]["module"] == "amdppm.sys"  # Arg2 of 0x1000007E
    assert report["anomalies"] == []
