"""Kernel content through the page tables: KDBG, module list, PE headers, KPRCBs, stack."""

from __future__ import annotations

import pytest

from dumptriage.synth import story
from tests.synth._rawread import RawDump, read_virt, u16, u32, u64
from tests.synth.conftest import MEMORY_PRESETS, built


def ptr(raw: RawDump, va: int) -> int:
    return u64(read_virt(raw, va, 8), 0) if raw.is64 else u32(read_virt(raw, va, 4), 0)


def sext(raw: RawDump, va: int) -> int:
    return va | 0xFFFFFFFF00000000 if not raw.is64 and va & 0x80000000 else va


@pytest.mark.parametrize("name", MEMORY_PRESETS)
def test_kdbg(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    kdbg = read_virt(raw, b.kdbg_va, 0x340)
    assert kdbg[0x10:0x14] == b"KDBG"  # OwnerTag (§4.1)
    size = u32(kdbg, 0x14)
    assert size == (0x340 if b.spec.build < 9200 else 0x360 if b.spec.build < 14393 else 0x380)
    # 64-bit pointer fields, sign-extended on x86
    assert u64(kdbg, 0x18) == sext(raw, b.kernel_base)
    assert u64(kdbg, 0x48) == sext(raw, b.ps_loaded_module_list)
    assert u64(kdbg, 0x50) == sext(raw, b.ps_active_process_head)
    assert u64(kdbg, 0x218) == sext(raw, b.ki_processor_block)
    assert u64(kdbg, 0x88) == sext(raw, b.ki_bugcheck_data)
    # MmPfnDatabase (+0xC0) is the variable; it holds the PFN array = header PfnDataBase
    assert ptr(raw, u64(kdbg, 0xC0) & (2**64 - 1 if raw.is64 else 0xFFFFFFFF)) \
        == b.pfn_database
    code = ptr(raw, b.ki_bugcheck_data)
    assert code == b.spec.bugcheck[0]
    # KiProcessorBlock[i] -> KPRCB; Number at OffsetPrcbNumber (+0x2BE)
    for i, prcb in enumerate(b.prcb_vas):
        psz = 8 if raw.is64 else 4
        assert ptr(raw, b.ki_processor_block + i * psz) == prcb
        assert u32(read_virt(raw, prcb + u16(kdbg, 0x2BE), 4), 0) == i
        # KPRCB.Context (OffsetPrcbContext +0x338) -> CONTEXT with the registers
        ctx = ptr(raw, prcb + u16(kdbg, 0x338))
        if i == 0:
            ip_off = 0xF8 if raw.is64 else 0xB8
            assert ptr(raw, ctx + ip_off) == b.context_ip


def test_story_hung_processor_prcb() -> None:
    b = built("win7_x86_pae_summary")
    # Arg3 807a3120 "The PRCB address of the hung processor" is CPU 1's KPRCB
    assert b.prcb_vas[1] == 0x807A3120


@pytest.mark.parametrize("name", MEMORY_PRESETS)
def test_module_list_and_pe_headers(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    psz = 8 if raw.is64 else 4
    # KLDR offsets (§5.2): x86 DllBase 0x18, SizeOfImage 0x20, FullDllName 0x24,
    # BaseDllName 0x2C, CheckSum 0x40, TimeDateStamp 0x44; x64 0x30/0x40/0x48/0x58/0x78/0x80
    o = (0x30, 0x40, 0x48, 0x58, 0x78, 0x80) if raw.is64 else (0x18, 0x20, 0x24, 0x2C, 0x40, 0x44)
    head = b.ps_loaded_module_list
    seen, entry, prev = [], ptr(raw, head), head
    while entry != head:
        assert ptr(raw, entry + psz) == prev  # Blink
        base, size = ptr(raw, entry + o[0]), u32(read_virt(raw, entry + o[1], 4), 0)
        full, name_ = (unicode_string(raw, entry + off) for off in (o[2], o[3]))
        checksum = u32(read_virt(raw, entry + o[4], 4), 0)
        stamp = u32(read_virt(raw, entry + o[5], 4), 0)
        seen.append((name_, full, base, size, checksum, stamp))
        check_pe(raw, base, size, checksum, stamp)
        prev, entry = entry, ptr(raw, entry)
        assert len(seen) < 100
    assert seen == [(m.name, m.path, m.base, m.size, m.checksum, m.timestamp)
                    for m in b.modules]


def unicode_string(raw: RawDump, va: int) -> str:
    hdr = read_virt(raw, va, 16 if raw.is64 else 8)
    length = u16(hdr, 0)
    assert u16(hdr, 2) == length + 2
    buf = u64(hdr, 8) if raw.is64 else u32(hdr, 4)
    return read_virt(raw, buf, length).decode("utf-16-le")


def check_pe(raw: RawDump, base: int, size: int, checksum: int, stamp: int) -> None:
    hdr = read_virt(raw, base, 0x200)
    assert hdr[:2] == b"MZ"
    nt = u32(hdr, 0x3C)
    assert hdr[nt : nt + 4] == b"PE\0\0"
    assert u16(hdr, nt + 4) == (0x8664 if raw.is64 else 0x14C)  # COFF Machine
    assert u32(hdr, nt + 8) == stamp  # COFF TimeDateStamp
    opt = nt + 24
    assert u16(hdr, opt) == (0x20B if raw.is64 else 0x10B)
    assert u32(hdr, opt + 56) == size  # SizeOfImage, same offset in PE32 and PE32+
    assert u32(hdr, opt + 64) == checksum


def test_story_stack_follows_windbg_frames() -> None:
    b = built("win7_x86_pae_summary")
    assert b.data is not None
    raw = RawDump(b.data)
    # Oracle: STACK_TEXT in windbg-analyze.txt. Walk EBP from the header CONTEXT.
    ebp = u32(b.data, 0x320 + 0xB4)
    rets, ebps = [], []
    while ebp:
        ebps.append(ebp)
        rets.append(ptr(raw, ebp + 4))
        ebp = ptr(raw, ebp)
    distinct = [r for i, r in enumerate(story.KB_ROWS) if i == 0 or r[0] != story.KB_ROWS[i - 1][0]]
    assert ebps == [r[0] for r in distinct]
    assert rets == [r[1] for r in distinct]
    # the return addresses land in the modules WinDbg named
    mods = {m.name: m for m in b.modules}
    assert 0x8C0EBD3F - mods["Ntfs.sys"].base == 0x7ED3F  # "Ntfs+0x7ed3f"
    assert 0x937684DB - mods["qutmdrv.sys"].base == 0x4DB  # "qutmdrv+0x4db"
    flt = mods["FLTMGR.SYS"]
    assert flt.base <= 0x843CE3CB < flt.base + flt.size
    # every RetAddr WinDbg printed, including the doubled-frame rows, is on the stack
    words = read_virt(raw, story.STORY_ESP, story.STACK_HIGH - story.STORY_ESP)
    values = {u32(words, i) for i in range(0, len(words), 4)}
    assert {r[1] for r in story.KB_ROWS} <= values
