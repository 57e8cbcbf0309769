"""The vmcore writer's OWN literal offsets (DESIGN.md convention 2: never the reader's).

Sources: System V gABI (ELF header, program and section headers, notes); QEMU
``target/i386/arch_dump.c`` (NT_PRSTATUS layouts, QEMUCPUState), ``include/sysemu/dump.h``
(DiskDumpHeader32/64, KdumpSubHeader32/64, PageDescriptor, makedumpfile headers);
../shared/reference/hung-guest-dumps.md sections 1.1 and 1.2, which checked the offsets
against real QEMU 7.2.22 files. A field is (offset, construct type), written with
``layout.put``.
"""

from __future__ import annotations

from construct import Bytes, Int16ul, Int32ul, Int64sb, Int64ul

from dumptriage.synth.layout import Field

# Elf64_Ehdr (0x40 bytes).
ELF64_HEADER_SIZE = 0x40
ELF64_HEADER: dict[str, Field] = {
    "e_ident": (0x00, Bytes(16)), "e_type": (0x10, Int16ul), "e_machine": (0x12, Int16ul),
    "e_version": (0x14, Int32ul), "e_entry": (0x18, Int64ul), "e_phoff": (0x20, Int64ul),
    "e_shoff": (0x28, Int64ul), "e_flags": (0x30, Int32ul), "e_ehsize": (0x34, Int16ul),
    "e_phentsize": (0x36, Int16ul), "e_phnum": (0x38, Int16ul),
    "e_shentsize": (0x3A, Int16ul), "e_shnum": (0x3C, Int16ul), "e_shstrndx": (0x3E, Int16ul),
}
# Elf32_Ehdr (0x34 bytes).
ELF32_HEADER_SIZE = 0x34
ELF32_HEADER: dict[str, Field] = {
    "e_ident": (0x00, Bytes(16)), "e_type": (0x10, Int16ul), "e_machine": (0x12, Int16ul),
    "e_version": (0x14, Int32ul), "e_entry": (0x18, Int32ul), "e_phoff": (0x1C, Int32ul),
    "e_shoff": (0x20, Int32ul), "e_flags": (0x24, Int32ul), "e_ehsize": (0x28, Int16ul),
    "e_phentsize": (0x2A, Int16ul), "e_phnum": (0x2C, Int16ul),
    "e_shentsize": (0x2E, Int16ul), "e_shnum": (0x30, Int16ul), "e_shstrndx": (0x32, Int16ul),
}
# Elf64_Phdr (0x38) and Elf32_Phdr (0x20): p_flags moves from second to sixth.
PHDR64_SIZE = 0x38
PHDR64: dict[str, Field] = {
    "p_type": (0x00, Int32ul), "p_flags": (0x04, Int32ul), "p_offset": (0x08, Int64ul),
    "p_vaddr": (0x10, Int64ul), "p_paddr": (0x18, Int64ul), "p_filesz": (0x20, Int64ul),
    "p_memsz": (0x28, Int64ul), "p_align": (0x30, Int64ul),
}
PHDR32_SIZE = 0x20
PHDR32: dict[str, Field] = {
    "p_type": (0x00, Int32ul), "p_offset": (0x04, Int32ul), "p_vaddr": (0x08, Int32ul),
    "p_paddr": (0x0C, Int32ul), "p_filesz": (0x10, Int32ul), "p_memsz": (0x14, Int32ul),
    "p_flags": (0x18, Int32ul), "p_align": (0x1C, Int32ul),
}
# Elf64_Shdr (0x40) and Elf32_Shdr (0x28).
SHDR64_SIZE = 0x40
SHDR64: dict[str, Field] = {
    "sh_name": (0x00, Int32ul), "sh_type": (0x04, Int32ul), "sh_offset": (0x18, Int64ul),
    "sh_size": (0x20, Int64ul), "sh_info": (0x2C, Int32ul),
}
SHDR32_SIZE = 0x28
SHDR32: dict[str, Field] = {
    "sh_name": (0x00, Int32ul), "sh_type": (0x04, Int32ul), "sh_offset": (0x10, Int32ul),
    "sh_size": (0x14, Int32ul), "sh_info": (0x1C, Int32ul),
}

# NT_PRSTATUS desc, x86_64 (0x150 bytes): pr_pid at 0x20, user_regs_struct from 0x70.
PRSTATUS64_SIZE = 0x150
PRSTATUS64_PID = 0x20
PRSTATUS64_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                   "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
                   "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")
PRSTATUS64_REGS_AT = 0x70
# NT_PRSTATUS desc, i386 (0x90 bytes): pr_pid at 0x18, registers (u32) from 0x48.
PRSTATUS32_SIZE = 0x90
PRSTATUS32_PID = 0x18
PRSTATUS32_REGS = ("ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs", "gs",
                   "orig_eax", "eip", "cs", "eflags", "esp", "ss")
PRSTATUS32_REGS_AT = 0x48

# QEMUCPUState: version u32 @0, size u32 @4, then u64 slots.
QEMU_STATE_SIZE = 0x1B8  # with kernel_gs_base (QEMU >= 3.0, commit 46fac17)
QEMU_STATE_SIZE_OLD = 0x1B0
QEMU_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")  # from 0x08
QEMU_RIP, QEMU_RFLAGS = 0x88, 0x90
QEMU_SEGMENTS = {"cs": 0x98, "ds": 0xB0, "es": 0xC8, "fs": 0xE0, "gs": 0xF8, "ss": 0x110,
                 "ldt": 0x128, "tr": 0x140, "gdt": 0x158, "idt": 0x170}
# QEMUCPUSegment (0x18): selector, limit, flags, pad (u32 each), base u64.
SEGMENT: dict[str, Field] = {"selector": (0x0, Int32ul), "limit": (0x4, Int32ul),
                             "flags": (0x8, Int32ul), "base": (0x10, Int64ul)}
QEMU_CR = 0x188  # cr[0..4]
QEMU_KERNEL_GS_BASE = 0x1B0

# DiskDumpHeader64 (packed, 0x1D0) / DiskDumpHeader32 (packed, 0x1C4): the 32-bit one has
# a 10-byte timestamp instead of 22, so every field after it is 12 bytes lower.
DISK_DUMP64_SIZE, DISK_DUMP32_SIZE = 0x1D0, 0x1C4
DISK_DUMP_MACHINE = 0x0C + 4 * 65  # utsname.machine
_DISK_TAIL = ("status", "block_size", "sub_hdr_size", "bitmap_blocks", "max_mapnr",
              "total_ram_blocks", "device_blocks", "written_blocks", "current_cpu", "nr_cpus")
DISK_DUMP64: dict[str, Field] = {"signature": (0x0, Bytes(8)), "header_version": (0x8, Int32ul),
                                 **{n: (0x1A8 + 4 * i, Int32ul) for i, n in enumerate(_DISK_TAIL)}}
DISK_DUMP32: dict[str, Field] = {"signature": (0x0, Bytes(8)), "header_version": (0x8, Int32ul),
                                 **{n: (0x19C + 4 * i, Int32ul) for i, n in enumerate(_DISK_TAIL)}}
# KdumpSubHeader64 (packed, 0x68) and KdumpSubHeader32 (packed, 0x50).
SUB64_SIZE, SUB32_SIZE = 0x68, 0x50
SUB64: dict[str, Field] = {
    "phys_base": (0x00, Int64ul), "dump_level": (0x08, Int32ul),
    "offset_note": (0x30, Int64ul), "note_size": (0x38, Int64ul),
    "offset_vmcoreinfo": (0x20, Int64ul), "size_vmcoreinfo": (0x28, Int64ul),
    "max_mapnr_64": (0x60, Int64ul),
}
SUB32: dict[str, Field] = {
    "phys_base": (0x00, Int32ul), "dump_level": (0x04, Int32ul),
    "offset_vmcoreinfo": (0x14, Int64ul), "size_vmcoreinfo": (0x1C, Int32ul),
    "offset_note": (0x20, Int64ul), "note_size": (0x28, Int32ul),
    "max_mapnr_64": (0x48, Int64ul),
}
# PageDescriptor (0x18): offset u64, size u32, flags u32, page_flags u64.
PAGE_DESC_SIZE = 0x18
PAGE_DESC: dict[str, Field] = {"offset": (0x0, Int64ul), "size": (0x8, Int32ul),
                               "flags": (0xC, Int32ul), "page_flags": (0x10, Int64ul)}
# makedumpfile flattened: a 4096-byte header ("makedumpfile", type, version as big-endian
# int64 at 0x10 and 0x18), then (offset, size) big-endian int64 pairs before each record.
FLAT_HEADER_SIZE = 0x1000
FLAT_TYPE, FLAT_VERSION = (0x10, Int64sb), (0x18, Int64sb)
FLAT_RECORD = Int64sb
