"""Golden files for every output mode of `dumptriage analyze`, run in-process via main()."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dumptriage.cli import main
from tests.golden_util import check_golden

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p.parent.name for p in (REPO / "samples").glob("*/MEMORY.DMP"))
SCHEMA = json.loads((REPO / "schema" / "report-v1.schema.json").read_text())


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths in the output are as given on the command line: keep them relative.
    monkeypatch.chdir(REPO)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return out


def test_there_are_samples() -> None:
    assert set(SAMPLES) >= {"win7-x86-clock-watchdog", "win10-x64-bitmap-kernel",
                            "win10-x64-full"}


@pytest.mark.parametrize("sample", SAMPLES)
def test_analyze_text(capsys: pytest.CaptureFixture[str], sample: str) -> None:
    out = _run(capsys, "analyze", f"samples/{sample}/MEMORY.DMP")
    check_golden(f"analyze/{sample}.txt", out)


@pytest.mark.parametrize("sample", SAMPLES)
def test_analyze_json(capsys: pytest.CaptureFixture[str], sample: str) -> None:
    out = _run(capsys, "analyze", "--json", f"samples/{sample}/MEMORY.DMP")
    jsonschema.validate(json.loads(out), SCHEMA)
    check_golden(f"analyze/{sample}.json", out)


@pytest.mark.parametrize("argv", [["--help"], ["analyze", "--help"], ["batch", "--help"]],
                         ids=["main", "analyze", "batch"])
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    check_golden(f"help/{'-'.join(a.strip('-') for a in argv)}.txt", _run(capsys, *argv))


def test_story_sample_shows_the_story_facts(capsys: pytest.CaptureFixture[str]) -> None:
    # Oracle: shared/story/windbg-analyze.txt ("Kernel Summary Dump File...", "MP (2 procs)",
    # "System Uptime: 0 days 5:00:52.740", "CLOCK_WATCHDOG_TIMEOUT (101)", Arg1..Arg4).
    report = json.loads(_run(capsys, "analyze", "--json",
                             "samples/win7-x86-clock-watchdog/MEMORY.DMP"))
    dump, bug = report["dump"], report["bugcheck"]
    assert dump["banner"] == "Kernel Summary Dump File: Only kernel address space is available"
    assert (dump["arch"], dump["pae"], dump["processors"]) == ("x86", True, 2)
    assert dump["os"]["build"] == 7601 and dump["os"]["nt_version"] == "6.1"
    assert dump["os"]["suites"] == ["TerminalServer", "SingleUserTS"]
    assert dump["system_time"] == "2017-03-15T05:11:54.777Z"
    assert dump["uptime_seconds"] == 18052.74
    assert dump["kernel_base"] == "0x83c13000"
    assert dump["ps_loaded_module_list"] == "0x83d5c4d0"
    assert (bug["code_hex"], bug["name"]) == ("0x00000101", "CLOCK_WATCHDOG_TIMEOUT")
    assert bug["args"] == ["0x00000061", "0x00000000", "0x807a3120", "0x00000001"]


def test_analyze_with_context_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    story = "samples/win7-x86-clock-watchdog"
    args = ["analyze", f"{story}/MEMORY.DMP", "--context", f"{story}/qemu-vm113.log",
            "--context", f"{story}/vm113.xml"]
    check_golden("analyze/story-with-context.txt", _run(capsys, *args))
    out = _run(capsys, *args, "--json")
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    check_golden("analyze/story-with-context.json", out)
    # Oracle: qemu-vm113.log's command line (-cpu SandyBridge,..., -smp 2,sockets=1,cores=2).
    host = report["host"]
    assert host["machine"] == "pc-i440fx-xenial" and host["vcpus"] == 2
    assert host["qemu_version"] == "2.5.0" and host["libvirt_version"] == "1.3.1"


def test_analyze_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    story = "samples/win7-x86-clock-watchdog"
    args = ["analyze", f"{story}/MEMORY.DMP", "--context", f"{story}/qemu-vm113.log",
            "--context", f"{story}/vm113.xml", "--format", "markdown"]
    out = _run(capsys, *args)
    check_golden("analyze/story-with-context.md", out)
    # The conclusion comes before the facts, the fix as a fenced block.
    assert out.index("KVM-0101-RELAXED") < out.index("## Stack")
    assert "```\nAdd to the domain XML" in out
    assert _run(capsys, "analyze", "--format", "json", f"{story}/MEMORY.DMP") == \
        _run(capsys, "analyze", "--json", f"{story}/MEMORY.DMP")
