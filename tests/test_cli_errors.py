"""Unusable input: one line on stderr naming file, structure and offset; exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from dumptriage.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "the file is empty"),
    (b"PAGEDU64" + b"\0" * 100, "truncated header"),
    (b"PAGEDUMP" + b"\0" * 0xFF0, "truncated header"),
    (b"PAGEXXXX" + b"\0" * 0x2000, "neither 'DUMP' nor 'DU64'"),
    (b"MDMP\x93\xa7" + b"\0" * 100, "user-mode minidump"),
    (b"\x7fELF" + b"\0" * 100, "ELF header at offset 0x4: EI_CLASS 0 is not 1 or 2"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\x00" + b"\0" * 100, "not ET_CORE"),
    (b"KDUMP   " + b"\0" * 0x500, "block_size is not 4096"),
    (b"makedumpfile" + b"\0" * 100, "makedumpfile header at offset 0x0: truncated"),
    (b"hello world, not a dump", "is not PAGEDUMP or PAGEDU64"),
])
def test_bad_files_give_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            content: bytes, needle: str) -> None:
    bad = tmp_path / "bad.dmp"
    bad.write_bytes(content)
    code, out, err = _run(capsys, "analyze", str(bad))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(bad) in err and needle in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "analyze", str(tmp_path / "nope.dmp"))
    assert code == 2 and out == ""
    assert "nope.dmp" in err and err.count("\n") == 1


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "analyze", "--frobnicate", "x.dmp")
    assert code == 2 and "frobnicate" in err


def test_damaged_vmcore_exits_2_with_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from dumptriage.synth.vmcore import write_elf

    core = tmp_path / "vm.core"
    written = write_elf(core, [(0, 0x100000)], [{"rip": 0x1000}], elf_class=64)
    data = bytearray(core.read_bytes())
    # The PT_LOAD's p_paddr (program header 1, +0x18) beyond any physical address.
    data[written.program_headers + 0x38 + 0x18 : written.program_headers + 0x38 + 0x20] = \
        (1 << 60).to_bytes(8, "little")
    core.write_bytes(bytes(data))
    code, out, err = _run(capsys, "analyze", str(core))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(core) in err and "PT_LOAD" in err and "beyond any physical address" in err
