"""Modules, processors, stack and culprit on the real Windows 10 x64 minidump.

Oracle: corpus/dumps/triage_x64.expected.json, from rizin's test suite (`dr` for the
registers, `dbt` for the stack with Microsoft's PDBs); amdppm.sys as the cause comes from
the file's own bugcheck (0x1000007E, Arg2 = the exception address).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dumptriage import analyze, open_dump


@pytest.fixture(scope="module")
def expected(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / "dumps" / "triage_x64.expected.json").read_text())
    return data


@pytest.fixture(scope="module")
def report(corpus: Path) -> dict[str, Any]:
    return analyze(corpus / "dumps" / "triage_x64.dmp").to_dict()


def test_151_drivers_in_load_order(report: dict[str, Any]) -> None:
    modules = report["modules"]
    assert len(modules) == 151
    assert modules[0]["name"] == "ntoskrnl.exe"
    assert modules[0]["base"] == "0xfffff8047ba00000" == report["dump"]["kernel_base"]
    assert modules[0]["path"] == "\\SystemRoot\\system32\\ntoskrnl.exe"
    names = {m["name"].lower() for m in modules}
    assert {"amdppm.sys", "wdf01000.sys", "ntfs.sys"} <= names


def test_crashing_thread_registers_match_rizin(report: dict[str, Any],
                                               expected: dict[str, Any]) -> None:
    cpu = next(p for p in report["processors"] if p["crashed"])
    # rizin `dr`: rip 0xfffff8047bdf5a80 (KeBugCheckEx), rsp 0xffff850429890ee8.
    assert cpu["ip"] == expected["registers"]["rip"]
    assert cpu["sp"] == expected["registers"]["rsp"]
    assert cpu["fp"] == expected["registers"]["rbp"]
    assert cpu["context_source"] == "KPRCB.Context"
    assert cpu["thread"] == "0xffffc08bde9e1640"  # KPRCB copy +0x8 (dump-format.md 12.1)


def test_stack_holds_rizins_return_addresses_in_the_same_modules(
        report: dict[str, Any], expected: dict[str, Any]) -> None:
    ours = {int(f["address"], 16): f for f in report["stack"]}
    rizin_names = {"ntkrnlmp": "ntoskrnl.exe", "amdppm": "amdppm.sys", "Wdf01000": "Wdf01000.sys"}
    for address, _sp, module, _symbol in expected["stack"]:
        frame = ours.get(int(address, 16))
        assert frame is not None, address
        assert frame["module"].lower() == rizin_names[module].lower(), address
    first = report["stack"][0]
    assert (first["method"], first["address"]) == ("context", expected["registers"]["rip"])
    assert first["symbol"].startswith("nt+") or first["symbol"].startswith("nt!")


def test_amdppm_is_the_probable_culprit(report: dict[str, Any]) -> None:
    assert report["culprit"]["module"] == "amdppm.sys"
    assert "Arg2" in report["culprit"]["reason"]
    assert "0xfffff8048b58334c" in report["culprit"]["reason"]


def test_unloaded_drivers(report: dict[str, Any]) -> None:
    assert [u["name"] for u in report["unloaded_modules"]] == [
        "dam.sys", "WdBoot.sys", "hwpolicy.sys", "mcupdate.dll"]


def test_reproducible_build_timestamps_are_not_shown_as_dates(report: dict[str, Any]) -> None:
    amdppm = next(m for m in report["modules"] if m["name"] == "amdppm.sys")
    # 0xc9c03000 is year 2077: a build hash (the corpus symbol store folder is named by it).
    assert amdppm["timestamp"] == 0xC9C03000
    assert amdppm["timestamp_is_hash"] and amdppm["timestamp_utc"] is None


def test_no_anomalies_on_a_clean_real_minidump(report: dict[str, Any]) -> None:
    assert report["anomalies"] == []


def test_library_accessors(corpus: Path) -> None:
    with open_dump(corpus / "dumps" / "triage_x64.dmp") as dump:
        assert len(dump.modules) == 151
        # The data blocks hold KiProcessorBlock and all 16 KPRCBs; the copied KPRCB (the
        # crashing CPU) is data block 2 at 0xfffff804782d4180 (dump-format.md 12.1).
        assert len(dump.processors) == 16
        crashed = [p for p in dump.processors if p.crashed]
        assert [(p.index, p.prcb) for p in crashed] == [(0, 0xFFFFF804782D4180)]
        assert dump.stack()[0].method == "context"
        assert len(dump.unloaded_modules) == 4


def test_arm64_lists_its_245_drivers_and_no_stack(corpus: Path) -> None:
    report = analyze(corpus / "dumps" / "triage_arm64.dmp").to_dict()
    assert len(report["modules"]) == 245
    assert report["stack"] == [] and report["processors"] == []
    assert [a["code"] for a in report["anomalies"]] == ["arch_not_supported"]
