"""Page-table walks on hand-made tables (independent of the synth builder).

Entry formats: Intel SDM vol. 3A ch. 4 (present bit 0, PS bit 7); Windows software PTE
states (transition bit 11, prototype bit 10) from volatility3's WindowsMixin, as summed
up in dump-format.md section 7.5.
"""

from __future__ import annotations

import pytest

from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.errors import PageNotPresent

P, RW, PS, PROTO, TRANS = 1, 2, 0x80, 0x400, 0x800


class FakeRam:
    def __init__(self) -> None:
        self.words: dict[int, int] = {}
        self.present_pages: set[int] = set()

    def set64(self, pa: int, value: int) -> None:
        self.present_pages.add(pa >> 12)
        self.words[pa] = value

    def set32(self, pa: int, value: int) -> None:
        self.set64(pa, value)

    def u64(self, pa: int) -> int:
        if pa >> 12 not in self.present_pages:
            raise PageNotPresent(pa, "not in the dump")
        return self.words.get(pa, 0)

    u32 = u64


def x64_tables() -> tuple[FakeRam, Translator]:
    ram = FakeRam()
    pml4, pdpt, pd, pt = 0x1000, 0x2000, 0x3000, 0x4000
    va = 0xFFFFF800_12345678
    ram.set64(pml4 + ((va >> 39) & 0x1FF) * 8, pdpt | P | RW)
    ram.set64(pdpt + ((va >> 30) & 0x1FF) * 8, pd | P | RW)
    ram.set64(pd + ((va >> 21) & 0x1FF) * 8, pt | P | RW)
    ram.set64(pt + ((va >> 12) & 0x1FF) * 8, 0x8000_0000_0ABC_D000 | P)  # NX bit set
    # Windows' self-map: one PML4 slot points at the PML4 itself (0x1ED on Win7).
    ram.set64(pml4 + 0x1ED * 8, pml4 | P | RW)
    # 1 GiB page in PDPT slot 1 of the same PML4 entry, 2 MiB page in PD slot 1.
    ram.set64(pdpt + (((va >> 30) & 0x1FF) + 1) * 8, 0x4000_0000 | P | PS | 0x1000)
    ram.set64(pd + (((va >> 21) & 0x1FF) + 1) * 8, 0x20_0000 * 7 | P | PS | 0x1000)
    # Software PTEs in the next PT slots.
    ram.set64(pt + (((va >> 12) & 0x1FF) + 1) * 8, 0x0777_7000 | TRANS | 0x80)
    ram.set64(pt + (((va >> 12) & 0x1FF) + 2) * 8, 0xFFFF_FFFF_0000_0000 | PROTO)
    ram.set64(pt + (((va >> 12) & 0x1FF) + 3) * 8, 0x1234_0000_0000 | 0x2 << 1)
    # 0x1ad003: CR3 low bits (PCID) must be ignored.
    return ram, Translator(PagingMode.X64, pml4 | 0x3, ram.u32, ram.u64)


def test_x64_4k_page_and_nx_bit_is_not_an_address_bit() -> None:
    _, t = x64_tables()
    assert t.translate(0xFFFFF800_12345678) == 0x0ABC_D678


def test_x64_large_pages_ignore_the_pat_bit() -> None:
    _, t = x64_tables()
    base = 0xFFFFF800_12345678
    one_gib_va = (base & ~0x3FFF_FFFF) + 0x4000_0000 + 0x1234_5678
    assert t.translate(one_gib_va) == 0x4000_0000 + 0x1234_5678
    two_mib_va = (base & ~0x1F_FFFF) + 0x20_0000 + 0x1_2345
    assert t.translate(two_mib_va) == 0x20_0000 * 7 + 0x1_2345


def test_x64_self_map_terminates_and_reads_the_pml4() -> None:
    _, t = x64_tables()
    # VA of the PML4 through the self-map: all four indexes are 0x1ED.
    va = 0xFFFF_0000_0000_0000 | 0x1ED << 39 | 0x1ED << 30 | 0x1ED << 21 | 0x1ED << 12
    assert t.translate(va) == 0x1000


def test_x64_transition_pte_is_followed_and_its_protection_bits_are_not_ps() -> None:
    _, t = x64_tables()
    assert t.translate(0xFFFFF800_12346010) == 0x0777_7010


@pytest.mark.parametrize(("va", "why"), [
    (0xFFFFF800_12347000, "prototype"),
    (0xFFFFF800_12348000, "pagefile"),
    (0xFFFFF800_12349000, "zero"),
    (0x0000_8000_0000_0000, "canonical"),
    (0xFFFFF900_00000000, "zero"),
])
def test_x64_entries_that_are_not_in_the_dump(va: int, why: str) -> None:
    _, t = x64_tables()
    with pytest.raises(PageNotPresent, match=why):
        t.translate(va)


def test_missing_table_page_is_reported_as_such() -> None:
    ram, t = x64_tables()
    ram.present_pages.discard(0x4)  # the PT page
    with pytest.raises(PageNotPresent, match="PT table page 0x4000 is not in the dump"):
        t.translate(0xFFFFF800_12345678)


def test_pae_pdpt_is_32_byte_aligned_not_page_aligned() -> None:
    ram = FakeRam()
    pdpt = 0x5000 + 0x20  # Windows places the PDPT inside a page
    va = 0x83C1_3ABC
    ram.set64(pdpt + (va >> 30) * 8, 0x6000 | P)
    ram.set64(0x6000 + ((va >> 21) & 0x1FF) * 8, 0x7000 | P | RW)
    ram.set64(0x7000 + ((va >> 12) & 0x1FF) * 8, 0x1_2345_6000 | P)  # above 4 GiB
    ram.set64(0x6000 + (((va >> 21) & 0x1FF) + 1) * 8, 0x60_0000 | P | PS)
    t = Translator(PagingMode.X86_PAE, pdpt, ram.u32, ram.u64)
    assert t.translate(va) == 0x1_2345_6ABC
    assert t.translate((va & ~0x1F_FFFF) + 0x20_0000 + 0x10) == 0x60_0010
    with pytest.raises(PageNotPresent, match="32-bit"):
        t.translate(0x1_0000_0000)


def test_x86_non_pae_4k_and_4m_pages() -> None:
    ram = FakeRam()
    pd = 0x9000
    va = 0x8040_1234
    ram.set32(pd + (va >> 22) * 4, 0xA000 | P)
    ram.set32(0xA000 + ((va >> 12) & 0x3FF) * 4, 0x0012_3000 | P)
    ram.set32(pd + ((va >> 22) + 1) * 4, 0x0C00_0000 | P | PS)
    t = Translator(PagingMode.X86, pd, ram.u32, ram.u64)
    assert t.translate(va) == 0x0012_3234
    assert t.translate(0x8080_0000 + 0x3_4567) == 0x0C03_4567
