"""Virtual-to-physical translation for kernel addresses in a dump.

Three Intel paging modes (dump-format.md section 7, from volatility3 ``layers/intel.py``
and kdmp-parser ``VirtTranslate``):

* x86 without PAE: 2 levels of 4-byte entries, PDE.PS maps a 4 MiB page.
* x86 PAE: a 4-entry PDPT (32-byte aligned, so CR3 is not page aligned), then 2 levels
  of 8-byte entries; PDE.PS maps a 2 MiB page.
* x64: 4 levels of 8-byte entries; PDPTE.PS maps 1 GiB, PDE.PS maps 2 MiB.

A walk has a fixed number of levels, so a page table that points back at itself (the
Windows self-map does exactly that) can never make it loop.

Windows software PTEs (section 7.5, volatility3 ``WindowsMixin``): a *transition* entry
(bit 0 clear, bit 11 set, bit 10 clear) still names a page that is in RAM, so it is
followed; *prototype* (bit 10) and *pagefile* entries are not in a crash dump.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from dumptriage.errors import PageNotPresent

_PRESENT = 1 << 0
_LARGE = 1 << 7  # PS
_PROTOTYPE = 1 << 10
_TRANSITION = 1 << 11

# Physical address bits of an 8-byte entry: 12..51 (architectural MAXPHYADDR limit).
_ADDR_MASK_64 = 0x000F_FFFF_FFFF_F000
# Windows keeps its own flags above bit 47 in transition PTEs (volatility3 PR #475
# caps the frame at 45 bits; kdmp-parser uses 12..47), so take the frame from 12..47.
_TRANSITION_MASK_64 = 0x0000_FFFF_FFFF_F000
_ADDR_MASK_32 = 0xFFFF_F000
_TLB_ENTRIES = 1 << 16  # 64 Ki pages = 256 MiB of kernel space; about 5 MiB of dict


class PagingMode(Enum):
    X86 = "x86"
    X86_PAE = "x86_pae"
    X64 = "x64"


ReadEntry = Callable[[int], int]


def _follow(entry: int, level: str, va: int, transition_mask: int) -> int:
    """Return the entry as a usable (present or transition) value, or raise."""
    if entry & _PRESENT:
        return entry
    if entry == 0:
        raise PageNotPresent(va, f"{level} entry is zero (not mapped)", virtual=True)
    if entry & _PROTOTYPE:
        raise PageNotPresent(va, f"{level} entry is a prototype PTE ({entry:#x})", virtual=True)
    if entry & _TRANSITION:
        # The page is on a standby/modified list but its frame is still valid RAM. Keep
        # only the frame: bits 5..9 hold the software Protection field, and bit 7 there
        # must not be mistaken for the PS (large page) bit.
        return (entry & transition_mask) | _PRESENT
    raise PageNotPresent(va, f"{level} entry is paged out to the pagefile ({entry:#x})",
                         virtual=True)


class Translator:
    """Walks the page tables rooted at a DirectoryTableBase."""

    def __init__(self, mode: PagingMode, dtb: int, read_u32: ReadEntry, read_u64: ReadEntry):
        self.mode = mode
        self._tlb: dict[int, int] = {}
        # x64 and PAE: the PD entry of each 2 MiB region seen, so a new 4 KiB page there costs one
        # PTE read instead of four (modules and stacks touch many pages of few regions).
        self._pde: dict[int, int] = {}
        self._read_u32 = read_u32
        self._read_u64 = read_u64
        if mode is PagingMode.X64:
            self.root = dtb & _ADDR_MASK_64
        elif mode is PagingMode.X86_PAE:
            self.root = dtb & 0xFFFF_FFE0  # PDPT is 32-byte aligned
        else:
            self.root = dtb & _ADDR_MASK_32

    def translate(self, va: int) -> int:
        """Physical address of ``va``; successful 4 KiB translations are cached.

        Kernel structures are read many times from the same pages (a module's LDR entry,
        names and PE headers), so a small TLB saves most walks. The dump never changes,
        so the cache never goes stale; it is emptied when full to bound its memory.
        """
        page = va >> 12
        cached = self._tlb.get(page)
        if cached is not None:
            return cached | (va & 0xFFF)
        pa = self._walk(va)
        if len(self._tlb) >= _TLB_ENTRIES:
            self._tlb.clear()
        self._tlb[page] = pa & ~0xFFF
        return pa

    def _walk(self, va: int) -> int:
        if self.mode is PagingMode.X64:
            return self._translate_x64(va)
        if va < 0 or va > 0xFFFF_FFFF:
            raise PageNotPresent(va, "not a 32-bit address", virtual=True)
        if self.mode is PagingMode.X86_PAE:
            return self._translate_pae(va)
        return self._translate_x86(va)

    def _entry64(self, table: int, index: int, level: str, va: int) -> int:
        raw = self._read_entry(self._read_u64, table + index * 8, level, va)
        return _follow(raw, level, va, _TRANSITION_MASK_64)

    def _read_entry(self, reader: ReadEntry, pa: int, level: str, va: int) -> int:
        try:
            return reader(pa)
        except PageNotPresent as err:
            raise PageNotPresent(
                va, f"{level} table page {pa & ~0xFFF:#x} is not in the dump", virtual=True
            ) from err

    def _keep_pde(self, va: int, pde: int) -> int:
        if len(self._pde) >= _TLB_ENTRIES:
            self._pde.clear()
        self._pde[va >> 21] = pde
        return pde

    def _translate_x64(self, va: int) -> int:
        top = va >> 47
        if top not in (0, 0x1FFFF):
            raise PageNotPresent(va, "not a canonical x64 address", virtual=True)
        pde = self._pde.get(va >> 21)
        if pde is None:
            pml4e = self._entry64(self.root, (va >> 39) & 0x1FF, "PML4", va)
            pdpte = self._entry64(pml4e & _ADDR_MASK_64, (va >> 30) & 0x1FF, "PDPT", va)
            if pdpte & _LARGE:
                return (pdpte & _ADDR_MASK_64 & ~0x3FFF_FFFF) | (va & 0x3FFF_FFFF)
            pde = self._keep_pde(va, self._entry64(pdpte & _ADDR_MASK_64, (va >> 21) & 0x1FF,
                                                   "PD", va))
        if pde & _LARGE:
            # Bit 12 of a large-page entry is PAT, not an address bit.
            return (pde & _ADDR_MASK_64 & ~0x1F_FFFF) | (va & 0x1F_FFFF)
        pte = self._entry64(pde & _ADDR_MASK_64, (va >> 12) & 0x1FF, "PT", va)
        return (pte & _ADDR_MASK_64) | (va & 0xFFF)

    def _translate_pae(self, va: int) -> int:
        pde = self._pde.get(va >> 21)
        if pde is None:
            pdpte = self._entry64(self.root, (va >> 30) & 0x3, "PDPT", va)
            pde = self._keep_pde(va, self._entry64(pdpte & _ADDR_MASK_64, (va >> 21) & 0x1FF,
                                                   "PD", va))
        if pde & _LARGE:
            return (pde & _ADDR_MASK_64 & ~0x1F_FFFF) | (va & 0x1F_FFFF)
        pte = self._entry64(pde & _ADDR_MASK_64, (va >> 12) & 0x1FF, "PT", va)
        return (pte & _ADDR_MASK_64) | (va & 0xFFF)

    def _translate_x86(self, va: int) -> int:
        raw = self._read_entry(self._read_u32, self.root + ((va >> 22) & 0x3FF) * 4, "PD", va)
        pde = _follow(raw, "PD", va, _ADDR_MASK_32)
        if pde & _LARGE:
            # 4 MiB page; PSE-36 high address bits are ignored, as volatility3 does.
            return (pde & 0xFFC0_0000) | (va & 0x3F_FFFF)
        raw = self._read_entry(
            self._read_u32, (pde & _ADDR_MASK_32) + ((va >> 12) & 0x3FF) * 4, "PT", va
        )
        pte = _follow(raw, "PT", va, _ADDR_MASK_32)
        return (pte & _ADDR_MASK_32) | (va & 0xFFF)
