"""Each vCPU's KPCR and KPRCB, straight from its registers, validated by self-pointers.

``../shared/reference/hung-guest-dumps.md`` section 3.3:

* x64: in kernel mode GS base is the KPCR; in user mode GS base is the TEB and the KPCR is
  in KERNEL_GS_BASE (SWAPGS exchanges them). So KPCR = GS base when its bit 63 is set,
  else KERNEL_GS_BASE (elf2dmp uses the same bit-63 test). Valid when KPCR.Self == KPCR
  and KPCR.CurrentPrcb == KPCR + 0x180.
* x86: the KPCR is the base of GDT entry 6 (selector 0x30, what FS holds in kernel mode),
  read from the vCPU's GDTR whatever its mode; FS base is the fallback when FS = 0x30.
  Valid when KPCR.SelfPcr == KPCR and KPCR.Prcb == KPCR + 0x120.

Offsets are in layouts/kernel.toml (``[kpcr.x64]``, ``[kpcr.x86]``).
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel.layouts import KpcrLayout
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]


class GuestCpu(Record):
    """Where one vCPU's per-processor structures are (None: not found or not valid)."""

    index: int
    kpcr: int | None
    prcb: int | None
    source: str  # which register gave the KPCR: "GS base", "KERNEL_GS_BASE", "GDT 0x30"
    irql: int | None = None  # x86 KPCR.Irql; x64 keeps IRQL in CR8, which QEMU does not save
    kd_version_block: int | None = None


def _pointer(read: ReadBytes, va: int, bits: int) -> int | None:
    blob = read(va, bits // 8)
    return None if blob is None else int.from_bytes(blob, "little")


def kpcr_candidate(regs: VcpuRegisters, read: ReadBytes, layout: KpcrLayout, bits: int
                   ) -> tuple[int | None, str]:
    """The address the registers name as the KPCR, and which register named it."""
    if bits == 64:
        if regs.gs_base >> 63:
            return regs.gs_base, "GS base"
        return regs.kernel_gs_base, "KERNEL_GS_BASE"
    selector = layout.gdt_selector or 0x30
    entry = read(regs.gdt_base + selector, 8) if regs.gdt_limit >= selector + 7 else None
    if entry is not None:
        # Segment descriptor: base bits 0-23 in bytes 2-4, bits 24-31 in byte 7 (Intel SDM
        # vol. 3, 3.4.5).
        return (entry[2] | entry[3] << 8 | entry[4] << 16 | entry[7] << 24), "GDT 0x30"
    if regs.fs == selector:
        return regs.fs_base, "FS base"
    return None, "GDT 0x30"


def locate(regs: VcpuRegisters, read: ReadBytes, layout: KpcrLayout, bits: int
           ) -> tuple[GuestCpu, Anomaly | None]:
    """The vCPU's KPCR/KPRCB when its self-pointers hold, else an anomaly saying why."""
    kpcr, source = kpcr_candidate(regs, read, layout, bits)
    where = f"vCPU {regs.index} KPCR"
    if not kpcr:
        return GuestCpu(regs.index, None, None, source), anomaly(
            AnomalyCode.KPCR_INVALID, where,
            f"no KPCR address: {source} is {'absent' if kpcr is None else 'zero'}")
    self_pointer = _pointer(read, kpcr + layout.self_pointer, bits)
    prcb = _pointer(read, kpcr + layout.current_prcb, bits)
    if self_pointer is None or prcb is None:
        return GuestCpu(regs.index, None, None, source), anomaly(
            AnomalyCode.KPCR_INVALID, where,
            f"{source} {kpcr:#x} is not in the dump")
    if self_pointer != kpcr or prcb != kpcr + layout.prcb:
        return GuestCpu(regs.index, None, None, source), anomaly(
            AnomalyCode.KPCR_INVALID, where,
            f"{source} {kpcr:#x} fails its self-pointer checks (Self {self_pointer:#x}, "
            f"Prcb {prcb:#x}; expected {kpcr:#x} and {kpcr + layout.prcb:#x})")
    irql = None
    if layout.irql is not None:
        blob = read(kpcr + layout.irql, 1)
        irql = blob[0] if blob else None
    block = _pointer(read, kpcr + layout.kd_version_block, bits)
    return GuestCpu(regs.index, kpcr, prcb, source, irql, block or None), None
