"""The reader against the synth builder's ground truth, for every container and paging mode.

The builder writes with its own literal offsets (DESIGN.md convention 2), so a layout
mistake in the reader cannot hide behind the same mistake in the writer.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dumptriage import analyze, open_dump
from dumptriage.errors import PageNotPresent
from dumptriage.synth import BuiltDump, DumpSpec, build

MATRIX = [
    (dump_type, arch, pae)
    for dump_type in (1, 2, 5, 6)
    for arch, pae in (("x64", False), ("x86", True), ("x86", False))
]


def _write(tmp_path: Path, built: BuiltDump) -> Path:
    assert built.data is not None
    path = tmp_path / "dump.dmp"
    path.write_bytes(built.data)
    return path


@pytest.fixture(params=MATRIX, ids=lambda p: f"type{p[0]}-{p[1]}{'-pae' if p[2] else ''}")
def built(request: pytest.FixtureRequest) -> BuiltDump:
    dump_type, arch, pae = request.param
    spec = DumpSpec(arch=arch, pae=pae, dump_type=dump_type, build=7601 if arch == "x86" else 19041,
                    processors=2, bugcheck=(0xD1, (0x10, 2, 0, 0x8BAD_F00D)),
                    system_time=datetime(2021, 6, 1, 12, 30, 5, 250_000, tzinfo=UTC),
                    uptime_100ns=(3600 * 5 + 52) * 10_000_000 + 7_400_000,
                    comment="synthetic")
    return build(spec)


def test_header_facts(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built)) as dump:
        info = dump.info
        assert info.arch == built.arch
        assert info.pae == (built.pae if built.arch == "x86" else None)
        assert info.dump_type_code == built.dump_type
        assert info.header_size == built.header_size
        assert info.directory_table_base == built.dtb
        assert info.kd_debugger_data_block == built.kdbg_va
        assert info.ps_loaded_module_list == built.ps_loaded_module_list
        assert info.processors == 2
        assert info.system_time == "2021-06-01T12:30:05.250Z"
        assert info.uptime_seconds == 18052.74
        assert info.comment == "synthetic"
        assert info.file_size == built.file_size == info.expected_size
        assert dump.bugcheck.code == 0xD1 and dump.bugcheck.args == (0x10, 2, 0, 0x8BAD_F00D)
        assert dump.anomalies == []


def test_sampled_physical_pages(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built)) as dump:
        assert built.samples
        for sample in built.samples:
            if sample.file_offset is None:
                assert dump.read_physical_or_none(sample.pa, 0x1000) is None
                continue
            page = dump.read_physical(sample.pa, 0x1000)
            assert hashlib.sha256(page).hexdigest() == sample.sha256, sample.label


def test_translations(tmp_path: Path, built: BuiltDump) -> None:
    with open_dump(_write(tmp_path, built)) as dump:
        kinds = set()
        for mapping in built.mappings:
            kinds.add(mapping.kind)
            if mapping.pa is None:
                with pytest.raises(PageNotPresent):
                    dump.translate(mapping.va)
            else:
                assert dump.translate(mapping.va) == mapping.pa, (hex(mapping.va), mapping.kind)
        assert {"transition", "prototype", "pagefile", "4k"} <= kinds


def test_kdbg_and_kernel_base(tmp_path: Path, built: BuiltDump) -> None:
    report = analyze(_write(tmp_path, built))
    assert report.dump is not None
    assert report.dump.kernel_base == built.kernel_base


def test_truncated_copy_still_reports_and_reads_what_is_left(tmp_path: Path,
                                                             built: BuiltDump) -> None:
    assert built.data is not None
    path = tmp_path / "cut.dmp"
    cut = built.file_size - 3 * 0x1000
    path.write_bytes(built.data[:cut])
    with open_dump(path) as dump:
        codes = [a.code for a in dump.anomalies]
        assert codes == ["dump_truncated"]
        assert dump.bugcheck.code == 0xD1
        last = max(built.samples, key=lambda s: s.file_offset or -1)
        first = min((s for s in built.samples if s.file_offset), key=lambda s: s.file_offset or 0)
        assert dump.read_physical_or_none(first.pa, 16) is not None
        assert last.file_offset is not None
        if last.file_offset + 0x1000 > cut:
            with pytest.raises(PageNotPresent, match="truncated"):
                dump.read_physical(last.pa, 0x1000)
