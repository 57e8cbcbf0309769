"""The builder's synthetic Windows kernel world, written as a QEMU vmcore instead of a
MEMORY.DMP: the same guest RAM (page tables, modules, KDBG, KPRCBs) both ways.

``vmcore_from_spec(spec, path)`` lays out the world of a DumpSpec (synth/builder.py), then
writes its physical memory as an ELF core or a kdump-compressed file, with one vCPU per
processor (CR3 = the world's DirectoryTableBase) unless ``vcpus`` are given, and with the
spec's DUMP_HEADER as the VMCOREINFO guest note (as virtio-win's FwCfg driver provides it:
a DumpType 1 header made at driver load) unless ``guest_header`` is False.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from dumptriage.synth.builder import _prepare
from dumptriage.synth.manifest import BuiltDump
from dumptriage.synth.physmem import PAGE, PhysicalMemory
from dumptriage.synth.spec import DumpSpec
from dumptriage.synth.vmcore import ElfWritten, write_elf
from dumptriage.synth.vmcore_kdump import KdumpWritten, write_kdump
from dumptriage.synth.vmcore_notes import SynthVcpu
from dumptriage.synth.vmcore_ram import Run

CR0_PE_PG = 0x80000011  # PE, ET, PG: protected mode with paging
CR4_PAE = 0x20
X64_KERNEL_CS, X86_KERNEL_CS, X86_KERNEL_FS = 0x10, 0x08, 0x30


def ram_of(mem: PhysicalMemory) -> tuple[list[Run], dict[int, bytes]]:
    """The builder's guest RAM as writer input: sized runs (holes) plus the written pages."""
    runs: list[Run] = [(base * PAGE, count * PAGE) for base, count in mem.runs]
    pages = {pfn * PAGE: bytes(buf) for pfn, buf in mem.pages.items()}
    return runs, pages


def default_vcpus(built: BuiltDump) -> list[SynthVcpu]:
    """One kernel-mode vCPU per processor, on the world's DirectoryTableBase; vCPU n runs
    at the n-th CPU's saved ip/sp (the crashing thread's for the legacy single CPU)."""
    is64 = built.arch == "x64"
    paging_cr4 = CR4_PAE if is64 or built.pae else 0
    out = []
    for i in range(built.spec.processors):
        cpu = built.cpus[i] if i < len(built.cpus) else None
        prcb = built.prcb_vas[i] if i < len(built.prcb_vas) else 0
        out.append(SynthVcpu(
            rip=cpu.ip if cpu else built.context_ip, rsp=cpu.sp if cpu else built.context_sp,
            rbp=cpu.bp if cpu else built.context_bp, rflags=0x202, cr0=CR0_PE_PG,
            cr3=built.dtb, cr4=paging_cr4, cs=X64_KERNEL_CS if is64 else X86_KERNEL_CS,
            fs=0x53 if is64 else X86_KERNEL_FS, bits=64 if is64 else 32,
            # x64: GS base is the KPCR (KPRCB - 0x180); x86 finds it through FS.
            gs_base=prcb - 0x180 if is64 and prcb else 0))
    return out


def world_of(spec: DumpSpec) -> tuple[BuiltDump, bytes, PhysicalMemory]:
    """The laid-out world of ``spec`` as a full dump would hold it: its manifest, its
    DumpType 1 DUMP_HEADER (the guest note's content) and its guest RAM."""
    built, header, _, mem = _prepare(dataclasses.replace(spec, dump_type=1))
    return built, header, mem


def vmcore_from_spec(spec: DumpSpec, path: str | Path, *, fmt: Literal["elf", "kdump"] = "elf",
                     guest_header: bool = True,
                     vcpus: Sequence[SynthVcpu | Mapping[str, object]] | None = None,
                     **options: Any) -> tuple[BuiltDump, ElfWritten | KdumpWritten]:
    """Lay out ``spec``'s kernel world and write it as a vmcore; returns the world's
    manifest (addresses, modules, CPUs) and where the writer put things."""
    built, header, mem = world_of(spec)
    runs, pages = ram_of(mem)
    cpus = list(vcpus) if vcpus is not None else default_vcpus(built)
    note = header if guest_header else None
    if fmt == "elf":
        return built, write_elf(path, runs, cpus, note, pages=pages, **options)
    return built, write_kdump(path, runs, cpus, note, pages=pages, **options)
