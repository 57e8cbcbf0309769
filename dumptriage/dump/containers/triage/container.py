"""Triage minidumps (DumpType 4, C:\\Windows\\Minidump\\*.dmp) as a container.

A minidump holds no physical pages and no page tables. It carries copies instead: the
crashing thread's stack, the KDBG, the crashing CPU's KPRCB, data blocks, and its own
driver and unloaded-driver tables (dump-format.md sections 3 and 12).
"""

from __future__ import annotations

from functools import cached_property

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.offer import KernelOffer, PrcbCopy
from dumptriage.dump.containers.triage.drivers import kernel_base_anomalies, read_drivers
from dumptriage.dump.containers.triage.header import (
    TriageHeader,
    debugger_data_copy,
    read_triage_header,
    triage_anomalies,
)
from dumptriage.dump.containers.triage.memory import DataPage, TriageMemory, build_triage_memory
from dumptriage.dump.containers.triage.unloaded import read_unloaded_drivers
from dumptriage.dump.kernel.kdbg import MAX_KDBG_LEN, Kdbg, parse_kdbg
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.record import replace


class TriageDump:
    kind = "triage"

    def __init__(self, file: DumpFile):
        self._file = file
        self.path = file.path
        self.data = file.data  # the mapped file: every triage section is an offset into it
        self.header: TriageHeader = read_triage_header(str(file.path), file.raw)
        # RequiredDumpSpace of a minidump is not its size (real files disagree with it);
        # SizeOfDump is what the triage writer actually wrote.
        self.info = replace(file.info, expected_size=self.header.size_of_dump)
        self.bugcheck = file.bugcheck
        self._anomalies = file.arch_anomalies() + triage_anomalies(self.header, file.data)

    @property
    def physical(self) -> PhysicalMemory | None:
        return None

    def opening_anomalies(self) -> list[Anomaly]:
        return list(self._anomalies)

    def kernel_offer(self) -> KernelOffer:
        return self._offer

    @cached_property
    def _memory(self) -> tuple[TriageMemory, list[Anomaly]]:
        t = self._file.raw.triage_dump
        page = DataPage(int(t.data_page_address), int(t.ofs_data_page), int(t.len_data_page))
        return build_triage_memory(self.header, self._file.data,
                                   pointer_bits=self.info.pointer_bits,
                                   kdbg_va=self.info.kd_debugger_data_block, data_page=page)

    def _kdbg(self) -> Kdbg | None:
        blob = debugger_data_copy(self.header, self._file.data, MAX_KDBG_LEN)
        copy_va = self.info.kd_debugger_data_block or 0
        return parse_kdbg(blob, copy_va, self.info.pointer_bits, "triage copy") if blob else None

    @cached_property
    def _offer(self) -> KernelOffer:
        data, bits = self._file.data, self.info.pointer_bits
        memory, memory_found = self._memory
        kdbg = self._kdbg()
        modules, found = read_drivers(self.header, data, bits)
        found += kernel_base_anomalies(modules, kdbg.kern_base if kdbg else None)
        unloaded, more = read_unloaded_drivers(self.header, data, bits)
        copy = self._prcb_copy()
        return KernelOffer(
            memory=memory, kdbg=kdbg, header_registers=self._file.header_registers(),
            listed_modules=modules, listed_unloaded=unloaded,
            prcb_copy=PrcbCopy(copy, self._copy_va(memory, copy)) if copy else None,
            partial_cpus=True, anomalies=tuple(memory_found + found + more))

    def _prcb_copy(self) -> bytes | None:
        """The KPRCB copy: PrcbOffset up to the next section (bounded by the file)."""
        data, start = self._file.data, self.header.prcb_offset
        if not 0 < start < len(data):
            return None
        ends = [o for o in (self.header.process_offset, self.header.thread_offset,
                            self.header.call_stack_offset, len(data)) if o > start]
        return bytes(data[start : min(min(ends), start + 0x20000)])

    @staticmethod
    def _copy_va(memory: TriageMemory, copy: bytes) -> int | None:
        """The KPRCB copy's virtual address: the data block holding the same bytes.

        The header does not give it, but Windows also saves the crashing CPU's KPRCB as a
        data block (block 2 of the real Windows 10 minidump, dump-format.md section 12.1).
        """
        probe = copy[:0x100]
        for extent in memory.ranges():
            if extent.size >= len(probe) and memory.read_or_none(extent.va, len(probe)) == probe:
                return extent.va
        return None

    def close(self) -> None:
        self._file.close()
