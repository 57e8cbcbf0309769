"""One virtual CPU's saved state, as a host-side memory dump (QEMU vmcore) records it.

A QEMU ``dump-guest-memory`` ELF or kdump-compressed file carries, per vCPU, an
NT_PRSTATUS note and a ``QEMU`` note (QEMUCPUState, qemu/qemu target/i386/arch_dump.c;
``../shared/reference/hung-guest-dumps.md`` section 1.1). Containers that hold such notes
hand these records to kernel-state code through ``KernelOffer.vcpus``; nothing past the
container asks which note a value came from except through ``source``.

Registers are stored as the guest had them. QEMU writes 64-bit slots for 32-bit guests
too (upper halves zero), so ``bits`` says which mode the CPU was in: 64 when the CS
descriptor's L bit is set (long mode), else 32.
"""

from __future__ import annotations

from dumptriage.model.record import Record


class VcpuRegisters(Record):
    """The registers of one vCPU at the moment the host wrote the dump."""

    index: int  # the vCPU number, in note order (QEMU writes CPU 0 first)
    bits: int  # 64 (CS.L set) or 32
    rip: int
    rsp: int
    rbp: int
    rflags: int  # bit 9 (0x200) is IF: interrupts enabled
    cr0: int
    cr3: int  # the paging root the vCPU was using
    cr4: int
    cs: int  # selector; its low two bits are the CPL (0 kernel, 3 user)
    ss: int
    fs_base: int
    gs_base: int
    # KERNEL_GS_BASE MSR: QEMUCPUState has it only when its size field is >= 0x1B8
    # (QEMU commit 46fac17, 2018); None when the writer predates it.
    kernel_gs_base: int | None
    gdt_base: int
    gdt_limit: int
    idt_base: int
    idt_limit: int
    fs: int = 0  # selector (x86 Windows: 0x30 in kernel mode, the KPCR's GDT entry)
    # The general registers by lower-case name ("rax" ... "r15"), as the note gave them.
    general: tuple[tuple[str, int], ...] = ()
    source: str = "QEMU note"  # "QEMU note", "NT_PRSTATUS", "KPRCB context", "guest header"
    # Added for the vmcore containers (issue 14A). QEMU's copy of the CS descriptor's high
    # dword (QEMUCPUSegment.flags: L bit 21, D/B 22, DPL 13-14; 0 when the note had none).
    cs_flags: int = 0
    cr2: int = 0  # the last page-fault address
    # Every segment register as the QEMU note gave it: (name, selector, base, limit,
    # flags) for cs, ds, es, fs, gs, ss, ldt, tr; () when the note had none.
    segments: tuple[tuple[str, int, int, int, int], ...] = ()

    @property
    def interrupts_enabled(self) -> bool:
        return bool(self.rflags & 0x200)  # RFLAGS.IF (Intel SDM vol. 1, 3.4.3)

    @property
    def cpl(self) -> int:
        return self.cs & 3
