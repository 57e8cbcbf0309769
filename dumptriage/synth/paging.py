"""Real page tables in guest physical memory: x86 (2-level), x86 PAE (3-level), x64 (4-level).

Walk shapes from dump-format.md §7.3 (S1 VirtTranslate, S2 intel.py); Intel SDM vol. 3 §4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dumptriage.synth.physmem import PAGE, PhysicalMemory

P, RW, PS = 0x1, 0x2, 0x80  # present, writable, page-size (large page) bits
KIB4, MIB2, MIB4, GIB1 = 0x1000, 0x200000, 0x400000, 0x40000000


@dataclass(frozen=True)
class PagingMode:
    name: str
    entry_size: int
    levels: tuple[tuple[int, int], ...]  # (shift, index bits), top level first
    large: dict[int, int]  # level index -> page size a PS entry there maps

    def index(self, level: int, va: int) -> int:
        shift, bits = self.levels[level]
        return (va >> shift) & ((1 << bits) - 1)


# x64: PML4 VA[47:39], PDPT VA[38:30] (PS: 1 GiB), PD VA[29:21] (PS: 2 MiB), PT VA[20:12].
X64 = PagingMode("x64", 8, ((39, 9), (30, 9), (21, 9), (12, 9)), {1: GIB1, 2: MIB2})
# PAE: 4-entry PDPT VA[31:30], PD VA[29:21] (PS: 2 MiB), PT VA[20:12]; 8-byte entries.
PAE = PagingMode("pae", 8, ((30, 2), (21, 9), (12, 9)), {1: MIB2})
# Classic x86: PD VA[31:22] (PS: 4 MiB), PT VA[21:12]; 4-byte entries.
X86 = PagingMode("x86", 4, ((22, 10), (12, 10)), {0: MIB4})

# x64 self-map: Windows 7..10 1511 put the PML4 self-reference at index 0x1ED,
# which makes the PTE base 0xFFFFF68000000000 (dump-format.md §4.1 PteBase note).
SELF_MAP_INDEX = 0x1ED
SELF_MAP_PTE_BASE = 0xFFFFF68000000000


class AddressSpace:
    """Kernel address space: builds tables on demand and writes bytes at VAs."""

    def __init__(self, mem: PhysicalMemory, mode: PagingMode, pdpt_offset: int = 0) -> None:
        self.mem = mem
        self.mode = mode
        top = mem.alloc()
        # PAE: CR3 holds a 32-byte-aligned PDPT address, which Windows places inside a
        # page rather than at its start (dump-format.md §7.2); other modes are page-aligned.
        offset = pdpt_offset if mode is PAE else 0
        if offset % 32 or offset + 32 > PAGE:
            raise ValueError("pdpt_offset must be 32-byte aligned inside a page")
        self.dtb = top * PAGE + offset
        self._pages: dict[int, int] = {}  # mapped 4 KiB VA page -> pfn
        self._large: list[tuple[int, int, int]] = []  # (va, pa, size)

    # -- raw entries -----------------------------------------------------------
    def _get(self, pa: int) -> int:
        fmt = "<Q" if self.mode.entry_size == 8 else "<I"
        return int(struct.unpack(fmt, self.mem.read(pa, self.mode.entry_size))[0])

    def _put(self, pa: int, value: int) -> None:
        fmt = "<Q" if self.mode.entry_size == 8 else "<I"
        self.mem.write(pa, struct.pack(fmt, value))

    def _entry_pa(self, table_pa: int, level: int, va: int) -> int:
        return table_pa + self.mode.index(level, va) * self.mode.entry_size

    def _descend(self, va: int, leaf_level: int) -> int:
        """PA of the entry for `va` at `leaf_level`, creating the tables above it."""
        table = self.dtb
        for level in range(leaf_level):
            entry_pa = self._entry_pa(table, level, va)
            entry = self._get(entry_pa)
            if entry & P and entry & PS and level in self.mode.large:
                raise ValueError(f"{va:#x} is already inside a large page")
            if not entry & P:
                pfn = self.mem.alloc()
                # PAE PDPTEs only allow the present bit; RW there is a reserved bit.
                flags = P if (self.mode is PAE and level == 0) else P | RW
                entry = pfn * PAGE | flags
                self._put(entry_pa, entry)
            table = entry & 0x000FFFFFFFFFF000
        return self._entry_pa(table, leaf_level, va)

    # -- mapping ---------------------------------------------------------------
    @property
    def leaf_level(self) -> int:
        return len(self.mode.levels) - 1

    def map_page(self, va: int, pfn: int) -> None:
        """Map one 4 KiB page with a valid PTE."""
        va &= ~(PAGE - 1)
        entry_pa = self._descend(va, self.leaf_level)
        if self._get(entry_pa):
            raise ValueError(f"{va:#x} is already mapped")
        self._put(entry_pa, pfn * PAGE | P | RW)
        self._pages[va] = pfn

    def map_large(self, va: int, pa: int, size: int) -> None:
        """Map a large page (PS bit in a PDE, or a PDPTE on x64)."""
        levels = [lvl for lvl, sz in self.mode.large.items() if sz == size]
        if not levels:
            raise ValueError(f"{self.mode.name} has no {size:#x}-byte large pages")
        if va % size or pa % size:
            raise ValueError("large page VA and PA must be aligned to its size")
        entry_pa = self._descend(va, levels[0])
        if self._get(entry_pa):
            raise ValueError(f"{va:#x} is already mapped")
        self._put(entry_pa, pa | P | RW | PS)
        self._large.append((va, pa, size))

    def set_leaf(self, va: int, value: int) -> None:
        """Write a raw (non-valid) leaf PTE: transition, prototype or page-file."""
        entry_pa = self._descend(va & ~(PAGE - 1), self.leaf_level)
        self._put(entry_pa, value)

    def add_self_map(self) -> int:
        """x64: PML4[0x1ED] -> the PML4 itself; returns the PTE base it implies."""
        self._put(self.dtb + SELF_MAP_INDEX * 8, self.dtb | P | RW)
        return SELF_MAP_PTE_BASE

    def lookup(self, va: int) -> int | None:
        """The PA the builder mapped `va` to (its own bookkeeping, not a walk)."""
        page_va = va & ~(PAGE - 1)
        if page_va in self._pages:
            return self._pages[page_va] * PAGE + (va & (PAGE - 1))
        for base, pa, size in self._large:
            if base <= va < base + size:
                return pa + (va - base)
        return None

    def write(self, va: int, data: bytes) -> None:
        """Write bytes at a kernel VA, mapping fresh 4 KiB pages where needed."""
        done = 0
        while done < len(data):
            cur = va + done
            n = min(PAGE - cur % PAGE, len(data) - done)
            pa = self.lookup(cur)
            if pa is None:
                self.map_page(cur, self.mem.alloc())
                pa = self.lookup(cur)
                assert pa is not None
            self.mem.write(pa, data[done : done + n])
            done += n

    def ensure_mapped(self, low: int, high: int) -> None:
        """Map every page of [low, high) that is not mapped yet (zero content)."""
        for va in range(low & ~(PAGE - 1), high, PAGE):
            if self.lookup(va) is None:
                self.map_page(va, self.mem.alloc())

    @property
    def small_pages(self) -> dict[int, int]:
        return dict(self._pages)

    @property
    def large_pages(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(self._large)

    def read(self, va: int, size: int) -> bytes:
        """Bytes at a kernel VA from the builder's own bookkeeping; unmapped reads as zero."""
        out = bytearray()
        while len(out) < size:
            cur = va + len(out)
            n = min(PAGE - cur % PAGE, size - len(out))
            pa = self.lookup(cur)
            out += self.mem.read(pa, n) if pa is not None else bytes(n)
        return bytes(out)
