"""What each virtual CPU of a hung guest was doing, as a host-side memory dump shows it.

One ``Vcpu`` per vCPU note of a QEMU vmcore (``Report.vcpus``, beside ``processors``).
The JSON keys are the documented contract (schema/report-v1.schema.json, ``vcpus``);
``interrupts_enabled`` is written as ``"if"``, the RFLAGS bit's own name.

``state`` is one of STATES. What each means and how it is recognised is documented where
it is decided (dumptriage/dump/kernel/vcpu_state.py) after
``../shared/reference/hung-guest-dumps.md`` section 4.2.
"""

from __future__ import annotations

from dumptriage.model.header import hex_addr
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.model.dump import Frame

STATES = (
    "idle",           # halted (HLT) in the kernel's idle loop: nothing to run
    "spinning",       # a PAUSE loop: waiting for a lock, an IPI answer, or another CPU
    "dpc",            # running a DPC (KPRCB DpcRoutineActive) at DISPATCH_LEVEL
    "interrupt",      # in an interrupt service routine (IRQL above DISPATCH_LEVEL)
    "kernel_thread",  # kernel mode, none of the above
    "user",           # user mode (CPL 3)
    "unknown",        # registers unusable or memory missing
)


class Vcpu(Record):
    """One vCPU: where it was, in what state, on which thread, and its stack."""

    index: int
    rip: int
    rsp: int
    cr3: int
    interrupts_enabled: bool
    state: str  # one of STATES
    module: str | None  # image holding RIP (None: outside every known module)
    offset: int | None  # RIP - module base
    thread: int | None = None  # KPRCB CurrentThread (ETHREAD address); None: no valid KPCR
    # x86: KPCR.Irql. x64: None, always (IRQL is CR8, which QEMU's note does not save).
    irql: int | None = None
    kpcr: int | None = None
    prcb: int | None = None
    reason: str = ""  # why ``state`` was chosen, in words (e.g. "F3 90 loop at RIP")
    stack: tuple[Frame, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rip": hex_addr(self.rip),
            "rsp": hex_addr(self.rsp),
            "cr3": hex_addr(self.cr3),
            "if": self.interrupts_enabled,
            "state": self.state,
            "reason": self.reason,
            "module": self.module,
            "offset": hex_addr(self.offset),
            "thread": hex_addr(self.thread),
            "irql": self.irql,
            "kpcr": hex_addr(self.kpcr),
            "prcb": hex_addr(self.prcb),
            "stack": [f.to_dict() for f in self.stack],
        }
