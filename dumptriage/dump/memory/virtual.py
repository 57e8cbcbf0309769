"""Kernel virtual memory through the dump's page tables, with a small page cache.

Kernel structures are read field by field from the same few pages (an LDR entry, its
names, a PE header, a resource tree), so whole 4 KiB pages are cached, up to 256 (1 MiB).
"""

from __future__ import annotations

from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.errors import PageNotPresent
from dumptriage.model.dump import DumpInfo

_PAGE_CACHE = 256


class PagedMemory:
    """``VirtualMemory`` over physical pages and a page-table walker."""

    def __init__(self, physical: PhysicalMemory, translator: Translator | None):
        self._physical = physical
        self._translator = translator
        self._pages: dict[int, bytes] = {}
        # Pages known to be absent: a stack scan asks about the same missing code pages
        # again and again, and each miss is a full page-table walk.
        self._missing: dict[int, PageNotPresent] = {}

    def translate(self, va: int) -> int:
        if self._translator is None:
            raise PageNotPresent(va, "this dump has no page tables to walk", virtual=True)
        return self._translator.translate(va)

    def read(self, va: int, size: int) -> bytes:
        if (va & 0xFFF) + size <= 0x1000:
            offset = va & 0xFFF
            return self._page(va >> 12)[offset : offset + size]
        parts = []
        while size > 0:
            take = min(size, 0x1000 - (va & 0xFFF))
            parts.append(self._physical.read(self.translate(va), take))
            va += take
            size -= take
        return b"".join(parts)

    def _page(self, page: int) -> bytes:
        cached = self._pages.get(page)
        if cached is None:
            missing = self._missing.get(page)
            if missing is not None:
                raise missing
            try:
                cached = self._physical.read(self.translate(page << 12), 0x1000)
            except PageNotPresent as err:
                if len(self._missing) >= _PAGE_CACHE * 16:
                    self._missing.clear()  # bounded: 4096 entries
                self._missing[page] = err
                raise
            if len(self._pages) >= _PAGE_CACHE:
                self._pages.clear()  # bounded: 256 pages = 1 MiB
            self._pages[page] = cached
        return cached


def paging_mode(info: DumpInfo) -> PagingMode | None:
    """x64 4-level, x86 PAE or plain x86 paging; None where we do not walk (ARM64)."""
    if info.arch == "x64":
        return PagingMode.X64
    if info.arch == "x86":
        return PagingMode.X86_PAE if info.pae else PagingMode.X86
    return None


def paged_memory(physical: PhysicalMemory, info: DumpInfo) -> PagedMemory:
    """Virtual memory through the header's DirectoryTableBase (kernel address space)."""
    mode = paging_mode(info)
    translator = None
    if mode is not None and info.directory_table_base is not None:
        translator = Translator(mode, info.directory_table_base, physical.read_u32,
                                physical.read_u64)
    return PagedMemory(physical, translator)
