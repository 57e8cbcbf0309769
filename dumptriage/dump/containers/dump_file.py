"""An opened PAGEDUMP/PAGEDU64 file: the mapping, the parsed header and its facts.

Every Windows kernel-dump container (full, summary/bitmap, triage, RDMP, header-only)
starts with the same DUMP_HEADER32/64; this reads it once. The containers build on it.
Memory use does not grow with the dump: the file is mmap'd read-only and nothing but the
header is copied out of it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from functools import cached_property
from types import SimpleNamespace

from dumptriage.dump.containers import header as hdr
from dumptriage.dump.containers.flat import read_flat
from dumptriage.dump.containers.sniff import sniff
from dumptriage.errors import DumpFormatError
from dumptriage.formats.windows_crash_dump_flat import DUMP_HEADER32, DUMP_HEADER64
from dumptriage.model.header import BugCheck, DumpInfo

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.dump.kernel.registers import Registers
    from dumptriage.model.anomaly import Anomaly

ATTR_ENCRYPTED = 1 << 8  # DUMP_FILE_ATTRIBUTES.EncryptedDumpData (mindumpdef.h)


class DumpFile:
    """The file, its read-only mapping and the DUMP_HEADER facts. ``close()`` releases all."""

    def __init__(self, path: str, file: Any = None):
        self.path = path  # as given: pathlib stays off the open path
        # ``file``: the file already opened by open_container (closed by close()).
        self.file = file if file is not None else open(path, "rb")  # noqa: SIM115
        try:
            self.map = _map_file(self.file, str(path))
            self.data = memoryview(self.map)
            # sniff() has checked that the whole header is in the file.
            self.len_header = sniff(str(path), bytes(self.data[:8]), len(self.data))
            self.is_64 = self.len_header == 0x2000
            self.header: SimpleNamespace = read_flat(
                DUMP_HEADER64 if self.is_64 else DUMP_HEADER32, self.data, 8)
            self.arch, self.dump_type = _validate(str(path), self.header, self.is_64)
            self.bugcheck = BugCheck(code=self.header.bug_check_code,
                                     args=tuple(self.header.bug_check_parameters),
                                     width_bits=64 if self.is_64 else 32)
        except BaseException:
            self.close()
            raise

    @cached_property
    def raw(self) -> Any:
        """The Kaitai parse of the whole file, for the structures after the header
        (SUMMARY_DUMP, TRIAGE_DUMP, RDMP): made only when a container asks for it."""
        import kaitaistruct

        from dumptriage.formats.windows_crash_dump import WindowsCrashDump

        self.map.seek(0)
        try:
            return WindowsCrashDump(kaitaistruct.KaitaiStream(self.map))
        except (kaitaistruct.KaitaiStructError, EOFError) as err:
            raise DumpFormatError(str(self.path), "DUMP_HEADER", 0, "truncated header: the "
                                  f"file has only {len(self.map):#x} bytes") from err

    @cached_property
    def info(self) -> DumpInfo:
        """The banner facts, built on first use: opening for the bugcheck stays cheap."""
        return _dump_info(self.header, self.is_64, self.arch, self.dump_type, len(self.data))

    @property
    def encrypted(self) -> bool:
        attributes = hdr.optional(self.header.attributes)
        return attributes is not None and bool(attributes & ATTR_ENCRYPTED)

    def header_registers(self) -> Registers | None:
        """The header's ContextRecord: the CPU that wrote the dump (None when empty)."""
        from dumptriage.dump.kernel.registers import parse_context

        return parse_context(self.header.context_record, self.arch)

    def arch_anomalies(self) -> list[Anomaly]:
        if self.arch != "arm64":
            return []
        from dumptriage.model.anomaly import AnomalyCode, anomaly

        return [anomaly(
            AnomalyCode.ARCH_NOT_SUPPORTED, "DUMP_HEADER MachineImageType",
            "ARM64: header, bugcheck and triage facts are read; page tables, processor "
            "state and stacks are not decoded for ARM64 yet")]

    def size_anomalies(self, data_end: int | None) -> list[Anomaly]:
        """RequiredDumpSpace against the file size, when the page data is all there."""
        required, size = self.info.expected_size, self.info.file_size
        if required is None or data_end is None or size is None or data_end > size \
                or required == size:
            return []  # no claim, truncation already reported, or they agree
        from dumptriage.model.anomaly import AnomalyCode, anomaly

        return [anomaly(AnomalyCode.DUMP_SIZE_MISMATCH, "DUMP_HEADER RequiredDumpSpace",
                        f"header expects {required:#x} bytes, the file has {size:#x}")]

    def close(self) -> None:
        data = getattr(self, "data", None)
        if data is not None:
            data.release()
        mapping = getattr(self, "map", None)
        if mapping is not None:
            # A caller may still hold a view into the file (e.g. in a traceback); the
            # mapping is then unmapped when that last view goes away.
            with contextlib.suppress(BufferError):
                mapping.close()
        self.file.close()


def _map_file(file: Any, path: str) -> mmap.mmap:
    size = os.fstat(file.fileno()).st_size
    if size == 0:
        raise DumpFormatError(path, "file", 0, "the file is empty")
    return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _validate(path: str, h: SimpleNamespace, is_64: bool) -> tuple[str, int]:
    """(arch, DumpType), or a DumpFormatError for a header that cannot be a crash dump."""
    machine = int(h.machine_image_type)
    arch = hdr.ARCH_BY_MACHINE.get(machine)
    if arch is None:
        raise DumpFormatError(path, "DUMP_HEADER", 0x20 if not is_64 else 0x30,
                              f"MachineImageType {machine:#x} is not i386, AMD64 or ARM64")
    valid_dump = "DU64" if is_64 else "DUMP"
    if is_64 == (arch == "x86"):
        raise DumpFormatError(path, "DUMP_HEADER", 4,
                              f"{valid_dump} header with MachineImageType {machine:#x}")
    dump_type = int(h.dump_type)
    if dump_type not in hdr.DUMP_TYPE_NAMES or dump_type == 0:
        raise DumpFormatError(path, "DUMP_HEADER", 0xF98 if is_64 else 0xF88,
                              f"DumpType {dump_type:#x} is not a known dump type")
    return arch, dump_type


def _dump_info(h: SimpleNamespace, is_64: bool, arch: str, dump_type: int,
               file_size: int) -> DumpInfo:
    valid_dump = "DU64" if is_64 else "DUMP"
    return DumpInfo(
        signature="PAGE" + valid_dump,
        arch=arch,
        machine=int(h.machine_image_type),
        pae=bool(h.pae_enabled) if arch == "x86" else None,
        dump_type_code=dump_type,
        dump_type=hdr.DUMP_TYPE_NAMES[dump_type],
        banner=hdr.BANNERS.get(dump_type, ""),
        header_size=0x2000 if is_64 else 0x1000,
        os=hdr.os_info(h),
        processors=int(h.number_processors),
        system_time=hdr.filetime_to_iso(int(h.system_time)),
        uptime_seconds=hdr.uptime_seconds(int(h.system_up_time)),
        comment=hdr.decode_comment(h.comment),
        directory_table_base=hdr.optional(int(h.directory_table_base)),
        ps_loaded_module_list=hdr.optional(int(h.ps_loaded_module_list)),
        ps_active_process_head=hdr.optional(int(h.ps_active_process_head)),
        pfn_database=hdr.optional(int(h.pfn_data_base)),
        kd_debugger_data_block=hdr.optional(int(h.kd_debugger_data_block)),
        kernel_base=None,
        attributes=hdr.optional(int(h.attributes)),
        file_size=file_size,
        expected_size=hdr.optional(int(h.required_dump_space)),
    )
