"""Page index arithmetic: runs and bitmaps against a naive model."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumptriage.dump.memory.physical import PAGE_SIZE, BitmapMap, PhysicalMemory, Run, RunMap
from dumptriage.errors import PageNotPresent


def test_runs_are_stored_in_descriptor_order_not_pfn_order() -> None:
    # A run's file position is the running total of the runs before it (kdmp-parser
    # comment; dump-format.md section 2.3), even when the runs are not sorted.
    runs = [Run(0x100, 2), Run(0x1, 3)]
    index = RunMap(runs, data_offset=0x2000)
    assert index.file_offset(0x100) == 0x2000
    assert index.file_offset(0x101) == 0x3000
    assert index.file_offset(0x1) == 0x4000
    assert index.file_offset(0x3) == 0x6000
    assert index.file_offset(0x4) is None
    assert index.file_offset(0x0) is None
    assert index.page_count == 5 and index.data_end == 0x2000 + 5 * PAGE_SIZE


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=2048), st.integers(min_value=0, max_value=4096))
def test_bitmap_rank_matches_naive_count(bitmap: bytes, first: int) -> None:
    bits = len(bitmap) * 8
    index = BitmapMap(memoryview(bitmap), bits, first * PAGE_SIZE)
    present = [p for p in range(bits) if bitmap[p >> 3] >> (p & 7) & 1]
    assert index.page_count == len(present)
    for rank, pfn in enumerate(present):
        assert index.file_offset(pfn) == first * PAGE_SIZE + rank * PAGE_SIZE
    absent = set(range(bits)) - set(present)
    for pfn in list(absent)[:50]:
        assert index.file_offset(pfn) is None
    assert index.file_offset(bits) is None and index.file_offset(-1) is None


def test_rank_on_a_64_gib_bitmap_samples() -> None:
    # 16M bits: the index is built once, lookups agree with counting by hand.
    rng = random.Random(7)
    bitmap = bytearray(rng.getrandbits(8) for _ in range(1 << 21))
    index = BitmapMap(memoryview(bytes(bitmap)), len(bitmap) * 8, 0x3000)
    edges = [0, 1, 2047, 2048, 123_456, (1 << 24) - 1]
    for pfn in edges + [rng.randrange(1 << 24) for _ in range(20)]:
        want = sum(bin(b).count("1") for b in bitmap[: pfn >> 3])
        want += bin(bitmap[pfn >> 3] & ((1 << (pfn & 7)) - 1)).count("1")
        assert index.rank(pfn) == want


def test_physical_reads_cross_pages_and_refuse_missing_ones() -> None:
    data = bytearray(0x1000 + 3 * PAGE_SIZE)
    for i in range(3):
        data[0x1000 + i * PAGE_SIZE : 0x1000 + (i + 1) * PAGE_SIZE] = bytes([i + 1]) * PAGE_SIZE
    memory = PhysicalMemory(memoryview(bytes(data)), RunMap([Run(10, 2), Run(20, 1)], 0x1000))
    assert memory.read(10 * PAGE_SIZE + 0xFFE, 4) == b"\x01\x01\x02\x02"
    assert memory.read(20 * PAGE_SIZE, 2) == b"\x03\x03"
    # A u64 that straddles two present pages is assembled from both.
    straddling = int.from_bytes(b"\x01" * 4 + b"\x02" * 4, "little")
    assert memory.read_u64(10 * PAGE_SIZE + 0xFFC) == straddling
    assert memory.read_u32(20 * PAGE_SIZE + 8) == 0x03030303
    with pytest.raises(PageNotPresent, match="not in the dump"):
        memory.read(12 * PAGE_SIZE, 1)


def test_pages_past_the_end_of_a_truncated_file_are_missing() -> None:
    data = memoryview(bytes(0x1000 + PAGE_SIZE))  # room for one of two pages
    memory = PhysicalMemory(data, RunMap([Run(0, 2)], 0x1000))
    assert memory.read(0, 4) == b"\0" * 4
    with pytest.raises(PageNotPresent, match="truncated"):
        memory.read(PAGE_SIZE, 4)
