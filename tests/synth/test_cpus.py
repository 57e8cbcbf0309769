"""Per-CPU state and MmUnloadedDrivers, read back through the page tables with literals.

Offsets: dump-format.md §4.1 (KDBG), §5.3 (UNLOADED_DRIVERS), §6.1/§6.2 (KPRCB), §12.1
(Win10 KTHREAD StackLimit +0x30, StackBase +0x38); Win7 KTHREAD from ntdiff/headers
Win7_SP1 _KTHREAD.h (x86 StackLimit +0x2C, StackBase +0x190; x64 +0x30, +0x278).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dumptriage.synth import story
from tests.synth._rawread import RawDump, read_virt, u16, u32, u64
from tests.synth.conftest import built

CPU_PRESETS = ["win7_x86_pae_summary", "win10_x64_cpus"]


def ptr(raw: RawDump, va: int) -> int:
    return u64(read_virt(raw, va, 8), 0) if raw.is64 else u32(read_virt(raw, va, 4), 0)


def kdbg_of(name: str) -> tuple[RawDump, bytes]:
    b = built(name)
    assert b.data is not None
    raw = RawDump(b.data)
    return raw, read_virt(raw, b.kdbg_va, 0x340)


def low(raw: RawDump, value: int) -> int:
    return value if raw.is64 else value & 0xFFFFFFFF


def regs(raw: RawDump, ctx: bytes) -> tuple[int, int, int]:
    """(ip, sp, bp) of a CONTEXT (§6.4: x64 Rip 0xF8, Rsp 0x98, Rbp 0xA0; x86 0xB8/0xC4/0xB4)."""
    if raw.is64:
        return u64(ctx, 0xF8), u64(ctx, 0x98), u64(ctx, 0xA0)
    return u32(ctx, 0xB8), u32(ctx, 0xC4), u32(ctx, 0xB4)


def kthread_stack_offsets(raw: RawDump, build: int) -> tuple[int, int]:
    if not raw.is64:
        return 0x2C, 0x190
    return (0x30, 0x278) if build < 9200 else (0x30, 0x38)


@pytest.mark.parametrize("name", CPU_PRESETS)
def test_each_cpu_through_ki_processor_block(name: str) -> None:
    b = built(name)
    raw, kdbg = kdbg_of(name)
    psz = 8 if raw.is64 else 4
    kpb = low(raw, u64(kdbg, 0x218))
    limit_off, base_off = kthread_stack_offsets(raw, b.spec.build)
    csize = 0x4D0 if raw.is64 else 0x2CC
    assert len(b.cpus) == b.spec.processors
    for cpu in b.cpus:
        prcb = ptr(raw, kpb + cpu.index * psz)
        assert prcb == cpu.prcb
        assert u32(read_virt(raw, prcb + u16(kdbg, 0x2BE), 4), 0) == cpu.index  # Number
        thread = ptr(raw, prcb + u16(kdbg, 0x2B4))  # OffsetPrcbCurrentThread
        assert thread == cpu.thread
        frame = read_virt(raw, prcb + u16(kdbg, 0x2BC), csize)  # ProcStateContext
        assert regs(raw, frame) == (cpu.ip, cpu.sp, cpu.bp)
        context = ptr(raw, prcb + u16(kdbg, 0x338))  # OffsetPrcbContext
        if cpu.context_va is None:
            assert context == 0
        else:
            assert context == cpu.context_va
            assert not prcb <= context < prcb + u16(kdbg, 0x2B0)  # outside the KPRCB
            assert regs(raw, read_virt(raw, context, csize)) == (cpu.ip, cpu.sp, cpu.bp)
        if cpu.stack_base is not None:
            initial = ptr(raw, thread + u16(kdbg, 0x29E))
            assert (initial, ptr(raw, thread + limit_off), ptr(raw, thread + base_off)) == (
                cpu.initial_stack, cpu.stack_limit, cpu.stack_base)
            assert cpu.stack_limit is not None
            assert cpu.stack_limit <= cpu.sp < initial < cpu.stack_base


def test_story_cpu0_crashed_cpu1_hung() -> None:
    b = built("win7_x86_pae_summary")
    cpu0, cpu1 = b.cpus
    # Arg3 807a3120 "The PRCB address of the hung processor", Arg4 1 (windbg-analyze.txt)
    assert cpu1.prcb == 0x807A3120 == b.spec.bugcheck[1][2]
    assert cpu1.index == b.spec.bugcheck[1][3]
    assert cpu0.crashed and not cpu1.crashed
    assert (cpu0.ip, cpu0.sp, cpu0.bp) == (story.STORY_EIP, story.STORY_ESP, story.STORY_EBP)
    nt = b.modules[0]
    assert nt.base <= cpu1.ip < nt.base + nt.size  # spinning inside ntkrpamp.exe
    raw = RawDump(b.data or b"")
    assert ptr(raw, cpu1.bp + 4) == story.CPU1_FRAMES[0][1]  # its own EBP chain


def test_fallback_cpu_has_null_context_pointer() -> None:
    b = built("win10_x64_cpus")
    assert [c.context_va is None for c in b.cpus] == [False, False, True]
    assert len({(c.ip, c.sp) for c in b.cpus}) == 3  # each CPU its own registers


@pytest.mark.parametrize("name", CPU_PRESETS)
def test_mm_unloaded_drivers(name: str) -> None:
    b = built(name)
    raw, kdbg = kdbg_of(name)
    size, start, end, when = (0x28, 0x10, 0x18, 0x20) if raw.is64 else (0x18, 8, 0xC, 0x10)
    array = ptr(raw, low(raw, u64(kdbg, 0x220)))
    count = u32(read_virt(raw, low(raw, u64(kdbg, 0x228)), 4), 0)
    assert count == len(b.spec.unloaded_drivers) > 0
    epoch = datetime(1601, 1, 1, tzinfo=UTC)
    for i, want in enumerate(b.spec.unloaded_drivers):
        entry = read_virt(raw, array + i * size, size)
        length, buf = u16(entry, 0), (u64(entry, 8) if raw.is64 else u32(entry, 4))
        assert read_virt(raw, buf, length).decode("utf-16-le") == want.name
        rd = u64 if raw.is64 else u32
        assert (rd(entry, start), rd(entry, end)) == (want.start, want.end)
        delta = want.time - epoch  # FILETIME: 100 ns ticks since 1601
        assert u64(entry, when) == (delta.days * 86400 + delta.seconds) * 10**7 \
            + delta.microseconds * 10
    empty = read_virt(raw, array + count * size, size)
    assert empty == bytes(size)  # the rest of the 50 slots are zero


def test_presets_without_unloaded_drivers_keep_null_pointer() -> None:
    raw, kdbg = kdbg_of("win10_x64_full")
    assert ptr(raw, u64(kdbg, 0x220)) == 0
