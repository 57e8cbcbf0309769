"""Find and read KDDEBUGGER_DATA64 ("KDBG").

Where to look, in order (dump-format.md section 4.2):
1. the header's KdDebuggerDataBlock: bugcheck dumps hold the block in clear, because
   KeBugCheck2 decodes it before the dump is written;
2. BugCheckParameter1: QEMU's ``dump-guest-memory -w`` falls back to it when the block
   at KdDebuggerDataBlock is still encoded (its guest driver leaves a decoded copy there);
3. in a triage dump, the copy at TRIAGE_DUMP.DebuggerDataOffset.
Decoding an encoded block needs KiWaitNever/KiWaitAlways from the kernel's PDB; without
symbols we report that the block is unavailable instead.
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.formats.kddebugger_data64 import KddebuggerData64
from dumptriage.model.record import Record

KDBG_TAG = "KDBG"
_HEADER_LEN = 0x18
# The largest Header.Size seen is 0x3A0 (dump-format.md section 4.1); allow room to grow
# but never let a corrupt size make us read megabytes.
MAX_KDBG_LEN = 0x1000

ReadBytes = Callable[[int, int], bytes | None]


class Kdbg(Record):
    """The KDBG fields dumptriage uses, pointers already cut to the dump's width."""

    va: int
    size: int
    kern_base: int
    ps_loaded_module_list: int
    ps_active_process_head: int
    mm_pfn_database: int
    ki_processor_block: int
    mm_unloaded_drivers: int
    offset_prcb_current_thread: int | None
    offset_prcb_proc_state_context: int | None
    offset_prcb_number: int | None
    offset_prcb_context: int | None
    size_prcb: int | None
    offset_kthread_initial_stack: int | None
    offset_kthread_stack_limit: int | None
    offset_kthread_stack_base: int | None
    source: str
    offset_prcb_dpc_routine: int | None = None  # KPRCB.DpcRoutineActive
    offset_prcb_idle_thread: int | None = None  # Windows 8+: KPRCB.IdleThread
    offset_prcb_dpc_stack: int | None = None  # Windows 8+: KPRCB.DpcStack
    offset_prcb_isr_stack: int | None = None  # Windows 8+: KPRCB.IsrStack


def parse_kdbg(blob: bytes, va: int, pointer_bits: int, source: str) -> Kdbg | None:
    """Parse a KDBG copy; None when the tag is wrong (encoded block or wrong address)."""
    if len(blob) < _HEADER_LEN or blob[0x10:0x14] != KDBG_TAG.encode():
        return None
    raw = KddebuggerData64.from_bytes(blob)
    size = min(int(raw.len_block), len(blob))
    mask = (1 << pointer_bits) - 1

    def ptr(offset: int, name: str) -> int:
        # x86 kernels store sign-extended 64-bit pointers; keep the low 32 bits. A field
        # past Header.Size does not exist in this build.
        return int(getattr(raw, name)) & mask if offset + 8 <= size else 0

    def number(offset: int, name: str, width: int = 2) -> int | None:
        return int(getattr(raw, name)) if offset + width <= size else None

    return Kdbg(
        va=va,
        size=int(raw.len_block),
        kern_base=ptr(0x18, "kern_base"),
        ps_loaded_module_list=ptr(0x48, "ps_loaded_module_list"),
        ps_active_process_head=ptr(0x50, "ps_active_process_head"),
        mm_pfn_database=ptr(0xC0, "mm_pfn_database"),
        ki_processor_block=ptr(0x218, "ki_processor_block"),
        mm_unloaded_drivers=ptr(0x220, "mm_unloaded_drivers"),
        offset_prcb_current_thread=number(0x2B4, "offset_prcb_current_thread"),
        offset_prcb_proc_state_context=number(0x2BC, "offset_prcb_proc_state_context"),
        offset_prcb_number=number(0x2BE, "offset_prcb_number"),
        offset_prcb_context=number(0x338, "offset_prcb_context"),
        size_prcb=number(0x2B0, "size_prcb"),
        offset_kthread_initial_stack=number(0x29E, "offset_kthread_initial_stack"),
        # Windows 8 and later publish the KTHREAD stack bounds (u32 fields).
        offset_kthread_stack_limit=number(0x340, "offset_kthread_stack_limit", 4),
        offset_kthread_stack_base=number(0x344, "offset_kthread_stack_base", 4),
        source=source,
        offset_prcb_dpc_routine=number(0x2B2, "offset_prcb_dpc_routine"),
        offset_prcb_idle_thread=number(0x350, "offset_prcb_idle_thread"),
        offset_prcb_dpc_stack=number(0x354, "offset_prcb_dpc_stack"),
        offset_prcb_isr_stack=number(0x356, "offset_prcb_isr_stack"),
    )


def read_kdbg_at(read: ReadBytes, va: int, pointer_bits: int, source: str) -> Kdbg | None:
    """Read the block at a virtual address: the 0x18-byte header first, then Size bytes."""
    head = read(va, _HEADER_LEN)
    if head is None or head[0x10:0x14] != KDBG_TAG.encode():
        return None
    size = int.from_bytes(head[0x14:0x18], "little")
    size = max(_HEADER_LEN, min(size, MAX_KDBG_LEN))
    blob = read(va, size)
    if blob is None:
        # The tail crosses into a missing page: use what the first page holds.
        blob = read(va, 0x1000 - (va & 0xFFF)) or head
    return parse_kdbg(blob, va, pointer_bits, source)


def search_kdbg(read: ReadBytes, kd_debugger_data_block: int | None, bugcheck_arg1: int,
                pointer_bits: int) -> Kdbg | None:
    """The KDBG of a dump with page tables: at KdDebuggerDataBlock, else at Arg1 (QEMU)."""
    candidates = (("KdDebuggerDataBlock", kd_debugger_data_block),
                  ("BugCheckParameter1", bugcheck_arg1))
    for source, where in candidates:
        if where:
            found = read_kdbg_at(read, where, pointer_bits, source)
            if found is not None:
                return found
    return None
