"""What every container with physical pages and page tables shares (full, bitmap, RDMP).

Each such container builds its own page index; from there on, virtual memory goes
through the header's DirectoryTableBase and the KDBG is found in memory.
"""

from __future__ import annotations

from functools import cached_property

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.errors import PageNotPresent

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from dumptriage.dump.containers.offer import KernelOffer
    from dumptriage.dump.memory.physical import PageIndex
    from dumptriage.dump.memory.virtual import PagedMemory
    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.header import DumpInfo


class PagedContainer:
    """Base of the containers that hold physical pages: subclasses set ``_index``."""

    kind = "paged"

    def __init__(self, file: DumpFile, index: PageIndex, anomalies: list[Anomaly]):
        self._file = file
        self.path = file.path
        self.bugcheck = file.bugcheck
        self._anomalies = file.arch_anomalies() + anomalies
        self._physical = PhysicalMemory(file.data, index, file.file.fileno())

    @property
    def info(self) -> DumpInfo:
        return self._file.info

    @property
    def physical(self) -> PhysicalMemory | None:
        return self._physical

    def opening_anomalies(self) -> list[Anomaly]:
        return list(self._anomalies)

    @cached_property
    def memory(self) -> PagedMemory:
        from dumptriage.dump.memory.virtual import paged_memory

        return paged_memory(self._physical, self.info)

    def kernel_offer(self) -> KernelOffer:
        return self._offer

    @cached_property
    def _offer(self) -> KernelOffer:
        from dumptriage.dump.containers.offer import KernelOffer
        from dumptriage.dump.kernel.kdbg import search_kdbg
        from dumptriage.model.anomaly import AnomalyCode, anomaly

        kdbg = search_kdbg(self._read_or_none, self.info.kd_debugger_data_block,
                           self.bugcheck.args[0], self.info.pointer_bits)
        found = [] if kdbg is not None else [anomaly(
            AnomalyCode.KDBG_UNAVAILABLE, "KdDebuggerDataBlock",
            "no readable 'KDBG' block at KdDebuggerDataBlock or BugCheckParameter1 "
            "(encoded, or its page is not in the dump)")]
        return KernelOffer(memory=self.memory, kdbg=kdbg,
                           header_registers=self._file.header_registers(), anomalies=tuple(found))

    def _read_or_none(self, va: int, size: int) -> bytes | None:
        try:
            return self.memory.read(va, size)
        except PageNotPresent:
            return None

    def close(self) -> None:
        release = getattr(self._physical.index, "release", None)
        if release is not None:
            release()
        self._file.close()
