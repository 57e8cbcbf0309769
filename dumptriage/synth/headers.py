"""DUMP_HEADER32/64 with CONTEXT and EXCEPTION_RECORD, written over a "PAGE" fill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from construct import Int32ul, Int64ul

from dumptriage.synth import layout as L

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
MACHINE_I386, MACHINE_AMD64 = 0x14C, 0x8664  # IMAGE_FILE_MACHINE_* (§1.1)


def filetime(when: datetime) -> int:
    """100-ns ticks since 1601-01-01 UTC (FILETIME, §1.4)."""
    delta = when - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass(frozen=True)
class Registers:
    ip: int
    sp: int
    bp: int


@dataclass(frozen=True)
class HeaderInputs:
    """Everything that goes into the dump header, already resolved."""

    is64: bool
    pae: bool
    dump_type: int
    major: int
    build: int
    dtb: int
    pfn_database: int
    ps_loaded_module_list: int
    ps_active_process_head: int
    processors: int
    bugcheck: tuple[int, tuple[int, int, int, int]]
    kdbg_va: int
    runs: tuple[tuple[int, int], ...] | None  # None: leave the PAGE fill (types 2..8)
    registers: Registers
    exception_code: int
    exception_flags: int
    exception_address: int
    exception_params: tuple[int, ...]
    comment: str | None
    product_type: int
    suite_mask: int
    attributes: int | None
    required_dump_space: int
    uptime_100ns: int
    system_time: datetime
    minidump_fields: int | None


def context32(regs: Registers) -> bytes:
    """An x86 CONTEXT (0x2CC bytes, §6.4) with the control registers set."""
    buf = bytearray(L.CONTEXT32_SIZE)
    t = L.CONTEXT32
    # CONTEXT_i386 (0x10000) | CONTROL | INTEGER | SEGMENTS (S4 flag values).
    L.put_field(buf, t, "ContextFlags", 0x10007)
    for name, value in (("SegCs", 0x08), ("SegSs", 0x10), ("SegDs", 0x23), ("SegEs", 0x23),
                        ("SegFs", 0x30), ("SegGs", 0x00), ("EFlags", 0x246)):
        L.put_field(buf, t, name, value)  # Windows x86 kernel selectors: KGDT_R0_CODE etc.
    L.put_field(buf, t, "Eip", regs.ip)
    L.put_field(buf, t, "Esp", regs.sp)
    L.put_field(buf, t, "Ebp", regs.bp)
    return bytes(buf)


def context64(regs: Registers) -> bytes:
    """An AMD64 CONTEXT (0x4D0 bytes, §6.4) with the control registers set."""
    buf = bytearray(L.CONTEXT64_SIZE)
    t = L.CONTEXT64
    # CONTEXT_AMD64 (0x100000) | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT | DEBUG.
    L.put_field(buf, t, "ContextFlags", 0x10001F)
    # kdmp-parser (S1) only trusts a CONTEXT whose MxCsr equals FltSave.MxCsr (§6.3).
    L.put_field(buf, t, "MxCsr", 0x1F80)
    L.put_field(buf, t, "FltSaveMxCsr", 0x1F80)
    for name, value in (("SegCs", 0x10), ("SegSs", 0x18), ("SegDs", 0x2B), ("SegEs", 0x2B),
                        ("SegFs", 0x53), ("SegGs", 0x2B), ("EFlags", 0x246)):
        L.put_field(buf, t, name, value)  # KGDT64_R0_CODE, R0_DATA, R3_DATA|3, R3_CMTEB|3
    L.put_field(buf, t, "Rip", regs.ip)
    L.put_field(buf, t, "Rsp", regs.sp)
    L.put_field(buf, t, "Rbp", regs.bp)
    return bytes(buf)


def exception_record(h: HeaderInputs) -> bytes:
    """EXCEPTION_RECORD32 (0x50) or EXCEPTION_RECORD64 (0x98), §1.2/§1.3."""
    params = list(h.exception_params)[:15]
    if h.is64:
        buf = bytearray(0x98)
        L.put(buf, 0x00, Int32ul, h.exception_code)
        L.put(buf, 0x04, Int32ul, h.exception_flags)
        L.put(buf, 0x08, Int64ul, 0)  # ExceptionRecord (chained record): none
        L.put(buf, 0x10, Int64ul, h.exception_address)
        L.put(buf, 0x18, Int32ul, len(params))
        for i, p in enumerate(params):
            L.put(buf, 0x20 + 8 * i, Int64ul, p)
        return bytes(buf)
    buf = bytearray(0x50)
    L.put(buf, 0x00, Int32ul, h.exception_code)
    L.put(buf, 0x04, Int32ul, h.exception_flags)
    L.put(buf, 0x08, Int32ul, 0)
    L.put(buf, 0x0C, Int32ul, h.exception_address)
    L.put(buf, 0x10, Int32ul, len(params))
    for i, p in enumerate(params):
        L.put(buf, 0x14 + 4 * i, Int32ul, p)
    return bytes(buf)


def _runs_descriptor(runs: tuple[tuple[int, int], ...], is64: bool) -> bytes:
    """PHYSICAL_MEMORY_DESCRIPTOR32/64 (§1.2 0x064, §1.3 0x088)."""
    total = sum(c for _, c in runs)
    if is64:
        if len(runs) > L.RUNS64_MAX:
            raise ValueError(f"a 64-bit header holds at most {L.RUNS64_MAX} runs")
        # NumberOfRuns u32, pad u32, NumberOfPages u64, then {BasePage u64, PageCount u64}.
        out: bytes = Int32ul.build(len(runs)) + Int32ul.build(0) + Int64ul.build(total)
        return out + b"".join(Int64ul.build(b) + Int64ul.build(c) for b, c in runs)
    if len(runs) > L.RUNS32_MAX:
        raise ValueError(f"a 32-bit header holds at most {L.RUNS32_MAX} runs")
    out32: bytes = Int32ul.build(len(runs)) + Int32ul.build(total)
    return out32 + b"".join(Int32ul.build(b) + Int32ul.build(c) for b, c in runs)


def dump_header(h: HeaderInputs) -> bytes:
    """The full 0x1000/0x2000-byte header."""
    t = L.HEADER64 if h.is64 else L.HEADER32
    buf = L.page_filled(L.HEADER64_SIZE if h.is64 else L.HEADER32_SIZE)
    ptr = Int64ul if h.is64 else Int32ul
    put = L.put_field
    put(buf, t, "Signature", b"PAGE")
    put(buf, t, "ValidDump", b"DU64" if h.is64 else b"DUMP")
    put(buf, t, "MajorVersion", h.major)
    put(buf, t, "MinorVersion", h.build)
    for name, value in (("DirectoryTableBase", h.dtb), ("PfnDataBase", h.pfn_database),
                        ("PsLoadedModuleList", h.ps_loaded_module_list),
                        ("PsActiveProcessHead", h.ps_active_process_head),
                        ("KdDebuggerDataBlock", h.kdbg_va)):
        put(buf, t, name, value)
    put(buf, t, "MachineImageType", MACHINE_AMD64 if h.is64 else MACHINE_I386)
    put(buf, t, "NumberProcessors", h.processors)
    put(buf, t, "BugCheckCode", h.bugcheck[0])
    p1 = t["BugCheckParameter1"][0]
    for i, value in enumerate(h.bugcheck[1]):
        L.put(buf, p1 + i * ptr.sizeof(), ptr, value)
    if not h.is64:
        put(buf, t, "PaeEnabled", 1 if h.pae else 0)
    if h.runs is not None:
        desc = _runs_descriptor(h.runs, h.is64)
        off = t["PhysicalMemoryBlockBuffer"][0]
        buf[off : off + len(desc)] = desc
    regs = context64(h.registers) if h.is64 else context32(h.registers)
    off = t["ContextRecord"][0]
    buf[off : off + len(regs)] = regs
    exc = exception_record(h)
    off = t["Exception"][0]
    buf[off : off + len(exc)] = exc
    _put_tail(buf, t, h)
    return bytes(buf)


def _put_tail(buf: bytearray, t: dict[str, L.Field], h: HeaderInputs) -> None:
    put = L.put_field
    if h.comment is not None:
        put(buf, t, "Comment", h.comment.encode("ascii")[:127].ljust(128, b"\0"))
    if h.attributes is not None:
        put(buf, t, "Attributes", h.attributes)
    put(buf, t, "DumpType", h.dump_type)
    if h.minidump_fields is not None:
        put(buf, t, "MiniDumpFields", h.minidump_fields)
    put(buf, t, "ProductType", h.product_type)
    put(buf, t, "SuiteMask", h.suite_mask)
    put(buf, t, "WriterStatus", 0)  # 0 in the real x64 minidump of §12.1
    if h.is64:
        put(buf, t, "KdSecondaryVersion", 0)
    put(buf, t, "RequiredDumpSpace", h.required_dump_space)
    put(buf, t, "SystemUpTime", h.uptime_100ns)
    put(buf, t, "SystemTime", filetime(h.system_time))
