"""Issue 18: no control character that came from an input reaches a terminal.

Each case feeds terminal escapes (an OSC retitle ``ESC ] 0 ; pwned BEL`` and an SGR recolour
``ESC [ 31 m``) through an input field and checks stdout and stderr of the real CLI.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from dumptriage.cli import main
from dumptriage.render.safe import safe, safe_block
from dumptriage.synth import build
from dumptriage.synth import presets as P
from tests.conftest import SAMPLE_STORY

OSC = "\x1b]0;pwned\x07"
SGR = "\x1b[31m"
# Any C0 control but newline, DEL, or a C1 control.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    assert not CONTROL.search(err), repr(CONTROL.search(err))
    return code, out, err


def test_safe_escapes_every_control_and_keeps_the_rest() -> None:
    assert safe(f"a{OSC}b{SGR}c") == "a\\x1b]0;pwned\\x07b\\x1b[31mc"
    assert safe("tab\tcr\rnl\ndel\x7fcsi\x9bnul\x00") == (
        "tab\\x09cr\\x0dnl\\x0adel\\x7fcsi\\x9bnul\\x00")
    # Bidirectional overrides reorder what a reader sees (CVE-2021-42574).
    assert safe("abc\u202edef\u2066") == "abc\\u202edef\\u2066"
    assert safe("C:\\Windows\\Minidump\\x.dmp, é, 中文") == "C:\\Windows\\Minidump\\x.dmp, é, 中文"
    assert safe_block(f"one\ntwo{SGR}\r\n") == "one\ntwo\\x1b[31m\\x0d\n"
    assert safe(12) == "12"


@pytest.fixture(scope="module")
def hostile_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = dataclasses.replace(P.win10_x64_full(), comment=f"{OSC}comment{SGR}red")
    path = tmp_path_factory.mktemp("hostile") / "MEMORY.DMP"
    data = build(spec).data
    assert data is not None
    path.write_bytes(data)
    return path


def test_dump_comment_in_analyze_text(hostile_dump: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", str(hostile_dump))
    assert code == 0 and err == ""
    comment = next(line for line in out.splitlines() if line.lstrip().startswith("Comment"))
    assert comment.split(None, 1)[1] == "\\x1b]0;pwned\\x07comment\\x1b[31mred"


def test_dump_comment_in_json_is_the_json_escape(hostile_dump: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # JSON stays as it is: its encoder escapes the controls, and a parser gets them back.
    code, out, _err = _run(capsys, "analyze", "--json", str(hostile_dump))
    assert code == 0
    assert "\\u001b]0;pwned\\u0007comment" in out
    assert json.loads(out)["dump"]["comment"] == f"{OSC}comment{SGR}red"


@pytest.fixture(scope="module")
def hostile_ps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The story's ps line, with escapes in -name, in the -cpu model and in -machine.
    text = (SAMPLE_STORY / "ps-vm84-after-fix.txt").read_text()
    assert " -name vm84 " in text and " -cpu host," in text
    text = text.replace(" -name vm84 ", f" -name vm{OSC}84{SGR} ", 1)
    text = text.replace(" -cpu host,", f" -cpu host{SGR}x,", 1)
    path = tmp_path_factory.mktemp("hostile") / "ps.txt"
    path.write_text(text)
    return path


def test_qemu_name_in_context_text(hostile_ps: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "context", str(hostile_ps))
    assert code == 0 and err == ""
    vm = next(line for line in out.splitlines() if line.startswith("VM "))
    assert vm.startswith("VM          vm\\x1b]0;pwned\\x0784\\x1b[31m (")
    cpu = next(line for line in out.splitlines() if line.startswith("CPU "))
    assert "host\\x1b[31mx" in cpu


def test_qemu_name_in_analyze_context_text(hostile_dump: Path, hostile_ps: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _run(capsys, "analyze", str(hostile_dump), "--context", str(hostile_ps))
    assert code == 0
    assert "vm\\x1b]0;pwned\\x0784\\x1b[31m" in out


def test_file_name_in_the_one_line_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / f"x{OSC}{SGR}.dmp"
    bad.write_bytes(b"hello world, not a dump")
    code, out, err = _run(capsys, "analyze", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "x\\x1b]0;pwned\\x07\\x1b[31m.dmp" in err
    code, out, err = _run(capsys, "analyze", str(tmp_path / f"missing{SGR}.dmp"))
    assert code == 2 and "missing\\x1b[31m.dmp" in err


def test_file_names_in_click_and_context_errors(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "d.dmp"
    dump.write_bytes(b"")
    # click's own "does not exist" message quotes the argument.
    code, _out, err = _run(capsys, "analyze", str(dump), "--context", f"/nonexistent/{SGR}")
    assert code == 2 and "/nonexistent/\\x1b[31m" in err
    code, _out, err = _run(capsys, "context", f"/nonexistent/{OSC}.xml")
    assert code == 2
    assert err == ("dumptriage: error: /nonexistent/\\x1b]0;pwned\\x07.xml: "
                   "no such file or directory\n")


def test_explain_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "explain", "0x101", f"0x61{SGR}")
    assert code == 2 and out == ""
    assert "0x61\\x1b[31m" in err
