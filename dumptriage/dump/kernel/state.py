"""What the kernel was doing: modules, processors and the crashing stack, computed lazily.

One object per opened dump; each part is computed on first use and cached. Problems on
the way (a list cut short, a page not in the dump, an unknown build) become anomalies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from dumptriage.dump.kernel.kdbg import Kdbg
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
    PrcbOffsets,
    crashed_index,
    hung_check,
    prcb_offsets,
    read_cpus,
    triage_cpu,
)
from dumptriage.dump.kernel.registers import CONTEXT_SIZE, Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker
from dumptriage.dump.kernel.unloaded import read_unloaded
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import DumpInfo, Frame, Module, Processor, UnloadedModule

ReadBytes = Callable[[int, int], bytes | None]


@dataclass(frozen=True)
class TriageSources:
    """What a triage dump carries instead of kernel lists: its own copies."""

    modules: list[Module]
    unloaded: list[UnloadedModule]
    prcb_copy: bytes | None
    prcb_va: int | None = None


class KernelState:
    """Kernel structures reached through a virtual-memory reader and the KDBG."""

    def __init__(self, read: ReadBytes, info: DumpInfo, kdbg: Kdbg | None,
                 bugcheck: tuple[int, tuple[int, ...]], header_regs: Registers | None,
                 triage: TriageSources | None = None, *, has_memory: bool = True):
        self._read = read
        self._info = info
        self._kdbg = kdbg
        self._code, self._args = bugcheck
        self._header_regs = header_regs
        self._triage = triage
        self._has_memory = has_memory
        self.anomalies: list[Anomaly] = []

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
            self.anomalies.append(anomaly(
                AnomalyCode.UNKNOWN_BUILD, f"build {build}",
                f"no {arch} offset table covers this build; using "
                f"{found.id if found else 'none'} and the KDBG's own offsets (best effort)"))
        return found

    # -- modules ---------------------------------------------------------------------------

    @cached_property
    def _loaded(self) -> tuple[list[Module], dict[int, PeImage]]:
        if self._triage is not None:
            # A minidump lists its drivers itself; PE headers come from its data blocks.
            return self._enrich(self._triage.modules)
        head = (self._kdbg.ps_loaded_module_list if self._kdbg else None) or \
            self._info.ps_loaded_module_list
        ldr = ldr_layout(self._info.arch)
        if not head or ldr is None or not self._has_memory:
            return [], {}
        entries, problems = walk_loaded_modules(self._read, head, self._info.pointer_bits, ldr)
        self.anomalies.extend(problems)
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
        if self._triage is not None:
            return self._triage.unloaded
        if self._kdbg is None or not self._kdbg.mm_unloaded_drivers:
            return []
        return read_unloaded(self._read, self._kdbg.mm_unloaded_drivers,
                             self._info.pointer_bits)

    # -- processors ------------------------------------------------------------------------

    @cached_property
    def cpus(self) -> list[CpuState]:
        if not self._decodable:
            return []
        offsets = prcb_offsets(self._kdbg, self.layout)
        if self._triage is not None:
            return self._triage_cpus(offsets)
        if self._kdbg is None or not self._kdbg.ki_processor_block:
            return []
        states, problems = read_cpus(self._read, self._kdbg.ki_processor_block,
                                     self._info.processors, offsets, self._info.arch,
                                     self._info.pointer_bits)
        self.anomalies.extend(problems)
        return states

    def _triage_cpus(self, offsets: PrcbOffsets) -> list[CpuState]:
        """A minidump's CPUs: KiProcessorBlock when its data blocks hold it, else the copy.

        Windows copies the crashing CPU's KPRCB (PrcbOffset); newer writers also save
        KiProcessorBlock and every KPRCB as data blocks. A partial walk is normal here,
        so its gaps are not anomalies.
        """
        assert self._triage is not None
        if self._kdbg is not None and self._kdbg.ki_processor_block:
            states, _ = read_cpus(self._read, self._kdbg.ki_processor_block,
                                  self._info.processors, offsets, self._info.arch,
                                  self._info.pointer_bits)
            if states:
                return states
        states = triage_cpu(self._triage.prcb_copy, self._read, offsets, self._info)
        return [replace(s, processor=replace(s.processor, prcb=self._triage.prcb_va))
                for s in states]

    def _crashed(self) -> int | None:
        if self._triage is None:
            return crashed_index(self.cpus, self._header_regs)
        # In a minidump the crashing CPU is the one whose KPRCB was copied.
        copied = self._triage.prcb_va
        for state in self.cpus:
            if len(self.cpus) == 1 or (copied and state.processor.prcb == copied):
                return state.processor.index
        return crashed_index(self.cpus, self._header_regs)

    @cached_property
    def processors(self) -> list[Processor]:
        crashed = self._crashed()
        hung, problems = hung_check(self._code, self._args, self.cpus)
        if self._triage is None or len(self.cpus) == self._info.processors:
            # A minidump may hold only the crashing CPU: a missing hung CPU is normal there.
            self.anomalies.extend(problems)
        return [replace(s.processor, crashed=s.processor.index == crashed,
                        hung=s.processor.index == hung) for s in self.cpus]

    # -- stack -----------------------------------------------------------------------------

    def crash_registers(self) -> tuple[Registers | None, CpuState | None]:
        crashed = next((s for s, p in zip(self.cpus, self.processors, strict=True)
                        if p.crashed), None)
        if crashed is not None and crashed.registers is not None:
            return crashed.registers, crashed
        return self._header_regs, crashed

    @cached_property
    def stack(self) -> list[Frame]:
        if not self._decodable:
            return []
        regs, cpu = self.crash_registers()
        if regs is None:
            self.anomalies.append(anomaly(
                AnomalyCode.NO_CRASH_CONTEXT, "ContextRecord",
                "no saved registers for the crashing thread: the stack was not walked"))
            return []
        walker = StackWalker(self._read, self.module_map, self._info.pointer_bits)
        return walker.walk(regs, self._bounds(regs, cpu))

    def _bounds(self, regs: Registers, cpu: CpuState | None) -> StackBounds:
        default = self.layout.kernel_stack_size if self.layout else 0x6000
        thread = cpu.processor.thread if cpu else None
        limits = self._thread_stack(thread) if thread else None
        if limits is not None and limits[0] <= regs.sp < limits[1]:
            return StackBounds(regs.sp, limits[1])
        return StackBounds(regs.sp, regs.sp + default)

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
