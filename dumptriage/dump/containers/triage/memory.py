"""The readable virtual memory of a triage minidump (DumpType 4).

A minidump has no page tables and no physical runs. What it holds of virtual memory is
(dump-format.md section 3.6, settled for x64 in section 12.1):

- the captured call stack: VA ``[TopOfStack, TopOfStack + SizeOfCallStack)`` at file
  offset CallStackOffset. TopOfStack is the stack *pointer*, the lowest address (section
  12.1, against S6's "highest address" comment);
- the KDBG copy at DebuggerDataOffset, whose VA is the dump header's KdDebuggerDataBlock
  (S9 maps it this way; no data block covers that VA in the real file);
- the DataPage (DataPageAddress/Offset/Size) when the writer saved one;
- the TRIAGE_DATA_BLOCK table: {VA, file offset u32, size u32}, 16 bytes on 64-bit (VA
  u64) and 12 bytes on x86 (VA u32) [S6, S9, S18]; ``triage_data_block32/64`` in
  formats/windows_triage.ksy. The real file's blocks are unsorted, packed with no
  alignment, and do not overlap each other.

Overlap precedence: the sources are added in the order above and a later source only
fills bytes that no earlier one covers. The captured stack wins over the data blocks'
stack pieces because it is the contiguous section the header names for the stack; in
the real x64 and ARM64 files the overlapping bytes are identical anyway (4 and 1 blocks).
Between data blocks, the earlier table entry wins.
"""

from __future__ import annotations

import struct
from bisect import bisect_right, insort
from dataclasses import dataclass

from dumptriage.dump.containers.triage.bounds import entries_that_fit, fits, section_anomaly
from dumptriage.dump.containers.triage.header import TriageHeader
from dumptriage.errors import PageNotPresent
from dumptriage.formats import windows_triage_flat as ksy
from dumptriage.model.anomaly import Anomaly

# A real Windows 10 minidump has 1831 data blocks; the kernel's triage buffer is a few
# MB. More than this many table entries means a corrupt DataBlocksCount.
MAX_DATA_BLOCKS = 0x10000

# The table is read with the .ksy type's flattened struct format (DESIGN convention 3):
# the real minidump's 1831 entries take 0.6 ms that way and 4.6 ms as Kaitai objects.
_DATA_BLOCK = {64: ksy.TRIAGE_DATA_BLOCK64, 32: ksy.TRIAGE_DATA_BLOCK32}
_DATA_BLOCK_FIELDS = (("address", 0), ("ofs_data", 0), ("len_data", 0))
assert all(table[1] == _DATA_BLOCK_FIELDS for table in _DATA_BLOCK.values())


@dataclass(frozen=True)
class DataPage:
    """TRIAGE_DUMP DataPageAddress/DataPageOffset/DataPageSize (x64 0x60, x86 0x4C)."""

    address: int
    offset: int
    size: int


@dataclass(frozen=True)
class Extent:
    """``size`` bytes of virtual memory at ``va``, stored at file offset ``offset``."""

    va: int
    offset: int
    size: int
    source: str

    @property
    def end(self) -> int:
        return self.va + self.size


class TriageMemory:
    """Virtual memory assembled from a minidump's sections; reads never leave the file."""

    def __init__(self, data: memoryview, extents: list[Extent]):
        self._data = data  # only the mapping itself is kept: no sub-views outlive a read
        self._pieces: list[Extent] = []  # disjoint, sorted by va
        self._starts: list[int] = []
        for extent in extents:  # precedence = list order (module docstring)
            for piece in self._uncovered(extent):
                at = bisect_right(self._starts, piece.va)
                self._pieces.insert(at, piece)
                insort(self._starts, piece.va)

    def _uncovered(self, extent: Extent) -> list[Extent]:
        """The parts of ``extent`` that no piece already covers."""
        gaps: list[Extent] = []
        cursor = extent.va
        i = max(0, bisect_right(self._starts, extent.va) - 1)
        while i < len(self._pieces) and cursor < extent.end:
            piece = self._pieces[i]
            if piece.va > cursor:
                gaps.append(_cut(extent, cursor, min(piece.va, extent.end)))
            cursor = max(cursor, piece.end)
            i += 1
        if cursor < extent.end:
            gaps.append(_cut(extent, cursor, extent.end))
        return gaps

    def translate(self, va: int) -> int:
        """A minidump has no page tables: its memory is read through ``read`` only."""
        raise PageNotPresent(va, "this dump has no page tables to walk", virtual=True)

    def read(self, va: int, size: int) -> bytes:
        """``size`` bytes at ``va``, assembled across adjacent pieces.

        Raises PageNotPresent naming the first missing byte.
        """
        if size < 0:
            raise ValueError(f"negative read size {size}")
        parts: list[bytes] = []
        cursor, end = va, va + size
        while cursor < end:
            i = bisect_right(self._starts, cursor) - 1
            if i < 0 or self._pieces[i].end <= cursor:
                raise PageNotPresent(cursor, "not in any section or data block the minidump "
                                     "saved", virtual=True)
            piece = self._pieces[i]
            take = min(end, piece.end) - cursor
            start = piece.offset + (cursor - piece.va)
            parts.append(bytes(self._data[start : start + take]))
            cursor += take
        return b"".join(parts)

    def read_or_none(self, va: int, size: int) -> bytes | None:
        try:
            return self.read(va, size)
        except PageNotPresent:
            return None

    def read_pointer(self, va: int, pointer_bits: int) -> int | None:
        raw = self.read_or_none(va, pointer_bits // 8)
        return None if raw is None else int.from_bytes(raw, "little")

    def ranges(self) -> list[Extent]:
        """The disjoint pieces, sorted by VA, each naming the source that won it."""
        return list(self._pieces)


def _cut(extent: Extent, start: int, end: int) -> Extent:
    return Extent(start, extent.offset + (start - extent.va), end - start, extent.source)


# -- assembling the extents from the triage header ---------------------------------------


def build_triage_memory(header: TriageHeader, data: memoryview, *, pointer_bits: int,
                        kdbg_va: int | None, data_page: DataPage | None = None,
                        ) -> tuple[TriageMemory, list[Anomaly]]:
    """TriageMemory for a minidump, plus an anomaly for every section that was dropped."""
    found: list[Anomaly] = []
    extents: list[Extent] = []
    wanted = [
        Extent(header.top_of_stack, header.call_stack_offset, header.call_stack_size,
               "call stack"),
        Extent(kdbg_va or 0, header.debugger_data_offset, header.debugger_data_size,
               "KDBG copy"),
    ]
    if data_page is not None:
        wanted.append(Extent(data_page.address, data_page.offset, data_page.size, "data page"))
    for extent in wanted:
        if extent.va == 0 or extent.offset == 0 or extent.size == 0:
            continue  # the section is absent (its field left zero)
        if _usable(extent, len(data), pointer_bits):
            extents.append(extent)
        else:
            found.append(section_anomaly(
                f"TRIAGE_DUMP {extent.source}",
                f"{extent.size:#x} bytes at file offset {extent.offset:#x} (VA {extent.va:#x})"
                " lie outside the file or the address space; the section is not used"))
    blocks, block_anomalies = read_data_blocks(header, data, pointer_bits)
    return TriageMemory(data, extents + blocks), found + block_anomalies


def _usable(extent: Extent, file_len: int, pointer_bits: int) -> bool:
    return fits(file_len, extent.offset, extent.size) and extent.end <= 1 << pointer_bits


def read_data_blocks(header: TriageHeader, data: memoryview, pointer_bits: int,
                     ) -> tuple[list[Extent], list[Anomaly]]:
    """The TRIAGE_DATA_BLOCK table (section 3.6): blocks outside the file are dropped."""
    layout = struct.Struct(_DATA_BLOCK[pointer_bits][0])  # unpacks to _DATA_BLOCK_FIELDS
    count, start = header.data_blocks_count, header.data_blocks_offset
    if count == 0 or start == 0:
        return [], []
    readable = entries_that_fit(len(data), start, layout.size, count, MAX_DATA_BLOCKS)
    found: list[Anomaly] = []
    if readable < count:
        found.append(section_anomaly(
            "TRIAGE_DUMP DataBlocksCount",
            f"{count} data blocks claimed at {start:#x}; only {readable} table entries fit "
            f"in the file (cap {MAX_DATA_BLOCKS})"))
    blocks: list[Extent] = []
    dropped: list[int] = []
    for index in range(readable):
        va, offset, size = layout.unpack_from(data, start + index * layout.size)
        block = Extent(va, offset, size, f"data block {index}")
        if size == 0:
            continue  # nothing saved; not an error
        if _usable(block, len(data), pointer_bits):
            blocks.append(block)
        else:
            dropped.append(index)
    if dropped:
        found.append(section_anomaly(
            "TRIAGE_DATA_BLOCK",
            f"{len(dropped)} data block(s) point outside the file or the address space and "
            f"were dropped (first: index {dropped[0]})"))
    return blocks, found
