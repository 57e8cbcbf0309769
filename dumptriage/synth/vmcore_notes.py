"""The ELF notes a QEMU vmcore carries, written from per-vCPU register values.

Order as QEMU writes them (dump/dump.c ``write_elf64_notes``): one ``CORE`` NT_PRSTATUS
note per vCPU (pr_pid = index + 1), one ``QEMU`` note (QEMUCPUState) per vCPU, then the
optional guest note (``VMCOREINFO``, e.g. a Windows header from virtio-win's FwCfg).
Offsets: synth/vmcore_layout.py.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

from construct import Int32ul, Int64ul

from dumptriage.synth import vmcore_layout as V
from dumptriage.synth.layout import put, put_field

NT_PRSTATUS = 1
CS64_FLAGS = 0x00209B00  # P, DPL 0, S, type 0xB (code, accessed), L: a 64-bit kernel CS
CS32_FLAGS = 0x00CF9B00  # flat 32-bit code: G, D/B, limit 19:16 = 0xF (section 10)
DATA_FLAGS = 0x00CF9300


@dataclass(frozen=True)
class SynthVcpu:
    """One vCPU's registers as the writer puts them into the notes (defaults: zero).

    ``bits`` chooses the CS flags default (L set for 64) when ``cs_flags`` is None.
    ``general`` holds rax..r15 by name; rsp and rbp are their own fields.
    """

    rip: int = 0
    rsp: int = 0
    rbp: int = 0
    rflags: int = 0x2
    cr0: int = 0
    cr2: int = 0
    cr3: int = 0
    cr4: int = 0
    cs: int = 0x10
    ss: int = 0x18
    ds: int = 0x2B
    es: int = 0x2B
    fs: int = 0x53
    gs: int = 0x2B
    fs_base: int = 0
    gs_base: int = 0
    kernel_gs_base: int = 0
    gdt_base: int = 0
    gdt_limit: int = 0x7F
    idt_base: int = 0
    idt_limit: int = 0xFFF
    bits: int = 64
    cs_flags: int | None = None
    general: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, value: SynthVcpu | Mapping[str, object]) -> SynthVcpu:
        """A record from a SynthVcpu or a dict of its field names (unknown keys refused)."""
        if isinstance(value, SynthVcpu):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown vCPU register names: {sorted(unknown)}")
        return cls(**value)  # type: ignore[arg-type]

    @property
    def cs_descriptor_flags(self) -> int:
        if self.cs_flags is not None:
            return self.cs_flags
        return CS64_FLAGS if self.bits == 64 else CS32_FLAGS

    def register(self, name: str) -> int:
        """A general register by name (rsp/rbp from their fields), 0 when not given."""
        if name == "rsp":
            return self.rsp
        if name == "rbp":
            return self.rbp
        return int(self.general.get(name, 0))


def note(name: bytes, note_type: int, desc: bytes) -> bytes:
    """An ELF note: 12-byte header, NUL-terminated name and desc, each padded to 4."""
    named = name + b"\0"
    head = struct.pack("<III", len(named), len(desc), note_type)  # n_namesz, n_descsz, n_type
    return head + _pad4(named) + _pad4(desc)


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def prstatus64(index: int, v: SynthVcpu) -> bytes:
    buf = bytearray(V.PRSTATUS64_SIZE)
    put(buf, V.PRSTATUS64_PID, Int32ul, index + 1)  # QEMU: pr_pid = cpu_index + 1
    values = {"rip": v.rip, "cs": v.cs, "eflags": v.rflags, "rsp": v.rsp, "ss": v.ss,
              "fs_base": v.fs_base, "gs_base": v.gs_base, "ds": v.ds, "es": v.es,
              "fs": v.fs, "gs": v.gs, "orig_rax": 0}
    for i, name in enumerate(V.PRSTATUS64_REGS):
        value = values[name] if name in values else v.register(name)
        put(buf, V.PRSTATUS64_REGS_AT + 8 * i, Int64ul, value)
    return bytes(buf)


def prstatus32(index: int, v: SynthVcpu) -> bytes:
    buf = bytearray(V.PRSTATUS32_SIZE)
    put(buf, V.PRSTATUS32_PID, Int32ul, index + 1)
    values = {"eip": v.rip, "cs": v.cs, "eflags": v.rflags, "esp": v.rsp, "ss": v.ss,
              "ebp": v.rbp, "ds": v.ds, "es": v.es, "fs": v.fs, "gs": v.gs, "orig_eax": 0}
    for i, name in enumerate(V.PRSTATUS32_REGS):
        value = values[name] if name in values else v.register("r" + name[1:])
        put(buf, V.PRSTATUS32_REGS_AT + 4 * i, Int32ul, value & 0xFFFFFFFF)
    return bytes(buf)


def qemu_state(v: SynthVcpu, size: int = V.QEMU_STATE_SIZE) -> bytes:
    """QEMUCPUState; ``size`` 0x1B0 leaves kernel_gs_base out (QEMU before 3.0)."""
    buf = bytearray(max(size, V.QEMU_STATE_SIZE_OLD))
    put(buf, 0, Int32ul, 1)  # version
    put(buf, 4, Int32ul, size)
    for i, name in enumerate(V.QEMU_GPRS):
        put(buf, 8 + 8 * i, Int64ul, v.register(name))
    put(buf, V.QEMU_RIP, Int64ul, v.rip)
    put(buf, V.QEMU_RFLAGS, Int64ul, v.rflags)
    segments = {
        "cs": (v.cs, 0xFFFFFFFF, v.cs_descriptor_flags, 0),
        "ds": (v.ds, 0xFFFFFFFF, DATA_FLAGS, 0), "es": (v.es, 0xFFFFFFFF, DATA_FLAGS, 0),
        "fs": (v.fs, 0xFFFFFFFF, DATA_FLAGS, v.fs_base),
        "gs": (v.gs, 0xFFFFFFFF, DATA_FLAGS, v.gs_base),
        "ss": (v.ss, 0xFFFFFFFF, DATA_FLAGS, 0),
        "ldt": (0, 0xFFFF, 0x8200, 0), "tr": (0x40, 0x67, 0x8B00, 0),
        "gdt": (0, v.gdt_limit, 0, v.gdt_base), "idt": (0, v.idt_limit, 0, v.idt_base),
    }
    for name, (selector, limit, flags, base) in segments.items():
        at = V.QEMU_SEGMENTS[name]
        seg = bytearray(0x18)
        put_field(seg, V.SEGMENT, "selector", selector)
        put_field(seg, V.SEGMENT, "limit", limit)
        put_field(seg, V.SEGMENT, "flags", flags)
        put_field(seg, V.SEGMENT, "base", base)
        buf[at : at + 0x18] = seg
    for i, value in enumerate((v.cr0, 0, v.cr2, v.cr3, v.cr4)):
        put(buf, V.QEMU_CR + 8 * i, Int64ul, value)
    if size >= V.QEMU_STATE_SIZE:
        put(buf, V.QEMU_KERNEL_GS_BASE, Int64ul, v.kernel_gs_base)
    return bytes(buf[:size])


def all_notes(vcpus: Sequence[SynthVcpu], x86_64_prstatus: bool, guest_header: bytes | None,
              state_size: int = V.QEMU_STATE_SIZE, guest_note_name: bytes = b"VMCOREINFO",
              ) -> bytes:
    """CORE x N, QEMU x N, then the guest note, as QEMU orders them."""
    out = [note(b"CORE", NT_PRSTATUS,
                prstatus64(i, v) if x86_64_prstatus else prstatus32(i, v))
           for i, v in enumerate(vcpus)]
    out += [note(b"QEMU", 0, qemu_state(v, state_size)) for v in vcpus]
    if guest_header is not None:
        out.append(note(guest_note_name, 0, guest_header))
    return b"".join(out)
