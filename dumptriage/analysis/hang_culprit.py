"""'Probably caused by' for a hung guest's vmcore: no bugcheck, so the vCPUs are the evidence.

``../shared/reference/hung-guest-dumps.md`` section 4.3/4.4: blame a non-inbox driver whose
code a busy vCPU runs (spinning on a PAUSE loop, in a DPC, in an interrupt), or whose
frames sit on top of that vCPU's stack. Busy vCPUs are taken in this order: interrupts off
first (such a vCPU cannot take the clock or IPI interrupt, the 0x101-style hang), then
spinning, DPC, interrupt; within a vCPU, RIP's module first, then its trusted frames
(context, unwind, frame pointer) in order. The knowledge base's hang rules draw their own
conclusions from the same ``vcpus``; this is only the report's one-line blame.
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.analysis.culprit import blame
from dumptriage.model.dump import Module
from dumptriage.model.report import Culprit
from dumptriage.model.vcpu import Vcpu

BUSY = ("spinning", "dpc", "interrupt")
TRUSTED = ("context", "unwind", "frame_pointer")
_DOING = {"spinning": "spinning on a PAUSE loop", "dpc": "running a DPC",
          "interrupt": "in an interrupt"}


def hang_culprit(vcpus: Sequence[Vcpu], modules: Sequence[Module]) -> Culprit | None:
    by_name = {m.name.lower(): m for m in modules}
    busy = sorted((v for v in vcpus if v.state in BUSY),
                  key=lambda v: (v.interrupts_enabled, BUSY.index(v.state), v.index))
    for vcpu in busy:
        suspects: list[Module] = []
        names = [vcpu.module, *(f.module for f in vcpu.stack if f.method in TRUSTED)]
        for name in names:
            module = by_name.get(name.lower()) if name else None
            if module is not None and module.module_class != "inbox" and module not in suspects:
                suspects.append(module)
        irq = "with interrupts off" if not vcpu.interrupts_enabled else "with interrupts on"
        where = f"on the stack of vCPU {vcpu.index}, which is {_DOING[vcpu.state]} {irq}"
        found = blame([(m.name, m.module_class, m.vendor) for m in suspects], where)
        if found is not None:
            return found
    return None
