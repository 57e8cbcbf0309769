"""The catalogue of anomaly codes: odd but survivable facts about an input.

Each code is stable (never renamed, never reused); ``Anomaly.code`` holds its value.
"""

from __future__ import annotations

from enum import StrEnum

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any


class Anomaly(Record):
    """Something odd about the input, reported as data. ``code`` is stable (see anomalies.py)."""

    code: str
    where: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "where": self.where, "detail": self.detail}


class AnomalyCode(StrEnum):
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
    # A list read from the dump loops or runs past any plausible length.
    LIST_CORRUPT = "list_corrupt"
    # A bugcheck argument disagrees with the kernel state it names (e.g. 0x101 Arg3 is not
    # the KPRCB of the processor Arg4 names).
    BUGCHECK_ARG_MISMATCH = "bugcheck_arg_mismatch"
    # A triage dump section or table entry lies outside the file or fails validation and
    # was skipped.
    TRIAGE_SECTION_INVALID = "triage_section_invalid"
    # No saved registers for the crashing thread: no stack walk was possible.
    NO_CRASH_CONTEXT = "no_crash_context"
    # A debugger transcript contradicts itself (two bugcheck lines) or the dump it was
    # given with (another stop code, build or processor count).
    DEBUGGER_DISAGREES = "debugger_disagrees"
    # A debugger transcript lacks a part a report needs (no bugcheck, no stack): a cut-off
    # paste, or output of other commands than !analyze -v.
    DEBUGGER_TEXT_INCOMPLETE = "debugger_text_incomplete"
    # cdb/kd was found and run but gave no usable output (exit code, timeout, no text).
    DEBUGGER_FAILED = "debugger_failed"
    # --symbols: a module on the stack got no names (no PDB id, PDB absent, age mismatch).
    SYMBOLS_MISSING = "symbols_missing"
    # A PDB, image or .pd_ along the symbol path could not be read (corrupt, hostile, LZX).
    SYMBOL_FILE_UNREADABLE = "symbol_file_unreadable"
    # A symbol server did not deliver (timeout, HTTP error, an HTML page instead of a file).
    SYMBOL_DOWNLOAD_FAILED = "symbol_download_failed"
    # A store's file.ptr said MSG: or pointed nowhere.
    SYMBOL_STORE_NOTE = "symbol_store_note"
    # The symbol path has an element that cannot be used here (a Windows drive, a keyword).
    SYMBOL_PATH_WARNING = "symbol_path_warning"
    # A host-side memory dump (QEMU vmcore), read without a KDBG (dump/kernel/discovery.py):
    # vCPU 0's CR3 does not map kernel memory (a KVA-shadow user CR3, paging off): another
    # vCPU's CR3 or the KPRCB's kernel root was used, or none worked.
    PAGING_ROOT_FALLBACK = "paging_root_fallback"
    # No Windows kernel image was found from the IDT handlers, KdVersionBlock or the vCPUs'
    # kernel-mode RIPs: modules, build and stacks are missing from the report.
    KERNEL_NOT_FOUND = "kernel_not_found"
    # PsLoadedModuleList was not found (no export, no KdVersionBlock) or its first entry is
    # not the kernel: the module list is empty.
    MODULE_LIST_NOT_FOUND = "module_list_not_found"
    # A vCPU's KPCR (GS base / KERNEL_GS_BASE on x64, GDT selector 0x30 on x86) is not in
    # the dump or fails its self-pointer checks: that vCPU has no KPRCB, thread or IRQL.
    KPCR_INVALID = "kpcr_invalid"
    # No source gave the Windows build (KdVersionBlock, KUSER_SHARED_DATA, the kernel's
    # version resource): per-build offsets are a guess.
    BUILD_NOT_FOUND = "build_not_found"


def anomaly(code: AnomalyCode, where: str, detail: str) -> Anomaly:
    return Anomaly(code.value, where, detail)
