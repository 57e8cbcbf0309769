"""build() and write(): turn a DumpSpec into dump bytes plus a BuiltDump manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dumptriage.synth import containers as C
from dumptriage.synth import cpus as CPU
from dumptriage.synth import defaults as D
from dumptriage.synth import kernel_tables as K
from dumptriage.synth import layout as L
from dumptriage.synth import triage as T
from dumptriage.synth.guest import write_guest
from dumptriage.synth.headers import HeaderInputs, Registers, dump_header
from dumptriage.synth.kernel import KernelAddresses, KernelWriter, Pool
from dumptriage.synth.manifest import (
    BuiltCpu,
    BuiltDump,
    BuiltModule,
    BuiltTriage,
    BuiltUnloaded,
    BuiltVcpu,
    Mapping,
    MappingKind,
    PageSample,
)
from dumptriage.synth.paging import PAE, X64, X86, AddressSpace, PagingMode
from dumptriage.synth.physmem import PAGE, PhysicalMemory
from dumptriage.synth.spec import SUPPORTED_DUMP_TYPES, DumpSpec, LargePageSpec, SpecialPteSpec

MAX_IN_MEMORY = 512 << 20  # build() refuses larger files: use write(..., sparse)
LARGE_KIND: dict[int, MappingKind] = {0x400000: "large-4m", 0x200000: "large-2m",
                                      0x40000000: "large-1g"}


@dataclass
class _Guest:
    """Guest memory after the kernel content has been laid out."""

    mem: PhysicalMemory
    vm: AddressSpace
    addrs: KernelAddresses
    regs: Registers
    mappings: list[Mapping]
    modules: tuple[BuiltModule, ...]
    labels: dict[str, int]  # sample label -> pa
    cpus: tuple[BuiltCpu, ...] = ()
    unloaded: tuple[BuiltUnloaded, ...] = ()
    stack_base: int = 0  # the crashing thread's stack end (StackSpec.high)
    triage: BuiltTriage | None = None
    vcpus: tuple[BuiltVcpu, ...] = ()


def _mode(spec: DumpSpec) -> PagingMode:
    if spec.arch == "x64":
        return X64
    return PAE if spec.pae else X86


def _special_pte(spec: DumpSpec, kind: str, pfn: int) -> int:
    """Raw non-valid leaf PTE values (MMPTE_TRANSITION/PROTOTYPE/SOFTWARE layouts)."""
    wide = spec.arch == "x64" or spec.pae
    prot = 4 << 5  # Protection MM_READWRITE in bits 5..9
    if kind == "transition":  # Valid=0, Prototype(10)=0, Transition(11)=1, PFN in 12+
        return pfn * PAGE | 0x800 | prot
    if kind == "prototype":  # Prototype(10)=1; wide PTEs keep ProtoAddress in bits 32+
        return 0xFFFFFFFF00000400 if wide else 0x12340400
    # page file: PageFileLow=1 (bits 1..4), offset in PageFileHigh (bits 32+ / 12+)
    return (0x1234 << 32 | 1 << 1 | prot) if wide else (0x01234 << 12 | 1 << 1 | prot)


def _lay_out_large(g: _Guest, lp: LargePageSpec) -> None:
    pa = g.mem.reserve(lp.pa, lp.size)
    g.vm.map_large(lp.va, pa, lp.size)
    for off in (0, lp.probe_offset):
        g.mem.write(pa + off, b"LARGE PAGE va=%x off=%x" % (lp.va + off, off))
    g.labels[f"large:{lp.va:#x}"] = pa + lp.probe_offset
    g.mappings.append(Mapping(lp.va, pa, lp.size, LARGE_KIND[lp.size], pa | 0x83))


def _lay_out_special(spec: DumpSpec, g: _Guest, sp: SpecialPteSpec) -> None:
    pa: int | None = None
    pfn = 0
    if sp.kind == "transition":  # still in RAM: give it content a reader can check
        pfn = g.mem.alloc()
        pa = pfn * PAGE
        g.mem.write(pa, b"TRANSITION PAGE va=%x" % sp.va)
        g.labels["transition"] = pa
    value = _special_pte(spec, sp.kind, pfn)
    g.vm.set_leaf(sp.va, value)
    g.mappings.append(Mapping(sp.va, pa, PAGE, sp.kind, value))


def _lay_out(spec: DumpSpec) -> _Guest:
    runs = spec.runs if spec.runs is not None else D.default_runs(spec.memory_mib)
    mem = PhysicalMemory(runs, spec.alloc_start_pfn)
    vm = AddressSpace(mem, _mode(spec), spec.pdpt_offset)
    is64 = spec.arch == "x64"
    pte_base = vm.add_self_map() if is64 and spec.self_map else None
    addrs = D.addresses(spec)
    stack = D.stack(spec)
    regs = Registers(ip=stack.ip, sp=stack.sp, bp=stack.bp)
    g = _Guest(mem, vm, addrs, regs, [], (), {"dtb": vm.dtb})
    for lp in spec.large_pages:
        _lay_out_large(g, lp)
    for sp in D.special_ptes(spec):
        _lay_out_special(spec, g, sp)
    kw = KernelWriter(vm, is64, spec.build)
    pool = Pool(addrs.pool_va)
    written = kw.write_modules(addrs.ps_loaded_module_list, D.modules(spec), pool)
    g.modules = tuple(BuiltModule.of(w.spec, w.ldr_va, w.header_pages) for w in written)
    kw.write_kdbg(addrs, spec.pae, pte_base)
    kw.write_globals(addrs, spec.bugcheck)
    if spec.cpus is None:
        g.cpus = CPU.write_legacy(kw, addrs, pool, stack)
    else:
        g.cpus = CPU.write_cpus(kw, addrs, pool, spec.cpus, stack)
    g.unloaded = kw.write_unloaded(addrs, spec.unloaded_drivers, pool)
    if spec.guest is not None:
        if spec.cpus is None:
            raise ValueError("a guest needs DumpSpec.cpus (each vCPU's stack)")
        g.vcpus = write_guest(kw, addrs, pool, spec, g.cpus)
    g.stack_base = stack.high
    if spec.triage is not None and spec.triage.header_context is not None:
        g.regs = Registers(*spec.triage.header_context)
    _label_kernel(g, stack.sp)
    return g


def _label_kernel(g: _Guest, sp: int) -> None:
    for label, va in (("kdbg", g.addrs.kdbg_va), ("stack", sp),
                      ("PsLoadedModuleList", g.addrs.ps_loaded_module_list),
                      *((f"module:{m.name}", m.base) for m in g.modules[:4])):
        pa = g.vm.lookup(va)
        assert pa is not None
        g.labels[label] = pa
    for va, pfn in sorted(g.vm.small_pages.items()):
        g.mappings.append(Mapping(va, pfn * PAGE, PAGE, "4k", pfn * PAGE | 0x3))
    g.mappings.sort(key=lambda m: m.va)


def _container(spec: DumpSpec, g: _Guest, hsize: int) -> C.Container:
    is64 = spec.arch == "x64"
    mem = g.mem
    t = spec.dump_type
    if t == 1:
        return C.Container(b"", hsize, mem.runs, None)
    touched = C.runs_of(mem.pages)
    if t == 2:
        return C.summary_container(is64, hsize, touched, mem.highest_pfn)
    if t in (5, 6):
        present = mem.runs if t == 5 else touched
        return C.bitmap_container(t == 5, hsize, present, mem.highest_pfn)
    if t == 4 and spec.triage is not None:
        cont, g.triage = T.triage_container(_triage_inputs(spec, g, hsize))
        return cont
    if t == 4:
        return C.triage_container(is64, hsize, spec.build, g.regs.sp)
    if t in (8, 9, 0xA):
        if not is64:
            raise ValueError(f"RDMP (DumpType {t:#x}) dumps are 64-bit only (§2.4)")
        # 8 (`/k`) and 9 (`/ka`): the pages the guest uses; 0xA (`/f`): all of RAM.
        return C.rdmp_container(hsize, mem.runs if t == 0xA else touched, complete=t == 0xA)
    return C.Container(b"", None, (), None)  # type 3: header only


def _triage_inputs(spec: DumpSpec, g: _Guest, hsize: int) -> T.TriageInputs:
    assert spec.triage is not None
    a = g.addrs
    return T.TriageInputs(
        is64=spec.arch == "x64", build=spec.build, hsize=hsize, vm=g.vm,
        offsets=K.kernel_offsets(spec.arch == "x64", spec.build), kdbg_va=a.kdbg_va,
        kdbg_size=a.kdbg_size, ki_processor_block=a.ki_processor_block, dtb=g.vm.dtb,
        cpus=g.cpus, modules=g.modules, unloaded=g.unloaded, stack_base=g.stack_base,
        spec=spec.triage)


def _minidump_fields(spec: DumpSpec) -> int | None:
    if spec.dump_type != 4:
        return None
    # minimal triage: CONTEXT | EXCEPTION are its only sections (§3.5)
    return spec.triage.minidump_fields if spec.triage is not None else 0x3


def _header(spec: DumpSpec, g: _Guest, required: int) -> bytes:
    a = g.addrs
    exc = spec.exception
    return dump_header(HeaderInputs(
        is64=spec.arch == "x64", pae=spec.pae, dump_type=spec.dump_type,
        major=spec.major_version, build=spec.build, dtb=g.vm.dtb,
        pfn_database=a.pfn_database, ps_loaded_module_list=a.ps_loaded_module_list,
        ps_active_process_head=a.ps_active_process_head, processors=spec.processors,
        bugcheck=spec.bugcheck, kdbg_va=a.kdbg_va,
        runs=g.mem.runs if spec.dump_type == 1 else None, registers=g.regs,
        exception_code=exc.code, exception_flags=exc.flags,
        exception_address=exc.address if exc.address is not None else g.regs.ip,
        exception_params=exc.parameters, comment=spec.comment,
        product_type=spec.product_type, suite_mask=spec.suite_mask,
        attributes=spec.attributes, required_dump_space=required,
        uptime_100ns=spec.uptime_100ns, system_time=spec.system_time,
        minidump_fields=_minidump_fields(spec),
    ))


def _prepare(spec: DumpSpec) -> tuple[BuiltDump, bytes, C.Container, PhysicalMemory]:
    if spec.dump_type not in SUPPORTED_DUMP_TYPES:
        raise ValueError(f"DumpType {spec.dump_type} is not writable")
    if len(D.prcbs(spec, D.kernel_base(spec))) != spec.processors:
        raise ValueError("processors and prcb_vas disagree")
    g = _lay_out(spec)
    hsize = L.HEADER64_SIZE if spec.arch == "x64" else L.HEADER32_SIZE
    cont = _container(spec, g, hsize)
    size = C.container_size(hsize, cont)
    required = spec.required_dump_space if spec.required_dump_space is not None else size
    header = _header(spec, g, required)
    built = _manifest(spec, g, hsize, cont, size, required)
    return built, header, cont, g.mem


def _manifest(spec: DumpSpec, g: _Guest, hsize: int, cont: C.Container, size: int,
              required: int) -> BuiltDump:
    a = g.addrs
    built = BuiltDump(
        spec=spec, arch=spec.arch, pae=spec.arch == "x86" and spec.pae,
        dump_type=spec.dump_type, header_size=hsize, dtb=g.vm.dtb, kdbg_va=a.kdbg_va,
        kdbg_size=a.kdbg_size, kernel_base=a.kernel_base,
        ps_loaded_module_list=a.ps_loaded_module_list,
        ps_active_process_head=a.ps_active_process_head, pfn_database=a.pfn_database,
        prcb_vas=a.prcb_vas, ki_processor_block=a.ki_processor_block,
        ki_bugcheck_data=a.ki_bugcheck_data, context_ip=g.regs.ip, context_sp=g.regs.sp,
        context_bp=g.regs.bp, first_page_offset=cont.first_page,
        bitmap_bits=cont.bitmap_bits, present=cont.present, ram_runs=g.mem.runs,
        mappings=tuple(g.mappings), samples=(), modules=g.modules, file_size=size,
        required_dump_space=required, cpus=g.cpus, unloaded=g.unloaded, triage=g.triage,
        mm_unloaded_drivers=a.mm_unloaded_drivers,
        mm_last_unloaded_driver=a.mm_last_unloaded_driver,
        vcpus=g.vcpus, kernel_dtb=g.vm.dtb,
    )
    samples = []
    for label, pa in g.labels.items():
        page = bytes(g.mem.pages.get(pa // PAGE, bytes(PAGE)))
        samples.append(PageSample(pa & ~(PAGE - 1), hashlib.sha256(page).hexdigest(), label,
                                  built.file_offset(pa & ~(PAGE - 1))))
    return dataclasses.replace(built, samples=tuple(samples))


def guest_memory(spec: DumpSpec) -> tuple[BuiltDump, tuple[tuple[int, int], ...],
                                          dict[int, bytes]]:
    """The world as guest-physical memory, for the vmcore writers (synth/vmcore.py): the
    manifest, RAM runs as (address, size), and each page that holds content by address.
    With ``spec.guest`` the manifest's ``vcpus`` are the registers to put in the notes."""
    built, _, _, mem = _prepare(spec)
    runs = tuple((base * PAGE, count * PAGE) for base, count in mem.runs)
    return built, runs, {pfn * PAGE: bytes(buf) for pfn, buf in sorted(mem.pages.items())}


def build(spec: DumpSpec) -> BuiltDump:
    """Build the dump in memory; the bytes are in `.data`."""
    built, header, cont, mem = _prepare(spec)
    if built.file_size > MAX_IN_MEMORY:
        raise ValueError(f"{built.file_size:#x} bytes is too big for build(); use write()")
    out = io.BytesIO()
    C.stream(out, header, cont, mem, sparse=False)
    data = out.getvalue()
    assert len(data) == built.file_size, (len(data), built.file_size)
    return dataclasses.replace(built, data=data)


def write(spec: DumpSpec, path: str | Path) -> BuiltDump:
    """Stream the dump to `path` (holes for zero pages when spec.sparse)."""
    built, header, cont, mem = _prepare(spec)
    target = Path(path)
    with target.open("wb") as f:
        _write_to(f, header, cont, mem, spec.sparse, built.file_size)
    return dataclasses.replace(built, path=target)


def _write_to(f: BinaryIO, header: bytes, cont: C.Container, mem: PhysicalMemory,
              sparse: bool, size: int) -> None:
    C.stream(f, header, cont, mem, sparse)
    f.truncate(size)  # a sparse stream may end on a seek: give the file its length
