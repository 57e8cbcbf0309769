"""What a vCPU was doing, from its registers, the code around RIP and its KPRCB.

The states (``model.vcpu.STATES``) and how each is recognised, first match wins
(``../shared/reference/hung-guest-dumps.md`` section 4.2; the byte patterns were checked
there against a real QEMU 7.2 dump of a synthetic guest, section 10):

* ``unknown``: the registers cannot be used (paging off: firmware, or a CPU never
  started; RIP 0), or RIP's code is not in the dump and no KPRCB fact decides.
* ``user``: CPL (CS & 3) is 3.
* ``idle``: the byte just before RIP is F4 (HLT). QEMU saves the RIP *after* the HLT, so
  the test looks behind RIP. With IF = 0 the CPU cannot wake up: the reason says so.
* ``spinning``: a PAUSE (F3 90) within 16 bytes of RIP, followed by a short or near
  backward jump (EB / 7x / E9 / 0F 8x with a negative displacement) that lands at or
  before the PAUSE, with RIP inside that loop: a spinlock, an IPI wait, a stall loop.
* ``dpc``: KPRCB.DpcRoutineActive is non-zero, or RSP is on the KPRCB's DPC stack (DPCs
  run there at DISPATCH_LEVEL), where the KDBG or the build's table gives the offsets.
* ``interrupt``: RSP on the KPRCB's ISR stack (the KDBG's OffsetPrcbIsrStack), or IRQL
  above DISPATCH_LEVEL (2): x86 KPCR.Irql. x64 keeps IRQL in CR8, which QEMU's note does
  not hold, so x64 vCPUs never get this state from IRQL.
* ``kernel_thread``: kernel mode, none of the above.

The lead's hang rules read ``state``, ``if``, ``module``, ``irql`` and ``thread``
(Report.vcpus): these meanings are part of the report contract.
"""

from __future__ import annotations

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.model.record import Record

HLT = 0xF4
PAUSE = b"\xf3\x90"
WINDOW = 16  # bytes read on each side of RIP
DISPATCH_LEVEL = 2
_CR0_PE = 1  # protected mode enabled
_CR0_PG = 1 << 31


class CpuFacts(Record):
    """What the KPRCB/KPCR say about a vCPU (None: not known)."""

    thread: int | None = None
    idle_thread: int | None = None
    irql: int | None = None
    dpc_active: bool | None = None
    on_dpc_stack: bool | None = None  # RSP within KPRCB.DpcStack's stack
    on_isr_stack: bool | None = None  # RSP within KPRCB.IsrStack's stack


class Code(Record):
    """Bytes around RIP: ``before`` ends at RIP, ``after`` starts at it (None: not in the
    dump)."""

    before: bytes | None
    after: bytes | None


def classify(regs: VcpuRegisters, code: Code, facts: CpuFacts) -> tuple[str, str]:
    """(state, reason in words)."""
    if not regs.cr0 & _CR0_PE or not regs.cr0 & _CR0_PG or regs.rip == 0:
        return "unknown", "paging is off or RIP is 0: the vCPU is not running Windows"
    if regs.cpl == 3:
        return "user", "CPL 3 (CS & 3): user mode"
    irq = _interrupts(regs)
    if code.before is not None and code.before[-1:] == bytes([HLT]):
        idle = facts.thread is not None and facts.thread == facts.idle_thread
        who = "in the idle thread" if idle else "not in the idle thread"
        if not regs.interrupts_enabled:
            return "idle", ("halted (HLT F4 before RIP) with interrupts off: it cannot wake "
                            f"up; {who}")
        return "idle", f"halted (HLT F4 before RIP), {who}"
    spin = _pause_loop(code)
    if spin is not None:
        where = f"; {_dpc_or_irql(facts)}" if _dpc_or_irql(facts) else ""
        return "spinning", f"PAUSE loop (F3 90 at RIP{spin:+#x}), {irq}{where}"
    if facts.dpc_active:
        return "dpc", f"KPRCB.DpcRoutineActive is set: running a DPC, {irq}"
    if facts.on_dpc_stack:
        level = f" at IRQL {facts.irql}" if facts.irql is not None else ""
        return "dpc", f"RSP is on the KPRCB's DPC stack: running a DPC{level}, {irq}"
    if facts.on_isr_stack:
        return "interrupt", f"RSP is on the KPRCB's ISR stack, {irq}"
    if facts.irql is not None and facts.irql > DISPATCH_LEVEL:
        return "interrupt", f"IRQL {facts.irql} (above DISPATCH_LEVEL), {irq}"
    if code.before is None and code.after is None:
        return "unknown", "the code at RIP is not in the dump"
    return "kernel_thread", f"kernel mode, no HLT or PAUSE loop at RIP, {irq}"


def _interrupts(regs: VcpuRegisters) -> str:
    return "interrupts on" if regs.interrupts_enabled else "interrupts off (IF=0)"


def _dpc_or_irql(facts: CpuFacts) -> str:
    if facts.dpc_active:
        return "in a DPC (KPRCB.DpcRoutineActive)"
    if facts.on_dpc_stack:
        return "in a DPC (on the DPC stack)"
    if facts.irql is not None and facts.irql >= DISPATCH_LEVEL:
        return f"at IRQL {facts.irql}"
    return ""


def _pause_loop(code: Code) -> int | None:
    """Offset of the PAUSE from RIP when RIP sits in a PAUSE loop, else None."""
    before = code.before or b""
    after = code.after or b""
    window = before + after
    rip = len(before)  # RIP's position in the window
    at = window.find(PAUSE)
    while at >= 0:
        if _jumps_back_to(window, at + 2, at, rip):
            return at - rip
        at = window.find(PAUSE, at + 1)
    return None


def _jumps_back_to(window: bytes, start: int, pause: int, rip: int) -> bool:
    """A backward jump after ``pause`` that lands at or before it, with RIP in the loop."""
    for j in range(start, min(len(window) - 1, start + WINDOW)):
        op = window[j]
        if op == 0xEB or 0x70 <= op <= 0x7F:  # JMP rel8 / Jcc rel8
            size, disp = 2, int.from_bytes(window[j + 1 : j + 2], "little", signed=True)
        elif op == 0xE9 and j + 5 <= len(window):  # JMP rel32
            size, disp = 5, int.from_bytes(window[j + 1 : j + 5], "little", signed=True)
        elif op == 0x0F and j + 6 <= len(window) and 0x80 <= window[j + 1] <= 0x8F:
            size, disp = 6, int.from_bytes(window[j + 2 : j + 6], "little", signed=True)
        else:
            continue
        target = j + size + disp
        if disp < 0 and target <= pause and target <= rip <= j:
            return True
    return False
