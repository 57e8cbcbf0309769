"""Per-CPU state: each KPRCB, the thread it ran, and the registers saved for it.

KiProcessorBlock (KDBG+0x218) is an array of KPRCB pointers, NumberProcessors long; a
NULL entry ends it (dump-format.md section 6.1). A CPU's registers are read from the
CONTEXT behind ``KPRCB + OffsetPrcbContext`` (Windows 7 and later; what QEMU's
``dump-guest-memory -w`` and elf2dmp fill per vCPU), falling back to the CONTEXT embedded
in ``KPRCB.ProcessorState`` (section 6.2). KDBG's offsets win over the per-build table.
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.dump.kernel.kdbg import Kdbg
from dumptriage.dump.kernel.layouts import KernelLayout
from dumptriage.dump.kernel.modules import read_pointer
from dumptriage.dump.kernel.registers import CONTEXT_SIZE, Registers, parse_context
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import DumpInfo, Processor
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]

# Windows supports at most 2048 logical processors (Server 2022); anything above is corrupt.
MAX_PROCESSORS = 2048


class PrcbOffsets(Record):
    current_thread: int | None
    context_pointer: int | None
    proc_state_context: int | None
    number: int | None = None


def prcb_offsets(kdbg: Kdbg | None, layout: KernelLayout | None) -> PrcbOffsets:
    def pick(from_kdbg: int | None, from_table: int | None) -> int | None:
        return from_kdbg if from_kdbg else from_table

    return PrcbOffsets(
        current_thread=pick(kdbg.offset_prcb_current_thread if kdbg else None,
                            layout.prcb_current_thread if layout else None),
        context_pointer=kdbg.offset_prcb_context if kdbg else None,
        proc_state_context=pick(kdbg.offset_prcb_proc_state_context if kdbg else None,
                                layout.prcb_proc_state_context if layout else None),
        number=kdbg.offset_prcb_number if kdbg else None,
    )


class CpuState(Record):
    """A processor plus its full registers (the public Processor keeps ip/sp/fp)."""

    processor: Processor
    registers: Registers | None


def saved_registers(read: ReadBytes, prcb: int, offsets: PrcbOffsets, arch: str,
                    bits: int) -> tuple[Registers | None, str | None]:
    size = CONTEXT_SIZE[arch]
    if offsets.context_pointer:
        pointer = read_pointer(read, prcb + offsets.context_pointer, bits)
        if pointer:
            regs = parse_context(read(pointer, size), arch)
            if regs is not None:
                return regs, "KPRCB.Context"
    if offsets.proc_state_context:
        regs = parse_context(read(prcb + offsets.proc_state_context, size), arch)
        if regs is not None:
            return regs, "KPRCB.ProcessorState.ContextFrame"
    return None, None


def read_cpus(read: ReadBytes, array: int, count: int, offsets: PrcbOffsets, arch: str,
              bits: int) -> tuple[list[CpuState], list[Anomaly]]:
    states: list[CpuState] = []
    problems: list[Anomaly] = []
    for index in range(min(count, MAX_PROCESSORS)):
        prcb = read_pointer(read, array + index * (bits // 8), bits)
        if prcb == 0:
            break  # a NULL entry ends the array
        if prcb is None:
            problems.append(anomaly(AnomalyCode.PAGE_NOT_PRESENT, "KiProcessorBlock",
                                    f"entry {index} at {array + index * (bits // 8):#x} is "
                                    "not in the dump"))
            break
        thread = (read_pointer(read, prcb + offsets.current_thread, bits)
                  if offsets.current_thread is not None else None)
        regs, source = saved_registers(read, prcb, offsets, arch, bits)
        processor = Processor(index=index, prcb=prcb, thread=thread or None,
                              ip=regs.ip if regs else None, sp=regs.sp if regs else None,
                              fp=regs.fp if regs else None, context_source=source)
        states.append(CpuState(processor, regs))
    return states, problems


def crashed_index(states: list[CpuState], header: Registers | None) -> int | None:
    """The CPU that bugchecked: the one whose saved registers are the header's CONTEXT.

    KeBugCheck2 saves the bugchecking CPU's context both into its KPRCB and into the
    dump header's ContextRecord, so the two agree for that CPU only.
    """
    if header is None:
        return None
    for state in states:
        regs = state.registers
        if regs is not None and (regs.ip, regs.sp) == (header.ip, header.sp):
            return state.processor.index
    return None


def triage_cpu(prcb_copy: bytes | None, read: ReadBytes, offsets: PrcbOffsets,
               info: DumpInfo) -> list[CpuState]:
    """The crashing CPU of a minidump, from the KPRCB copy at TRIAGE_DUMP.PrcbOffset.

    Its Context pointer leads into the data blocks, where the KeBugCheckEx-time CONTEXT
    is (verified on a real Windows 10 minidump, dump-format.md section 12.1).
    """
    if not prcb_copy:
        return []
    bits, arch = info.pointer_bits, info.arch
    copy_read = _bytes_reader(prcb_copy)
    thread = (read_pointer(copy_read, offsets.current_thread, bits)
              if offsets.current_thread is not None else None)
    regs, source = None, None
    if offsets.context_pointer:
        pointer = read_pointer(copy_read, offsets.context_pointer, bits)
        regs = parse_context(read(pointer, CONTEXT_SIZE[arch]), arch) if pointer else None
        source = "KPRCB.Context" if regs else None
    if regs is None and offsets.proc_state_context:
        regs = parse_context(copy_read(offsets.proc_state_context, CONTEXT_SIZE[arch]), arch)
        source = "KPRCB.ProcessorState.ContextFrame" if regs else None
    # OffsetPrcbNumber names the processor number byte (the u8 "LegacyNumber" on builds
    # that widened Number); one byte covers the first 256 CPUs.
    number = copy_read(offsets.number, 1) if offsets.number is not None else None
    processor = Processor(index=number[0] if number else 0, prcb=None, thread=thread or None,
                          ip=regs.ip if regs else None, sp=regs.sp if regs else None,
                          fp=regs.fp if regs else None, context_source=source)
    return [CpuState(processor, regs)]


def _bytes_reader(blob: bytes) -> ReadBytes:
    def read(offset: int, size: int) -> bytes | None:
        return blob[offset : offset + size] if offset >= 0 and offset + size <= len(blob) else None

    return read
