"""Build the physical page index that a DumpType calls for, checking every count.

Counts read from the file are never trusted: each one is checked against the room the
structure has (the header buffer, the file) before anything is sized by it. A structure
that cannot be what it claims is a ``DumpFormatError``; data that is merely cut short
(a truncated copy of MEMORY.DMP) is an anomaly, and every page still in the file stays
readable.
"""

from __future__ import annotations

import struct

import kaitaistruct

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.dump.containers.header import is_absent
from dumptriage.dump.memory.physical import PAGE_SIZE, BitmapMap, Run, RunMap
from dumptriage.errors import DumpFormatError
from dumptriage.formats.windows_crash_dump_flat import (
    BITMAP_DUMP,
    PHYSICAL_MEMORY_DESCRIPTOR32,
    PHYSICAL_MEMORY_DESCRIPTOR64,
    PHYSICAL_MEMORY_RUN32,
    PHYSICAL_MEMORY_RUN64,
)
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.dump.memory.physical import PageIndex

# Physical frames above 2^40 (4 PiB) do not exist on any x86 machine (MAXPHYADDR <= 52).
MAX_PFN = 1 << 40

# Room for runs in the header's PhysicalMemoryBlockBuffer (dump-format.md section 1):
# 32-bit: 700 bytes, 8-byte header, 8-byte runs -> 86; 64-bit: 0x2C0 bytes, 16-byte
# header, 16-byte runs -> 43 (QEMU declares Run[43]; KB2510168 quotes 42 for Windows).
MAX_RUNS = {False: (700 - 8) // 8, True: (0x2C0 - 0x10) // 0x10}
RUNS_OFFSET = {False: 0x64, True: 0x88}
DESCRIPTOR = {False: PHYSICAL_MEMORY_DESCRIPTOR32, True: PHYSICAL_MEMORY_DESCRIPTOR64}
RUN = {False: PHYSICAL_MEMORY_RUN32, True: PHYSICAL_MEMORY_RUN64}


class Layout:
    """The page index of a dump plus what was learnt while building it.

    A bitmap's rank index is built on first use, so until then the header's page count
    (``claimed_pages``) stands in for the popcount; ``popcount_anomalies`` compares them.
    """

    def __init__(self, index: PageIndex, data_end: int | None, *,
                 claimed_pages: int | None = None, where: str = ""):
        self.index = index
        self.data_end = data_end
        self.anomalies: list[Anomaly] = []
        self.claimed_pages = claimed_pages
        self.where = where

    def popcount_anomalies(self) -> list[Anomaly]:
        if self.claimed_pages is None or self.index.page_count == self.claimed_pages:
            return []
        return [anomaly(AnomalyCode.HEADER_INCONSISTENT, self.where,
                        f"header says {self.claimed_pages} pages are present but the bitmap "
                        f"has {self.index.page_count} bits set")]


def runs_layout(file: DumpFile) -> Layout:
    """DumpType 1: the header's PHYSICAL_MEMORY_DESCRIPTOR runs."""
    layout = _runs_layout(str(file.path), file.data, file.is_64, file.len_header)
    _check_truncation(layout, len(file.data), 1)
    return layout


def bitmap_layout(file: DumpFile) -> Layout:
    """DumpType 2 (SUMMARY_DUMP) or 5/6 (BMP): a PFN bitmap after the header."""
    path, data, header_size = str(file.path), file.data, file.len_header
    dump_type = file.dump_type
    if dump_type == 2:
        layout = _summary_layout(path, file.raw, data, header_size)
    else:
        layout = _bitmap_layout(path, data, header_size)
    _check_truncation(layout, len(data), dump_type)
    return layout


def _parse(path: str, structure: str, offset: int, getter: Any) -> Any:
    """Run a lazy Kaitai accessor, turning its errors into a DumpFormatError."""
    try:
        return getter()
    except (kaitaistruct.KaitaiStructError, EOFError, ValueError) as err:
        raise DumpFormatError(path, structure, offset, str(err).split(": ", 1)[-1]) from err


def _runs_layout(path: str, data: memoryview, is_64: bool, header_size: int) -> Layout:
    offset = RUNS_OFFSET[is_64]
    # The descriptor and its runs lie inside the header, which sniff() found whole.
    desc = read_flat(DESCRIPTOR[is_64], data, offset)
    count = int(desc.num_runs)
    if is_absent(count):
        raise DumpFormatError(path, "PHYSICAL_MEMORY_DESCRIPTOR", offset,
                              "NumberOfRuns was never written (PAGE fill) in a full dump")
    if count > MAX_RUNS[is_64]:
        raise DumpFormatError(path, "PHYSICAL_MEMORY_DESCRIPTOR", offset,
                              f"NumberOfRuns {count} is more than the {MAX_RUNS[is_64]} "
                              "runs the header has room for")
    run_format = RUN[is_64]
    first_run = offset + flat_size(DESCRIPTOR[is_64])
    runs = [Run(*struct.unpack_from(run_format[0], data, first_run + i * flat_size(run_format)))
            for i in range(count)]
    _check_runs(path, offset, runs)
    layout = Layout(index=RunMap(runs, header_size), data_end=None)
    total = sum(r.page_count for r in runs)
    layout.data_end = header_size + total * PAGE_SIZE
    if int(desc.num_pages) != total:
        layout.anomalies.append(anomaly(
            AnomalyCode.HEADER_INCONSISTENT, f"PHYSICAL_MEMORY_DESCRIPTOR at {offset:#x}",
            f"NumberOfPages is {int(desc.num_pages)} but the runs add up to {total}"))
    return layout


def _check_runs(path: str, offset: int, runs: list[Run]) -> None:
    end = -1
    for run in sorted(runs, key=lambda r: r.base_page):
        if run.base_page + run.page_count > MAX_PFN:
            raise DumpFormatError(path, "PHYSICAL_MEMORY_DESCRIPTOR", offset,
                                  f"run at PFN {run.base_page:#x} of {run.page_count:#x} pages "
                                  "goes beyond any physical address space")
        if run.base_page < end:
            raise DumpFormatError(path, "PHYSICAL_MEMORY_DESCRIPTOR", offset,
                                  f"run at PFN {run.base_page:#x} overlaps the previous run")
        end = run.base_page + run.page_count


def _bitmap_bounds(path: str, structure: str, bitmap_at: int, num_bits: int,
                   bitmap_bytes: int, first_page: int, file_size: int) -> None:
    if num_bits > MAX_PFN:
        raise DumpFormatError(path, structure, bitmap_at,
                              f"bitmap claims {num_bits:#x} pages, more than any machine has")
    if bitmap_at + bitmap_bytes > file_size:
        raise DumpFormatError(path, structure, bitmap_at,
                              f"bitmap of {num_bits} bits needs {bitmap_bytes} bytes but the "
                              f"file ends at {file_size:#x}")
    if first_page < bitmap_at + bitmap_bytes:
        raise DumpFormatError(path, structure, bitmap_at,
                              f"first page offset {first_page:#x} lies inside the bitmap")


def _summary_layout(path: str, raw: Any, data: memoryview, header_size: int) -> Layout:
    summary = _parse(path, "SUMMARY_DUMP", header_size, lambda: raw.summary_dump)
    num_bits = int(summary.num_bits)
    bitmap_at = header_size + int(summary.ofs_bitmap)
    # The bitmap is an RTL_BITMAP buffer: whole 32-bit words.
    bitmap_bytes = (num_bits + 31) // 32 * 4
    first = int(summary.ofs_first_page)
    _bitmap_bounds(path, "SUMMARY_DUMP", bitmap_at, num_bits, bitmap_bytes, first, len(data))
    bitmap = BitmapMap(data[bitmap_at : bitmap_at + (num_bits + 7) // 8], num_bits, first)
    return Layout(index=bitmap, data_end=first + int(summary.num_present_pages) * PAGE_SIZE,
                  claimed_pages=int(summary.num_present_pages),
                  where=f"SUMMARY_DUMP at {header_size:#x}")


def _bitmap_layout(path: str, data: memoryview, header_size: int) -> Layout:
    if len(data) < header_size + flat_size(BITMAP_DUMP):
        raise DumpFormatError(path, "BMP header", header_size,
                              f"the file ends at {len(data):#x}, inside the BMP header")
    bmp = read_flat(BITMAP_DUMP, data, header_size)
    if bmp.valid_dump != b"DUMP":
        raise DumpFormatError(path, "BMP header", header_size + 4,
                              f"ValidDump {bmp.valid_dump!r} is not 'DUMP'")
    if bytes(bmp.signature) not in (b"SDMP", b"FDMP"):
        raise DumpFormatError(path, "BMP header", header_size,
                              f"signature {bytes(bmp.signature)!r} is neither 'SDMP' nor 'FDMP'")
    num_bits = int(bmp.num_bits)
    present = int(bmp.num_present_pages)
    bitmap_at = header_size + int(bmp.ofs_bitmap)
    first = int(bmp.ofs_first_page)
    if present > num_bits:
        raise DumpFormatError(path, "BMP header", header_size + 0x28,
                              f"TotalPresentPages {present} exceeds the {num_bits} bits")
    _bitmap_bounds(path, "BMP header", bitmap_at, num_bits, (num_bits + 7) // 8, first,
                   len(data))
    bitmap = BitmapMap(data[bitmap_at : bitmap_at + (num_bits + 7) // 8], num_bits, first)
    return Layout(index=bitmap, data_end=first + present * PAGE_SIZE, claimed_pages=present,
                  where=f"BMP header at {header_size:#x}")


def _check_truncation(layout: Layout, file_size: int, dump_type: int) -> None:
    if layout.data_end is None or layout.data_end <= file_size:
        return
    missing = (layout.data_end - file_size + PAGE_SIZE - 1) // PAGE_SIZE
    layout.anomalies.append(anomaly(
        AnomalyCode.DUMP_TRUNCATED, f"DumpType {dump_type} page data",
        f"the file is {file_size:#x} bytes but its pages run to {layout.data_end:#x}: "
        f"the last {missing} pages are missing; earlier pages are still read"))
