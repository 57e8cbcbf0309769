"""What the QEMU vmcore containers (ELF core and kdump-compressed) share.

Both hold guest-physical pages and the same ELF notes (vmcore_notes.py); neither has a
Windows header unless the guest wrote one into its vmcoreinfo note (vmcore_guest.py).
So the header facts come from the notes: the architecture from the vCPUs' mode (CS.L, or
the file's machine), ``processors`` from the number of vCPU notes, and the build, the
KDBG and DirectoryTableBase only from the guest header. Finding Windows in raw memory is
kernel-state work, not the container's.

Conventions, for the code past the container:

* ``kind`` is "vmcore" for every file of this family; ``info.signature`` ("ELF",
  "KDUMP", "makedumpfile") and ``info.dump_type`` ("vmcore_elf", "vmcore_kdump") tell
  them apart.
* A hung guest has no stop code. ``bugcheck`` is then BugCheck(code 0, zero arguments)
  and ``has_bugcheck`` is False; a report should show no bugcheck for it. With a guest
  header, ``bugcheck`` is that header's (its Arg1 is the driver's decoded-KDBG address)
  and ``has_bugcheck`` is True only when its code is not 0.
* ``kernel_offer().memory`` translates through the guest header's DirectoryTableBase,
  else through vCPU 0's CR3 in vCPU 0's paging mode; ``paged_memory(cr3, mode)`` gives
  the same over any other CR3 (a kernel-mode vCPU's, when vCPU 0 holds a user CR3).
"""

from __future__ import annotations

import contextlib
from functools import cached_property

from dumptriage.dump.containers.offer import KernelOffer
from dumptriage.dump.containers.vmcore_guest import GuestHeader, guest_header
from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.dump.memory.virtual import PagedMemory
from dumptriage.errors import PageNotPresent
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.header import BugCheck, DumpInfo, OsInfo

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    import mmap
    from typing import BinaryIO

    from dumptriage.dump.containers.vcpu import VcpuRegisters
    from dumptriage.dump.containers.vmcore_notes import VmcoreNotes
    from dumptriage.dump.kernel.kdbg import Kdbg

CR0_PG = 1 << 31  # paging enabled (Intel SDM vol. 3, 2.5)
CR4_PAE = 1 << 5  # physical address extension: 8-byte entries, PDPT
MACHINE = {"x64": 0x8664, "x86": 0x14C}  # MachineImageType values (header.py)


class VmcoreFacts:
    """What the container itself says: its name, banner and the machine its header names."""

    def __init__(self, signature: str, dump_type: str, banner: str, arch_hint: str | None,
                 header_size: int | None) -> None:
        self.signature = signature
        self.dump_type = dump_type
        self.banner = banner
        self.arch_hint = arch_hint  # "x64"/"x86" from e_machine or the NT_PRSTATUS size
        self.header_size = header_size


class VmcoreContainer:
    """One opened QEMU vmcore: physical pages, vCPU notes, the optional guest header."""

    kind = "vmcore"

    def __init__(self, path: str, file: BinaryIO, mapping: mmap.mmap | None,
                 physical: PhysicalMemory, notes: VmcoreNotes, facts: VmcoreFacts,
                 anomalies: list[Anomaly]) -> None:
        self.path = path
        self._file = file
        self._map = mapping
        self._physical = physical
        self._notes = notes
        self._facts = facts
        self.guest, guest_problems = guest_header(notes.guest_note)
        self.vcpus: tuple[VcpuRegisters, ...] = notes.vcpus
        self._anomalies = anomalies + notes.anomalies + guest_problems + self._vcpu_anomalies()
        self.bugcheck = self.guest.bugcheck if self.guest else BugCheck(
            code=0, args=(0, 0, 0, 0), width_bits=32 if self.arch == "x86" else 64)
        self.has_bugcheck = self.bugcheck.code != 0

    # -- header facts --------------------------------------------------------------------

    @cached_property
    def arch(self) -> str:
        if self.guest is not None:
            return self.guest.arch
        if self._facts.arch_hint == "x64" or any(v.bits == 64 for v in self.vcpus):
            return "x64"
        return "x86"

    @cached_property
    def _paging(self) -> tuple[PagingMode | None, int | None]:
        """The paging mode and root the kernel offer translates with."""
        guest = self.guest
        if guest is not None and guest.directory_table_base:
            if guest.arch == "x64":
                return PagingMode.X64, guest.directory_table_base
            return (PagingMode.X86_PAE if guest.pae else PagingMode.X86,
                    guest.directory_table_base)
        if not self.vcpus or not self.vcpus[0].cr0 & CR0_PG:
            return None, None
        return vcpu_paging_mode(self.vcpus[0], self.arch), self.vcpus[0].cr3

    @cached_property
    def info(self) -> DumpInfo:
        guest, facts = self.guest, self._facts
        mode, dtb = self._paging
        pae = None
        if self.arch == "x86":
            pae = guest.pae if guest else mode is PagingMode.X86_PAE
        return DumpInfo(
            signature=facts.signature, arch=self.arch, machine=MACHINE[self.arch], pae=pae,
            dump_type_code=None, dump_type=facts.dump_type, banner=facts.banner,
            header_size=facts.header_size,
            os=guest.os if guest else OsInfo(build=0, nt_version=None, product_name=None,
                                              checked=False, product_type=None,
                                              suite_mask=None),
            processors=len(self.vcpus),
            # The guest header's times are the driver's load time, not the dump's
            # (hung-guest-dumps.md section 1.3 caveats): not reported as the crash time.
            system_time=None, uptime_seconds=None, comment=None,
            directory_table_base=dtb,
            ps_loaded_module_list=guest.ps_loaded_module_list if guest else None,
            ps_active_process_head=guest.ps_active_process_head if guest else None,
            pfn_database=guest.pfn_database if guest else None,
            kd_debugger_data_block=guest.kd_debugger_data_block if guest else None,
            kernel_base=None, attributes=None, file_size=self._file_size(),
            expected_size=None)

    def _file_size(self) -> int:
        import os

        return os.fstat(self._file.fileno()).st_size

    @property
    def physical(self) -> PhysicalMemory | None:
        return self._physical

    def opening_anomalies(self) -> list[Anomaly]:
        return list(self._anomalies)

    def _vcpu_anomalies(self) -> list[Anomaly]:
        if not self.vcpus:
            return [anomaly(AnomalyCode.HEADER_INCONSISTENT, "vmcore notes",
                            "no CORE or QEMU notes: no vCPU registers are in the file")]
        return []

    # -- kernel state --------------------------------------------------------------------

    def paged_memory(self, cr3: int, mode: PagingMode | None) -> PagedMemory:
        """Virtual memory through any paging root (None: no translation at all)."""
        physical = self._physical
        translator = None if mode is None else Translator(mode, cr3, physical.read_u32,
                                                          physical.read_u64)
        return PagedMemory(physical, translator)

    def kernel_offer(self) -> KernelOffer:
        return self._offer

    @cached_property
    def _offer(self) -> KernelOffer:
        mode, dtb = self._paging
        memory = self.paged_memory(dtb or 0, mode if dtb is not None else None)
        found: list[Anomaly] = []
        if mode is None:
            found.append(anomaly(
                AnomalyCode.PAGE_NOT_PRESENT, "vCPU 0 CR0",
                "vCPU 0 runs without paging (CR0.PG clear) and no guest header names a "
                "DirectoryTableBase: no virtual address is translated; physical pages read"))
        kdbg = self._guest_kdbg(memory, found) if self.guest is not None else None
        return KernelOffer(memory=memory, kdbg=kdbg, header_registers=None,
                           vcpus=self.vcpus, anomalies=tuple(found))

    def _guest_kdbg(self, memory: PagedMemory, found: list[Anomaly]) -> Kdbg | None:
        from dumptriage.dump.kernel.kdbg import search_kdbg

        guest: GuestHeader | None = self.guest
        assert guest is not None

        def read(va: int, size: int) -> bytes | None:
            try:
                return memory.read(va, size)
            except PageNotPresent:
                return None

        kdbg = search_kdbg(read, guest.kd_debugger_data_block, guest.bugcheck.args[0],
                           32 if guest.arch == "x86" else 64)
        if kdbg is None:
            found.append(anomaly(
                AnomalyCode.KDBG_UNAVAILABLE, "guest note KdDebuggerDataBlock",
                "no readable 'KDBG' block at the guest header's KdDebuggerDataBlock or "
                "BugCheckParameter1 (encoded, or its page is not in the dump)"))
        return kdbg

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):
                self._map.close()
        self._file.close()


def vcpu_paging_mode(vcpu: VcpuRegisters, arch: str) -> PagingMode | None:
    """The paging mode a vCPU's control registers select; None with paging off."""
    if not vcpu.cr0 & CR0_PG:
        return None
    # Long mode needs CR4.PAE; a vCPU of a 64-bit guest running 32-bit code (CS.L clear,
    # compatibility mode) still walks 4-level tables.
    if vcpu.bits == 64 or (arch == "x64" and vcpu.cr4 & CR4_PAE):
        return PagingMode.X64
    return PagingMode.X86_PAE if vcpu.cr4 & CR4_PAE else PagingMode.X86
