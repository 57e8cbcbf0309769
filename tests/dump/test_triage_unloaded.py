"""Unloaded drivers in a minidump: count width, inline 12-character names, the 50 cap."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dumptriage.dump.containers.triage.unloaded import MAX_UNLOADED, read_unloaded_drivers
from dumptriage.model.dump import UnloadedModule
from tests.dump.test_triage_fixtures import Unloaded, header, unloaded_file

X64 = [
    Unloaded("dam.sys", 0xFFFFF80487DE0000, 0xFFFFF80487DFC000),
    Unloaded("mcupdate.dll", 0xFFFFF804793E0000, 0xFFFFF80479409000),  # exactly 12 chars
    Unloaded("dump_storport.sys", 0xFFFFF806840A0000, 0xFFFFF806840AE000),  # > 12 chars
]
X86 = [
    Unloaded("Beep.SYS", 0x8F100000, 0x8F104000),
    Unloaded("qutmdrv.sys", 0x8F200000, 0x8F220000),
]


def test_x64_u64_count_and_inline_names() -> None:
    data, hdr = unloaded_file(64, X64)
    modules, found = read_unloaded_drivers(hdr, data, 64)
    assert found == []
    # The inline WCHAR[12] has no NUL when full (mcupdate.dll); longer names are cut at 12.
    assert modules == [
        UnloadedModule("dam.sys", 0xFFFFF80487DE0000, 0xFFFFF80487DFC000),
        UnloadedModule("mcupdate.dll", 0xFFFFF804793E0000, 0xFFFFF80479409000),
        UnloadedModule("dump_storpor", 0xFFFFF806840A0000, 0xFFFFF806840AE000),
    ]


@pytest.mark.parametrize("width", [4, 8])
def test_x86_count_width_is_decided_by_validation(width: int) -> None:
    data, hdr = unloaded_file(32, X86, width=width)
    modules, found = read_unloaded_drivers(hdr, data, 32)
    assert found == []
    assert [(m.name, m.start, m.end) for m in modules] == [
        ("Beep.SYS", 0x8F100000, 0x8F104000), ("qutmdrv.sys", 0x8F200000, 0x8F220000)]


def test_x86_empty_list() -> None:
    data, hdr = unloaded_file(32, [], width=4)
    assert read_unloaded_drivers(hdr, data, 32) == ([], [])


def test_count_above_the_ring_size_is_capped() -> None:
    items = [Unloaded(f"d{i}.sys", 0xFFFFF80400000000 + i * 0x10000,
                      0xFFFFF80400008000 + i * 0x10000) for i in range(MAX_UNLOADED + 5)]
    data, hdr = unloaded_file(64, items)
    modules, found = read_unloaded_drivers(hdr, data, 64)
    assert len(modules) == MAX_UNLOADED == 50
    assert len(found) == 1 and "count 55 (u64); 50 entries validate" in found[0].detail


@pytest.mark.parametrize("bad", [
    Unloaded("", 0xFFFFF80400000000, 0xFFFFF80400001000),  # no name
    Unloaded("x.sys", 0xFFFFF80400000000, 0xFFFFF80400000000),  # empty range
    Unloaded("x.sys", 0xFFFFF80400000800, 0xFFFFF80400002000),  # start not page-aligned
    Unloaded("x\x07.sys", 0xFFFFF80400000000, 0xFFFFF80400001000),  # control character
])
def test_invalid_entry_is_skipped_and_reported(bad: Unloaded) -> None:
    data, hdr = unloaded_file(64, [X64[0], bad])
    modules, found = read_unloaded_drivers(hdr, data, 64)
    assert [m.name for m in modules] == ["dam.sys"]
    assert "count 2 (u64); 1 entries validate" in found[0].detail


def test_undecodable_inline_name() -> None:
    data, hdr = unloaded_file(64, [X64[0]])
    raw = bytearray(data)
    raw[0x100 + 8 + 0x10 : 0x100 + 8 + 0x12] = b"\x00\xd8"  # a lone high surrogate
    modules, found = read_unloaded_drivers(hdr, memoryview(bytes(raw)), 64)
    assert modules == [] and len(found) == 1


def test_count_beyond_the_file() -> None:
    data, hdr = unloaded_file(64, X64, count=40)
    modules, found = read_unloaded_drivers(hdr, data, 64)
    assert len(modules) == 3 and "count 40" in found[0].detail


def test_absent_or_outside_section() -> None:
    data, hdr = unloaded_file(64, X64)
    assert read_unloaded_drivers(header(), data, 64) == ([], [])
    assert read_unloaded_drivers(replace(hdr, unloaded_drivers_offset=len(data) - 4),
                                 data, 64) == ([], [])


def test_x86_neither_width_validates_keeps_the_best_reading() -> None:
    bad = Unloaded("x.sys", 0x8F000800, 0x8F002000)  # start not page-aligned
    data, hdr = unloaded_file(32, [X86[0], bad], width=4)
    modules, found = read_unloaded_drivers(hdr, data, 32)
    assert [m.name for m in modules] == ["Beep.SYS"]
    assert "count 2 (u32); 1 entries validate" in found[0].detail
