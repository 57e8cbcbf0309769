"""DUMP_STRING: Length in UTF-16 characters (section 12.1), bytes as the fallback."""

from __future__ import annotations

import struct

from dumptriage.dump.containers.triage.strings import MAX_NAME_CHARS, read_dump_string
from tests.dump.test_triage_fixtures import dump_string


def _read(raw: bytes, offset: int = 0, pool_end: int | None = None) -> tuple[str, str] | None:
    found = read_dump_string(memoryview(raw), offset, 0, len(raw) if pool_end is None
                             else pool_end)
    return None if found is None else (found.text, found.unit)


def test_length_in_characters() -> None:
    # Oracle: section 12.1, the first string of triage_x64.dmp has Length 0x21 for the
    # 33-character \SystemRoot\system32\ntoskrnl.exe.
    path = r"\SystemRoot\system32\ntoskrnl.exe"
    raw = dump_string(path)
    assert raw[:4] == struct.pack("<I", 0x21)
    assert _read(raw) == (path, "chars")


def test_length_in_bytes_is_the_fallback() -> None:
    # S6's comment ("Length IN BYTES"): the characters reading of Length 2n finds no NUL
    # at character 2n, so the bytes reading (n characters, NUL at n) is taken.
    assert _read(dump_string("abc.sys", "bytes") + b"\xff" * 16) == ("abc.sys", "bytes")


def test_no_nul_terminator_in_either_unit() -> None:
    raw = struct.pack("<I", 2) + "abcd".encode("utf-16-le")
    assert _read(raw) is None


def test_odd_length_has_no_bytes_reading() -> None:
    raw = struct.pack("<I", 3) + "ab".encode("utf-16-le") + b"\xff\xff\0\0"
    assert _read(raw) is None


def test_string_running_past_the_pool_is_rejected() -> None:
    raw = dump_string("abcdef")
    assert _read(raw, pool_end=12) is None
    assert _read(raw, offset=len(raw) - 2) is None  # not even the Length fits
    assert read_dump_string(memoryview(raw), 0, 8, len(raw)) is None  # before the pool


def test_zero_and_huge_lengths_are_rejected() -> None:
    assert _read(struct.pack("<I", 0) + b"\0" * 8) is None
    assert _read(struct.pack("<I", MAX_NAME_CHARS + 1) + b"\0" * 8) is None


def test_lone_surrogate_and_control_characters_are_not_names() -> None:
    surrogate = struct.pack("<I", 1) + b"\x00\xd8" + b"\0\0"
    assert _read(surrogate) is None
    control = struct.pack("<I", 2) + "a\x01".encode("utf-16-le") + b"\0\0"
    assert _read(control) is None
