"""Walk the builder's page tables with the test's own walker (dump-format.md §7)."""

from __future__ import annotations

import pytest

from tests.synth._rawread import RawDump, walk
from tests.synth.conftest import MEMORY_PRESETS, built


@pytest.mark.parametrize("name", MEMORY_PRESETS)
def test_every_mapping_translates_to_the_manifest_pa(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    for m in b.mappings:
        assert walk(raw, m.va) == m.pa, (m.kind, hex(m.va))
        if m.pa is not None and m.size > 0x1000:  # inside a large page, far from its start
            assert walk(raw, m.va + m.size - 8) == m.pa + m.size - 8


@pytest.mark.parametrize("name", MEMORY_PRESETS)
def test_special_ptes(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    trans, proto, pagefile = (b.mapping(k) for k in ("transition", "prototype", "pagefile"))
    # transition: bit0=0, bit11=1, bit10=0 -> still readable
    assert trans.pte & 1 == 0 and trans.pte & 0x800 and not trans.pte & 0x400
    assert trans.pa is not None
    assert (raw.read_phys(trans.pa, 15) or b"") == b"TRANSITION PAGE"
    # prototype: bit10=1 -> not readable
    assert proto.pte & 0x400 and not proto.pte & 1 and proto.pa is None
    # page file: bits 0, 10, 11 clear, a page-file number (bits 1..4) set
    assert pagefile.pte & 0xC01 == 0 and (pagefile.pte >> 1) & 0xF == 1
    assert pagefile.pa is None


@pytest.mark.parametrize(("name", "kind"), [
    ("x86_nonpae_full", "large-4m"),
    ("x86_pae_bitmap_full", "large-2m"),
    ("win10_x64_full", "large-2m"),
    ("win10_x64_bitmap_kernel", "large-1g"),
    ("win10_x64_bitmap_kernel", "large-2m"),
])
def test_large_page_content(name: str, kind: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    m = b.mapping(kind)  # type: ignore[arg-type]
    probe = m.va + 0x5000
    pa = walk(raw, probe)
    assert pa == (m.pa or 0) + 0x5000
    assert (raw.read_phys(pa, 10) or b"") == b"LARGE PAGE"


def test_pae_dtb_is_inside_a_page() -> None:
    b = built("win7_x86_pae_summary")
    assert b.dtb % 0x1000 == 0x20 and b.dtb % 32 == 0
