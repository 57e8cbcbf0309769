"""Corrupt counts and structures: a typed DumpFormatError naming file, structure, offset.

Each case patches a field of a builder dump at the offset dump-format.md gives for it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dumptriage import analyze, open_dump
from dumptriage.cli import main
from dumptriage.errors import DumpFormatError
from dumptriage.synth import DumpSpec, build, presets


def _dump(tmp_path: Path, spec: DumpSpec, patches: dict[int, bytes]) -> Path:
    data = bytearray(build(spec).data or b"")
    for offset, value in patches.items():
        data[offset : offset + len(value)] = value
    path = tmp_path / "bad.dmp"
    path.write_bytes(bytes(data))
    return path


FULL64 = DumpSpec(arch="x64", dump_type=1, memory_mib=8)
FULL32 = DumpSpec(arch="x86", pae=True, dump_type=1, memory_mib=8)
BMP64 = DumpSpec(arch="x64", dump_type=5, memory_mib=8)
SUMMARY32 = DumpSpec(arch="x86", pae=True, dump_type=2, memory_mib=8)

CASES = [
    # NumberOfRuns (64-bit header 0x88; 32-bit 0x64): 2^32-1 cannot fit 43/86 runs.
    ("runs-2^32-64", FULL64, {0x88: struct.pack("<I", 0xFFFFFFFF)},
     "PHYSICAL_MEMORY_DESCRIPTOR", "NumberOfRuns 4294967295"),
    ("runs-2^32-32", FULL32, {0x64: struct.pack("<I", 0xFFFFFFFF)},
     "PHYSICAL_MEMORY_DESCRIPTOR", "more than the 86"),
    ("runs-page-fill", FULL64, {0x88: b"PAGE"}, "PHYSICAL_MEMORY_DESCRIPTOR", "PAGE fill"),
    # A run whose page count reaches beyond any physical address space.
    ("run-overflow", FULL64, {0x88 + 0x10 + 8: struct.pack("<Q", 1 << 50)},
     "PHYSICAL_MEMORY_DESCRIPTOR", "beyond any physical address space"),
    # BMP header at 0x2000: bit count (+0x30) larger than the file can hold.
    ("bitmap-too-big", BMP64, {0x2030: struct.pack("<Q", 1 << 38)}, "BMP header",
     "file ends at"),
    ("bitmap-present>bits", BMP64, {0x2028: struct.pack("<Q", 1 << 40)}, "BMP header",
     "exceeds"),
    ("bmp-signature", BMP64, {0x2000: b"XXXX"}, "BMP header", "neither 'SDMP' nor 'FDMP'"),
    # SUMMARY_DUMP at 0x1000: BitmapSize (+0x10) absurd; signature broken.
    ("summary-bits", SUMMARY32, {0x1010: struct.pack("<I", 0xFFFFFFFF)}, "SUMMARY_DUMP",
     "file ends at"),
    ("summary-signature", SUMMARY32, {0x1000: b"XXXX"}, "SUMMARY_DUMP", "SDMP"),
    ("dump-type", FULL64, {0xF98: struct.pack("<I", 0x77)}, "DUMP_HEADER", "DumpType 0x77"),
    ("machine", FULL64, {0x30: struct.pack("<I", 0x1234)}, "DUMP_HEADER", "MachineImageType"),
]


@pytest.mark.parametrize(("spec", "patches", "structure", "needle"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corrupt_structure_is_a_typed_error(tmp_path: Path, spec: DumpSpec,
                                            patches: dict[int, bytes], structure: str,
                                            needle: str) -> None:
    path = _dump(tmp_path, spec, patches)
    with pytest.raises(DumpFormatError) as caught:
        open_dump(path)
    err = caught.value
    assert err.path == str(path) and err.structure == structure and err.offset is not None
    assert needle in str(err) and "\n" not in str(err)


def test_cli_prints_one_line_and_exits_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = _dump(tmp_path, FULL64, {0x88: struct.pack("<I", 0xFFFFFFFF)})
    assert main(["analyze", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"dumptriage: error: {path}: PHYSICAL_MEMORY_DESCRIPTOR at offset 0x88")


def test_page_table_pointing_at_itself_cannot_hang(tmp_path: Path) -> None:
    # Point every PML4 slot at the PML4 itself: walks terminate after four levels.
    built = build(FULL64)
    assert built.data is not None
    data = bytearray(built.data)
    pml4 = built.file_offset(built.dtb & ~0xFFF)
    assert pml4 is not None
    for slot in range(512):
        struct.pack_into("<Q", data, pml4 + 8 * slot, (built.dtb & ~0xFFF) | 0x3)
    path = tmp_path / "loop.dmp"
    path.write_bytes(bytes(data))
    report = analyze(path)  # module list, KDBG, processors: all bounded
    assert report.bugcheck is not None
    with open_dump(path) as dump:
        assert dump.translate(0xFFFFF800_00000000) is not None


def test_module_list_that_loops_is_an_anomaly(tmp_path: Path) -> None:
    spec = presets.win7_x86_pae_summary()
    built = build(spec)
    assert built.data is not None
    data = bytearray(built.data)
    second = built.modules[1]
    # Make the second entry's Flink point back at itself (InLoadOrderLinks is at 0).
    at = built.file_offset(_pa(built, second.ldr_va))
    assert at is not None
    struct.pack_into("<I", data, at, second.ldr_va)
    path = tmp_path / "loop.dmp"
    path.write_bytes(bytes(data))
    report = analyze(path).to_dict()
    assert [m["name"] for m in report["modules"]][:2] == [built.modules[0].name, second.name]
    assert len(report["modules"]) == 2
    assert any(a["code"] == "list_corrupt" for a in report["anomalies"])


def _pa(built: object, va: int) -> int:
    for mapping in built.mappings:  # type: ignore[attr-defined]
        if mapping.pa is not None and mapping.va <= va < mapping.va + mapping.size:
            return int(mapping.pa + (va - mapping.va))
    raise AssertionError(f"{va:#x} is not mapped")


# Header-only (3), AUTOMATIC (7, never seen in a file) and 32-bit files of the RDMP types:
# RDMP (8, 9, 0xA) is read only in 64-bit files, the one layout kdmp-parser attests
# (dump-format.md section 2.4); 64-bit RDMP dumps are read (tests/dump/test_rdmp.py).
UNREAD = [("type3-x64", "x64", 3), ("type7-x64", "x64", 7), ("type3-x86", "x86", 3),
          ("type7-x86", "x86", 7), ("type8-x86", "x86", 8), ("typeA-x86", "x86", 0xA)]


@pytest.mark.parametrize(("arch", "dump_type"), [c[1:] for c in UNREAD],
                         ids=[c[0] for c in UNREAD])
def test_recognised_but_unsupported_types_report_their_header(tmp_path: Path, arch: str,
                                                              dump_type: int) -> None:
    spec = presets.header_only_x64() if arch == "x64" else DumpSpec(arch="x86", dump_type=3)
    built = build(spec)
    # DumpType at 0xF98 (64-bit) / 0xF88 (32-bit), dump-format.md sections 1.2 and 1.3.
    path = _dump(tmp_path, spec, {0xF98 if arch == "x64" else 0xF88:
                                  struct.pack("<I", dump_type)})
    report = analyze(path).to_dict()
    assert report["dump"]["dump_type_code"] == dump_type
    assert [a["code"] for a in report["anomalies"]] == ["dump_type_not_supported"]
    assert report["bugcheck"]["code"] == built.spec.bugcheck[0]


def test_bitmap_popcount_is_checked_whatever_was_read_first(tmp_path: Path) -> None:
    built = build(BMP64)
    claimed = built.present_count - 1  # TotalPresentPages at BMP header +0x28
    path = _dump(tmp_path, BMP64, {0x2028: struct.pack("<Q", claimed)})
    with open_dump(path) as dump:
        # Before any page is read, the anomaly list already holds the popcount check:
        # the list does not depend on what was touched first (issue 9).
        before = dump.all_anomalies()
        assert [a.code for a in before] == ["header_inconsistent"]
        assert f"header says {claimed} pages" in before[0].detail
        sample = next(s for s in built.samples if s.file_offset is not None)
        dump.read_physical(sample.pa, 8)
        assert dump.all_anomalies() == before
