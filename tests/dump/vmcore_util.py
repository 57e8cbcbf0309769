"""Small guest worlds for the vmcore reader tests, made with the builder's own pieces.

A world is guest RAM (the PC layout QEMU dumps: low memory up to 0xA0000, RAM from 1 MiB,
the BIOS ROM block ending at 4 GiB) with real page tables (synth/paging.py) mapping a few
marked pages, and vCPUs whose CR3 is the tables' root.
"""

from __future__ import annotations

from dataclasses import dataclass

from dumptriage.synth.paging import PAE, X64, X86, AddressSpace
from dumptriage.synth.physmem import PhysicalMemory
from dumptriage.synth.vmcore_notes import SynthVcpu
from dumptriage.synth.vmcore_ram import Run
from dumptriage.synth.vmcore_world import ram_of

ROM_BASE, ROM_SIZE = 0xFFFC0000, 0x40000  # SeaBIOS' 256 KiB block (section 1.1)
ROM_MARK = b"SEABIOS ROM (synthetic)"
MODES = {"x64": X64, "pae": PAE, "x86": X86}
KERNEL_VA = {"x64": 0xFFFFF80012340000, "pae": 0x82000000, "x86": 0x81000000}


@dataclass(frozen=True)
class World:
    runs: list[Run]
    pages: dict[int, bytes]
    vcpus: list[SynthVcpu]
    dtb: int
    marks: dict[int, tuple[int, bytes]]  # va -> (pa, bytes written there)


def world(mode: str = "x64", mib: int = 8, vcpus: int = 3) -> World:
    """RAM of ``mib`` MiB with tables of ``mode``; vCPU 0 kernel, 1 idle, 2 user mode."""
    mem = PhysicalMemory(((0, 0xA0), (0x100, (mib << 8) - 0x100)), 0x200)
    vm = AddressSpace(mem, MODES[mode], 0x40 if mode == "pae" else 0)
    marks = {}
    for i in range(4):
        va = KERNEL_VA[mode] + i * 0x3000
        text = f"page {i} of the {mode} world at {va:#x}".encode()
        vm.write(va, text)
        pa = vm.lookup(va)
        assert pa is not None
        marks[va] = (pa, text)
    runs, pages = ram_of(mem)
    runs.append((ROM_BASE, ROM_SIZE))
    pages[ROM_BASE + 0x1000] = ROM_MARK
    is64 = mode == "x64"
    cr4 = 0x20 if mode != "x86" else 0x10  # PAE, or PSE for 2-level tables
    base = dict(cr0=0x80000011, cr3=vm.dtb, cr4=cr4, bits=64 if is64 else 32,
                gdt_base=KERNEL_VA[mode] + 0x9000, gdt_limit=0x7F,
                idt_base=KERNEL_VA[mode] + 0xA000, idt_limit=0xFFF)
    states = [
        SynthVcpu(**base, rip=KERNEL_VA[mode] + 0x1234, rsp=KERNEL_VA[mode] + 0x8F00,
                  rbp=KERNEL_VA[mode] + 0x8F80, rflags=0x46, cs=0x10 if is64 else 0x08,
                  gs_base=0xFFFFF80012400000 if is64 else 0, kernel_gs_base=0x7FF6000,
                  fs_base=0, cr2=0xDEAD000, general={"rax": 0x1122334455667788, "r15": 7}),
        SynthVcpu(**base, rip=KERNEL_VA[mode] + 0x2002, rsp=KERNEL_VA[mode] + 0x7F00,
                  rflags=0x246, cs=0x10 if is64 else 0x08,
                  gs_base=0xFFFFF80012500000 if is64 else 0, general={"rcx": 2}),
        SynthVcpu(**base, rip=0x7FF612340000 if is64 else 0x401000, rsp=0x5F000, rflags=0x202,
                  cs=0x33 if is64 else 0x1B, ss=0x2B if is64 else 0x23,
                  gs_base=0x5E000, kernel_gs_base=0xFFFFF80012400000 if is64 else 0,
                  cs_flags=0x0020FB00 if is64 else 0x00CFFB00),
    ]
    return World(runs, pages, states[:vcpus], vm.dtb, marks)
