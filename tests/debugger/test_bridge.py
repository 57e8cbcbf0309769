"""Debugger output as an input of `analyze`: alone, merged with its dump, or from a run.

Oracle for the story facts: shared/story/windbg-analyze.txt, the real WinDbg 6.11 output
for the story's dump (its banner, `BugCheck 101, {61, 0, 807a3120, 1}`, STACK_TEXT and
FAILURE_BUCKET_ID lines); samples/win7-x86-clock-watchdog/windbg-analyze.txt is a copy.
The runner is tested with tests/debugger/standin/cdb.py, a stand-in that prints a stored
transcript; it is not a debugger and says so in its header.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import jsonschema
import pytest

from dumptriage import analyze
from dumptriage.cli import main
from dumptriage.debugger.runner import COMMANDS, find_debugger
from tests.golden_util import check_golden

REPO = Path(__file__).resolve().parents[2]
STORY = REPO / "samples" / "win7-x86-clock-watchdog"
TEXT = STORY / "windbg-analyze.txt"
CONTEXT = [STORY / "vm113.xml", STORY / "qemu-vm113.log"]
X64_TEXT = REPO / "tests" / "debugger" / "transcripts" / "windbg10-minidump-x64.txt"
SCHEMA = json.loads((REPO / "schema" / "report-v1.schema.json").read_text())
STANDIN = REPO / "tests" / "debugger" / "standin" / "cdb.py"


def _rules(report: dict) -> list[tuple[str, str]]:
    return [(f["rule"], f["confidence"]) for f in report["findings"]]


def test_the_story_transcript_alone_gives_the_story_report() -> None:
    report = analyze(TEXT).to_dict()
    jsonschema.validate(report, SCHEMA)
    assert report["source"]["kind"] == "debugger_text"
    assert report["bugcheck"]["code"] == 0x101
    assert report["bugcheck"]["args"] == ["0x00000061", "0x00000000", "0x807a3120",
                                          "0x00000001"]
    dump = report["dump"]
    assert (dump["os"]["build"], dump["arch"], dump["processors"]) == (7601, "x86", 2)
    assert dump["os"]["product_name"] == "Windows 7 SP1"
    assert dump["uptime_seconds"] == pytest.approx(5 * 3600 + 52.74)
    # "Debug session time: Wed Mar 15 13:11:54.777 2017 (GMT+8)"; the dump header says
    # 2017-03-15T05:11:54.777Z (tests/golden/analyze/win7-x86-clock-watchdog.json).
    assert dump["system_time"] == "2017-03-15T05:11:54.777Z"
    assert dump["kernel_base"] == "0x83c13000" and dump["signature"] is None
    debugger = report["debugger"]
    assert debugger["build_string"] == "7601.18205.x86fre.win7sp1_gdr.130708-1532"
    assert debugger["bucket"] == "CLOCK_WATCHDOG_TIMEOUT_2_PROC_ANALYSIS_INCONCLUSIVE"
    assert debugger["missing_symbols"] == ["Ntfs.sys", "qutmdrv.sys"]
    assert debugger["symbols_ok"] is False and debugger["current_irql"] == 0x1C
    stack = report["stack"]
    assert len(stack) == 27 and {f["method"] for f in stack} == {"debugger"}
    sites = [f["symbol"] for f in stack]
    at = sites.index("qutmdrv+0x4db")
    assert sites[at - 1] == "nt!IofCallDriver+0x63"  # called by qutmdrv
    assert sites[at - 2].startswith("FLTMGR!FltpDispatch")
    assert sites[at + 1] == "nt!IofCallDriver+0x63"  # qutmdrv was called through it
    # Its code address is the RetAddr on the row above ("807fca84 937684db ...").
    assert stack[at]["address"] == "0x937684db" and stack[at]["module"] == "qutmdrv.sys"
    assert stack[0]["address"] is None
    assert report["culprit"]["module"] == "qutmdrv.sys"


def test_transcript_with_host_files_reaches_the_same_findings_as_the_dump() -> None:
    from_text = analyze(TEXT, CONTEXT).to_dict()
    from_dump = analyze(STORY / "MEMORY.DMP", CONTEXT).to_dict()
    assert _rules(from_text)[0] == ("KVM-0101-RELAXED", "established")
    assert _rules(from_text) == _rules(from_dump)
    assert [n["rule"] for n in from_text["not_evaluated"]] == \
        [n["rule"] for n in from_dump["not_evaluated"]]


def test_dump_with_its_transcript_takes_the_debugger_stack() -> None:
    merged = analyze(STORY / "MEMORY.DMP", debugger_text=TEXT).to_dict()
    assert merged["source"]["kind"] == "kernel_dump"
    assert merged["dump"]["signature"] == "PAGEDUMP"  # the dump stays the source of truth
    assert len(merged["stack"]) == 27 and merged["stack"][1]["symbol"] == \
        "nt!KeAccumulateTicks+0x242"
    # With the dump's module list, every frame gets its module and module offset:
    # 0x83c8e117 - ntkrpamp.exe's base 0x83c13000.
    assert merged["stack"][1]["module"] == "ntkrpamp.exe"
    assert merged["stack"][1]["offset"] == "0x7b117"
    assert not [a for a in merged["anomalies"] if a["code"] == "debugger_disagrees"]
    assert merged["debugger"]["source"] == "text"


def test_a_transcript_of_another_crash_is_a_disagreement() -> None:
    merged = analyze(STORY / "MEMORY.DMP", debugger_text=X64_TEXT).to_dict()
    said = [a["detail"] for a in merged["anomalies"] if a["code"] == "debugger_disagrees"]
    assert "bugcheck code: the dump says 0x101, the debugger 0xd1" in said
    assert any(d.startswith("OS build: the dump says 7601") for d in said)
    assert any(d.startswith("architecture") for d in said)


def test_x64_minidump_transcript() -> None:
    report = analyze(X64_TEXT).to_dict()
    jsonschema.validate(report, SCHEMA)
    assert report["dump"]["dump_type"] == "triage" and report["dump"]["arch"] == "x64"
    assert report["bugcheck"]["code"] == 0xD1
    # "Probably caused by : netkvm.sys ( netkvm+11b3 )" is WinDbg's verdict.
    assert report["culprit"]["module"] == "netkvm.sys"
    assert report["culprit"]["reason"].startswith("WinDbg !analyze")


def test_cli_golden_for_a_transcript(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    args = ["analyze", "samples/win7-x86-clock-watchdog/windbg-analyze.txt",
            "--context", "samples/win7-x86-clock-watchdog/vm113.xml",
            "--context", "samples/win7-x86-clock-watchdog/qemu-vm113.log"]
    for suffix, extra in ((".txt", []), (".json", ["--json"])):
        assert main([*args, *extra]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        if suffix == ".json":
            jsonschema.validate(json.loads(out), SCHEMA)
        check_golden(f"analyze/story-transcript{suffix}", out)


# -- running a debugger ------------------------------------------------------------------

def _standin(folder: Path, name: str = "cdb") -> Path:
    """An executable named like the debugger that runs the stand-in script."""
    script = folder / name
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {STANDIN} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture
def standin_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _standin(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STANDIN_TRANSCRIPT", str(TEXT))
    monkeypatch.setenv("STANDIN_ARGV", str(tmp_path / "argv.json"))
    return tmp_path


def test_auto_finds_cdb_on_path_and_runs_it_without_a_shell(standin_env: Path) -> None:
    # A dump path a shell would split or execute: passed as one argument, untouched.
    odd = standin_env / "dumps; rm -rf x" / "MEMORY $(id).DMP"
    odd.parent.mkdir()
    odd.write_bytes((STORY / "MEMORY.DMP").read_bytes())
    report = analyze(odd, debugger="auto", symbols="srv*C:\\sym").to_dict()
    run = report["debugger_run"]
    assert (run["mode"], run["status"]) == ("auto", "ran")
    argv = json.loads((standin_env / "argv.json").read_text())
    assert argv == ["-z", str(odd), "-y", "srv*C:\\sym", "-c", COMMANDS]
    assert report["debugger"]["source"] == "run"
    assert report["stack"][1]["symbol"] == "nt!KeAccumulateTicks+0x242"


def test_no_debugger_on_linux_is_said_not_failed(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for var in ("ProgramFiles", "ProgramFiles(x86)"):
        monkeypatch.delenv(var, raising=False)
    assert find_debugger() is None
    report = analyze(STORY / "MEMORY.DMP", debugger="auto").to_dict()
    assert report["debugger_run"]["status"] == "not_found"
    assert report["debugger"] is None and report["stack"][0]["method"] == "context"


def test_windows_kits_folder_is_searched(tmp_path: Path) -> None:
    cdb = tmp_path / "Windows Kits" / "10" / "Debuggers" / "x64" / "cdb.exe"
    cdb.parent.mkdir(parents=True)
    cdb.write_text("")
    assert find_debugger({"PATH": "", "ProgramFiles(x86)": str(tmp_path)}) == str(cdb)


def test_explicit_path_failing_and_hanging_debuggers(standin_env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cdb = _standin(standin_env, "my-cdb")
    monkeypatch.setenv("STANDIN_TRANSCRIPT", "")
    monkeypatch.setenv("STANDIN_EXIT", "1")
    failed = analyze(STORY / "MEMORY.DMP", debugger=str(cdb)).to_dict()
    assert failed["debugger_run"]["status"] == "failed"
    assert failed["debugger_run"]["mode"] == "path"
    assert [a["code"] for a in failed["anomalies"]] == ["debugger_failed"]
    assert failed["stack"][0]["method"] == "context"  # our own stack stays
    monkeypatch.setenv("STANDIN_SLEEP", "30")
    hung = analyze(STORY / "MEMORY.DMP", debugger=str(cdb), debugger_timeout=1).to_dict()
    assert hung["debugger_run"]["status"] == "timed_out"


def test_debugger_output_without_an_analysis_is_a_failure(standin_env: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    noise = standin_env / "noise.txt"
    noise.write_text("Microsoft (R) Windows Debugger Version 10.0.22621.2428 AMD64\n"
                     "Could not open dump file [x], Win32 error 0n2\n")
    monkeypatch.setenv("STANDIN_TRANSCRIPT", str(noise))
    report = analyze(STORY / "MEMORY.DMP", debugger="auto").to_dict()
    assert report["debugger_run"]["status"] == "failed"
    assert report["debugger"] is None


def test_a_transcript_input_needs_no_debugger_run() -> None:
    report = analyze(TEXT, debugger="auto").to_dict()
    assert report["debugger_run"]["status"] == "not_a_dump"


def test_cli_debugger_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--json", "--debugger", "none", str(STORY / "MEMORY.DMP")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["debugger_run"]["status"] == "disabled"


def test_hostile_transcript_never_fails(tmp_path: Path) -> None:
    hostile = tmp_path / "evil.txt"
    hostile.write_bytes(b"BugCheck 1, {2, 3, 4, 5}\n" + os.urandom(200_000)
                        + b"\nSTACK_TEXT:\n" + b"ffffffff " * 50_000)
    report = analyze(hostile).to_dict()
    jsonschema.validate(report, SCHEMA)
    assert report["bugcheck"]["code"] == 1 and report["dump"] is None


def test_rules_see_the_same_facts_from_the_text_as_from_the_dump() -> None:
    from dumptriage.knowledge.facts import build_facts

    text = build_facts(analyze(TEXT).to_dict())
    dump = build_facts(analyze(STORY / "MEMORY.DMP").to_dict())
    for name in ("bugcheck.code", "bugcheck.arg1", "bugcheck.arg3", "bugcheck.arg4",
                 "os.build", "os.arch", "cpus.count", "stack.third_party", "culprit.module"):
        text_fact, dump_fact = text.get(name), dump.get(name)
        assert text_fact is not None and dump_fact is not None, name
        assert text_fact.value == dump_fact.value, name
    # Only the text has the debugger's own verdict; Unknown_Image names nothing.
    bucket = text.get("debugger.bucket")
    assert bucket is not None
    assert bucket.value == "CLOCK_WATCHDOG_TIMEOUT_2_PROC_ANALYSIS_INCONCLUSIVE"
    assert text.get("debugger.image_name") is None and dump.get("debugger.bucket") is None


def test_cut_off_10x_paste_keeps_the_bucket_from_its_key_value_block() -> None:
    # minidump-10x-cutoff.txt ends mid-row before FAILURE_BUCKET_ID; its "Key  :
    # Failure.Bucket" block (WinDbg 10.x, see transcripts/SOURCES.md) still names it.
    report = analyze(REPO / "tests" / "debugger" / "transcripts" /
                     "minidump-10x-cutoff.txt").to_dict()
    assert report["debugger"]["bucket"] == "0x139_MISSING_GSFRAME_nt!KiFastFailDispatch"
    assert {a["code"] for a in report["anomalies"]} == {"debugger_text_incomplete"}


def test_call_sites_are_spelled_from_their_parts() -> None:
    # k-inline-source.txt: inline rows and "[file @ line]" after the call site; the
    # report's symbol is module!function+offset without the source or suffixes.
    report = analyze(REPO / "tests" / "debugger" / "transcripts" /
                     "k-inline-source.txt").to_dict()
    symbols = [f["symbol"] for f in report["stack"]]
    assert "netkvm!CParaNdisTX::SendMapped+0x11d" in symbols
    assert all(" @ " not in s and "[" not in s for s in symbols)
