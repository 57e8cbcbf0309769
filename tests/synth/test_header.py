"""The dump header, read back with struct and literal offsets (dump-format.md §1.2/§1.3)."""

from __future__ import annotations

import pytest

from dumptriage.synth import story
from tests.synth._rawread import RawDump, u32, u64
from tests.synth.conftest import PRESETS, built

PAGE_DWORD = 0x45474150  # "PAGE" fill, §1.4


@pytest.mark.parametrize("name", list(PRESETS))
def test_identification_and_core_fields(name: str) -> None:
    b = built(name)
    assert b.data is not None
    d, spec = b.data, b.spec
    is64 = spec.arch == "x64"
    assert d[:8] == (b"PAGEDU64" if is64 else b"PAGEDUMP")
    assert len(d) == b.file_size
    if is64:
        assert u32(d, 0x008) == 0xF and u32(d, 0x00C) == spec.build
        assert u64(d, 0x010) == b.dtb
        assert u64(d, 0x020) == b.ps_loaded_module_list
        assert u32(d, 0x030) == 0x8664
        assert u32(d, 0x034) == spec.processors
        assert u32(d, 0x038) == spec.bugcheck[0]
        assert [u64(d, 0x40 + 8 * i) for i in range(4)] == list(spec.bugcheck[1])
        assert u64(d, 0x080) == b.kdbg_va
        assert u32(d, 0xF98) == spec.dump_type
        assert u64(d, 0xFA0) == len(d)  # RequiredDumpSpace = file size
        assert u32(d, 0x1040) == spec.product_type and u32(d, 0x1044) == spec.suite_mask
        assert u32(d, 0x060) == PAGE_DWORD  # VersionUser never written
    else:
        assert u32(d, 0x008) == 0xF and u32(d, 0x00C) == spec.build
        assert u32(d, 0x010) == b.dtb
        assert u32(d, 0x018) == b.ps_loaded_module_list
        assert u32(d, 0x020) == 0x14C
        assert u32(d, 0x024) == spec.processors
        assert u32(d, 0x028) == spec.bugcheck[0]
        assert [u32(d, 0x2C + 4 * i) for i in range(4)] == list(spec.bugcheck[1])
        assert d[0x5C] == (1 if spec.pae else 0)
        assert u32(d, 0x060) == b.kdbg_va
        assert u32(d, 0xF88) == spec.dump_type
        assert u64(d, 0xFA0) == len(d)
        assert u32(d, 0xF94) == spec.product_type and u32(d, 0xF98) == spec.suite_mask
        assert u32(d, 0x03C) == PAGE_DWORD


@pytest.mark.parametrize("name", list(PRESETS))
def test_memory_descriptor_is_runs_only_for_full_dumps(name: str) -> None:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    first = u32(b.data, 0x88 if raw.is64 else 0x64)
    if b.dump_type == 1:
        assert raw.runs() == [tuple(r) for r in b.ram_runs]
    else:  # real Windows leaves the descriptor as "PAGE" fill in these dumps (§1.4)
        assert first == PAGE_DWORD


def test_story_header_matches_windbg() -> None:
    b = built("win7_x86_pae_summary")
    assert b.data is not None
    d = b.data
    # windbg-analyze.txt: "Kernel base = 0x83c13000 PsLoadedModuleList = 0x83d5c4d0"
    assert u32(d, 0x18) == 0x83D5C4D0
    # "CLOCK_WATCHDOG_TIMEOUT (101)", Arg1 00000061, Arg2 0, Arg3 807a3120, Arg4 1
    assert u32(d, 0x28) == 0x101
    assert [u32(d, 0x2C + 4 * i) for i in range(4)] == [0x61, 0, 0x807A3120, 1]
    # "Debug session time: Wed Mar 15 13:11:54.777 2017 (GMT+8)" = 05:11:54.777 UTC
    # FILETIME = (unix 1489554714 + 11644473600 s) * 10^7 + 7_770_000 (0.777 s)
    assert u64(d, 0xFC0) == 131340283147770000
    # "System Uptime: 0 days 5:00:52.740"
    assert u64(d, 0xFB8) == 180_527_400_000
    # "Product: WinNt, suite: TerminalServer SingleUserTS"
    assert u32(d, 0xF94) == 1 and u32(d, 0xF98) == 0x110
    assert u32(d, 0x24) == 2  # "MP (2 procs)"
    assert d[0x5C] == 1  # PAE
    assert u32(d, 0x10) % 0x1000 == 0x20  # PDPT at page+0x20, 32-byte aligned (§7.2)


def test_context_and_exception_x86() -> None:
    b = built("win7_x86_pae_summary")
    assert b.data is not None
    d = b.data
    ctx = 0x320  # §1.2 ContextRecord; CONTEXT Ebp 0xB4, Eip 0xB8, Esp 0xC4 (§6.4)
    assert u32(d, ctx) & 0x10000  # CONTEXT_i386
    assert u32(d, ctx + 0xB8) == story.STORY_EIP
    assert u32(d, ctx + 0xC4) == story.STORY_ESP
    assert u32(d, ctx + 0xB4) == 0x807FC5E4  # the first ChildEBP in STACK_TEXT
    assert u32(d, 0x7D0) == 0x80000003 and u32(d, 0x7DC) == story.STORY_EIP


def test_context_and_exception_x64() -> None:
    b = built("win10_x64_bitmap_kernel")
    assert b.data is not None
    d = b.data
    ctx = 0x348  # §1.3; AMD64 CONTEXT Rsp 0x98, Rbp 0xA0, Rip 0xF8, flags 0x30 (§6.4)
    assert u32(d, ctx + 0x30) & 0x100000
    assert u32(d, ctx + 0x34) == u32(d, ctx + 0x118) == 0x1F80  # S1's MxCsr sanity check
    assert u64(d, ctx + 0xF8) == b.context_ip and u64(d, ctx + 0x98) == b.context_sp
    assert u32(d, 0xF00) == 0x80000003 and u64(d, 0xF10) == b.context_ip


def test_comment_64() -> None:
    b = built("win10_x64_full")
    assert b.data is not None
    assert b.data[0xFB0 : 0xFB0 + 38].rstrip(b"\0") == b"dumptriage synth: full dump with runs"
