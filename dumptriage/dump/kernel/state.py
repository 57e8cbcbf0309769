"""What the kernel was doing: modules, processors and the crashing stack, computed lazily.

One object per opened dump, fed by the container's ``KernelOffer``; it never asks which
container it has. Each part is computed on first use and cached, and keeps the anomalies
it found (a list cut short, a page not in the dump, an unknown build) to itself, so that
``anomalies()`` lists them in one fixed order whatever was touched first.

A host-side memory dump (a QEMU vmcore) offers vCPU registers and usually no KDBG: then
the paging root, kernel, module list, build and per-CPU KPRCBs come from ``discovery.py``,
``info`` is the container's facts completed by it, and ``vcpus`` says what each vCPU was
doing. Nothing of that is imported or computed for an ordinary crash dump.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from dumptriage.dump.containers.offer import KernelOffer
from dumptriage.dump.kernel.exception_context import exception_context
from dumptriage.dump.kernel.layouts import KernelLayout, kernel_layout, ldr_layout, nearest_layout
from dumptriage.dump.kernel.modules import (
    ModuleMap,
    enrich,
    module_from_entry,
    read_pointer,
    walk_loaded_modules,
)
from dumptriage.dump.kernel.pe_image import PeImage
from dumptriage.dump.kernel.processors import (
    CpuState,
    crashed_index,
    prcb_offsets,
    read_cpus,
    triage_cpu,
)
from dumptriage.dump.kernel.registers import CONTEXT_SIZE, Registers
from dumptriage.dump.kernel.stack import ImageSource, StackBounds, StackWalker
from dumptriage.dump.kernel.unloaded import read_unloaded
from dumptriage.errors import PageNotPresent
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import BugCheck, DumpInfo, Frame, Module, Processor, UnloadedModule
from dumptriage.model.record import replace

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.dump.containers.protocol import VirtualMemory
    from dumptriage.dump.kernel.discovery import Discovery
    from dumptriage.dump.kernel.kdbg import Kdbg
    from dumptriage.dump.memory.physical import PhysicalMemory
    from dumptriage.model.vcpu import Vcpu

ReadBytes = Callable[[int, int], bytes | None]


class KernelState:
    """Kernel structures reached through a virtual-memory reader and the KDBG."""

    # The parts, in the order their anomalies are listed.
    PARTS = ("discovery", "layout", "modules", "unloaded", "cpus", "stack")

    def __init__(self, offer: KernelOffer, info: DumpInfo,
                 physical: PhysicalMemory | None = None, bugcheck: BugCheck | None = None):
        """``bugcheck``: its arguments may point at the faulting thread's CONTEXT
        (exception_context.py), where the stack walk then continues."""
        self._offer = offer
        self._container_info = info
        self._physical = physical
        self._bugcheck = bugcheck
        self._header_regs = offer.header_registers
        self._found: dict[str, list[Anomaly]] = {part: [] for part in self.PARTS}

    def anomalies(self) -> list[Anomaly]:
        """Every part computed, then their anomalies in PARTS order."""
        _ = self.layout, self.modules, self.unloaded_modules, self.processors, self.stack
        return [a for part in self.PARTS for a in self._found[part]]

    # -- a vmcore: discovery from the vCPUs ----------------------------------------------

    @cached_property
    def discovery(self) -> Discovery | None:
        """Windows found from the vCPUs' registers; None unless the dump offers vCPUs (an
        ordinary crash dump never gets here). A KDBG the container found too (a guest
        header's decoded copy) still names the module list first."""
        if not self._offer.vcpus:
            return None
        from dumptriage.dump.kernel.discovery import Known, discover

        info, kdbg = self._container_info, self._offer.kdbg
        known = Known(
            dtb=info.directory_table_base,
            kernel_base=(kdbg.kern_base if kdbg else None) or info.kernel_base,
            ps_loaded_module_list=(kdbg.ps_loaded_module_list if kdbg else None)
            or info.ps_loaded_module_list,
            build=info.os.build or None)
        found = discover(self._offer.vcpus, self._physical, self._offer.memory, info.arch,
                         known)
        self._found["discovery"].extend(found.anomalies)
        return found

    @cached_property
    def info(self) -> DumpInfo:
        """The container's facts; for a vmcore, completed by discovery (build, kernel base,
        PsLoadedModuleList, paging root) where the container did not know them."""
        found = self.discovery
        if found is None:
            return self._container_info
        from dumptriage.dump.kernel.guest_info import completed_info

        return completed_info(self._container_info, found)

    @property
    def _info(self) -> DumpInfo:
        return self.info

    @cached_property
    def _kdbg(self) -> Kdbg | None:
        """The container's KDBG; for a vmcore, else the one discovery decoded."""
        if self._offer.kdbg is not None or not self._offer.vcpus:
            return self._offer.kdbg
        found = self.discovery
        return found.kdbg if found is not None else None

    @cached_property
    def _read(self) -> ReadBytes:
        found = self.discovery
        return _reader(found.memory if found is not None else self._offer.memory)

    @property
    def _has_memory(self) -> bool:
        found = self.discovery
        return (found.memory if found is not None else self._offer.memory) is not None

    # -- per-build layout ------------------------------------------------------------------

    @property
    def _decodable(self) -> bool:
        """Processor state and stacks are decoded for x86 and x64 only (not ARM64 yet), and
        only when the dump holds memory at all (not header-only or range dumps)."""
        return self._info.arch in CONTEXT_SIZE and self._has_memory

    @cached_property
    def layout(self) -> KernelLayout | None:
        arch, build = self._info.arch, self._info.os.build
        if not self._decodable:
            return None  # the container already reported the architecture
        found = kernel_layout(arch, build)
        if found is None:
            found = nearest_layout(arch, build)
            self._found["layout"].append(anomaly(
                AnomalyCode.UNKNOWN_BUILD, f"build {build}",
                f"no {arch} offset table covers this build; using "
                f"{found.id if found else 'none'} and the KDBG's own offsets (best effort)"))
        return found

    # -- modules ---------------------------------------------------------------------------

    @cached_property
    def _loaded(self) -> tuple[list[Module], dict[int, PeImage]]:
        if self._offer.listed_modules is not None:
            # A minidump lists its drivers itself; PE headers come from its data blocks.
            return self._enrich(self._offer.listed_modules)
        head = (self._kdbg.ps_loaded_module_list if self._kdbg else None) or \
            self._info.ps_loaded_module_list
        ldr = ldr_layout(self._info.arch)
        found = self.discovery
        if not head and found is not None and found.kernel is not None:
            from dumptriage.dump.kernel.guest_info import kernel_module

            # No module list: the kernel image discovery found is the one module known.
            return self._enrich([kernel_module(self._read, found.kernel)])
        if not head or ldr is None or not self._has_memory:
            return [], {}
        entries, problems = walk_loaded_modules(self._read, head, self._info.pointer_bits, ldr)
        self._found["modules"].extend(problems)
        return self._enrich([module_from_entry(e) for e in entries])

    def _enrich(self, modules: list[Module]) -> tuple[list[Module], dict[int, PeImage]]:
        images: dict[int, PeImage] = {}
        done = []
        for module in modules:
            rich, image = enrich(self._read, module)
            if image is not None:
                images[module.base] = image
            done.append(rich)
        return done, images

    @property
    def modules(self) -> list[Module]:
        return self._loaded[0]

    @cached_property
    def module_map(self) -> ModuleMap:
        modules, images = self._loaded
        return ModuleMap(modules, images)

    @cached_property
    def unloaded_modules(self) -> list[UnloadedModule]:
        if self._offer.listed_unloaded is not None:
            return self._offer.listed_unloaded
        if self._kdbg is None or not self._kdbg.mm_unloaded_drivers:
            return []
        return read_unloaded(self._read, self._kdbg.mm_unloaded_drivers,
                             self._info.pointer_bits)

    # -- processors ------------------------------------------------------------------------

    @cached_property
    def cpus(self) -> list[CpuState]:
        if not self._decodable:
            return []
        if self.discovery is not None:
            from dumptriage.dump.kernel.guest_info import vcpu_processors

            return vcpu_processors(self._offer.vcpus, self.vcpus)
        offsets = prcb_offsets(self._kdbg, self.layout)
        states: list[CpuState] = []
        if self._kdbg is not None and self._kdbg.ki_processor_block:
            states, problems = read_cpus(self._read, self._kdbg.ki_processor_block,
                                         self._info.processors or 0, offsets, self._info.arch,
                                         self._info.pointer_bits)
            if not self._offer.partial_cpus:
                # A minidump saves KiProcessorBlock and the KPRCBs only on newer builds, so
                # gaps in its walk are normal there.
                self._found["cpus"].extend(problems)
        copy = self._offer.prcb_copy
        if states or copy is None:
            return states
        # The writer copied the crashing CPU's KPRCB (TRIAGE_DUMP.PrcbOffset).
        return [replace(s, processor=replace(s.processor, prcb=copy.va))
                for s in triage_cpu(copy.data, self._read, offsets, self._info)]

    def _crashed(self) -> int | None:
        copy = self._offer.prcb_copy
        if copy is not None:
            # In a minidump the crashing CPU is the one whose KPRCB was copied.
            for state in self.cpus:
                if len(self.cpus) == 1 or (copy.va and state.processor.prcb == copy.va):
                    return state.processor.index
        return crashed_index(self.cpus, self._header_regs)

    @cached_property
    def processors(self) -> list[Processor]:
        """Every CPU the dump lists, the one that wrote the dump marked ``crashed``."""
        crashed = self._crashed()
        return [replace(s.processor, crashed=s.processor.index == crashed)
                for s in self.cpus]

    @property
    def lists_every_cpu(self) -> bool:
        """False when the dump may hold only some CPUs (a minidump's copy)."""
        return not self._offer.partial_cpus or len(self.cpus) == self._info.processors

    # -- stack -----------------------------------------------------------------------------

    def crash_registers(self) -> tuple[Registers | None, CpuState | None]:
        crashed = next((s for s, p in zip(self.cpus, self.processors, strict=True)
                        if p.crashed), None)
        if crashed is not None and crashed.registers is not None:
            return crashed.registers, crashed
        return self._header_regs, crashed

    @cached_property
    def stack(self) -> list[Frame]:
        if not self._decodable or self.discovery is not None:
            return []  # a vmcore has no crashing thread: each vCPU has its stack in vcpus
        regs, _cpu = self.crash_registers()
        if regs is None:
            self._found["stack"].append(anomaly(
                AnomalyCode.NO_CRASH_CONTEXT, "ContextRecord",
                "no saved registers for the crashing thread: the stack was not walked"))
            return []
        return self.walk_stack()

    def walk_stack(self, image_source: ImageSource | None = None) -> list[Frame]:
        """The crashing thread's stack; ``image_source`` lends the walker image files (a
        symbol store's) for modules whose code and unwind data the dump lacks."""
        regs, cpu = self.crash_registers()
        if regs is None or not self._decodable or self.discovery is not None:
            return []
        walker = StackWalker(self._read, self.module_map, self._info.pointer_bits,
                             (self._header_regs.ip,) if self._header_regs else (),
                             image_source)
        bounds = self._bounds(regs, cpu)
        cxr = None
        if self._bugcheck is not None:
            cxr = exception_context(self._read, self._bugcheck.code, self._bugcheck.args,
                                    self._info.arch)
        if cxr is None or not bounds.low < cxr.registers.sp < bounds.high:
            return walker.walk(regs, bounds)
        return walker.walk_with_exception(regs, cxr.registers, bounds)

    def _bounds(self, regs: Registers, cpu: CpuState | None) -> StackBounds:
        default = self.layout.kernel_stack_size if self.layout else 0x6000
        thread = cpu.processor.thread if cpu else None
        limits = self._thread_stack(thread) if thread else None
        if limits is not None and limits[0] <= regs.sp < limits[1]:
            return StackBounds(regs.sp, limits[1])
        return StackBounds(regs.sp, regs.sp + default)

    # -- vCPUs of a host-side memory dump ---------------------------------------------------

    @cached_property
    def vcpus(self) -> tuple[Vcpu, ...]:
        """What each vCPU was doing (a vmcore only; () otherwise)."""
        found = self.discovery
        if found is None or not self._decodable:
            return ()
        from dumptriage.dump.kernel.vcpus import PrcbFields, vcpu_record

        walker = StackWalker(self._read, self.module_map, self._info.pointer_bits)
        by_index = {cpu.index: cpu for cpu in found.cpus}
        fields = PrcbFields.of(self._kdbg, self.layout)
        return tuple(vcpu_record(regs, by_index.get(regs.index), self._read, fields,
                                 self.module_map, walker, self._vcpu_bounds,
                                 self._info.pointer_bits)
                     for regs in self._offer.vcpus)

    def _vcpu_bounds(self, sp: int, thread: int | None) -> StackBounds:
        default = self.layout.kernel_stack_size if self.layout else 0x6000
        limits = self._thread_stack(thread) if thread else None
        if limits is not None and limits[0] <= sp < limits[1]:
            return StackBounds(sp, limits[1])
        return StackBounds(sp, sp + default)  # a DPC or ISR stack: not the thread's own

    def _thread_stack(self, thread: int) -> tuple[int, int] | None:
        """(StackLimit, StackBase) of a KTHREAD; KDBG offsets first, then the table."""
        kdbg, layout, bits = self._kdbg, self.layout, self._info.pointer_bits
        limit_at = (kdbg.offset_kthread_stack_limit if kdbg else None) or \
            (layout.kthread_stack_limit if layout else None)
        base_at = (kdbg.offset_kthread_stack_base if kdbg else None) or \
            (layout.kthread_stack_base if layout else None)
        if not limit_at or not base_at:
            return None
        limit = read_pointer(self._read, thread + limit_at, bits)
        base = read_pointer(self._read, thread + base_at, bits)
        if not limit or not base or not limit < base <= limit + 0x100000:
            return None
        return limit, base


def _reader(memory: VirtualMemory | None) -> ReadBytes:
    """``read(va, size)`` giving None for bytes that are not in the dump."""
    if memory is None:
        return lambda va, size: None
    read = memory.read

    def read_or_none(va: int, size: int) -> bytes | None:
        try:
            return read(va, size)
        except PageNotPresent:
            return None

    return read_or_none
