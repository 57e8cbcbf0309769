"""Triage minidumps with content (DumpType 4), read back with tests/synth/_triageread.py."""

from __future__ import annotations

import itertools

import pefile
import pytest

from dumptriage.synth import story, story_x64
from tests.synth._rawread import u16, u32, u64
from tests.synth._triageread import Triage
from tests.synth.conftest import built

STORIES = ["triage_x64_story", "triage_x86_story"]
ORDER = ["MmOffset", "UnloadedDriversOffset", "PrcbOffset", "ProcessOffset", "ThreadOffset",
         "CallStackOffset", "DebuggerDataOffset", "DriverListOffset", "StringPoolOffset",
         "DataBlocksOffset"]


def load(name: str) -> Triage:
    b = built(name)
    assert b.data is not None
    return Triage(b.data)


def kdbg(t: Triage) -> bytes:
    off = t["DebuggerDataOffset"]
    return t.data[off : off + t["DebuggerDataSize"]]


@pytest.mark.parametrize("name", STORIES)
def test_header_marker_and_section_order(name: str) -> None:
    t, b = load(name), built(name)
    valid = t["ValidOffset"]
    assert t.data[valid : valid + 4] == b"TRGD"  # §3.4 / §12.1
    assert t["SizeOfDump"] == valid + 4 == len(t.data)
    assert t["ContextOffset"] == (0x348 if t.is64 else 0x320)
    assert t["ExceptionOffset"] == (0xF00 if t.is64 else 0x7D0)
    assert u32(t.data, 0x1038 if t.is64 else 0xF8C) == 0xCFF  # MiniDumpFields (§12.1)
    offsets = [t[f] for f in ORDER]
    assert offsets == sorted(offsets)
    assert t["MmOffset"] == t.base + (0x80 if t.is64 else 0x68)  # right after the header
    sizes = dict((n, s) for n, _, s in (b.triage.sections if b.triage else ()))
    # back to back: each section ends where the next starts (§12.1 "no alignment gaps")
    assert t["UnloadedDriversOffset"] == t["MmOffset"] + sizes["mm"]
    assert t["CallStackOffset"] + t["SizeOfCallStack"] == t["DebuggerDataOffset"]
    assert t["StringPoolOffset"] + t["StringPoolSize"] == t["DataBlocksOffset"]


@pytest.mark.parametrize("name", STORIES)
def test_mm_and_unloaded_drivers(name: str) -> None:
    t, b = load(name), built(name)
    mm = t["MmOffset"]
    assert (u32(t.data, mm), u32(t.data, mm + 4)) == (1, 0x50 if t.is64 else 0x34)
    off = t["UnloadedDriversOffset"]
    count = t.ptr(off)  # x64: u64 (§12.1); x86: u32 (our choice, the sheet leaves it open)
    assert count == len(b.spec.unloaded_drivers)
    esz, csz, psz = (0x38, 8, 8) if t.is64 else (0x28, 4, 4)
    for i, want in enumerate(b.spec.unloaded_drivers):
        e = off + csz + i * esz
        assert u16(t.data, e) == 2 * len(want.name)  # Length: bytes of the name
        name_at = e + (0x10 if t.is64 else 8)
        inline = t.data[name_at : name_at + 24].decode("utf-16-le").rstrip("\0")
        assert inline == want.name[:12]
        assert (t.ptr(name_at + 24), t.ptr(name_at + 24 + psz)) == (want.start, want.end)
    assert t["PrcbOffset"] == off + csz + count * esz


@pytest.mark.parametrize("name", STORIES)
def test_prcb_process_thread_copies(name: str) -> None:
    t, b = load(name), built(name)
    k = kdbg(t)
    assert k[0x10:0x14] == b"KDBG"
    assert t["ProcessOffset"] - t["PrcbOffset"] == u16(k, 0x2B0)  # SizePrcb
    assert t["ThreadOffset"] - t["ProcessOffset"] == u16(k, 0x2A8)  # SizeEProcess
    assert t["CallStackOffset"] - t["ThreadOffset"] == u16(k, 0x2C0)  # SizeEThread
    prcb, cpu0 = t["PrcbOffset"], b.cpus[0]
    assert t.ptr(prcb + u16(k, 0x2B4)) == cpu0.thread  # OffsetPrcbCurrentThread
    dtb = t.ptr(t["ProcessOffset"] + u16(k, 0x2AE))  # OffsetEprocessDirectoryTableBase
    assert dtb == (u64(t.data, 0x10) if t.is64 else u32(t.data, 0x10)) == b.dtb
    # KPRCB.Context -> the KeBugCheckEx CONTEXT, found in a data block (§12.1)
    ctx_va = t.ptr(prcb + u16(k, 0x338))
    ctx = t.read_va(ctx_va, 0x4D0 if t.is64 else 0x2CC)
    assert ctx is not None
    ip, sp = (u64(ctx, 0xF8), u64(ctx, 0x98)) if t.is64 else (u32(ctx, 0xB8), u32(ctx, 0xC4))
    assert (ip, sp) == (cpu0.ip, cpu0.sp)


@pytest.mark.parametrize("name", STORIES)
def test_call_stack_from_top_of_stack_to_stack_base(name: str) -> None:
    t, b = load(name), built(name)
    cpu0 = b.cpus[0]
    assert t["TopOfStack"] == cpu0.sp  # the stack pointer, lowest address (§12.2)
    base_off = 0x38 if t.is64 else 0x190  # KTHREAD.StackBase (§12.1; ntdiff Win7 x86)
    stack_base = t.ptr(t["ThreadOffset"] + base_off)
    assert stack_base == cpu0.stack_base == t["TopOfStack"] + t["SizeOfCallStack"]
    hdr_sp = u64(t.data, 0x348 + 0x98) if t.is64 else u32(t.data, 0x320 + 0xC4)
    assert t["TopOfStack"] <= hdr_sp < stack_base  # header context's sp is captured


def test_x64_story_stack_and_exception_context() -> None:
    t, b = load("triage_x64_story"), built("triage_x64_story")
    code, (arg1, arg2, arg3, arg4) = b.spec.bugcheck
    assert code == 0x1000007E and arg1 == 0xFFFFFFFFC0000005
    amdppm = next(m for m in b.modules if m.name == "amdppm.sys")
    assert amdppm.base <= arg2 < amdppm.base + amdppm.size
    # header ContextRecord = the exception context = the CONTEXT at Arg4 on the stack
    assert u64(t.data, 0x348 + 0xF8) == arg2
    assert t.read_va(arg4, 0x4D0) == t.data[0x348 : 0x348 + 0x4D0]
    exc = t.read_va(arg3, 0x98)
    assert exc is not None and u32(exc, 0) == 0xC0000005 and u64(exc, 0x10) == arg2
    # header EXCEPTION_RECORD64: the breakpoint at KeBugCheckEx (§12.1)
    assert u32(t.data, 0xF00) == 0x80000003
    assert u64(t.data, 0xF00 + 0x10) == story_x64.KE_BUGCHECK_EX == b.cpus[0].ip
    mods = {m.name: m for m in b.modules}
    for va, ret, module in story_x64.frames():
        assert t.read_va(va, 8) == ret.to_bytes(8, "little")
        m = mods[module]
        assert m.base <= ret < m.base + m.size
    assert [m for _, _, m in story_x64.frames()][7:9] == ["amdppm.sys"] * 2


def test_x86_story_ebp_chain_in_captured_stack() -> None:
    t = load("triage_x86_story")
    ebp = u32(t.data, 0x320 + 0xB4)  # header CONTEXT Ebp
    rets = []
    while ebp:
        frame = t.read_va(ebp, 8)
        assert frame is not None
        ebp, ret = u32(frame, 0), u32(frame, 4)
        rets.append(ret)
    distinct = [r for i, r in enumerate(story.KB_ROWS) if i == 0 or r[0] != story.KB_ROWS[i - 1][0]]
    assert rets == [r[1] for r in distinct]  # oracle: windbg-analyze.txt STACK_TEXT


@pytest.mark.parametrize("name", STORIES)
def test_kdbg_copy(name: str) -> None:
    t, b = load(name), built(name)
    k = kdbg(t)
    assert len(k) == u32(k, 0x14) == b.kdbg_size
    assert u64(k, 0x18) & (2**64 - 1 if t.is64 else 0xFFFFFFFF) == b.kernel_base
    hdr_kdbg = u64(t.data, 0x80) if t.is64 else u32(t.data, 0x60)
    assert hdr_kdbg == b.kdbg_va
    assert t.read_va(b.kdbg_va, 0x20) is None  # no data block covers it (§12.1)


@pytest.mark.parametrize("name", STORIES)
def test_driver_list_and_string_pool(name: str) -> None:
    t, b = load(name), built(name)
    n = t["DriverCount"]
    stride = (t["StringPoolOffset"] - t["DriverListOffset"]) // n
    assert stride == (0x90 if t.is64 else 0x4C)
    # non-zero fields of the KLDR copy: DllBase, SizeOfImage, CheckSum, TimeDateStamp
    fields = (0x38, 0x48, 0x80, 0x88) if t.is64 else (0x1C, 0x24, 0x44, 0x48)
    pool_end = t["StringPoolOffset"] + t["StringPoolSize"]
    got = []
    for i in range(n):
        e = t["DriverListOffset"] + i * stride
        name_off = u32(t.data, e)
        # 8-byte aligned relative to the pool start (x64: also absolute, as in §12.1)
        assert t["StringPoolOffset"] <= name_off < pool_end
        assert (name_off - t["StringPoolOffset"]) % 8 == 0
        body = bytearray(t.data[e + 4 : e + stride])
        base = t.ptr(e + fields[0])
        size, checksum, stamp = (u32(t.data, e + f) for f in fields[1:])
        for f, w in zip(fields, (8 if t.is64 else 4, 4, 4, 4), strict=True):
            body[f - 4 : f - 4 + w] = bytes(w)
        assert not any(body)  # everything else zero (§12.1 census)
        got.append((t.string(name_off), base, size, checksum, stamp))
    assert got == [(m.path, m.base, m.size, m.checksum, m.timestamp) for m in b.modules]
    assert t["StringPoolSize"] % 8 == 0


@pytest.mark.parametrize("name", STORIES)
def test_data_blocks(name: str) -> None:
    t, b = load(name), built(name)
    blocks = t.blocks()
    first = t["DataBlocksOffset"] + len(blocks) * (16 if t.is64 else 12)
    assert next(o for _, o, _ in blocks) == first
    for (_, o1, s1), (_, o2, _) in itertools.pairwise(blocks):
        assert o2 == o1 + s1  # packed back to back
    spans = sorted((va, va + size) for va, _, size in blocks)
    assert all(a[1] <= c[0] for a, c in itertools.pairwise(spans))  # no overlap
    k = kdbg(t)
    kpb = u64(k, 0x218) & (2**64 - 1 if t.is64 else 0xFFFFFFFF)
    psz = 8 if t.is64 else 4
    kpb_bytes = t.read_va(kpb, psz * len(b.cpus))
    assert kpb_bytes is not None
    for cpu in b.cpus:
        prcb = int.from_bytes(kpb_bytes[cpu.index * psz : (cpu.index + 1) * psz], "little")
        assert prcb == cpu.prcb
        copy = t.read_va(prcb, u16(k, 0x2B0))
        assert copy is not None
        assert int.from_bytes(copy[u16(k, 0x2B4) : u16(k, 0x2B4) + psz], "little") \
            == cpu.thread
    p0 = t.read_va(b.cpus[0].prcb, u16(k, 0x2B0))
    assert p0 == t.data[t["PrcbOffset"] : t["ProcessOffset"]]  # the copy = its block


@pytest.mark.parametrize("name", STORIES)
def test_module_first_pages_parse_with_pefile(name: str) -> None:
    t, b = load(name), built(name)
    for m in b.modules:
        head = t.read_va(m.base, m.header_pages * 0x1000)
        assert head is not None, m.name
        pe = pefile.PE(data=head)
        assert pe.FILE_HEADER.TimeDateStamp == m.timestamp
        if m.exports:
            names = {e.name.decode(): e.address for e in pe.DIRECTORY_ENTRY_EXPORT.symbols}
            assert names == dict(m.exports)
        if m.pdb:
            cv = pe.DIRECTORY_ENTRY_DEBUG[0].entry
            assert cv.PdbFileName.rstrip(b"\0").decode() == m.pdb[0]
        if m.version:
            assert pe.VS_FIXEDFILEINFO[0].Signature == 0xFEEF04BD


def test_x64_story_nt_exports_name_the_bugcheck_ip() -> None:
    b = built("triage_x64_story")
    nt = b.modules[0]
    assert nt.export_at("KeBugCheckEx") == b.cpus[0].ip
