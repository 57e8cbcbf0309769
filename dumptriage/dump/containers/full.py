"""Full memory dumps (DumpType 1): physical memory as runs listed in the header.

The runs are the header's PHYSICAL_MEMORY_DESCRIPTOR (dump-format.md section 1); page
data follows the header in run order.
"""

from __future__ import annotations

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.page_index import runs_layout
from dumptriage.dump.containers.paged import PagedContainer


class FullDump(PagedContainer):
    kind = "full"

    def __init__(self, file: DumpFile):
        layout = runs_layout(str(file.path), file.raw, len(file.data))
        super().__init__(file, layout.index,
                         layout.anomalies + file.size_anomalies(layout.data_end))
