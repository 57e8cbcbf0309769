"""Full memory dumps (DumpType 1): physical memory as runs listed in the header.

The runs are the header's PHYSICAL_MEMORY_DESCRIPTOR (dump-format.md section 1); page
data follows the header in run order.
"""

from __future__ import annotations

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.page_index import Layout, runs_layout
from dumptriage.dump.containers.paged import PagedContainer
from dumptriage.model.anomaly import Anomaly


class FullDump(PagedContainer):
    kind = "full"

    def __init__(self, file: DumpFile):
        self._layout: Layout = runs_layout(file)
        super().__init__(file, self._layout.index, self._layout.anomalies)

    def opening_anomalies(self) -> list[Anomaly]:
        # RequiredDumpSpace is compared only now, with the banner facts (built lazily).
        return super().opening_anomalies() + self._file.size_anomalies(self._layout.data_end)
