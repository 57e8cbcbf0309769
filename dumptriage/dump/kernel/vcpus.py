"""One ``model.vcpu.Vcpu`` per vCPU of a host-side memory dump: where, what, on which
thread, and the stack from its own registers.

The KPRCB fields (CurrentThread, IdleThread, DpcRoutineActive, DpcStack, IsrStack) come
from the KDBG's own offsets when a KDBG was found or decoded, else the per-build table
(layouts/kernel.toml); the state from vcpu_state.py; the stack from stack.py's
walker started at the vCPU's RIP/RSP/RBP: .pdata unwinding on x64 where the image's
exception directory is in memory, the EBP chain and a scan on x86. A user-mode vCPU's
stack is not walked (its frames would be user code, with no module list for it).
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel.kdbg import Kdbg
from dumptriage.dump.kernel.kpcr import GuestCpu
from dumptriage.dump.kernel.layouts import KernelLayout
from dumptriage.dump.kernel.modules import ModuleMap, read_pointer
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker
from dumptriage.dump.kernel.vcpu_state import WINDOW, Code, CpuFacts, classify
from dumptriage.model.dump import Frame
from dumptriage.model.record import Record
from dumptriage.model.vcpu import Vcpu

ReadBytes = Callable[[int, int], bytes | None]
Bounds = Callable[[int, int | None], StackBounds]  # (rsp, thread) -> the stack to walk

# A report row per vCPU, not a full backtrace: the first frames say what it runs.
MAX_VCPU_FRAMES = 32


class PrcbFields(Record):
    """Where the KPRCB fields a vCPU's state needs are (None: not known for this build)."""

    current_thread: int | None
    idle_thread: int | None
    dpc_routine_active: int | None
    dpc_stack: int | None = None
    isr_stack: int | None = None
    stack_size: int = 0x6000  # the DPC/ISR stacks are kernel stacks of the usual size

    @classmethod
    def of(cls, kdbg: Kdbg | None, layout: KernelLayout | None) -> PrcbFields:
        """The KDBG's offsets win over the table's (as for crash dumps, processors.py)."""
        def pick(from_kdbg: int | None, from_table: int | None) -> int | None:
            return from_kdbg if from_kdbg else from_table

        return cls(
            current_thread=pick(kdbg.offset_prcb_current_thread if kdbg else None,
                                layout.prcb_current_thread if layout else None),
            idle_thread=pick(kdbg.offset_prcb_idle_thread if kdbg else None,
                             layout.prcb_idle_thread if layout else None),
            dpc_routine_active=pick(kdbg.offset_prcb_dpc_routine if kdbg else None,
                                    layout.prcb_dpc_routine_active if layout else None),
            dpc_stack=pick(kdbg.offset_prcb_dpc_stack if kdbg else None,
                           layout.prcb_dpc_stack if layout else None),
            isr_stack=kdbg.offset_prcb_isr_stack or None if kdbg else None,
            stack_size=layout.kernel_stack_size if layout else 0x6000)


def _on_stack(read: ReadBytes, prcb: int, at: int | None, size: int, sp: int,
              bits: int) -> bool | None:
    """RSP within the stack whose initial stack pointer the KPRCB holds at ``at``."""
    if at is None:
        return None
    top = read_pointer(read, prcb + at, bits)
    if not top:
        return None
    return top - size <= sp < top


def kprcb_facts(read: ReadBytes, cpu: GuestCpu | None, fields: PrcbFields,
                bits: int, sp: int = 0) -> CpuFacts:
    if cpu is None or cpu.prcb is None:
        return CpuFacts(irql=cpu.irql if cpu else None)
    prcb = cpu.prcb
    thread = (read_pointer(read, prcb + fields.current_thread, bits)
              if fields.current_thread is not None else None)
    idle = (read_pointer(read, prcb + fields.idle_thread, bits)
            if fields.idle_thread is not None else None)
    dpc = None
    if fields.dpc_routine_active is not None:
        blob = read(prcb + fields.dpc_routine_active, 1)
        dpc = bool(blob[0]) if blob else None
    return CpuFacts(thread=thread or None, idle_thread=idle or None, irql=cpu.irql,
                    dpc_active=dpc,
                    on_dpc_stack=_on_stack(read, prcb, fields.dpc_stack, fields.stack_size,
                                           sp, bits),
                    on_isr_stack=_on_stack(read, prcb, fields.isr_stack, fields.stack_size,
                                           sp, bits))


def code_around(read: ReadBytes, rip: int) -> Code:
    before = read(rip - WINDOW, WINDOW) if rip >= WINDOW else None
    return Code(before=before, after=read(rip, WINDOW))


def vcpu_record(regs: VcpuRegisters, cpu: GuestCpu | None, read: ReadBytes,
                fields: PrcbFields, modules: ModuleMap, walker: StackWalker,
                bounds: Bounds, bits: int) -> Vcpu:
    facts = kprcb_facts(read, cpu, fields, bits, regs.rsp)
    state, reason = classify(regs, code_around(read, regs.rip), facts)
    module = modules.find(regs.rip)
    stack: tuple[Frame, ...] = ()
    if state not in ("user", "unknown") or (state == "unknown" and module is not None):
        start = Registers(ip=regs.rip, sp=regs.rsp, fp=regs.rbp, flags=0)
        stack = tuple(walker.walk(start, bounds(regs.rsp, facts.thread))[:MAX_VCPU_FRAMES])
    return Vcpu(
        index=regs.index, rip=regs.rip, rsp=regs.rsp, cr3=regs.cr3,
        interrupts_enabled=regs.interrupts_enabled, state=state,
        module=module.name if module else None,
        offset=regs.rip - module.base if module else None,
        thread=facts.thread, irql=facts.irql,
        kpcr=cpu.kpcr if cpu else None, prcb=cpu.prcb if cpu else None,
        reason=reason, stack=stack)
