"""What follows the header: runs, summary/bitmap headers, triage, RDMP (dump-format.md §2-§3)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from dumptriage.synth import presets, write
from tests.synth._rawread import RawDump, u32, u64
from tests.synth.conftest import MEMORY_PRESETS, built


def popcount(bm: bytes) -> int:
    return int.from_bytes(bm, "little").bit_count()


@pytest.mark.parametrize("name", [n for n in MEMORY_PRESETS if built(n).dump_type != 1])
def test_bitmap_popcount_is_present_count(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    h = raw.hsize
    first, nbits, bm = raw.bitmap_info()
    assert first % 0x1000 == 0
    assert popcount(bm) == b.present_count
    assert nbits == b.bitmap_bits
    sig = b.data[h : h + 8]
    if b.dump_type == 2:  # SUMMARY_DUMP: Pages +0x14, SizeOfBitMap +0x18
        assert sig == b"SDMPDUMP"
        assert u32(b.data, h + 0x14) == b.present_count
        assert u32(b.data, h + 0x18) == nbits
    else:  # BMP header: TotalPresentPages +0x28
        assert sig == (b"FDMPDUMP" if b.dump_type == 5 else b"SDMPDUMP")
        assert u64(b.data, h + 0x28) == b.present_count
    assert len(b.data) == first + b.present_count * 0x1000


@pytest.mark.parametrize("name", MEMORY_PRESETS)
def test_samples_at_their_file_offsets(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    assert b.samples
    for s in b.samples:
        off = raw.file_offset(s.pa)
        assert off == s.file_offset, s.label
        assert off is not None
        assert hashlib.sha256(b.data[off : off + 0x1000]).hexdigest() == s.sha256, s.label


def test_full_dump_runs_back_to_back() -> None:
    b = built("win10_x64_full")
    assert b.data is not None
    assert len(b.ram_runs) == 4  # several runs with gaps
    assert len(b.data) == 0x2000 + sum(c for _, c in b.ram_runs) * 0x1000


@pytest.mark.parametrize("name", ["triage_x64_minimal", "triage_x86_minimal"])
def test_triage_marker(name: str) -> None:
    b = built(name)
    assert b.data is not None
    d = b.data
    h = 0x2000 if b.arch == "x64" else 0x1000
    size_of_dump, valid = u32(d, h + 4), u32(d, h + 8)
    assert d[valid : valid + 4] == b"TRGD"  # 'DGRT' read as a dword (§3.4)
    assert size_of_dump == valid + 4 == len(d)
    assert u32(d, h + 0x0C) == (0x348 if b.arch == "x64" else 0x320)  # ContextOffset
    assert u32(d, 0x1038 if b.arch == "x64" else 0xF8C) == 0x3  # MiniDumpFields


def test_header_only() -> None:
    b = built("header_only_x64")
    assert b.data is not None and len(b.data) == 0x2000


def test_rdmp_consistency_rule() -> None:
    b = built("rdmp_x64")
    assert b.data is not None
    d = b.data
    assert u32(d, 0x2000) == 0x40 and d[0x2004:0x200C] == b"RDMPDUMP"
    meta, first = u64(d, 0x2010), u64(d, 0x2018)
    assert meta - 0x20 == first - 0x2040  # the rule S1 checks (§2.4)
    ranges = [(u64(d, 0x2030 + 16 * i), u64(d, 0x2038 + 16 * i)) for i in range(len(b.present))]
    assert ranges == list(b.present)
    assert len(d) == first + b.present_count * 0x1000


def test_story_is_small() -> None:
    b = built("win7_x86_pae_summary")
    assert b.file_size < 400 * 1024
    assert b.bitmap_bits == 3071 * 256  # 3071 MiB of RAM


def test_sparse_16_gib_bitmap(tmp_path: Path) -> None:
    start = time.monotonic()
    b = write(presets.sparse_x64_bitmap(16), tmp_path / "big.dmp")
    elapsed = time.monotonic() - start
    assert elapsed < 60
    st = os.stat(b.path or "")
    pages = 16 * 262144
    assert b.bitmap_bits == pages == b.present_count
    first = (0x2000 + 0x38 + pages // 8 + 0xFFF) & ~0xFFF  # page-aligned FirstPage
    assert st.st_size == b.file_size == first + pages * 0x1000
    assert st.st_blocks * 512 < 64 << 20  # holes: a few MB on disk, not 16 GiB
    with open(b.path or "", "rb") as f:
        head = f.read(0x2000 + 0x38 + 64)
    assert head[0x2000:0x2008] == b"FDMPDUMP"
    assert u64(head, 0x2028) == pages and u64(head, 0x2030) == pages
    assert head[0x2038:] == b"\xff" * 64
    for s in b.samples:  # content pages are really there
        assert s.file_offset is not None
        with open(b.path or "", "rb") as f:
            f.seek(s.file_offset)
            assert hashlib.sha256(f.read(0x1000)).hexdigest() == s.sha256
