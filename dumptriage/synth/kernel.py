"""Kernel content at kernel VAs: KDBG, module list + PE headers, KPRCBs, stack, globals."""

from __future__ import annotations

from dataclasses import dataclass

from construct import Int16ul, Int32ul, Int64ul

from dumptriage.synth import kernel_tables as K
from dumptriage.synth.headers import Registers, context32, context64, filetime
from dumptriage.synth.manifest import BuiltUnloaded
from dumptriage.synth.paging import AddressSpace
from dumptriage.synth.pe import pe_header
from dumptriage.synth.pe_dirs import RDATA_RVA, RData, rdata
from dumptriage.synth.spec import ModuleSpec, StackSpec, UnloadedDriverSpec


@dataclass(frozen=True)
class KernelAddresses:
    """Resolved VAs of the kernel objects the builder writes."""

    kernel_base: int
    kdbg_va: int
    kdbg_size: int
    ps_loaded_module_list: int
    ps_active_process_head: int
    pfn_database: int  # the PFN array itself (header PfnDataBase)
    mm_pfn_database_var: int  # the kernel variable MmPfnDatabase (KDBG +0xC0)
    ki_bugcheck_data: int
    ki_processor_block: int
    mm_unloaded_drivers: int
    mm_last_unloaded_driver: int
    prcb_vas: tuple[int, ...]
    pool_va: int  # bump allocator start for LDR entries, names, threads, contexts


@dataclass(frozen=True)
class WrittenModule:
    spec: ModuleSpec
    ldr_va: int
    header_pages: int  # pages at DllBase holding headers and directories (1 or 1 + .rdata)


class Pool:
    """A bump allocator for kernel pool VAs."""

    def __init__(self, start: int) -> None:
        self.cursor = start

    def alloc(self, size: int, align: int = 16) -> int:
        self.cursor = (self.cursor + align - 1) & ~(align - 1)
        va = self.cursor
        self.cursor += size
        return va


class KernelWriter:
    """Writes kernel structures through an AddressSpace (which maps pages on demand)."""

    def __init__(self, aspace: AddressSpace, is64: bool, build: int) -> None:
        self.vm = aspace
        self.is64 = is64
        self.build = build
        self.ptr = Int64ul if is64 else Int32ul
        self.offsets = K.kernel_offsets(is64, build)

    def put_ptr(self, va: int, value: int) -> None:
        self.vm.write(va, self.ptr.build(value & (2 ** (8 * self.ptr.sizeof()) - 1)))

    def sext(self, va: int) -> int:
        """KDBG pointers are 64-bit; on x86 they are sign-extended (§4.1)."""
        if not self.is64 and va & 0x80000000:
            return va | 0xFFFFFFFF00000000
        return va

    def context(self, regs: Registers) -> bytes:
        return context64(regs) if self.is64 else context32(regs)

    # -- KDDEBUGGER_DATA64 -----------------------------------------------------
    def write_kdbg(self, a: KernelAddresses, pae: bool, pte_base: int | None) -> None:
        buf = bytearray(a.kdbg_size)
        buf[K.KDBG_LIST_FLINK : K.KDBG_LIST_FLINK + 8] = Int64ul.build(self.sext(a.kdbg_va))
        buf[K.KDBG_LIST_BLINK : K.KDBG_LIST_BLINK + 8] = Int64ul.build(self.sext(a.kdbg_va))
        buf[K.KDBG_OWNER_TAG : K.KDBG_OWNER_TAG + 4] = b"KDBG"
        buf[K.KDBG_SIZE : K.KDBG_SIZE + 4] = Int32ul.build(a.kdbg_size)
        values = {
            "KernBase": a.kernel_base, "PsLoadedModuleList": a.ps_loaded_module_list,
            "PsActiveProcessHead": a.ps_active_process_head,
            "KiBugcheckData": a.ki_bugcheck_data, "MmPfnDatabase": a.mm_pfn_database_var,
            "KiProcessorBlock": a.ki_processor_block,
            "MmUnloadedDrivers": a.mm_unloaded_drivers,
            "MmLastUnloadedDriver": a.mm_last_unloaded_driver,
        }
        for name, off in K.KDBG_POINTERS.items():
            buf[off : off + 8] = Int64ul.build(self.sext(values[name]))
        if not self.is64:
            buf[K.KDBG_PAE_WORD : K.KDBG_PAE_WORD + 2] = Int16ul.build(1 if pae else 0)
        for name, value in self.offsets.as_kdbg().items():
            off = K.KDBG_U16[name]
            if off + 2 <= a.kdbg_size:  # fields exist only up to Header.Size
                buf[off : off + 2] = Int16ul.build(value)
        if pte_base is not None and a.kdbg_size >= K.KDBG_PTE_BASE + 8:
            buf[K.KDBG_PTE_BASE : K.KDBG_PTE_BASE + 8] = Int64ul.build(pte_base)
        self.vm.write(a.kdbg_va, bytes(buf))

    # -- kernel globals ----------------------------------------------------------
    def write_globals(self, a: KernelAddresses, bugcheck: tuple[int, tuple[int, ...]]) -> None:
        # KiBugcheckData: ULONG_PTR[5] = code, P1..P4 (QEMU reads it via KDBG+0x88, §4.1).
        for i, value in enumerate((bugcheck[0], *bugcheck[1])):
            self.put_ptr(a.ki_bugcheck_data + i * self.ptr.sizeof(), value)
        self.put_ptr(a.mm_pfn_database_var, a.pfn_database)
        self.put_ptr(a.mm_unloaded_drivers, 0)  # no unloaded-driver array yet
        self.vm.write(a.mm_last_unloaded_driver, Int32ul.build(0))
        # PsActiveProcessHead: an empty LIST_ENTRY points at itself.
        self.put_ptr(a.ps_active_process_head, a.ps_active_process_head)
        self.put_ptr(a.ps_active_process_head + self.ptr.sizeof(), a.ps_active_process_head)

    def write_unloaded(self, a: KernelAddresses, drivers: tuple[UnloadedDriverSpec, ...],
                       pool: Pool) -> tuple[BuiltUnloaded, ...]:
        """MmUnloadedDrivers -> a 50-slot UNLOADED_DRIVERS array (§5.3); empty slots zero.

        MmLastUnloadedDriver (u32) is the next slot the kernel would fill: len(drivers).
        """
        if not drivers:
            return ()  # write_globals left both variables zero
        size = K.UNLOADED_SIZE[self.is64]
        array = pool.alloc(size * K.UNLOADED_SLOTS)
        self.vm.write(array, bytes(size * K.UNLOADED_SLOTS))
        out = []
        for i, d in enumerate(drivers):
            entry = array + i * size
            self._unicode_string(entry, d.name, pool)
            self.put_ptr(entry + K.UNLOADED_START[self.is64], d.start)
            self.put_ptr(entry + K.UNLOADED_END[self.is64], d.end)
            ft = filetime(d.time)
            self.vm.write(entry + K.UNLOADED_TIME[self.is64], Int64ul.build(ft))
            out.append(BuiltUnloaded(d.name, d.start, d.end, ft, entry))
        self.put_ptr(a.mm_unloaded_drivers, array)
        self.vm.write(a.mm_last_unloaded_driver, Int32ul.build(len(drivers)))
        return tuple(out)

    # -- modules -------------------------------------------------------------------
    def write_modules(
        self, head: int, modules: tuple[ModuleSpec, ...], pool: Pool
    ) -> tuple[WrittenModule, ...]:
        """PsLoadedModuleList: a circular LIST_ENTRY list of KLDR entries (§5.2)."""
        ldr = K.LDR64 if self.is64 else K.LDR32
        entries = [pool.alloc(ldr.size) for _ in modules]
        links = [head, *entries, head]
        psz = self.ptr.sizeof()
        for i, (mod, va) in enumerate(zip(modules, entries, strict=True)):
            self.put_ptr(va, links[i + 2])  # Flink: next entry (or the head)
            self.put_ptr(va + psz, links[i])  # Blink: previous entry (or the head)
            self.put_ptr(va + ldr.dll_base, mod.base)
            self.put_ptr(va + ldr.entry_point, mod.base + 0x1000)
            self.vm.write(va + ldr.size_of_image, Int32ul.build(mod.size))
            self._unicode_string(va + ldr.full_dll_name, mod.path, pool)
            self._unicode_string(va + ldr.base_dll_name, mod.name, pool)
            self.vm.write(va + ldr.flags, Int32ul.build(0x49104000))  # LDRP_* as seen in nt
            self.vm.write(va + ldr.load_count, Int16ul.build(1))
            self.vm.write(va + ldr.checksum, Int32ul.build(mod.checksum))
            self.vm.write(va + ldr.timestamp, Int32ul.build(mod.timestamp))
        pages = tuple(self._write_image(mod) for mod in modules)
        self.put_ptr(head, links[1])
        self.put_ptr(head + psz, links[-2])
        return tuple(WrittenModule(m, va, n)
                     for m, va, n in zip(modules, entries, pages, strict=True))

    def _write_image(self, mod: ModuleSpec) -> int:
        """PE headers at DllBase, plus .rdata (exports, debug, version) for rich modules."""
        rd: RData | None = rdata(mod) if mod.rich else None
        if rd is not None:
            bad = [n for n, rva in mod.exports if not rd.text_rva <= rva < mod.size]
            if bad:
                raise ValueError(f"{mod.name}: exports outside .text: {bad}")
        self.vm.write(mod.base, pe_header(
            is64=self.is64, base=mod.base, size=mod.size,
            timestamp=mod.timestamp, checksum=mod.checksum, rd=rd, low_code=mod.low_code_rva))
        for rva, code in getattr(mod, "code", ()):  # pe_unwind.UnwindModuleSpec: code bytes
            self.vm.write(mod.base + rva, code)
        if rd is None:
            return 1
        self.vm.write(mod.base + RDATA_RVA, rd.data)
        return 1 + rd.pages

    def _unicode_string(self, va: int, text: str, pool: Pool) -> None:
        data = text.encode("utf-16-le")
        buf_va = pool.alloc(len(data) + 2, align=8)
        self.vm.write(buf_va, data + b"\0\0")
        # Length in bytes without the NUL, MaximumLength with it (§5.1).
        self.vm.write(va, Int16ul.build(len(data)) + Int16ul.build(len(data) + 2))
        self.put_ptr(va + K.USTR_BUFFER[self.is64], buf_va)

    # -- processors --------------------------------------------------------------
    def write_prcbs(
        self, a: KernelAddresses, contexts: tuple[bytes, ...], threads: tuple[int, ...]
    ) -> None:
        """KiProcessorBlock[i] -> KPRCB with CurrentThread, Number and both CONTEXT paths."""
        o = self.offsets
        for i, prcb in enumerate(a.prcb_vas):
            self.put_ptr(a.ki_processor_block + i * self.ptr.sizeof(), prcb)
            self.put_ptr(prcb + o.prcb_current_thread, threads[i])
            self.vm.write(prcb + o.prcb_number, Int32ul.build(i))
            # ProcessorState.ContextFrame is embedded; KPRCB.Context (Win7+) points at it.
            frame = prcb + o.prcb_proc_state_context
            self.vm.write(frame, contexts[i])
            self.put_ptr(prcb + o.prcb_context, frame)

    def write_thread(self, thread_va: int, initial_stack: int) -> None:
        self.put_ptr(thread_va + self.offsets.kthread_initial_stack, initial_stack)

    # -- stack -----------------------------------------------------------------------
    def write_stack(self, stack: StackSpec) -> None:
        self.vm.ensure_mapped(stack.low, stack.high)
        for i, value in enumerate(stack.values):
            self.put_ptr(stack.sp + i * self.ptr.sizeof(), value)
