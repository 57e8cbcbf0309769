"""The catalogue of anomaly codes: odd but survivable facts about an input.

Each code is stable (never renamed, never reused); ``Anomaly.code`` holds its value.
"""

from __future__ import annotations

from enum import Enum

from dumptriage.model import Anomaly


class AnomalyCode(str, Enum):
    """Stable anomaly codes, each documented by its own docstring-like comment."""

    # The file is shorter than the header or page index says: pages past its end are lost.
    DUMP_TRUNCATED = "dump_truncated"
    # The file is longer than the header says (extra data, or a RequiredDumpSpace lie).
    DUMP_SIZE_MISMATCH = "dump_size_mismatch"
    # DumpType is recognised but its memory is not read yet (header-only, RDMP ranges).
    DUMP_TYPE_NOT_SUPPORTED = "dump_type_not_supported"
    # The architecture is recognised but not everything is done for it yet (ARM64).
    ARCH_NOT_SUPPORTED = "arch_not_supported"
    # A header field disagrees with another one or with the data it describes.
    HEADER_INCONSISTENT = "header_inconsistent"
    # The build number is outside every per-build table; results are best effort.
    UNKNOWN_BUILD = "unknown_build"
    # KDDEBUGGER_DATA64 could not be found or read (encoded, paged out, absent).
    KDBG_UNAVAILABLE = "kdbg_unavailable"
    # The dump's data is encrypted (DUMP_FILE_ATTRIBUTES bit 8): page data is unusable.
    DUMP_ENCRYPTED = "dump_encrypted"
    # A virtual address that a kernel structure needs is not in the dump.
    PAGE_NOT_PRESENT = "page_not_present"


def anomaly(code: AnomalyCode, where: str, detail: str) -> Anomaly:
    return Anomaly(code.value, where, detail)
