"""What a container offers to kernel-state code (see protocol.py): plain records, kept out
of protocol.py so that building them does not import ``typing``'s Protocol machinery."""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.dump.containers.protocol import VirtualMemory
    from dumptriage.dump.containers.vcpu import VcpuRegisters
    from dumptriage.dump.kernel.kdbg import Kdbg
    from dumptriage.dump.kernel.registers import Registers
    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.dump import Module, UnloadedModule


class PrcbCopy(Record):
    """The crashing CPU's KPRCB as a minidump writer copied it, and where it lived."""

    data: bytes
    va: int | None


class KernelOffer(Record):
    """What kernel state a container can offer; absent parts are None.

    ``listed_modules``/``listed_unloaded``: the container lists them itself (a minidump's
    driver tables) instead of leaving PsLoadedModuleList/MmUnloadedDrivers to be walked.
    ``prcb_copy``: the crashing CPU's KPRCB when the processor array may be incomplete.
    ``partial_cpus``: a KiProcessorBlock walk may stop early without that being odd.
    ``vcpus``: per-vCPU registers a host-side dump (QEMU vmcore) saved; empty otherwise.
    """

    memory: VirtualMemory | None
    kdbg: Kdbg | None
    header_registers: Registers | None
    listed_modules: list[Module] | None = None
    listed_unloaded: list[UnloadedModule] | None = None
    prcb_copy: PrcbCopy | None = None
    partial_cpus: bool = False
    vcpus: tuple[VcpuRegisters, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
