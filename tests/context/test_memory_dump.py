"""`dumptriage collect DOMAIN --memory`: the plan said first, then virsh dump --memory-only.

libvirt's test driver refuses memory-only dumps ("unsupported flags (0x10) in function
testDomainCoreDumpWithFormat", seen with `virsh -c test:///default dump --memory-only test
f`), so the dump itself runs against a stand-in virsh (standin/virsh.py) that logs its argv;
the plan (dominfo) and the refusal are checked against the real test driver.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from dumptriage.cli import main
from dumptriage.context.memory_dump import plan_memory_dump, take_memory_dump
from dumptriage.errors import ContextParseError
from dumptriage.model.record import replace

STANDIN = Path(__file__).parent / "standin" / "virsh.py"
needs_virsh = pytest.mark.skipif(shutil.which("virsh") is None,
                                 reason="virsh not installed (Debian package libvirt-clients)")


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with the stand-in first, as `virsh`; returns its argv log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "virsh"
    script.write_text(f"#!{sys.executable}\n" + STANDIN.read_text())
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VIRSH_STANDIN_LOG", str(log))
    monkeypatch.chdir(tmp_path)
    return log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_cli_says_size_and_pause_first_then_dumps(standin: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "win7", "--memory"]) == 0
    out, err = capsys.readouterr()
    warning = err.splitlines()[0]
    assert warning.startswith("dumptriage: virsh dump --memory-only pauses win7 while it "
                              "writes about 1.0 GiB (elf) to ")
    assert warning.endswith("the guest resumes when it is written (" + warning.rsplit("(", 1)[1])
    assert out.splitlines() == ["win7-context.tar.gz", str(Path.cwd() / "win7-memory.core")]
    dump_call = next(c for c in _calls(standin) if "dump" in c)
    # An argument list, the domain and the file after virsh's `--`.
    assert dump_call == ["dump", "--memory-only", "--format", "elf", "--", "win7",
                         str(Path.cwd() / "win7-memory.core")]
    assert Path("win7-memory.core").read_bytes()[:4] == b"\x7fELF"
    # The dump comes before the bundle: the hang is what matters, the XML keeps.
    calls = [c[0] for c in _calls(standin)]
    assert calls.index("dump") < calls.index("dumpxml")


def test_formats_and_file_names(standin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "win7", "--memory", "--memory-format", "win-dmp"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("win7-memory.dmp")
    assert main(["collect", "win7", "--memory", "--memory-format", "kdump-zlib",
                 "--memory-file", "hang.kdump"]) == 0
    captured = capsys.readouterr()
    assert "writes at most 1.0 GiB (kdump-zlib)" in captured.err
    assert captured.out.splitlines()[1].endswith("hang.kdump")


def test_a_shut_off_guest_and_an_unknown_one_are_one_line_errors(
        standin: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VIRSH_STANDIN_STATE", "shut off")
    assert main(["collect", "win7", "--memory"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the domain is shut off" in err
    assert not any("dump" in c for c in _calls(standin))
    assert main(["collect", "nosuch", "--memory"]) == 2
    assert "no domain 'nosuch'" in capsys.readouterr().err


def test_no_room_refuses_before_pausing_the_guest(standin: Path, tmp_path: Path) -> None:
    plan = plan_memory_dump("win7", tmp_path / "m.core")
    tight = replace(plan, free_bytes=1 << 20)
    with pytest.raises(ContextParseError, match=r"needed for .* free; choose another folder"):
        take_memory_dump(tight)
    assert not any("dump" in c for c in _calls(standin))


def test_a_dump_past_its_timeout_says_how_to_check_the_job(
        standin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRSH_STANDIN_SLEEP", "5")
    plan = plan_memory_dump("win7", tmp_path / "m.core")
    with pytest.raises(ContextParseError, match="virsh domjobinfo win7"):
        take_memory_dump(plan, timeout=0.5)


@needs_virsh
def test_plan_and_refusal_with_the_real_test_driver(tmp_path: Path) -> None:
    # Oracle: `virsh -c test:///default dominfo test` prints "Max memory: 8388608 KiB".
    plan = plan_memory_dump("test", tmp_path / "t.core", uri="test:///default")
    assert plan.memory_bytes == 8388608 * 1024
    assert plan.argv[1:3] == ("-c", "test:///default")
    # The test driver answers at once; in two loaded full-suite runs its virsh child never
    # returned, so the wait is bounded here: either way it is one line, never a stall.
    with pytest.raises(ContextParseError, match=r"unsupported flags|did not finish in 20 s"):
        take_memory_dump(plan, force=True, timeout=20)
