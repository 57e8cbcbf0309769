"""Dumps whose memory dumptriage does not read: header-only (DumpType 3), DumpType 7, and
encrypted dumps (DUMP_FILE_ATTRIBUTES bit 8). The header facts are complete; there is no
memory, so no kernel state is offered.
"""

from __future__ import annotations

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.offer import KernelOffer
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly


class HeaderOnlyDump:
    kind = "header_only"

    def __init__(self, file: DumpFile):
        self._file = file
        self.path = file.path
        self.info = file.info
        self.bugcheck = file.bugcheck
        if file.encrypted:
            self._anomalies = [anomaly(AnomalyCode.DUMP_ENCRYPTED, "DUMP_HEADER Attributes",
                                       "page data is encrypted; only the header is read")]
        else:
            unread = anomaly(
                AnomalyCode.DUMP_TYPE_NOT_SUPPORTED, f"DumpType {self.info.dump_type_code}",
                f"{self.info.dump_type} dumps are recognised but their memory is not read "
                "yet; the header facts above are complete")
            self._anomalies = [*file.arch_anomalies(), unread]

    @property
    def physical(self) -> PhysicalMemory | None:
        return None

    def opening_anomalies(self) -> list[Anomaly]:
        return list(self._anomalies)

    def kernel_offer(self) -> KernelOffer:
        return KernelOffer(memory=None, kdbg=None,
                           header_registers=self._file.header_registers())

    def close(self) -> None:
        self._file.close()
