"""Where each physical page of the guest sits in the dump file.

Two shapes cover every container that stores physical pages:

* ``RunMap``: PHYSICAL_MEMORY_DESCRIPTOR runs (DumpType 1, full dumps). Runs are stored
  back to back from the end of the header, so a run's file position is the running
  total of the page counts before it, not its BasePage (dump-format.md section 2.3, S1).
* ``BitmapMap``: one bit per PFN, pages stored in PFN order for the set bits only
  (DumpType 2 SUMMARY_DUMP and DumpType 5/6 BMP dumps). A page's file offset is
  ``first_page + rank(pfn) * 0x1000`` where rank counts the set bits below it.

Both work over the dump's mmap and never copy page data they are not asked for.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array
from collections.abc import Sequence

from dumptriage.errors import PageNotPresent
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Protocol

    class PageIndex(Protocol):
        """Maps a page frame number to the file offset of its 4 KiB of data, or None."""

        def file_offset(self, pfn: int) -> int | None: ...

        @property
        def page_count(self) -> int: ...

PAGE_SIZE = 0x1000
PAGE_SHIFT = 12

# Rank index granularity: one running count per 2048 bits (256 bytes of bitmap). A
# 64 GiB guest (16M bits) needs 8192 counters (64 KiB) and a lookup pops at most 256 bytes.
_RANK_BLOCK_BITS = 2048
_RANK_BLOCK_BYTES = _RANK_BLOCK_BITS // 8
_OFFSET_CACHE = 1 << 16  # bounded: emptied when full
_SMALL_READ = 512  # up to this many bytes within one page: read from the mapping


class Run(Record):
    base_page: int
    page_count: int


class RunMap:
    """PHYSICAL_MEMORY_DESCRIPTOR runs of a full dump."""

    def __init__(self, runs: Sequence[Run], data_offset: int):
        ordered = sorted(runs, key=lambda r: r.base_page)
        self._bases = [r.base_page for r in ordered]
        self._ends = [r.base_page + r.page_count for r in ordered]
        # File offsets follow the descriptor order, not the PFN order.
        offsets: dict[int, int] = {}
        cursor = data_offset
        for run in runs:
            offsets.setdefault(run.base_page, cursor)
            cursor += run.page_count * PAGE_SIZE
        self._offsets = [offsets[r.base_page] for r in ordered]
        self._pages = sum(r.page_count for r in runs)
        self.data_end = cursor

    def file_offset(self, pfn: int) -> int | None:
        i = bisect.bisect_right(self._bases, pfn) - 1
        if i < 0 or pfn >= self._ends[i]:
            return None
        return self._offsets[i] + (pfn - self._bases[i]) * PAGE_SIZE

    @property
    def page_count(self) -> int:
        return self._pages


class BitmapMap:
    """A PFN bitmap (SUMMARY_DUMP or BMP) with a lazily built prefix-count index."""

    def __init__(self, bitmap: memoryview, num_bits: int, first_page_offset: int):
        self._bitmap = bitmap
        self._num_bits = num_bits
        self._first = first_page_offset
        self._prefix: array[int] | None = None
        self._present: int | None = None

    def release(self) -> None:
        """Drop the view into the dump's mapping so that the file can be closed."""
        self._bitmap.release()

    def _build_prefix(self) -> array[int]:
        """Running set-bit counts per block: one pass over the bitmap's bytes."""
        prefix = array("Q")
        total = 0
        bitmap = self._bitmap
        for start in range(0, len(bitmap), _RANK_BLOCK_BYTES):
            prefix.append(total)
            total += int.from_bytes(bitmap[start : start + _RANK_BLOCK_BYTES], "little").bit_count()
        self._present = total
        return prefix

    def is_present(self, pfn: int) -> bool:
        if pfn < 0 or pfn >= self._num_bits:
            return False
        return bool(self._bitmap[pfn >> 3] >> (pfn & 7) & 1)

    def rank(self, pfn: int) -> int:
        """Number of set bits strictly below ``pfn``."""
        if self._prefix is None:
            self._prefix = self._build_prefix()
        block = pfn // _RANK_BLOCK_BITS
        start = block * _RANK_BLOCK_BYTES
        bits_in_block = pfn - block * _RANK_BLOCK_BITS
        chunk = self._bitmap[start : start + (bits_in_block + 7) // 8]
        below = int.from_bytes(chunk, "little") & ((1 << bits_in_block) - 1)
        return self._prefix[block] + below.bit_count()

    def file_offset(self, pfn: int) -> int | None:
        if not self.is_present(pfn):
            return None
        return self._first + self.rank(pfn) * PAGE_SIZE

    @property
    def page_count(self) -> int:
        if self._present is None:
            self._prefix = self._build_prefix()
        assert self._present is not None
        return self._present


class PhysicalMemory:
    """Reads guest-physical bytes from a dump file through a ``PageIndex``.

    Small reads (page-table entries) come from the mmap. Page data is copied out with
    ``os.pread`` when a file descriptor is given: every fault on a mapped file also maps
    up to 64 KiB of neighbouring cached pages (Linux fault-around), and MADV_RANDOM does
    not stop it, so 1000 random page reads would keep ~60 MiB resident; pread keeps the
    process near 18 MiB (bench/results.md). Both are positional, so safe across threads.
    """

    _U32 = struct.Struct("<I")
    _U64 = struct.Struct("<Q")

    def __init__(self, data: memoryview, index: PageIndex, fd: int | None = None):
        self._data = data
        self.index = index
        self._fd = fd
        self._offsets: dict[int, int] = {}  # pfn -> file offset; page tables hit it hard

    def page_offset(self, pfn: int) -> int:
        """File offset of a present page; PageNotPresent otherwise (results cached)."""
        cached = self._offsets.get(pfn)
        if cached is not None:
            return cached
        offset = self.index.file_offset(pfn)
        if offset is None:
            raise PageNotPresent(pfn << PAGE_SHIFT, "page is not in the dump")
        if offset + PAGE_SIZE > len(self._data):
            raise PageNotPresent(pfn << PAGE_SHIFT,
                                 "page lies beyond the end of the truncated file")
        if len(self._offsets) >= _OFFSET_CACHE:
            self._offsets.clear()
        self._offsets[pfn] = offset
        return offset

    def read(self, pa: int, size: int) -> bytes:
        if pa < 0 or size < 0:
            raise ValueError("negative address or size")
        in_page = pa & (PAGE_SIZE - 1)
        if in_page + size <= PAGE_SIZE and size <= _SMALL_READ:
            # Kernel structures (LDR entries, names, PE headers): one page, a few hundred
            # bytes; a slice of the mapping costs less than a system call.
            base = self.page_offset(pa >> PAGE_SHIFT) + in_page
            return bytes(self._data[base : base + size])
        parts: list[bytes | memoryview] = []
        while size > 0:
            in_page = pa & (PAGE_SIZE - 1)
            take = min(size, PAGE_SIZE - in_page)
            base = self.page_offset(pa >> PAGE_SHIFT)
            if self._fd is not None:
                parts.append(os.pread(self._fd, take, base + in_page))
            else:
                parts.append(self._data[base + in_page : base + in_page + take])
            pa += take
            size -= take
        return b"".join(parts)

    def read_u32(self, pa: int) -> int:
        base = self.page_offset(pa >> PAGE_SHIFT) + (pa & (PAGE_SIZE - 1))
        if (pa & (PAGE_SIZE - 1)) > PAGE_SIZE - 4:
            return int(self._U32.unpack(self.read(pa, 4))[0])
        return int(self._U32.unpack_from(self._data, base)[0])

    def read_u64(self, pa: int) -> int:
        base = self.page_offset(pa >> PAGE_SHIFT) + (pa & (PAGE_SIZE - 1))
        if (pa & (PAGE_SIZE - 1)) > PAGE_SIZE - 8:
            return int(self._U64.unpack(self.read(pa, 8))[0])
        return int(self._U64.unpack_from(self._data, base)[0])
