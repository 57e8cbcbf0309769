"""One ``model.vcpu.Vcpu`` per vCPU of a host-side memory dump: where, what, on which
thread, and the stack from its own registers.

The KPRCB fields (CurrentThread, IdleThread, DpcRoutineActive) come from the per-build
table (layouts/kernel.toml); the state from vcpu_state.py; the stack from stack.py's
walker started at the vCPU's RIP/RSP/RBP: .pdata unwinding on x64 where the image's
exception directory is in memory, the EBP chain and a scan on x86. A user-mode vCPU's
stack is not walked (its frames would be user code, with no module list for it).
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel.kpcr import GuestCpu
from dumptriage.dump.kernel.layouts import KernelLayout
from dumptriage.dump.kernel.modules import ModuleMap, read_pointer
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker
from dumptriage.dump.kernel.vcpu_state import WINDOW, Code, CpuFacts, classify
from dumptriage.model.dump import Frame
from dumptriage.model.vcpu import Vcpu

ReadBytes = Callable[[int, int], bytes | None]
Bounds = Callable[[int, int | None], StackBounds]  # (rsp, thread) -> the stack to walk

# A report row per vCPU, not a full backtrace: the first frames say what it runs.
MAX_VCPU_FRAMES = 32


def kprcb_facts(read: ReadBytes, cpu: GuestCpu | None, layout: KernelLayout | None,
                bits: int) -> CpuFacts:
    if cpu is None or cpu.prcb is None or layout is None:
        return CpuFacts(irql=cpu.irql if cpu else None)
    prcb = cpu.prcb
    thread = read_pointer(read, prcb + layout.prcb_current_thread, bits)
    idle = (read_pointer(read, prcb + layout.prcb_idle_thread, bits)
            if layout.prcb_idle_thread is not None else None)
    dpc = None
    if layout.prcb_dpc_routine_active is not None:
        blob = read(prcb + layout.prcb_dpc_routine_active, 1)
        dpc = bool(blob[0]) if blob else None
    return CpuFacts(thread=thread or None, idle_thread=idle or None, irql=cpu.irql,
                    dpc_active=dpc)


def code_around(read: ReadBytes, rip: int) -> Code:
    before = read(rip - WINDOW, WINDOW) if rip >= WINDOW else None
    return Code(before=before, after=read(rip, WINDOW))


def vcpu_record(regs: VcpuRegisters, cpu: GuestCpu | None, read: ReadBytes,
                layout: KernelLayout | None, modules: ModuleMap, walker: StackWalker,
                bounds: Bounds, bits: int) -> Vcpu:
    facts = kprcb_facts(read, cpu, layout, bits)
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
