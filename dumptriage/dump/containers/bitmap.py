"""Kernel summary dumps (DumpType 2) and bitmap dumps (DumpType 5 and 6).

Both keep a PFN bitmap after the header: Windows 7 and older write SUMMARY_DUMP ("SDMP"
at 0x1000/0x2000), Windows 8 and later the BMP header ("SDMP" kernel/automatic/active,
"FDMP" full) (dump-format.md sections 2 and 3). Page data follows in PFN order.
"""

from __future__ import annotations

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.page_index import Layout, bitmap_layout
from dumptriage.dump.containers.paged import PagedContainer
from dumptriage.model.anomaly import Anomaly


class BitmapDump(PagedContainer):
    kind = "bitmap"

    def __init__(self, file: DumpFile):
        self._layout: Layout = bitmap_layout(file)
        super().__init__(file, self._layout.index, self._layout.anomalies)

    def opening_anomalies(self) -> list[Anomaly]:
        # The popcount is checked only now (the rank index is built lazily), so that
        # opening a dump for its header stays cheap; the list is the same either way.
        return (super().opening_anomalies() + self._file.size_anomalies(self._layout.data_end)
                + self._layout.popcount_anomalies())
