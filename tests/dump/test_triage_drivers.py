"""The minidump driver list: stride decided by validation, names from the string pool."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dumptriage.dump.containers.triage.drivers import (
    LAYOUT_32,
    LAYOUT_64,
    MAX_DRIVERS,
    kernel_base_anomalies,
    read_drivers,
    read_entry,
    stride_candidates,
)
from dumptriage.model.dump import Module
from tests.dump.test_triage_fixtures import Driver, driver_file, header

X64 = [
    Driver(r"\SystemRoot\system32\ntoskrnl.exe", 0xFFFFF8047BA00000, 0x1046000, 0xA5938C),
    Driver(r"\SystemRoot\System32\drivers\hal.dll", 0xFFFFF80479440000, 0x6000),
    Driver(r"\??\C:\Program Files\Vendor\filter.sys", 0xFFFFF80480000000, 0x12000),
]
X86 = [
    Driver(r"\SystemRoot\system32\ntkrpamp.exe", 0x82A00000, 0x410000),
    Driver(r"\SystemRoot\system32\halmacpi.dll", 0x82A39000, 0x37000),
    Driver(r"\SystemRoot\system32\DRIVERS\qutmdrv.sys", 0x8F000000, 0x20000),
]


def _names(modules: list[Module]) -> list[str]:
    return [m.name for m in modules]


@pytest.mark.parametrize("stride", [0x90, 0x98, 0xA8])
def test_x64_strides_all_validate(stride: int) -> None:
    data, hdr = driver_file(64, X64, stride)
    modules, found = read_drivers(hdr, data, 64)
    assert found == []
    assert _names(modules) == ["ntoskrnl.exe", "hal.dll", "filter.sys"]
    first = modules[0]
    assert (first.base, first.size, first.checksum, first.timestamp) == (
        0xFFFFF8047BA00000, 0x1046000, 0xA5938C, 0x5F000000)
    assert first.path == r"\SystemRoot\system32\ntoskrnl.exe"


@pytest.mark.parametrize("stride", [0x98, 0xA8])
def test_x64_candidates_when_the_pool_does_not_follow_the_list(stride: int) -> None:
    # 0x20 bytes between list and pool: the derived stride is no candidate's, so the
    # sources' strides are tried in turn and the one where all entries validate wins.
    data, hdr = driver_file(64, X64, stride, gap=0x20)
    assert stride_candidates(hdr, LAYOUT_64)[0] != stride
    modules, found = read_drivers(hdr, data, 64)
    assert found == [] and len(modules) == 3


def test_derived_stride_comes_first() -> None:
    _, hdr = driver_file(64, X64, 0x90)
    assert stride_candidates(hdr, LAYOUT_64) == [0x90, 0x98, 0xA8]
    _, hdr = driver_file(64, X64, 0xB0)  # a stride no source names, but the data suggests
    assert stride_candidates(hdr, LAYOUT_64) == [0xB0, 0x90, 0x98, 0xA8]


def test_x64_unknown_stride_from_the_data() -> None:
    data, hdr = driver_file(64, X64, 0xB0)
    modules, found = read_drivers(hdr, data, 64)
    assert found == [] and len(modules) == 3


def test_x86_stride_0x4c_with_list_padding() -> None:
    # 3 x 0x4C = 0xE4 is not 8-aligned; a writer that pads the list to 8 bytes leaves 4
    # bytes of slack, and the derived stride still comes out as 0x4C.
    data, hdr = driver_file(32, X86, 0x4C, gap=4)
    assert stride_candidates(hdr, LAYOUT_32) == [0x4C]
    modules, found = read_drivers(hdr, data, 32)
    assert found == []
    assert _names(modules) == ["ntkrpamp.exe", "halmacpi.dll", "qutmdrv.sys"]
    assert modules[2].base == 0x8F000000 and modules[2].size == 0x20000


def test_x86_other_stride_suggested_by_the_data() -> None:
    data, hdr = driver_file(32, X86, 0x50)
    assert stride_candidates(hdr, LAYOUT_32) == [0x50, 0x4C]
    modules, _ = read_drivers(hdr, data, 32)
    assert len(modules) == 3


def test_derived_stride_too_small_or_ragged_is_ignored() -> None:
    _, hdr = driver_file(64, X64, 0x90)
    assert stride_candidates(replace(hdr, string_pool_offset=hdr.driver_list_offset + 0x40),
                             LAYOUT_64) == [0x90, 0x98, 0xA8]
    assert stride_candidates(replace(hdr, string_pool_offset=hdr.string_pool_offset + 9),
                             LAYOUT_64) == [0x90, 0x98, 0xA8]
    assert stride_candidates(replace(hdr, string_pool_offset=0), LAYOUT_64)[0] == 0x90


def test_bytes_unit_strings_are_read() -> None:
    data, hdr = driver_file(64, X64, 0x90, unit="bytes")
    modules, found = read_drivers(hdr, data, 64)
    assert found == [] and _names(modules)[0] == "ntoskrnl.exe"


@pytest.mark.parametrize("bad", [
    Driver(r"\x\bad.sys", 0xFFFFF80480000123, 0x1000),  # base not page-aligned
    Driver(r"\x\bad.sys", 0x0000900000000000, 0x1000),  # not canonical
    Driver(r"\x\bad.sys", 0, 0x1000),  # no base
    Driver(r"\x\bad.sys", 0xFFFFF80480000000, 0),  # no size
    Driver(r"\x\bad.sys", 0xFFFFF80480000000, 0x40000000),  # implausibly large
])
def test_invalid_entry_is_skipped_and_reported(bad: Driver) -> None:
    data, hdr = driver_file(64, [*X64[:2], bad], 0x90)
    modules, found = read_drivers(hdr, data, 64)
    assert _names(modules) == ["ntoskrnl.exe", "hal.dll"]
    assert len(found) == 1 and "3 drivers claimed; 2 entries validate" in found[0].detail


def test_name_offset_outside_the_pool_fails_validation() -> None:
    data, hdr = driver_file(64, X64, 0x90)
    modules, found = read_drivers(replace(hdr, string_pool_size=8), data, 64)
    assert modules == [] and len(found) == 1


def test_count_beyond_the_file_is_bounded() -> None:
    data, hdr = driver_file(64, X64, 0x90, count=0xFFFFFFFF)
    modules, found = read_drivers(hdr, data, 64)
    # The pool follows the list: entries past the third read string-pool bytes and fail.
    assert _names(modules) == ["ntoskrnl.exe", "hal.dll", "filter.sys"]
    assert "4294967295 drivers claimed; 3 entries validate" in found[0].detail
    assert MAX_DRIVERS == 0x1000


def test_no_driver_list() -> None:
    assert read_drivers(header(), memoryview(b"\0" * 0x100), 64) == ([], [])


def test_kernel_base_check() -> None:
    data, hdr = driver_file(64, X64, 0x90)
    modules, _ = read_drivers(hdr, data, 64)
    assert kernel_base_anomalies(modules, 0xFFFFF8047BA00000) == []
    assert kernel_base_anomalies(modules, None) == []
    assert kernel_base_anomalies([], 0xFFFFF8047BA00000) == []
    (found,) = kernel_base_anomalies(modules, 0xFFFFF80400000000)
    assert "ntoskrnl.exe" in found.detail


def test_entry_cut_by_the_end_of_the_file() -> None:
    data, hdr = driver_file(64, X64, 0x90)
    pool = (hdr.string_pool_offset, hdr.string_pool_offset + hdr.string_pool_size)
    assert read_entry(data, len(data) - 0x10, LAYOUT_64, pool, 64) is None
    assert read_entry(data, hdr.driver_list_offset, LAYOUT_64, pool, 64) is not None
