"""A third, deliberately tiny reader for the synth tests: struct + literal offsets only.

It does not import the builder's layout tables nor the project's reader, so a wrong
offset in the builder shows up as a mismatch here. Offsets: dump-format.md §1-§2, §7.
"""

from __future__ import annotations

import bisect
import functools
import struct
from dataclasses import dataclass

PAGE = 0x1000


def u16(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", b, off)[0])


def u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", b, off)[0])


def u64(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<Q", b, off)[0])


@dataclass
class RawDump:
    data: bytes

    @property
    def is64(self) -> bool:
        return self.data[:8] == b"PAGEDU64"

    @property
    def hsize(self) -> int:
        return 0x2000 if self.is64 else 0x1000

    @property
    def dump_type(self) -> int:
        return u32(self.data, 0xF98 if self.is64 else 0xF88)

    @property
    def dtb(self) -> int:
        return u64(self.data, 0x10) if self.is64 else u32(self.data, 0x10)

    @property
    def pae(self) -> bool:
        return not self.is64 and self.data[0x5C] == 1

    def runs(self) -> list[tuple[int, int]]:
        """PHYSICAL_MEMORY_DESCRIPTOR runs (type 1)."""
        if self.is64:
            n = u32(self.data, 0x88)
            return [(u64(self.data, 0x98 + 16 * i), u64(self.data, 0xA0 + 16 * i))
                    for i in range(n)]
        n = u32(self.data, 0x64)
        return [(u32(self.data, 0x6C + 8 * i), u32(self.data, 0x70 + 8 * i)) for i in range(n)]

    def bitmap_info(self) -> tuple[int, int, bytes]:
        """(first page file offset, bit count, bitmap bytes) for types 2, 5, 6."""
        h = self.hsize
        if self.dump_type == 2:
            first, nbits = u32(self.data, h + 0x0C), u32(self.data, h + 0x10)
            start = h + (0x28 if self.is64 else 0x20)
        else:
            first, nbits = u64(self.data, h + 0x20), u64(self.data, h + 0x30)
            start = h + 0x38
        return first, nbits, self.data[start : start + (nbits + 7) // 8]

    @functools.cached_property
    def index(self) -> tuple[int, list[int], list[int], list[tuple[int, int]]]:
        """first page offset, sorted run starts, cumulative ranks, runs."""
        if self.dump_type == 1:
            runs, first = self.runs(), self.hsize
        else:
            first, nbits, bm = self.bitmap_info()
            runs = bit_runs(bm, nbits)
        starts, cum, total = [], [], 0
        for base, count in runs:
            starts.append(base)
            cum.append(total)
            total += count
        return first, starts, cum, runs

    def file_offset(self, pa: int) -> int | None:
        first, starts, cum, runs = self.index
        pfn = pa // PAGE
        i = bisect.bisect_right(starts, pfn) - 1
        if i < 0 or pfn >= starts[i] + runs[i][1]:
            return None
        return first + (cum[i] + pfn - starts[i]) * PAGE + pa % PAGE

    def read_phys(self, pa: int, size: int) -> bytes | None:
        off = self.file_offset(pa)
        if off is None:
            return None
        return self.data[off : off + size]


def bit_runs(bm: bytes, nbits: int) -> list[tuple[int, int]]:
    """Set bits as (first, count) runs; whole 0x00/0xFF bytes are taken in one step."""
    runs: list[tuple[int, int]] = []

    def add(pfn: int, count: int) -> None:
        if runs and runs[-1][0] + runs[-1][1] == pfn:
            runs[-1] = (runs[-1][0], runs[-1][1] + count)
        else:
            runs.append((pfn, count))

    for j, byte in enumerate(bm):
        if byte == 0xFF and j * 8 + 8 <= nbits:
            add(j * 8, 8)
        elif byte:
            for i in range(8):
                if byte >> i & 1 and j * 8 + i < nbits:
                    add(j * 8 + i, 1)
    return runs


def walk(d: RawDump, va: int) -> int | None:
    """Translate a VA like a Windows-aware reader: valid or transition leaf -> PA."""
    if d.is64:
        levels, esize, table = [(39, 9), (30, 9), (21, 9), (12, 9)], 8, d.dtb & ~0xFFF
    elif d.pae:
        levels, esize, table = [(30, 2), (21, 9), (12, 9)], 8, d.dtb & ~0x1F
    else:
        levels, esize, table = [(22, 10), (12, 10)], 4, d.dtb & ~0xFFF
    for depth, (shift, bits) in enumerate(levels):
        raw = d.read_phys(table + ((va >> shift) & ((1 << bits) - 1)) * esize, esize)
        if raw is None:
            return None
        entry = u64(raw, 0) if esize == 8 else u32(raw, 0)
        leaf = depth == len(levels) - 1
        if not entry & 1:
            # transition: bit 11 set, bit 10 clear: the page is still in RAM (§7.3/§11.15)
            if leaf and entry & 0x800 and not entry & 0x400:
                return (entry & 0x000FFFFFFFFFF000) + (va & 0xFFF)
            return None
        if leaf:
            return (entry & 0x000FFFFFFFFFF000) + (va & 0xFFF)
        # PS bit: x64 PDPTE/PDE and PAE PDE (depth >= 1), non-PAE PDE (depth 0)
        large_ok = depth >= 1 if (d.is64 or d.pae) else depth == 0
        if entry & 0x80 and large_ok:
            size = 1 << shift
            return (entry & 0x000FFFFFFFFFF000 & ~(size - 1)) + (va & (size - 1))
        table = entry & 0x000FFFFFFFFFF000
    raise AssertionError("unreachable")


def read_virt(d: RawDump, va: int, size: int) -> bytes:
    out = b""
    while len(out) < size:
        cur = va + len(out)
        n = min(PAGE - cur % PAGE, size - len(out))
        pa = walk(d, cur)
        assert pa is not None, f"{cur:#x} does not translate"
        chunk = d.read_phys(pa, n)
        assert chunk is not None, f"PA {pa:#x} not in the dump"
        out += chunk
    return out
