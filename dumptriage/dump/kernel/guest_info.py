"""What discovery adds to a vmcore's report: header-like facts, the kernel as a module
when no module list was found, and one Processor per vCPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dumptriage.dump.containers.header import PRODUCT_TYPES, suite_names
from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel.discovery import Discovery
from dumptriage.dump.kernel.kernel_image import export_name
from dumptriage.dump.kernel.pe_image import PeImage
from dumptriage.dump.kernel.processors import CpuState
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.memory.paging import PagingMode
from dumptriage.model.dump import DumpInfo, Module, Processor
from dumptriage.model.record import replace
from dumptriage.model.vcpu import Vcpu

ReadBytes = Callable[[int, int], bytes | None]


def completed_info(info: DumpInfo, found: Discovery) -> DumpInfo:
    """The container's facts, with what it did not know filled from discovery."""
    os_ = info.os
    if not os_.build and found.build:
        os_ = replace(os_, build=found.build)
    if os_.product_type is None and found.product_type is not None:
        suites = suite_names(found.suite_mask) if found.suite_mask is not None else ()
        os_ = replace(os_, product_type=PRODUCT_TYPES.get(found.product_type),
                      suite_mask=found.suite_mask, suites=suites)
    root = found.root
    # The root that maps kernel memory beats the container's guess (vCPU 0's CR3, which
    # is a user root under KVA shadow when vCPU 0 was in user mode).
    dtb = root.dtb if root is not None and root.verified else \
        info.directory_table_base or (root.dtb if root else None)
    pae = info.pae
    if pae is None and info.arch == "x86" and root is not None:
        pae = root.mode is PagingMode.X86_PAE
    return replace(
        info, os=os_, pae=pae,
        kernel_base=info.kernel_base or (found.kernel.base if found.kernel else None),
        ps_loaded_module_list=info.ps_loaded_module_list or found.ps_loaded_module_list,
        directory_table_base=dtb,
        kd_debugger_data_block=info.kd_debugger_data_block or (
            found.kdbg.va if found.kdbg is not None else None),
        kernel_image_key=info.kernel_image_key or found.image_key)


def kernel_module(read: ReadBytes, image: PeImage) -> Module:
    """The kernel as a module, named by its export directory (the file it was linked as)."""
    name = export_name(read, image) or "ntoskrnl.exe"
    return Module(name=name, base=image.base, size=image.size_of_image,
                  timestamp=image.timestamp or None, checksum=image.checksum, path=None)


def vcpu_processors(registers: Sequence[VcpuRegisters], vcpus: Sequence[Vcpu]
                    ) -> list[CpuState]:
    """One processor per vCPU: its KPRCB and thread, registers from the dump's note."""
    states = []
    for regs, vcpu in zip(registers, vcpus, strict=True):
        processor = Processor(index=regs.index, prcb=vcpu.prcb, thread=vcpu.thread,
                              ip=regs.rip, sp=regs.rsp, fp=regs.rbp,
                              context_source=f"vCPU registers ({regs.source})")
        states.append(CpuState(processor, Registers(ip=regs.rip, sp=regs.rsp, fp=regs.rbp,
                                                    flags=0)))
    return states
