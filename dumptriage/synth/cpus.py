"""Per-processor state: KiProcessorBlock, one KPRCB per CPU, its thread, stack and CONTEXT.

Two layouts. Without DumpSpec.cpus (legacy, kept byte-identical for the old presets):
KPRCB.Context points at the embedded ProcessorState.ContextFrame and only CPU 0's thread
gets InitialStack. With DumpSpec.cpus: each CPU's thread gets InitialStack, StackLimit
and StackBase, its own stack, the CONTEXT in the embedded frame AND in a separate pool
CONTEXT that KPRCB.Context points at (as in the real Win10 minidump, dump-format.md §12.1:
"the pointer = 0xffff9b00021ff340", outside the KPRCB).
"""

from __future__ import annotations

from construct import Int32ul

from dumptriage.synth.headers import Registers
from dumptriage.synth.kernel import KernelAddresses, KernelWriter, Pool
from dumptriage.synth.manifest import BuiltCpu
from dumptriage.synth.spec import CpuSpec, StackSpec


def write_legacy(kw: KernelWriter, a: KernelAddresses, pool: Pool,
                 stack: StackSpec) -> tuple[BuiltCpu, ...]:
    """The original layout: one context per KPRCB, Context -> ContextFrame."""
    o = kw.offsets
    regs = Registers(ip=stack.ip, sp=stack.sp, bp=stack.bp)
    threads = tuple(pool.alloc(o.size_ethread) for _ in a.prcb_vas)
    all_regs = tuple(regs if i == 0 else Registers(stack.ip, 0, 0) for i in range(len(threads)))
    kw.write_prcbs(a, tuple(kw.context(r) for r in all_regs), threads)
    kw.write_thread(threads[0], stack.high)
    kw.write_stack(stack)
    return tuple(
        BuiltCpu(index=i, prcb=prcb, thread=threads[i], ip=r.ip, sp=r.sp, bp=r.bp,
                 context_va=prcb + o.prcb_proc_state_context,
                 frame_va=prcb + o.prcb_proc_state_context,
                 initial_stack=stack.high if i == 0 else None, stack_limit=None,
                 stack_base=None, crashed=i == 0)
        for i, (prcb, r) in enumerate(zip(a.prcb_vas, all_regs, strict=True)))


def write_cpus(kw: KernelWriter, a: KernelAddresses, pool: Pool, cpus: tuple[CpuSpec, ...],
               crash: StackSpec) -> tuple[BuiltCpu, ...]:
    if len(cpus) != len(a.prcb_vas):
        raise ValueError("cpus needs one CpuSpec per processor")
    threads = tuple(pool.alloc(kw.offsets.size_ethread) for _ in a.prcb_vas)
    return tuple(_write_cpu(kw, a, pool, i, cpu, threads[i], crash)
                 for i, cpu in enumerate(cpus))


def _write_cpu(kw: KernelWriter, a: KernelAddresses, pool: Pool, i: int, cpu: CpuSpec,
               thread: int, crash: StackSpec) -> BuiltCpu:
    o = kw.offsets
    prcb = a.prcb_vas[i]
    stack = cpu.stack if cpu.stack is not None else (crash if i == 0 else None)
    regs = (Registers(stack.ip, stack.sp, stack.bp) if stack is not None
            else Registers(crash.ip, 0, 0))
    ctx = kw.context(regs)
    kw.put_ptr(a.ki_processor_block + i * kw.ptr.sizeof(), prcb)
    kw.put_ptr(prcb + o.prcb_current_thread, thread)
    kw.vm.write(prcb + o.prcb_number, Int32ul.build(i))
    frame = prcb + o.prcb_proc_state_context
    kw.vm.write(frame, ctx if cpu.context_frame else bytes(len(ctx)))
    context_va = pool.alloc(len(ctx)) if cpu.context_pointer else None
    if context_va is not None:
        kw.vm.write(context_va, ctx)
    kw.put_ptr(prcb + o.prcb_context, context_va or 0)
    bounds = _write_thread_stack(kw, thread, stack)
    return BuiltCpu(index=i, prcb=prcb, thread=thread, ip=regs.ip, sp=regs.sp, bp=regs.bp,
                    context_va=context_va, frame_va=frame if cpu.context_frame else None,
                    initial_stack=bounds[0], stack_limit=bounds[1], stack_base=bounds[2],
                    crashed=i == 0)


def _write_thread_stack(kw: KernelWriter, thread: int, stack: StackSpec | None
                        ) -> tuple[int | None, int | None, int | None]:
    """KTHREAD InitialStack/StackLimit/StackBase (kernel_tables offsets) and the stack."""
    o = kw.offsets
    if stack is None:
        kw.vm.write(thread, bytes(8))  # the KTHREAD exists (zeroed) even without a stack
        return None, None, None
    initial = stack.high - o.initial_stack_gap
    kw.put_ptr(thread + o.kthread_initial_stack, initial)
    kw.put_ptr(thread + o.kthread_stack_limit, stack.low)
    kw.put_ptr(thread + o.kthread_stack_base, stack.high)
    kw.write_stack(stack)
    return initial, stack.low, stack.high
