"""Triage dumps (DumpType 4, C:\\Windows\\Minidump\\*.dmp): the TRIAGE_DUMP header.

Facts settled on a real Windows 10 minidump (dump-format.md section 12): every offset is
an absolute file offset; the valid marker at ValidOffset reads "TRGD" on disk ('DGRT' as
a multi-character constant); SizeOfDump = ValidOffset + 4; secondary data blobs may
follow SizeOfDump; RequiredDumpSpace is *not* the file size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kaitaistruct

from dumptriage.errors import DumpFormatError
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

TRIAGE_VALID = b"TRGD"


@dataclass(frozen=True)
class TriageHeader:
    """The TRIAGE_DUMP fields, Microsoft's names in snake_case."""

    size_of_dump: int
    valid_offset: int
    context_offset: int
    exception_offset: int
    prcb_offset: int
    process_offset: int
    thread_offset: int
    call_stack_offset: int
    call_stack_size: int
    driver_list_offset: int
    driver_count: int
    string_pool_offset: int
    string_pool_size: int
    unloaded_drivers_offset: int
    top_of_stack: int
    debugger_data_offset: int
    debugger_data_size: int
    data_blocks_offset: int
    data_blocks_count: int


def read_triage_header(path: str, raw: Any) -> TriageHeader:
    try:
        t = raw.triage_dump
    except (kaitaistruct.KaitaiStructError, EOFError, ValueError) as err:
        raise DumpFormatError(path, "TRIAGE_DUMP", int(raw.len_header),
                              "truncated triage header") from err
    return TriageHeader(
        size_of_dump=int(t.size_of_dump),
        valid_offset=int(t.ofs_valid),
        context_offset=int(t.ofs_context),
        exception_offset=int(t.ofs_exception),
        prcb_offset=int(t.ofs_prcb),
        process_offset=int(t.ofs_process),
        thread_offset=int(t.ofs_thread),
        call_stack_offset=int(t.ofs_call_stack),
        call_stack_size=int(t.len_call_stack),
        driver_list_offset=int(t.ofs_driver_list),
        driver_count=int(t.num_drivers),
        string_pool_offset=int(t.ofs_string_pool),
        string_pool_size=int(t.len_string_pool),
        unloaded_drivers_offset=int(t.ofs_unloaded_drivers),
        top_of_stack=int(t.top_of_stack),
        debugger_data_offset=int(t.ofs_debugger_data),
        debugger_data_size=int(t.len_debugger_data),
        data_blocks_offset=int(t.ofs_data_blocks),
        data_blocks_count=int(t.num_data_blocks),
    )


def triage_anomalies(header: TriageHeader, data: memoryview) -> list[Anomaly]:
    size = len(data)
    found: list[Anomaly] = []
    if header.size_of_dump > size:
        found.append(anomaly(AnomalyCode.DUMP_TRUNCATED, "TRIAGE_DUMP SizeOfDump",
                             f"triage data runs to {header.size_of_dump:#x} but the file has "
                             f"{size:#x} bytes"))
    marker_at = header.valid_offset
    if marker_at + 4 > size or bytes(data[marker_at : marker_at + 4]) != TRIAGE_VALID:
        found.append(anomaly(AnomalyCode.HEADER_INCONSISTENT, "TRIAGE_DUMP ValidOffset",
                             f"no 'TRGD' valid marker at {marker_at:#x}: the minidump may be "
                             "incomplete"))
    return found


def debugger_data_copy(header: TriageHeader, data: memoryview, limit: int) -> bytes | None:
    """The KDBG copy the minidump carries, bounded by the file and by ``limit``."""
    start, length = header.debugger_data_offset, min(header.debugger_data_size, limit)
    if start == 0 or length < 0x18 or start + length > len(data):
        return None
    return bytes(data[start : start + length])
