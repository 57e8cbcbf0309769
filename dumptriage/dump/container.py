"""Open a Windows kernel crash dump: sniff, parse the header, index the pages.

``open_dump(path)`` returns a ``CrashDump`` over a read-only mmap of the file. Memory use
does not grow with the dump: nothing but the header and (for bitmap dumps) a small rank
index is ever copied out of the mapping.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import kaitaistruct

from dumptriage.dump.containers import header as hdr
from dumptriage.dump.containers.page_index import build_layout
from dumptriage.dump.containers.sniff import sniff
from dumptriage.dump.kernel.kdbg import MAX_KDBG_LEN, Kdbg, parse_kdbg, read_kdbg_at
from dumptriage.dump.kernel.registers import Registers, parse_context
from dumptriage.dump.kernel.state import KernelState, TriageSources
from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.errors import DumpFormatError, PageNotPresent, UnsupportedDump
from dumptriage.formats.windows_crash_dump import WindowsCrashDump
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import BugCheck, DumpInfo, Frame, Module, Processor, UnloadedModule

if TYPE_CHECKING:  # the triage readers load only when a triage dump is opened
    from dumptriage.dump.containers.triage.header import TriageHeader
    from dumptriage.dump.containers.triage.memory import DataPage, TriageMemory

_PAGE_CACHE = 256
_ATTR_ENCRYPTED = 1 << 8  # DUMP_FILE_ATTRIBUTES.EncryptedDumpData (mindumpdef.h)


def open_dump(path: str | os.PathLike[str]) -> CrashDump:
    """Open a kernel dump (PAGEDUMP / PAGEDU64). Raises DumpFormatError on a bad header."""
    return CrashDump(Path(path))


class CrashDump:
    """One opened kernel dump. Use as a context manager, or call ``close()``."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._map = _map_file(self._file, str(path))
            self._data = memoryview(self._map)
            self._load()
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------------

    def _load(self) -> None:
        path = str(self.path)
        sniff(path, bytes(self._data[:8]), len(self._data))
        raw = _parse_header(path, self._map)
        self._raw = raw
        h = raw.header
        self.anomalies: list[Anomaly] = []
        self.info = self._dump_info(raw, h)
        self.bugcheck = BugCheck(
            code=int(h.bug_check_code),
            args=tuple(int(a) for a in h.bug_check_parameters),  # type: ignore[arg-type]
            width_bits=self.info.pointer_bits,
        )
        self.physical: PhysicalMemory | None = None
        self.triage: TriageHeader | None = None
        self._translator: Translator | None = None
        self._kdbg: Kdbg | bool | None = False  # False: not looked for yet
        self._pages: dict[int, bytes] = {}
        self._index_pages(raw)

    def _dump_info(self, raw: Any, h: Any) -> DumpInfo:
        machine = int(h.machine_image_type)
        arch = hdr.ARCH_BY_MACHINE.get(machine)
        if arch is None:
            raise DumpFormatError(str(self.path), "DUMP_HEADER", 0x20 if not raw.is_64 else 0x30,
                                  f"MachineImageType {machine:#x} is not i386, AMD64 or ARM64")
        if raw.is_64 == (arch == "x86"):
            raise DumpFormatError(str(self.path), "DUMP_HEADER", 4,
                                  f"{raw.valid_dump} header with MachineImageType {machine:#x}")
        dump_type = int(h.dump_type)
        if dump_type not in hdr.DUMP_TYPE_NAMES or dump_type == 0:
            raise DumpFormatError(str(self.path), "DUMP_HEADER", 0xF98 if raw.is_64 else 0xF88,
                                  f"DumpType {dump_type:#x} is not a known dump type")
        required = hdr.optional(int(h.required_dump_space))
        return DumpInfo(
            signature="PAGE" + str(raw.valid_dump),
            arch=arch,
            machine=machine,
            pae=bool(h.pae_enabled) if arch == "x86" else None,
            dump_type_code=dump_type,
            dump_type=hdr.DUMP_TYPE_NAMES[dump_type],
            banner=hdr.BANNERS.get(dump_type, ""),
            header_size=int(raw.len_header),
            os=hdr.os_info(h),
            processors=int(h.number_processors),
            system_time=hdr.filetime_to_iso(int(h.system_time)),
            uptime_seconds=hdr.uptime_seconds(int(h.system_up_time)),
            comment=hdr.decode_comment(bytes(h.comment)),
            directory_table_base=hdr.optional(int(h.directory_table_base)),
            ps_loaded_module_list=hdr.optional(int(h.ps_loaded_module_list)),
            ps_active_process_head=hdr.optional(int(h.ps_active_process_head)),
            pfn_database=hdr.optional(int(h.pfn_data_base)),
            kd_debugger_data_block=hdr.optional(int(h.kd_debugger_data_block)),
            kernel_base=None,
            attributes=hdr.optional(int(h.attributes)),
            file_size=len(self._data),
            expected_size=required,
        )

    def _index_pages(self, raw: Any) -> None:
        info = self.info
        where = f"DumpType {info.dump_type_code}"
        if info.attributes is not None and info.attributes & _ATTR_ENCRYPTED:
            self.anomalies.append(anomaly(AnomalyCode.DUMP_ENCRYPTED, "DUMP_HEADER Attributes",
                                          "page data is encrypted; only the header is read"))
            return
        if info.arch == "arm64":
            self.anomalies.append(anomaly(
                AnomalyCode.ARCH_NOT_SUPPORTED, "DUMP_HEADER MachineImageType",
                "ARM64: header, bugcheck and triage facts are read; page tables, processor "
                "state and stacks are not decoded for ARM64 yet"))
        if info.dump_type_code == 4:
            from dumptriage.dump.containers.triage.header import (
                read_triage_header,
                triage_anomalies,
            )

            self.triage = read_triage_header(str(self.path), raw)
            self.anomalies.extend(triage_anomalies(self.triage, self._data))
            # RequiredDumpSpace of a minidump is not its size (real files disagree with
            # it); SizeOfDump is what the triage writer actually wrote.
            self.info = replace(self.info, expected_size=self.triage.size_of_dump)
            return
        if info.dump_type_code in (3, 7, 8, 9, 0xA):
            self.anomalies.append(anomaly(
                AnomalyCode.DUMP_TYPE_NOT_SUPPORTED, where,
                f"{info.dump_type} dumps are recognised but their memory is not read yet; "
                "the header facts above are complete"))
            return
        layout = build_layout(str(self.path), raw, self._data, info.dump_type_code,
                              later=self.anomalies)
        self.anomalies.extend(layout.anomalies)
        self._check_required_size(layout.data_end)
        if layout.index is None:
            return
        self.physical = PhysicalMemory(self._data, layout.index, self._file.fileno())
        mode = _paging_mode(info)
        if mode is not None and info.directory_table_base is not None:
            self._translator = Translator(mode, info.directory_table_base,
                                          self.physical.read_u32, self.physical.read_u64)

    def _check_required_size(self, data_end: int | None) -> None:
        required, size = self.info.expected_size, self.info.file_size
        if required is None or data_end is None or data_end > size:
            return  # no claim, or truncation already reported
        if required != size:
            self.anomalies.append(anomaly(
                AnomalyCode.DUMP_SIZE_MISMATCH, "DUMP_HEADER RequiredDumpSpace",
                f"header expects {required:#x} bytes, the file has {size:#x}"))

    # -- kernel facts --------------------------------------------------------------------

    @property
    def kdbg(self) -> Kdbg | None:
        """KDDEBUGGER_DATA64, looked up once; None (and an anomaly) when unavailable."""
        if self._kdbg is False:
            self._kdbg = self._find_kdbg()
            if self._kdbg is None and self.has_memory:
                self.anomalies.append(anomaly(
                    AnomalyCode.KDBG_UNAVAILABLE, "KdDebuggerDataBlock",
                    "no readable 'KDBG' block at KdDebuggerDataBlock or BugCheckParameter1 "
                    "(encoded, or its page is not in the dump)"))
        return self._kdbg if isinstance(self._kdbg, Kdbg) else None

    @property
    def has_memory(self) -> bool:
        """False for header-only, range (RDMP) and encrypted dumps: nothing to read."""
        return self.physical is not None or self.triage is not None

    def _find_kdbg(self) -> Kdbg | None:
        bits = self.info.pointer_bits
        if self.triage is not None:
            from dumptriage.dump.containers.triage.header import debugger_data_copy

            blob = debugger_data_copy(self.triage, self._data, MAX_KDBG_LEN)
            copy_va = self.info.kd_debugger_data_block or 0
            return parse_kdbg(blob, copy_va, bits, "triage copy") if blob else None
        candidates: list[tuple[str, int | None]] = [
            ("KdDebuggerDataBlock", self.info.kd_debugger_data_block),
            ("BugCheckParameter1", self.bugcheck.args[0]),
        ]
        for source, where in candidates:
            if where:
                found = read_kdbg_at(self.read_virtual_or_none, where, bits, source)
                if found is not None:
                    return found
        return None

    @property
    def header_registers(self) -> Registers | None:
        """The header's ContextRecord: the CPU that wrote the dump (None when empty)."""
        return parse_context(bytes(self._raw.header.context_record), self.info.arch)

    @cached_property
    def kernel(self) -> KernelState:
        """Modules, processors and stack, each computed on first use."""
        return KernelState(self.read_virtual_or_none, self.info, self.kdbg,
                           (self.bugcheck.code, self.bugcheck.args), self.header_registers,
                           self._triage_sources(), has_memory=self.has_memory)

    def _triage_sources(self) -> TriageSources | None:
        if self.triage is None:
            return None
        from dumptriage.dump.containers.triage.drivers import kernel_base_anomalies, read_drivers
        from dumptriage.dump.containers.triage.unloaded import read_unloaded_drivers

        bits = self.info.pointer_bits
        modules, found = read_drivers(self.triage, self._data, bits)
        kern_base = self.kdbg.kern_base if self.kdbg else None
        found += kernel_base_anomalies(modules, kern_base)
        unloaded, more = read_unloaded_drivers(self.triage, self._data, bits)
        self.anomalies.extend(found + more)
        copy = self._prcb_copy()
        return TriageSources(modules=modules, unloaded=unloaded, prcb_copy=copy,
                             prcb_va=self._copy_va(copy))

    def _copy_va(self, copy: bytes | None) -> int | None:
        """The KPRCB copy's virtual address: the data block holding the same bytes.

        The header does not give it, but Windows also saves the crashing CPU's KPRCB as a
        data block (block 2 of the real Windows 10 minidump, dump-format.md section 12.1).
        """
        memory = self._triage_memory
        if not copy or memory is None:
            return None
        probe = copy[:0x100]
        for extent in memory.ranges():
            if extent.size >= len(probe) and memory.read_or_none(extent.va, len(probe)) == probe:
                return extent.va
        return None

    def _prcb_copy(self) -> bytes | None:
        """The KPRCB copy: PrcbOffset up to the next section (bounded by the file)."""
        assert self.triage is not None
        start = self.triage.prcb_offset
        if not 0 < start < len(self._data):
            return None
        ends = [o for o in (self.triage.process_offset, self.triage.thread_offset,
                            self.triage.call_stack_offset, len(self._data)) if o > start]
        return bytes(self._data[start : min(min(ends), start + 0x20000)])

    @cached_property
    def _triage_memory(self) -> TriageMemory | None:
        if self.triage is None:
            return None
        from dumptriage.dump.containers.triage.memory import build_triage_memory

        memory, found = build_triage_memory(
            self.triage, self._data, pointer_bits=self.info.pointer_bits,
            kdbg_va=self.info.kd_debugger_data_block, data_page=self._data_page())
        self.anomalies.extend(found)
        return memory

    def _data_page(self) -> DataPage:
        from dumptriage.dump.containers.triage.memory import DataPage

        t = self._raw.triage_dump
        return DataPage(int(t.data_page_address), int(t.ofs_data_page), int(t.len_data_page))

    @property
    def modules(self) -> list[Module]:
        return self.kernel.modules

    @property
    def unloaded_modules(self) -> list[UnloadedModule]:
        return self.kernel.unloaded_modules

    @property
    def processors(self) -> list[Processor]:
        return self.kernel.processors

    def stack(self) -> list[Frame]:
        """The crashing thread's stack: context frame, EBP chain (x86), raw scan."""
        return self.kernel.stack

    def all_anomalies(self) -> list[Anomaly]:
        """Anomalies of the container and of every kernel structure read so far."""
        kernel = self.__dict__.get("kernel")
        return self.anomalies + (kernel.anomalies if kernel is not None else [])

    # -- memory access -------------------------------------------------------------------

    def _require_physical(self, address: int) -> PhysicalMemory:
        if self.physical is None:
            raise PageNotPresent(address, f"a {self.info.dump_type} dump holds no physical pages")
        return self.physical

    def read_physical(self, pa: int, size: int) -> bytes:
        """Bytes at a guest-physical address; PageNotPresent if any page is missing."""
        return self._require_physical(pa).read(pa, size)

    def read_physical_or_none(self, pa: int, size: int) -> bytes | None:
        try:
            return self.read_physical(pa, size)
        except PageNotPresent:
            return None

    def translate(self, va: int) -> int:
        """Guest-physical address of a kernel virtual address (PageNotPresent if unmapped).

        A triage dump has no page tables: its virtual memory is read through
        ``read_virtual`` from the copies it carries, and ``translate`` raises.
        """
        if self._translator is None:
            raise PageNotPresent(va, "this dump has no page tables to walk", virtual=True)
        return self._translator.translate(va)

    def read_virtual(self, va: int, size: int) -> bytes:
        """Kernel virtual memory: page tables, or a triage dump's stack and data blocks."""
        if self._triage_memory is not None:
            return self._triage_memory.read(va, size)
        if (va & 0xFFF) + size <= 0x1000:
            offset = va & 0xFFF
            return self._virtual_page(va >> 12)[offset : offset + size]
        parts = []
        while size > 0:
            take = min(size, 0x1000 - (va & 0xFFF))
            parts.append(self.read_physical(self.translate(va), take))
            va += take
            size -= take
        return b"".join(parts)

    def _virtual_page(self, page: int) -> bytes:
        """One 4 KiB virtual page, cached: kernel structures are read field by field from
        the same pages (an LDR entry, its names, a PE header, a resource tree)."""
        cached = self._pages.get(page)
        if cached is None:
            cached = self.read_physical(self.translate(page << 12), 0x1000)
            if len(self._pages) >= _PAGE_CACHE:
                self._pages.clear()  # bounded: 256 pages = 1 MiB
            self._pages[page] = cached
        return cached

    def read_virtual_or_none(self, va: int, size: int) -> bytes | None:
        try:
            return self.read_virtual(va, size)
        except PageNotPresent:
            return None

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        physical = getattr(self, "physical", None)
        release = getattr(physical.index, "release", None) if physical is not None else None
        if release is not None:
            release()
        data = getattr(self, "_data", None)
        if data is not None:
            data.release()
        mapping = getattr(self, "_map", None)
        if mapping is not None:
            # A caller may still hold a view into the file (e.g. in a traceback); the
            # mapping is then unmapped when that last view goes away.
            with contextlib.suppress(BufferError):
                mapping.close()
        self._file.close()

    def __enter__(self) -> CrashDump:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _map_file(file: Any, path: str) -> mmap.mmap:
    size = os.fstat(file.fileno()).st_size
    if size == 0:
        raise DumpFormatError(path, "file", 0, "the file is empty")
    return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _parse_header(path: str, mapping: mmap.mmap) -> Any:
    mapping.seek(0)
    try:
        raw = WindowsCrashDump(kaitaistruct.KaitaiStream(mapping))
    except (kaitaistruct.KaitaiStructError, EOFError) as err:
        size = len(mapping)
        raise DumpFormatError(path, "DUMP_HEADER", 0,
                              f"truncated header: the file has only {size:#x} bytes") from err
    return raw


def _paging_mode(info: DumpInfo) -> PagingMode | None:
    if info.arch == "x64":
        return PagingMode.X64
    if info.arch == "x86":
        return PagingMode.X86_PAE if info.pae else PagingMode.X86
    return None


__all__ = ["CrashDump", "UnsupportedDump", "open_dump"]
