"""A test-only vmcore container: a synth world's physical memory plus its vCPUs' registers.

The QEMU ELF / kdump containers are written in another branch (issue 14, part A); until
they land, this class offers what they will, through ``protocol.Container``: the guest's
physical memory (read from a DumpType 6 file the builder wrote), ``KernelOffer(memory=
paging from vCPU 0's CR3, kdbg=None, header_registers=None, vcpus=...)``, no bugcheck,
and container facts only (arch, vCPU count; no build). ``vmcore_opener`` makes
``open_dump`` return it for the files it was registered for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dumptriage.dump import crash_dump
from dumptriage.dump.containers import open_container
from dumptriage.dump.containers.offer import KernelOffer
from dumptriage.dump.containers.protocol import Container
from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.dump.memory.virtual import PagedMemory
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.header import BugCheck, DumpInfo, OsInfo
from dumptriage.synth import BuiltDump, BuiltVcpu, DumpSpec, write


def registers(v: BuiltVcpu) -> VcpuRegisters:
    return VcpuRegisters(
        index=v.index, bits=v.bits, rip=v.rip, rsp=v.rsp, rbp=v.rbp, rflags=v.rflags,
        cr0=v.cr0, cr3=v.cr3, cr4=v.cr4, cs=v.cs, ss=v.ss, fs_base=v.fs_base,
        gs_base=v.gs_base, kernel_gs_base=v.kernel_gs_base, gdt_base=v.gdt_base,
        gdt_limit=v.gdt_limit, idt_base=v.idt_base, idt_limit=v.idt_limit, fs=v.fs)


class SynthVmcore:
    kind = "vmcore"

    def __init__(self, path: str, built: BuiltDump):
        self.path = path
        self._inner = open_container(path)
        self._vcpus = tuple(registers(v) for v in built.vcpus)
        self._arch = built.arch
        self._size = os.path.getsize(path)

    @property
    def bugcheck(self) -> BugCheck | None:
        return None  # a hung guest: nothing bugchecked

    @property
    def info(self) -> DumpInfo:
        return DumpInfo(
            signature="ELF", arch=self._arch, machine=62 if self._arch == "x64" else 3,
            pae=None, dump_type_code=None, dump_type="vmcore_elf",
            banner="QEMU dump-guest-memory ELF core (test container)", header_size=0x40,
            os=OsInfo(build=0, nt_version=None, product_name=None, checked=False,
                      product_type=None, suite_mask=None),
            processors=len(self._vcpus), system_time=None, uptime_seconds=None,
            comment=None, directory_table_base=None, ps_loaded_module_list=None,
            ps_active_process_head=None, pfn_database=None, kd_debugger_data_block=None,
            kernel_base=None, attributes=None, file_size=self._size, expected_size=None)

    @property
    def physical(self) -> PhysicalMemory | None:
        return self._inner.physical

    def opening_anomalies(self) -> list[Anomaly]:
        return []

    def kernel_offer(self) -> KernelOffer:
        physical = self._inner.physical
        assert physical is not None
        first = self._vcpus[0]
        mode = PagingMode.X64 if self._arch == "x64" else (
            PagingMode.X86_PAE if first.cr4 & 0x20 else PagingMode.X86)
        memory = PagedMemory(physical, Translator(mode, first.cr3, physical.read_u32,
                                                  physical.read_u64))
        return KernelOffer(memory=memory, kdbg=None, header_registers=None, vcpus=self._vcpus)

    def close(self) -> None:
        self._inner.close()


Opener = Callable[[DumpSpec, Path], tuple[BuiltDump, Path]]


@contextmanager
def vmcore_opener(monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    """Write synth worlds as files that ``open_dump`` opens as SynthVmcore containers."""
    worlds: dict[str, BuiltDump] = {}
    original = crash_dump.open_container

    def opening(path: str) -> Container:
        built = worlds.get(os.path.abspath(path))
        return SynthVmcore(path, built) if built is not None else original(path)

    def make(spec: DumpSpec, path: Path) -> tuple[BuiltDump, Path]:
        built = write(spec, path)
        worlds[os.path.abspath(path)] = built
        return built, path

    monkeypatch.setattr(crash_dump, "open_container", opening)
    yield make
