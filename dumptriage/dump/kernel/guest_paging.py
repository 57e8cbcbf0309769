"""The kernel's paging root in a host-side memory dump, chosen from the vCPUs' registers.

A QEMU vmcore has no DirectoryTableBase header field: each vCPU's CR3 is all there is
(``../shared/reference/hung-guest-dumps.md`` section 2.1). A vCPU caught in user mode
under KVA shadow (the Meltdown mitigation) holds a *user* CR3 that maps almost no kernel
memory, so the root is chosen the way QEMU's elf2dmp does (contrib/elf2dmp/main.c, sheet
source Q4), each candidate accepted only if KUSER_SHARED_DATA translates through it:

1. vCPU 0's CR3, then a DirectoryTableBase the container states (a guest header's);
2. the CR3 of any vCPU whose GS base has bit 63 set (x64) or whose CPL is 0 (x86): it was
   running kernel code, so its CR3 is a kernel root;
3. x64: the qword at KERNEL_GS_BASE(vCPU 0) + 0x7000, read through vCPU 0's CR3 (elf2dmp's
   arithmetic; the sheet notes that sources disagree on what the field is called).

CR3's low 12 bits (PCID) and bit 63 (no-flush) are masked by the Translator.
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.memory.paging import PagingMode, Translator
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.dump.memory.virtual import PagedMemory
from dumptriage.errors import PageNotPresent
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.record import Record

_CR0_PG = 1 << 31  # paging enabled (Intel SDM vol. 3, 2.5)
_CR4_PAE = 1 << 5
_KERNEL_DTB_AT = 0x7000  # elf2dmp: KERNEL_GS_BASE + 0x7000 holds the kernel CR3


class PagingRoot(Record):
    """The root chosen, how, and the memory seen through it."""

    dtb: int
    mode: PagingMode
    source: str  # "vCPU 0 CR3", "vCPU 2 CR3 (kernel mode)", "KERNEL_GS_BASE+0x7000"
    memory: PagedMemory
    verified: bool  # KUSER_SHARED_DATA translates through it


def paging_mode(arch: str, regs: VcpuRegisters) -> PagingMode:
    """x64 4-level when the guest is 64-bit, else PAE or 2-level by CR4.PAE (section 2.1)."""
    if arch == "x64" or regs.bits == 64:
        return PagingMode.X64
    return PagingMode.X86_PAE if regs.cr4 & _CR4_PAE else PagingMode.X86


def choose_root(physical: PhysicalMemory, vcpus: Sequence[VcpuRegisters], arch: str,
                kuser_va: int, known_dtb: int | None = None
                ) -> tuple[PagingRoot | None, list[Anomaly]]:
    """The first root that maps KUSER_SHARED_DATA; else vCPU 0's, unverified, and why."""
    if not vcpus:
        return None, []
    mode = paging_mode(arch, vcpus[0])

    def memory(dtb: int) -> PagedMemory:
        return PagedMemory(physical, Translator(mode, dtb, physical.read_u32,
                                                physical.read_u64))

    def maps_kuser(mem: PagedMemory) -> bool:
        try:
            mem.read(kuser_va, 4)
        except PageNotPresent:
            return False
        return True

    first = memory(vcpus[0].cr3)
    tried: list[str] = []
    for source, dtb in _candidates(vcpus, mode, first, known_dtb):
        mem = first if dtb == vcpus[0].cr3 else memory(dtb)
        if maps_kuser(mem):
            problems = [] if not tried else [anomaly(
                AnomalyCode.PAGING_ROOT_FALLBACK, source,
                f"{', '.join(tried)} did not map KUSER_SHARED_DATA ({kuser_va:#x}); "
                f"kernel memory is read through {source} ({dtb:#x})")]
            return PagingRoot(dtb, mode, source, mem, True), problems
        tried.append(f"{source} ({dtb:#x})")
    return PagingRoot(vcpus[0].cr3, mode, "vCPU 0 CR3", first, False), [anomaly(
        AnomalyCode.PAGING_ROOT_FALLBACK, "CR3",
        f"no paging root maps KUSER_SHARED_DATA ({kuser_va:#x}); tried "
        f"{', '.join(tried) or 'nothing'}: reading through vCPU 0's CR3 anyway")]


def _candidates(vcpus: Sequence[VcpuRegisters], mode: PagingMode, first: PagedMemory,
                known_dtb: int | None) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    seen: set[int] = set()

    def add(source: str, dtb: int | None) -> None:
        if dtb and dtb not in seen:
            seen.add(dtb)
            found.append((source, dtb))

    if vcpus[0].cr0 & _CR0_PG:
        add("vCPU 0 CR3", vcpus[0].cr3)
    add("the container's DirectoryTableBase", known_dtb)
    for regs in vcpus:
        in_kernel = regs.gs_base >> 63 if mode is PagingMode.X64 else regs.cpl == 0
        if in_kernel and regs.cr0 & _CR0_PG:
            add(f"vCPU {regs.index} CR3 (kernel mode)", regs.cr3)
    kgs = vcpus[0].kernel_gs_base
    if mode is PagingMode.X64 and kgs and vcpus[0].cr0 & _CR0_PG:
        try:
            blob = first.read(kgs + _KERNEL_DTB_AT, 8)
        except PageNotPresent:
            blob = None
        if blob is not None:
            add("KERNEL_GS_BASE+0x7000", int.from_bytes(blob, "little"))
    return found
