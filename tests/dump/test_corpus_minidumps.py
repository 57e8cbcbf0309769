"""Real minidumps written by Windows, checked against rizin's readings of them.

Oracle: ``corpus/dumps/*.expected.json``, taken from rizin's test suite
(test/db/formats/dmp/dmp, `iH` output of the dump and triage headers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dumptriage import analyze, open_dump
from dumptriage.catalogue.bugchecks import name_of
from dumptriage.dump.containers.triage.container import TriageDump


def _expected(corpus: Path, name: str) -> dict[str, Any]:
    return json.loads((corpus / "dumps" / f"{name}.expected.json").read_text())


def _num(value: str | int) -> int:
    return value if isinstance(value, int) else int(value, 16)


@pytest.mark.parametrize("name", ["triage_x64", "triage_arm64"])
def test_header_fields_match_rizin(corpus: Path, name: str) -> None:
    want = _expected(corpus, name)["header"]
    with open_dump(corpus / "dumps" / f"{name}.dmp") as dump:
        info, bug = dump.info, dump.bugcheck
        assert info.os.build == _num(want["MinorVersion"])
        assert not info.os.checked and _num(want["MajorVersion"]) == 0xF
        assert info.directory_table_base == _num(want["DirectoryTableBase"])
        assert info.pfn_database == _num(want["PfnDataBase"])
        assert info.ps_loaded_module_list == _num(want["PsLoadedModuleList"])
        assert info.ps_active_process_head == _num(want["PsActiveProcessHead"])
        assert info.machine == _num(want["MachineImageType"])
        assert info.processors == _num(want["NumberProcessors"])
        assert bug.code == _num(want["BugCheckCode"])
        assert name_of(bug.code) == want["BugCheckName"]
        assert list(bug.args) == [_num(a) for a in want["BugCheckParameters"]]
        assert info.kd_debugger_data_block == _num(want["KdDebuggerDataBlock"])
        assert info.os.product_type == {1: "WinNt"}[want["ProductType"]]
        assert info.os.suite_mask == _num(want["SuiteMask"])
        assert info.dump_type_code == want["DumpType"] == 4
        assert info.dump_type == "triage"


@pytest.mark.parametrize("name", ["triage_x64", "triage_arm64"])
def test_triage_header_matches_rizin(corpus: Path, name: str) -> None:
    want = _expected(corpus, name)["triage"]
    names = {
        "SizeOfDump": "size_of_dump", "ValidOffset": "valid_offset",
        "ContextOffset": "context_offset", "PrcbOffset": "prcb_offset",
        "ProcessOffset": "process_offset", "ThreadOffset": "thread_offset",
        "CallStackOffset": "call_stack_offset", "SizeOfCallStack": "call_stack_size",
        "DriverListOffset": "driver_list_offset", "DriverCount": "driver_count",
        "StringPoolOffset": "string_pool_offset", "StringPoolSize": "string_pool_size",
        "TopOfStack": "top_of_stack", "DebuggerDataOffset": "debugger_data_offset",
        "DebuggerDataSize": "debugger_data_size", "DataBlocksOffset": "data_blocks_offset",
        "DataBlocksCount": "data_blocks_count", "ExceptionOffset": "exception_offset",
        "UnloadedDriversOffset": "unloaded_drivers_offset",
    }
    with open_dump(corpus / "dumps" / f"{name}.dmp") as dump:
        assert isinstance(dump.container, TriageDump)
        checked = 0
        for rizin_name, ours in names.items():
            if rizin_name in want:
                assert getattr(dump.container.header, ours) == _num(want[rizin_name]), rizin_name
                checked += 1
        assert checked >= 15


def test_x64_minidump_report(corpus: Path) -> None:
    report = analyze(corpus / "dumps" / "triage_x64.dmp").to_dict()
    dump = report["dump"]
    assert dump["signature"] == "PAGEDU64"
    assert dump["arch"] == "x64" and dump["pae"] is None
    assert dump["banner"] == "Mini Kernel Dump File: Only registers and stack trace are available"
    assert dump["os"]["nt_version"] == "10.0"
    # KDBG copy at DebuggerDataOffset holds KernBase (dump-format.md section 12.1).
    assert dump["kernel_base"] == "0xfffff8047ba00000"
    # SizeOfDump is what was written; secondary blobs follow it to the end of the file.
    assert dump["expected_size"] == 0x13A28C < dump["file_size"] == 1444532
    assert report["bugcheck"]["code_hex"] == "0x1000007e"
    assert report["bugcheck"]["args"][0] == "0xffffffffc0000005"
    assert report["anomalies"] == []


def test_arm64_minidump_says_what_is_not_done(corpus: Path) -> None:
    report = analyze(corpus / "dumps" / "triage_arm64.dmp").to_dict()
    codes = [a["code"] for a in report["anomalies"]]
    assert codes == ["arch_not_supported"]
    assert "ARM64" in report["anomalies"][0]["detail"]
    assert report["dump"]["arch"] == "arm64"
    assert report["bugcheck"]["name"] == "MANUALLY_INITIATED_POWER_BUTTON_HOLD"
