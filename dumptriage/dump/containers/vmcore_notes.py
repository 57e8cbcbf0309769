"""The ELF notes of a QEMU vmcore: per-vCPU registers and the guest's own note.

QEMU writes the same notes into its ELF and its kdump-compressed files (dump/dump.c
``write_elf64_notes``, ``write_elf32_notes``; hung-guest-dumps.md section 1.1): one
NT_PRSTATUS ``CORE`` note per vCPU in cpu_index order, one ``QEMU`` note (QEMUCPUState)
per vCPU in the same order, then optionally one note copied from the guest's vmcoreinfo
area. The Nth CORE note and the Nth QEMU note are the same vCPU.

Layouts come from formats/qemu_vmcore.ksy (flattened struct formats). Every length is
checked against the room the notes have; a note that does not fit ends the walk with an
anomaly and the notes before it are kept.
"""

from __future__ import annotations

from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.formats.qemu_vmcore_flat import (
    ELF_NOTE_HEADER,
    ELF_PRSTATUS_I386,
    ELF_PRSTATUS_X86_64,
    QEMU_CPU_SEGMENT,
    QEMU_CPU_STATE,
)
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

NT_PRSTATUS = 1
CORE, QEMU = b"CORE", b"QEMU"
_STATE_SIZE = flat_size(QEMU_CPU_STATE)  # 0x1B0: QEMUCPUState without kernel_gs_base
_KGS_AT = dict(QEMU_CPU_STATE[2])["ofs_kernel_gs_base"]
_KGS_SIZE = dict(QEMU_CPU_STATE[2])["len_with_kernel_gs_base"]
_PRSTATUS64 = flat_size(ELF_PRSTATUS_X86_64)  # 0x150
_PRSTATUS32 = flat_size(ELF_PRSTATUS_I386)  # 0x90
_NOTE_HEADER = flat_size(ELF_NOTE_HEADER)
# QEMU's x86 maximum is far below this; 2 notes per vCPU plus the guest note.
MAX_VCPUS = 8192
MAX_NOTES = 2 * MAX_VCPUS + 1
_SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss", "ldt", "tr")
_GENERAL = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
CS_L = 1 << 21  # QEMUCPUSegment.flags: the descriptor's L bit (64-bit code segment)


class Note:
    """One note: its name (without the NUL), type, and where its desc lies."""

    __slots__ = ("desc", "name", "note_type", "offset")

    def __init__(self, name: bytes, note_type: int, desc: bytes, offset: int) -> None:
        self.name = name
        self.note_type = note_type
        self.desc = desc
        self.offset = offset  # file offset of the note header, for messages


class VmcoreNotes:
    """What the notes hold: the vCPUs, the guest note's desc, and what was odd."""

    def __init__(self, vcpus: tuple[VcpuRegisters, ...], guest_note: Note | None,
                 prstatus_bits: int | None, anomalies: list[Anomaly]) -> None:
        self.vcpus = vcpus
        self.guest_note = guest_note
        # 64 when the CORE notes are the x86_64 layout (the file's machine was EM_X86_64),
        # 32 for the i386 one; None without CORE notes.
        self.prstatus_bits = prstatus_bits
        self.anomalies = anomalies


def split_notes(blob: memoryview, base: int, where: str) -> tuple[list[Note], list[Anomaly]]:
    """The notes in ``blob`` (file offset ``base``), walking at most MAX_NOTES of them."""
    notes: list[Note] = []
    at = 0
    while at + _NOTE_HEADER <= len(blob):
        if len(notes) >= MAX_NOTES:
            return notes, [anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                                   f"more than {MAX_NOTES} notes; the rest were ignored")]
        head = read_flat(ELF_NOTE_HEADER, blob, at)
        name_at = at + _NOTE_HEADER
        desc_at = name_at + _pad4(head.len_name)
        end = desc_at + _pad4(head.len_desc)
        if head.len_name == 0 and head.len_desc == 0 and head.note_type == 0:
            break  # zero padding after the last note
        if desc_at + head.len_desc > len(blob):
            return notes, [anomaly(
                AnomalyCode.HEADER_INCONSISTENT, f"{where} note at {base + at:#x}",
                f"namesz {head.len_name:#x} and descsz {head.len_desc:#x} run past the end "
                f"of the notes at {base + len(blob):#x}; {len(notes)} notes before it were read")]
        name = bytes(blob[name_at : name_at + head.len_name]).rstrip(b"\0")
        # Copied (at most a few KiB per vCPU): no view into the mapping outlives the parse.
        notes.append(Note(name, head.note_type, bytes(blob[desc_at : desc_at + head.len_desc]),
                          base + at))
        at = end
    return notes, []


def read_notes(blob: memoryview, base: int, where: str) -> VmcoreNotes:
    """Pair the CORE and QEMU notes by position into one VcpuRegisters per vCPU."""
    notes, problems = split_notes(blob, base, where)
    cores = [n for n in notes if n.name == CORE and n.note_type == NT_PRSTATUS]
    states = [n for n in notes if n.name == QEMU]
    others = [n for n in notes if n.name not in (CORE, QEMU)]
    if len(cores) > MAX_VCPUS or len(states) > MAX_VCPUS:
        problems.append(anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                                f"more than {MAX_VCPUS} vCPU notes; the rest were ignored"))
        cores, states = cores[:MAX_VCPUS], states[:MAX_VCPUS]
    if cores and states and len(cores) != len(states):
        problems.append(anomaly(
            AnomalyCode.HEADER_INCONSISTENT, where,
            f"{len(cores)} CORE (NT_PRSTATUS) notes but {len(states)} QEMU notes; "
            "they are paired by position"))
    prstatus_bits = _prstatus_bits(cores)
    vcpus = []
    for index in range(max(len(cores), len(states))):
        core = cores[index] if index < len(cores) else None
        state = states[index] if index < len(states) else None
        vcpu = _vcpu(index, core, state, problems)
        if vcpu is not None:
            vcpus.append(vcpu)
    return VmcoreNotes(tuple(vcpus), others[-1] if others else None, prstatus_bits, problems)


def _pad4(size: int) -> int:
    return (size + 3) & ~3


def _prstatus_bits(cores: list[Note]) -> int | None:
    if not cores:
        return None
    return 64 if len(cores[0].desc) >= _PRSTATUS64 else 32


def _vcpu(index: int, core: Note | None, state: Note | None,
          problems: list[Anomaly]) -> VcpuRegisters | None:
    if state is not None:
        if len(state.desc) >= _STATE_SIZE:
            return _from_state(index, state.desc)
        problems.append(anomaly(
            AnomalyCode.HEADER_INCONSISTENT, f"QEMU note at {state.offset:#x}",
            f"descsz {len(state.desc):#x} is shorter than QEMUCPUState ({_STATE_SIZE:#x})"))
    if core is None:
        return None
    found = _from_prstatus(index, core.desc)
    if found is None:
        problems.append(anomaly(
            AnomalyCode.HEADER_INCONSISTENT, f"CORE note at {core.offset:#x}",
            f"descsz {len(core.desc):#x} is neither the x86_64 ({_PRSTATUS64:#x}) nor the "
            f"i386 ({_PRSTATUS32:#x}) NT_PRSTATUS size: vCPU {index} has no registers"))
    else:
        problems.append(anomaly(
            AnomalyCode.HEADER_INCONSISTENT, f"CORE note at {core.offset:#x}",
            f"vCPU {index} has no QEMU note: CR0/CR3/CR4, GDT and IDT are unknown (0)"))
    return found


def _segment(raw: bytes) -> tuple[int, int, int, int]:
    seg = read_flat(QEMU_CPU_SEGMENT, raw, 0)
    return int(seg.selector), int(seg.base), int(seg.limit), int(seg.flags)


def _from_state(index: int, desc: bytes) -> VcpuRegisters:
    s = read_flat(QEMU_CPU_STATE, desc, 0)
    segs = {name: _segment(getattr(s, name)) for name in (*_SEGMENTS, "gdt", "idt")}
    # kernel_gs_base exists only when QEMUCPUState.size says so (QEMU commit 46fac17).
    kgs = None
    if min(int(s.len_state), len(desc)) >= _KGS_SIZE:
        kgs = int.from_bytes(desc[_KGS_AT : _KGS_AT + 8], "little")
    cs, gdt, idt = segs["cs"], segs["gdt"], segs["idt"]
    cr = s.cr
    return VcpuRegisters(
        index=index, bits=64 if cs[3] & CS_L else 32, rip=int(s.rip), rsp=int(s.rsp),
        rbp=int(s.rbp), rflags=int(s.rflags), cr0=int(cr[0]), cr3=int(cr[3]), cr4=int(cr[4]),
        cs=cs[0], ss=segs["ss"][0], fs_base=segs["fs"][1], gs_base=segs["gs"][1],
        kernel_gs_base=kgs, gdt_base=gdt[1], gdt_limit=gdt[2], idt_base=idt[1],
        idt_limit=idt[2], fs=segs["fs"][0],
        general=tuple((name, int(getattr(s, name))) for name in _GENERAL),
        source="QEMU note", cs_flags=cs[3], cr2=int(cr[2]),
        segments=tuple((name, *segs[name]) for name in _SEGMENTS))


def _from_prstatus(index: int, desc: bytes) -> VcpuRegisters | None:
    """Registers from NT_PRSTATUS alone (no control registers, no descriptor tables)."""
    if len(desc) >= _PRSTATUS64:
        p = read_flat(ELF_PRSTATUS_X86_64, desc, 0)
        general = tuple((n, int(getattr(p, n))) for n in _GENERAL)
        return VcpuRegisters(
            index=index, bits=64, rip=int(p.rip), rsp=int(p.rsp), rbp=int(p.rbp),
            rflags=int(p.eflags), cr0=0, cr3=0, cr4=0, cs=int(p.cs), ss=int(p.ss),
            fs_base=int(p.fs_base), gs_base=int(p.gs_base), kernel_gs_base=None, gdt_base=0,
            gdt_limit=0, idt_base=0, idt_limit=0, fs=int(p.fs) & 0xFFFF, general=general,
            source="NT_PRSTATUS")
    if len(desc) >= _PRSTATUS32:
        p = read_flat(ELF_PRSTATUS_I386, desc, 0)
        names = ("eax", "ebx", "ecx", "edx", "esi", "edi", "esp", "ebp")
        general = tuple(("r" + n[1:], int(getattr(p, n))) for n in names)
        return VcpuRegisters(
            index=index, bits=32, rip=int(p.eip), rsp=int(p.esp), rbp=int(p.ebp),
            rflags=int(p.eflags), cr0=0, cr3=0, cr4=0, cs=int(p.cs) & 0xFFFF,
            ss=int(p.ss) & 0xFFFF, fs_base=0, gs_base=0, kernel_gs_base=None, gdt_base=0,
            gdt_limit=0, idt_base=0, idt_limit=0, fs=int(p.fs) & 0xFFFF, general=general,
            source="NT_PRSTATUS")
    return None
