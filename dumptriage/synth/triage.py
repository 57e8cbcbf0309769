"""DumpType 4 with real content: the TRIAGE_DUMP sections, copied out of the built guest.

Section order, back to back with no gaps, as in the real Win10 19041 minidump
(dump-format.md §12.1 "Section order"): triage header, MM info, unloaded drivers, PRCB,
process, thread, call stack, KDBG copy, driver list, string pool, data-block table, block
contents, zero padding, "TRGD". The valid marker is 8-byte aligned here (the real file has
0x8E zero bytes before it; its alignment rule is not known).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from construct import Int32ul, Int64ul

from dumptriage.synth import kernel_tables as K
from dumptriage.synth import layout as L
from dumptriage.synth.containers import Container
from dumptriage.synth.manifest import BuiltCpu, BuiltModule, BuiltTriage, BuiltUnloaded
from dumptriage.synth.paging import AddressSpace
from dumptriage.synth.spec import TriageSpec
from dumptriage.synth.triage_parts import (
    data_block_table,
    driver_list,
    mm_storage,
    string_pool,
    unloaded_section,
)


@dataclass(frozen=True)
class TriageInputs:
    is64: bool
    build: int
    hsize: int
    vm: AddressSpace
    offsets: K.KernelOffsets
    kdbg_va: int
    kdbg_size: int
    ki_processor_block: int
    dtb: int
    cpus: tuple[BuiltCpu, ...]
    modules: tuple[BuiltModule, ...]
    unloaded: tuple[BuiltUnloaded, ...]
    stack_base: int  # the crashing thread's StackBase (end of the captured stack)
    spec: TriageSpec


@dataclass
class _Writer:
    """Appends sections at increasing absolute file offsets."""

    start: int
    buf: bytearray = field(default_factory=bytearray)
    sections: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return self.start + len(self.buf)

    def add(self, name: str, data: bytes) -> int:
        off = self.offset
        self.buf += data
        self.sections.append((name, off, len(data)))
        return off


def triage_container(t: TriageInputs) -> tuple[Container, BuiltTriage]:
    hdr_size = L.TRIAGE64_SIZE if t.is64 else L.TRIAGE32_SIZE
    w = _Writer(t.hsize + hdr_size)
    o = t.offsets
    crash = t.cpus[0]
    w.add("mm", mm_storage(t.is64))
    w.add("unloaded", unloaded_section(t.is64, t.unloaded))
    w.add("prcb", t.vm.read(crash.prcb, o.size_prcb))
    w.add("process", _process(t))
    w.add("thread", t.vm.read(crash.thread, o.size_ethread))
    w.add("stack", t.vm.read(crash.sp, t.stack_base - crash.sp))
    w.add("kdbg", t.vm.read(t.kdbg_va, t.kdbg_size))
    strings_at = w.offset + len(t.modules) * (0x90 if t.is64 else 0x4C)
    pool, name_offsets = string_pool(strings_at, [m.path for m in t.modules])
    entries, stride = driver_list(t.is64, t.modules, name_offsets)
    drivers_at = w.add("drivers", entries)
    w.add("strings", pool)
    blocks = _blocks(t)
    table_at = w.offset
    table, data, placed = data_block_table(t.is64, table_at, blocks)
    w.add("blocks", table)
    w.add("block_data", data)
    w.buf += bytes(-w.offset % 8)
    valid = w.offset
    w.buf += L.TRIAGE_VALID
    header = _header(t, w, valid, stride, len(blocks))
    built = BuiltTriage(
        sections=tuple(w.sections), top_of_stack=crash.sp, stack_base=t.stack_base,
        driver_stride=stride,
        drivers=tuple((m.path, drivers_at + i * stride, name_offsets[i])
                      for i, m in enumerate(t.modules)),
        blocks=placed, valid_offset=valid, unloaded_count_size=8 if t.is64 else 4)
    return Container(header + bytes(w.buf), None, (), None), built


def _process(t: TriageInputs) -> bytes:
    """The System EPROCESS: zero but for DirectoryTableBase = the header's DTB (§12.1)."""
    buf = bytearray(t.offsets.size_eprocess)
    ptr = Int64ul if t.is64 else Int32ul
    L.put(buf, t.offsets.eprocess_dtb, ptr, t.dtb)
    return bytes(buf)


def _blocks(t: TriageInputs) -> list[tuple[int, bytes, str]]:
    """(VA, bytes, label): every KPRCB, each CPU's thread and KPRCB.Context target, the
    KiProcessorBlock array and the first pages of every module image."""
    o = t.offsets
    psz = 8 if t.is64 else 4
    out: list[tuple[int, bytes, str]] = [
        (t.ki_processor_block, t.vm.read(t.ki_processor_block, psz * len(t.cpus)),
         "KiProcessorBlock")]
    for c in t.cpus:
        out.append((c.prcb, t.vm.read(c.prcb, o.size_prcb), f"prcb:{c.index}"))
        out.append((c.thread, t.vm.read(c.thread, o.size_ethread), f"thread:{c.index}"))
        if c.context_va is not None and not c.prcb <= c.context_va < c.prcb + o.size_prcb:
            size = L.CONTEXT64_SIZE if t.is64 else L.CONTEXT32_SIZE
            out.append((c.context_va, t.vm.read(c.context_va, size), f"context:{c.index}"))
    for m in t.modules:
        pages = min(m.header_pages, t.spec.image_pages) * 0x1000
        out.append((m.base, t.vm.read(m.base, pages), f"image:{m.name}"))
    return out


def _header(t: TriageInputs, w: _Writer, valid: int, stride: int, nblocks: int) -> bytes:
    tab = L.TRIAGE64 if t.is64 else L.TRIAGE32
    buf = bytearray(L.TRIAGE64_SIZE if t.is64 else L.TRIAGE32_SIZE)
    sec = {name: (off, size) for name, off, size in w.sections}

    def put(name: str, value: int) -> None:
        L.put_field(buf, tab, name, value)

    put("ServicePackBuild", 0x100 if t.build == 7601 else 0)  # CSDVersion: SP1
    put("SizeOfDump", valid + 4)
    put("ValidOffset", valid)
    put("ContextOffset", 0x348 if t.is64 else 0x320)  # the header's own slot (§12.1)
    put("ExceptionOffset", 0xF00 if t.is64 else 0x7D0)
    for field_, name in (("MmOffset", "mm"), ("UnloadedDriversOffset", "unloaded"),
                         ("PrcbOffset", "prcb"), ("ProcessOffset", "process"),
                         ("ThreadOffset", "thread"), ("CallStackOffset", "stack"),
                         ("DriverListOffset", "drivers"), ("StringPoolOffset", "strings"),
                         ("DebuggerDataOffset", "kdbg"), ("DataBlocksOffset", "blocks")):
        put(field_, sec[name][0])
    put("SizeOfCallStack", sec["stack"][1])
    put("DriverCount", len(t.modules))
    put("StringPoolSize", sec["strings"][1])
    put("DebuggerDataSize", sec["kdbg"][1])
    put("DataBlocksCount", nblocks)
    put("BrokenDriverOffset", 0)  # 0 in the real file (§12.1)
    put("TriageOptions", t.spec.triage_options)
    put("TopOfStack", t.cpus[0].sp)  # the stack pointer, lowest address (§12.2 item 1)
    return bytes(buf)
