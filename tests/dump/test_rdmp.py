"""RDMP range dumps (DumpType 8, 9, 0xA): the reader against the builder's ground truth.

The builder writes RDMP with its own literal offsets (synth/layout.py RDMP, DESIGN.md
convention 2). Offsets patched below are those of dump-format.md section 2.4 and
formats/windows_crash_dump.ksy: RDMP_HEADER64 at 0x2000 (Marker +0, Signature +4,
ValidDump +8, MetadataSize +0x10, FirstPageOffset +0x18), the 0x10 metadata bytes at
0x2020 (0xA: NumberOfRanges u32 +0x20, TotalNumberOfPages u64 +0x28), ranges from 0x2030.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dumptriage import analyze, open_dump
from dumptriage.errors import DumpFormatError, PageNotPresent
from dumptriage.synth import BuiltDump, DumpSpec, LargePageSpec, build

TYPES = [8, 9, 0xA]
RANGES = 0x2030


def _spec(dump_type: int) -> DumpSpec:
    # A 2 MiB page whose two marker pages are the only ones with content: in 8/9 the
    # rest of it is absent, so the table has several ranges and translate still works.
    return DumpSpec(arch="x64", dump_type=dump_type, build=22621, processors=2,
                    bugcheck=(0xD1, (0x10, 2, 0, 0x8BAD_F00D)), memory_mib=16,
                    system_time=datetime(2021, 6, 1, 12, 30, 5, 250_000, tzinfo=UTC),
                    uptime_100ns=(3600 * 5 + 52) * 10_000_000 + 7_400_000, comment="rdmp",
                    large_pages=(LargePageSpec(va=0xFFFFF80490000000, size=0x200000),))


def _write(tmp_path: Path, data: bytes, name: str = "rdmp.dmp") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _patched(built: BuiltDump, patches: dict[int, bytes]) -> bytes:
    data = bytearray(built.data or b"")
    for offset, value in patches.items():
        data[offset : offset + len(value)] = value
    return bytes(data)


def _q(value: int) -> bytes:
    return struct.pack("<Q", value)


@pytest.fixture(params=TYPES, ids=lambda t: f"type{t:x}")
def built(request: pytest.FixtureRequest) -> BuiltDump:
    return build(_spec(request.param))


def test_builder_layout(built: BuiltDump) -> None:
    d = built.data or b""
    assert struct.unpack_from("<I4s4s", d, 0x2000) == (0x40, b"RDMP", b"DUMP")
    meta, first = struct.unpack_from("<QQ", d, 0x2010)
    assert first == 0x2020 + meta == built.first_page_offset  # S1's consistency rule
    table = [struct.unpack_from("<QQ", d, RANGES + 16 * i) for i in range(len(built.present))]
    assert table == list(built.present)
    assert len(d) == first + built.present_count * 0x1000
    if built.dump_type == 0xA:  # packed, as the real file of kdmp-parser issue #27
        assert meta == 0x10 + 16 * len(built.present)
        assert struct.unpack_from("<IHHQ", d, 0x2020) == (len(built.present), 0, 0,
                                                          built.present_count)
        assert built.present == built.ram_runs == ((1, 0x9E), (0x100, 0xF00))
    else:  # kernel pages only; a zero range ends S1's walk
        assert first % 0x1000 == 0 and len(built.present) >= 2
        assert d[RANGES + 16 * len(built.present) : first] == bytes(first - RANGES
                                                                     - 16 * len(built.present))
        assert built.present_count < 0x200


def test_header_facts(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built.data or b"")) as dump:
        info = dump.info
        assert info.arch == "x64" and info.header_size == 0x2000
        assert info.dump_type_code == built.dump_type
        assert info.dump_type == {8: "kernel_range", 9: "kernel_and_user_range",
                                  0xA: "complete_range"}[built.dump_type]
        assert info.directory_table_base == built.dtb
        assert info.kd_debugger_data_block == built.kdbg_va
        assert info.ps_loaded_module_list == built.ps_loaded_module_list
        assert info.processors == 2 and info.os.build == 22621
        assert info.system_time == "2021-06-01T12:30:05.250Z"
        assert info.uptime_seconds == 18052.74
        assert info.comment == "rdmp"
        assert info.file_size == built.file_size == info.expected_size
        assert dump.bugcheck.code == 0xD1 and dump.bugcheck.args == (0x10, 2, 0, 0x8BAD_F00D)
        assert dump.anomalies == []


def test_present_and_absent_pages(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built.data or b"")) as dump:
        for sample in built.samples:
            if sample.file_offset is None:
                assert dump.read_physical_or_none(sample.pa, 0x1000) is None, sample.label
                continue
            page = dump.read_physical(sample.pa, 0x1000)
            assert hashlib.sha256(page).hexdigest() == sample.sha256, sample.label
        first_pfn, count = built.present[-1]
        last = (first_pfn + count - 1) * 0x1000
        assert dump.read_physical(last + 0xFF8, 8) == (built.data or b"")[-8:]
        for pfn in (0, 0xA0, first_pfn + count, 0x100000):
            assert dump.read_physical_or_none(pfn * 0x1000, 16) is None, hex(pfn)


def test_translations(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built.data or b"")) as dump:
        kinds = set()
        for mapping in built.mappings:
            kinds.add(mapping.kind)
            if mapping.pa is None:
                with pytest.raises(PageNotPresent):
                    dump.translate(mapping.va)
            else:
                assert dump.translate(mapping.va) == mapping.pa, (hex(mapping.va), mapping.kind)
        assert {"transition", "prototype", "pagefile", "4k", "large-2m"} <= kinds
        large = next(m for m in built.mappings if m.kind == "large-2m")
        middle = large.va + 0x100000
        assert large.pa is not None and dump.translate(middle) == large.pa + 0x100000
        if built.dump_type != 0xA:  # the middle of the large page was never stored
            with pytest.raises(PageNotPresent):
                dump.read_virtual(middle, 8)


def test_kernel_state(tmp_path: Path, built: BuiltDump) -> None:
    result = analyze(_write(tmp_path, built.data or b""))
    assert result.dump is not None and result.dump.kernel_base == built.kernel_base
    report = result.to_dict()
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    assert report["anomalies"] == []


def test_truncated_copy_reads_what_is_left(tmp_path: Path, built: BuiltDump) -> None:
    data = built.data or b""
    cut = len(data) - 3 * 0x1000 - 0x10
    with open_dump(_write(tmp_path, data[:cut])) as dump:
        assert [a.code for a in dump.anomalies] == ["dump_truncated"]
        assert "the last 4 pages are missing" in dump.anomalies[0].detail
        assert dump.bugcheck.code == 0xD1
        first_pfn = built.present[0][0]
        assert dump.read_physical(first_pfn * 0x1000, 4096) == data[
            built.first_page_offset or 0 : (built.first_page_offset or 0) + 0x1000]
        first_pfn, count = built.present[-1]
        with pytest.raises(PageNotPresent, match="truncated"):
            dump.read_physical((first_pfn + count - 1) * 0x1000, 8)


def test_cut_inside_the_rdmp_header_is_a_format_error(tmp_path: Path) -> None:
    data = build(_spec(8)).data or b""
    with pytest.raises(DumpFormatError) as err:
        open_dump(_write(tmp_path, data[:0x2028]))
    assert (err.value.structure, err.value.offset) == ("RDMP_HEADER64", 0x2000)


def _meta(dump_type: int) -> tuple[int, int]:
    d = build(_spec(dump_type)).data or b""
    return struct.unpack_from("<QQ", d, 0x2010)


# (id, DumpType, patches(MetadataSize, FirstPageOffset) -> {offset: bytes}, structure,
#  offset, needle)
BAD = [
    ("marker", 8, lambda m, f: {0x2000: struct.pack("<I", 0x41)}, "RDMP_HEADER64", 0x2000,
     "Marker 0x41"),
    ("signature", 9, lambda m, f: {0x2004: b"XDMP"}, "RDMP_HEADER64", 0x2004, "'RDMP'"),
    ("valid-dump", 0xA, lambda m, f: {0x2008: b"DU64"}, "RDMP_HEADER64", 0x2008, "'DUMP'"),
    ("metadata-odd", 8, lambda m, f: {0x2010: _q(m + 8), 0x2018: _q(f + 8)}, "RDMP_HEADER64",
     0x2010, "whole"),
    ("metadata-small", 0xA, lambda m, f: {0x2010: _q(0), 0x2018: _q(0x2020)}, "RDMP_HEADER64",
     0x2010, "MetadataSize 0x0"),
    # S1's rule MetadataSize - 0x20 == FirstPageOffset - 0x2040, broken either way.
    ("rule", 8, lambda m, f: {0x2018: _q(f + 0x1000)}, "RDMP_HEADER64", 0x2018,
     "FirstPageOffset"),
    ("rule-0xA", 0xA, lambda m, f: {0x2010: _q(m + 0x10)}, "RDMP_HEADER64", 0x2018,
     "FirstPageOffset"),
    # A table of 2^40 ranges, consistent with FirstPageOffset, cannot be in the file.
    ("table-huge", 9, lambda m, f: {0x2010: _q(1 << 44), 0x2018: _q(0x2020 + (1 << 44))},
     "RDMP range table", 0x2030, "file ends at"),
    ("num-ranges", 0xA, lambda m, f: {0x2020: struct.pack("<I", 0xFFFFFFFF)},
     "RDMP_HEADER64", 0x2020, "NumberOfRanges 4294967295 is more than the 2"),
    ("range-pfn-space", 8, lambda m, f: {RANGES + 8: _q(1 << 50)}, "RDMP range table",
     RANGES, "beyond any physical address space"),
    ("range-overlap", 0xA, lambda m, f: {RANGES + 16: _q(0x50)}, "RDMP range table",
     RANGES, "overlaps"),
]


@pytest.mark.parametrize(("dump_type", "patch", "structure", "offset", "needle"),
                         [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_counts_are_typed_errors(tmp_path: Path, dump_type: int, patch: object,
                                     structure: str, offset: int, needle: str) -> None:
    built = build(_spec(dump_type))
    patches = patch(*_meta(dump_type))  # type: ignore[operator]
    path = _write(tmp_path, _patched(built, patches))
    with pytest.raises(DumpFormatError) as err:
        open_dump(path)
    assert (err.value.structure, err.value.offset) == (structure, offset)
    assert needle in err.value.reason
    assert err.value.path == str(path)


def test_complete_counts_that_disagree_are_anomalies(tmp_path: Path) -> None:
    built = build(_spec(0xA))
    # TotalNumberOfPages one short: S1 stops when the ranges reach it, so does the reader.
    total = built.present_count
    path = _write(tmp_path, _patched(built, {0x2028: _q(total - 1)}))
    with open_dump(path) as dump:
        assert [(a.code, a.where) for a in dump.anomalies] == [
            ("header_inconsistent", "RDMP_HEADER64 at 0x2000")]
        assert dump.anomalies[0].detail == (f"TotalNumberOfPages is {total - 1} but the "
                                            f"ranges add up to {total}")
    # NumberOfRanges 1 with two ranges in the table and the page total met by both.
    path = _write(tmp_path, _patched(built, {0x2020: struct.pack("<I", 1)}), "n.dmp")
    with open_dump(path) as dump:
        assert [a.detail for a in dump.anomalies] == [
            "NumberOfRanges is 1 but the table has 2 ranges before it ends"]


def test_range_at_pfn_zero_ends_the_table(tmp_path: Path) -> None:
    built = build(_spec(8))
    second_pfn, second_count = built.present[1]
    path = _write(tmp_path, _patched(built, {RANGES + 16: _q(0)}))
    with open_dump(path) as dump:
        assert [(a.code, a.where) for a in dump.anomalies] == [
            ("header_inconsistent", "RDMP range table at 0x2040")]
        assert f"a range of {second_count} pages at PFN 0" in dump.anomalies[0].detail
        assert dump.read_physical_or_none(second_pfn * 0x1000, 8) is None
        first_pfn = built.present[0][0]
        assert dump.read_physical_or_none(first_pfn * 0x1000, 8) is not None


def test_directory_table_base_outside_the_ranges(tmp_path: Path) -> None:
    built = build(_spec(8))
    # DirectoryTableBase at 0x10 (dump-format.md section 1.3): a page in no range.
    path = _write(tmp_path, _patched(built, {0x10: _q(0x7000)}))
    report = analyze(path).to_dict()
    codes = [(a["code"], a["where"]) for a in report["anomalies"]]
    assert ("page_not_present", "DUMP_HEADER DirectoryTableBase") in codes
    assert ("kdbg_unavailable", "KdDebuggerDataBlock") in codes
    assert report["bugcheck"]["code"] == 0xD1
