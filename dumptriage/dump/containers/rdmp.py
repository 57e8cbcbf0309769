"""RDMP range dumps (DumpType 8, 9 and 0xA), written by newer dbgeng `.dump /k`, `/ka`, `/f`.

Layout (formats/windows_crash_dump.ksy, ``rdmp_header``; dump-format.md section 2.4; the
only source is kdmp-parser, S1, so every fact here is [single] unless said otherwise):

* RDMP_HEADER64 at 0x2000: Marker 0x40, "RDMP", "DUMP", MetadataSize, FirstPageOffset.
  S1 reads it only in DUMP_HEADER64 files; a 32-bit file with these DumpTypes stays a
  header-only dump (containers/__init__.py).
* The metadata starts at 0x2020 and is MetadataSize bytes long: 0x10 bytes (S1's
  __Unknown1/2 for 8 and 9; NumberOfRanges, TotalNumberOfPages for 0xA), then the range
  table at 0x2030. S1's one consistency rule, MetadataSize - 0x20 == FirstPageOffset -
  0x2040, puts the pages right after the metadata, so the table holds at most
  (MetadataSize - 0x10) / 0x10 ranges [inferred; the real 0xA file of kdmp-parser issue
  #27 has MetadataSize 0x70 and six ranges, and the seventh "range" S1 read there was
  page data]. S1 walks MetadataSize bytes from 0x2030, 0x10 past that end; we stop at
  the end of the metadata.
* Ranges {PageFileNumber (a PFN), NumberOfPages} are stored back to back from
  FirstPageOffset in table order, which is exactly a ``RunMap``. S1 stops at a range
  whose PFN is 0, and for 0xA when the pages add up to TotalNumberOfPages (PR #28).

Types 8 and 9 hold the kernel's (and for 9 the user's) pages only, 0xA all of RAM:
absent pages read as PageNotPresent like in a bitmap kernel dump.
"""

from __future__ import annotations

import struct

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.dump.containers.paged import PagedContainer
from dumptriage.dump.memory.physical import PAGE_SHIFT, PAGE_SIZE, Run, RunMap
from dumptriage.errors import DumpFormatError
from dumptriage.formats.windows_crash_dump_flat import (
    RDMP_FULL_METADATA,
    RDMP_HEADER,
    RDMP_RANGE,
)
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

RDMP_MARKER = 0x40  # S1 RDMP_HEADER64::ExpectedMarker
HEADER = "RDMP_HEADER64"
TABLE = "RDMP range table"
# Physical frames above 2^40 (4 PiB) do not exist on any x86 machine (as page_index.py).
MAX_PFN = 1 << 40


class RdmpLayout:
    """The ranges of an RDMP dump, where their pages start and what was odd on the way."""

    def __init__(self, runs: list[Run], first_page: int, anomalies: list[Anomaly]):
        self.runs = runs
        self.index = RunMap(runs, first_page)
        self.data_end = self.index.data_end
        self.anomalies = anomalies


class RdmpDump(PagedContainer):
    kind = "rdmp"

    def __init__(self, file: DumpFile):
        self._layout = rdmp_layout(file)
        super().__init__(file, self._layout.index, self._layout.anomalies)

    def opening_anomalies(self) -> list[Anomaly]:
        return (super().opening_anomalies() + self._file.size_anomalies(self._layout.data_end)
                + self._page_table_anomalies())

    def _page_table_anomalies(self) -> list[Anomaly]:
        # A range dump keeps only the pages its writer chose; without the DTB's page no
        # virtual address can be translated, so say so once instead of per read.
        dtb = self.info.directory_table_base
        if dtb is None or self._layout.index.file_offset(dtb >> PAGE_SHIFT) is not None:
            return []
        return [anomaly(AnomalyCode.PAGE_NOT_PRESENT, "DUMP_HEADER DirectoryTableBase",
                        f"the page of DirectoryTableBase {dtb:#x} is not in any RDMP range: "
                        "no virtual address can be translated; physical pages still read")]


def rdmp_layout(file: DumpFile) -> RdmpLayout:
    """Read and check the RDMP header, its metadata and range table (DumpType 8-0xA)."""
    path, data, base = str(file.path), file.data, file.len_header
    if len(data) < base + flat_size(RDMP_HEADER) + flat_size(RDMP_FULL_METADATA):
        raise DumpFormatError(path, HEADER, base,
                              f"the file ends at {len(data):#x}, inside the RDMP header")
    h = read_flat(RDMP_HEADER, data, base)
    _check_magic(path, base, h.marker, bytes(h.signature), bytes(h.valid_dump))
    room = _table_room(path, base, int(h.len_metadata), int(h.ofs_first_page), len(data))
    table_at = base + h.ofs_ranges
    if file.dump_type != 0xA:
        runs, anomalies = _read_ranges(path, data, table_at, room, None)
    else:
        # Only 0xA's 0x10 metadata bytes are known (S1 FULL_RDMP_HEADER64).
        meta = read_flat(RDMP_FULL_METADATA, data, base + h.ofs_metadata)
        num_ranges, total = int(meta.num_ranges), int(meta.num_pages)
        if num_ranges > room:
            raise DumpFormatError(path, HEADER, base + h.ofs_metadata,
                                  f"NumberOfRanges {num_ranges} is more than the {room} "
                                  "ranges MetadataSize has room for")
        runs, anomalies = _read_ranges(path, data, table_at, room, total)
        anomalies += _complete_anomalies(base, runs, num_ranges, total)
    _check_overlaps(path, table_at, runs)
    layout = RdmpLayout(runs, int(h.ofs_first_page), anomalies)
    _check_truncation(layout, len(data), file.dump_type)
    return layout


def _check_magic(path: str, base: int, marker: int, signature: bytes, valid: bytes) -> None:
    if marker != RDMP_MARKER:
        raise DumpFormatError(path, HEADER, base, f"Marker {marker:#x} is not 0x40")
    if signature != b"RDMP":
        raise DumpFormatError(path, HEADER, base + 4, f"Signature {signature!r} is not 'RDMP'")
    if valid != b"DUMP":
        raise DumpFormatError(path, HEADER, base + 8, f"ValidDump {valid!r} is not 'DUMP'")


def _table_room(path: str, base: int, metadata: int, first_page: int, file_size: int) -> int:
    """How many ranges the metadata has room for, after checking it against the file."""
    prefix = flat_size(RDMP_FULL_METADATA)  # the 0x10 bytes before the table
    if metadata < prefix or metadata % flat_size(RDMP_RANGE):
        raise DumpFormatError(path, HEADER, base + 0x10,
                              f"MetadataSize {metadata:#x} is not 0x10 bytes plus whole "
                              "0x10-byte ranges")
    # S1's rule: MetadataSize - 0x20 == FirstPageOffset - 0x2040.
    metadata_at = base + flat_size(RDMP_HEADER)
    if first_page != metadata_at + metadata:
        raise DumpFormatError(path, HEADER, base + 0x18,
                              f"FirstPageOffset {first_page:#x} is not where the "
                              f"{metadata:#x} bytes of metadata from {metadata_at:#x} end")
    if first_page > file_size:
        raise DumpFormatError(path, TABLE, metadata_at + prefix,
                              f"the range table runs to {first_page:#x} but the file ends "
                              f"at {file_size:#x}")
    return (metadata - prefix) // flat_size(RDMP_RANGE)


def _read_ranges(path: str, data: memoryview, table_at: int, room: int,
                 total: int | None) -> tuple[list[Run], list[Anomaly]]:
    """The ranges up to S1's stops: a PFN 0, the table's end, or (0xA) the page total."""
    runs: list[Run] = []
    anomalies: list[Anomaly] = []
    size = flat_size(RDMP_RANGE)
    pages = 0
    table = data[table_at : table_at + room * size]
    for i, (pfn, count) in enumerate(struct.iter_unpack(RDMP_RANGE[0], table)):
        if total is not None and pages == total:
            break
        at = table_at + i * size
        if pfn == 0:
            if count:
                anomalies.append(anomaly(
                    AnomalyCode.HEADER_INCONSISTENT, f"{TABLE} at {at:#x}",
                    f"a range of {count} pages at PFN 0 ends the table (kdmp-parser stops "
                    "there too); it and any range after it are not read"))
            break
        if pfn + count > MAX_PFN:
            raise DumpFormatError(path, TABLE, at,
                                  f"range at PFN {pfn:#x} of {count:#x} pages goes beyond "
                                  "any physical address space")
        if count:
            runs.append(Run(pfn, count))
            pages += count
    table.release()
    return runs, anomalies


def _complete_anomalies(base: int, runs: list[Run], num_ranges: int,
                        total: int) -> list[Anomaly]:
    where = f"{HEADER} at {base:#x}"
    pages = sum(r.page_count for r in runs)
    found: list[Anomaly] = []
    if pages != total:
        found.append(anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                             f"TotalNumberOfPages is {total} but the ranges add up to {pages}"))
    if len(runs) != num_ranges:
        found.append(anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                             f"NumberOfRanges is {num_ranges} but the table has {len(runs)} "
                             "ranges before it ends"))
    return found


def _check_overlaps(path: str, table_at: int, runs: list[Run]) -> None:
    end = -1
    for run in sorted(runs, key=lambda r: r.base_page):
        if run.base_page < end:
            raise DumpFormatError(path, TABLE, table_at,
                                  f"range at PFN {run.base_page:#x} overlaps another range")
        end = run.base_page + run.page_count


def _check_truncation(layout: RdmpLayout, file_size: int, dump_type: int) -> None:
    if layout.data_end <= file_size:
        return
    missing = (layout.data_end - file_size + PAGE_SIZE - 1) // PAGE_SIZE
    layout.anomalies.append(anomaly(
        AnomalyCode.DUMP_TRUNCATED, f"DumpType {dump_type} page data",
        f"the file is {file_size:#x} bytes but its pages run to {layout.data_end:#x}: "
        f"the last {missing} pages are missing; earlier pages are still read"))
