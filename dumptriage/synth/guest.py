"""A hung guest's per-vCPU state in its kernel world: KPCRs, IDT, GDT, KUSER_SHARED_DATA,
KdVersionBlock, code bytes at each RIP, and the registers a QEMU note would hold.

Written with the builder's own literal offsets (never the reader's tables), from
``../shared/reference/hung-guest-dumps.md``:

* x64 KPCR (section 3.3): GdtBase +0x00, Self +0x18, CurrentPrcb +0x20, IdtBase +0x38,
  KdVersionBlock +0x108; KPRCB at +0x180 with IdleThread +0x18.
* x86 KPCR (ntdiff/headers Win7_SP1/x86 _KPCR.h): SelfPcr +0x1C, Prcb +0x20, Irql +0x24,
  KdVersionBlock +0x34, IDT +0x38, GDT +0x3C; KPRCB at +0x120 with IdleThread +0x0C.
* KPRCB.DpcRoutineActive (u8): Win7 SP1 x64 +0x21DA, x86 +0x1932; KPRCB.DpcStack (the
  DPC stack's initial stack pointer): x64 +0x21C0, x86 +0x1908 (ntdiff _KPRCB dumps).
* IDT gates (Intel SDM vol. 3, 6.14.1 / 6.11): x64 16 bytes, x86 8 bytes; the GDT
  descriptor of selector 0x30 (3.4.5) has the KPCR as its base.
* KUSER_SHARED_DATA (0xFFFFF78000000000 / 0xFFDF0000): NtBuildNumber +0x260 (Win10+),
  NtProductType +0x264, NtMajorVersion +0x26C, NtMinorVersion +0x270, SuiteMask +0x2D0.
* DBGKD_GET_VERSION64 (section 3.4): MajorVersion 0xF, MinorVersion = build, MachineType
  +0x08, KernBase +0x10, PsLoadedModuleList +0x18, DebuggerDataList +0x20.
* The Win8+ KDBG encoding (section 3.2, elf2dmp / Volatility 2), written as its inverse:
  x = plain ^ KiWaitAlways; bswap; ^= &KdpDataBlockEncoded | 0xFFFF000000000000;
  rotate right by KiWaitNever & 63; ^= KiWaitNever. KdCopyDataBlock's shape (Volatility 2
  win8_kdbg.py): cmp byte [rip+&KdpDataBlockEncoded], 0; lea rcx, [rip+&KdDebuggerDataBlock];
  the size and size/8 as immediates; mov rax, [rip+&KiWaitNever]; mov r9, [rip+&KiWaitAlways].
* KDDEBUGGER_DATA64.OffsetPrcbDpcRoutine (u16) +0x2B2 (wdbgexts.h order; sheet 3.2).
"""

from __future__ import annotations

import struct

from dumptriage.synth.kernel import KernelAddresses, KernelWriter, Pool
from dumptriage.synth.manifest import BuiltCpu, BuiltVcpu
from dumptriage.synth.paging import AddressSpace
from dumptriage.synth.physmem import PAGE
from dumptriage.synth.spec import DumpSpec, VcpuSpec

KPCR64 = {"GdtBase": 0x00, "Self": 0x18, "CurrentPrcb": 0x20, "IdtBase": 0x38,
          "KdVersionBlock": 0x108}
KPCR32 = {"SelfPcr": 0x1C, "Prcb": 0x20, "Irql": 0x24, "KdVersionBlock": 0x34,
          "IDT": 0x38, "GDT": 0x3C}
IDLE_THREAD = {True: 0x18, False: 0x0C}
DPC_ROUTINE_ACTIVE = {True: 0x21DA, False: 0x1932}  # Win7 SP1 (ntdiff)
DPC_STACK = {True: 0x21C0, False: 0x1908}  # Win7 SP1 (ntdiff)
# Windows 10 x64: synthetic (the offset moves between releases); readers learn it only
# from the KDBG's OffsetPrcbDpcRoutine, which this world publishes.
DPC_ROUTINE_ACTIVE_WIN10 = 0x33BA
KDBG_DPC_ROUTINE = 0x2B2
# The encoding's kernel globals and keys (synthetic RVAs in the kernel's globals block).
FLAG_RVA, NEVER_RVA, ALWAYS_RVA, COPY_RVA = 0x231000, 0x231008, 0x231010, 0x2E0000
KI_WAIT_NEVER, KI_WAIT_ALWAYS = 0x5A3C91E70B6D2F48, 0x1F2E3D4C5B6A7988
KUSER_VA = {True: 0xFFFFF78000000000, False: 0xFFDF0000}
KERNEL_DTB_AT = 0x7000  # elf2dmp reads the kernel CR3 at KERNEL_GS_BASE + 0x7000
TEB = {True: 0x000000C0DE000000, False: 0x7FFDF000}
CR0 = 0x80050033  # PG | WP | NE | ET | MP | PE, as Windows runs
CR4 = {True: 0x000506F8, False: 0x000006F9}  # x86: PAE (bit 5) set below when needed


def write_guest(kw: KernelWriter, a: KernelAddresses, pool: Pool, spec: DumpSpec,
                cpus: tuple[BuiltCpu, ...]) -> tuple[BuiltVcpu, ...]:
    guest = spec.guest
    assert guest is not None
    if len(guest.vcpus) != len(a.prcb_vas):
        raise ValueError("guest needs one VcpuSpec per processor")
    is64 = kw.is64
    idt = _write_idt(kw, pool, a.kernel_base, guest.idt_handler_rva)
    version = _write_version_block(kw, a, pool, spec) if guest.kd_version_block else 0
    if guest.kuser:
        _write_kuser(kw, spec.build, spec.product_type, spec.suite_mask)
    out = []
    for vcpu, cpu in zip(guest.vcpus, cpus, strict=True):
        kpcr = cpu.prcb - (0x180 if is64 else 0x120)
        gdt = pool.alloc(0x400, align=0x1000)  # each processor has its own GDT
        kw.vm.write(gdt, bytes(0x80))
        _write_kpcr(kw, kpcr, cpu, vcpu, idt, gdt, version, spec.build, pool)
        if not is64:
            _gdt_entry(kw, gdt + 0x30, kpcr)
        kw.vm.write(vcpu.rip - vcpu.code_rip, vcpu.code)
        out.append(_registers(kw, spec, vcpu, cpu, kpcr, idt, gdt))
    dpc = _dpc_offset(is64, spec.build)
    if dpc is not None:
        kw.vm.write(a.kdbg_va + KDBG_DPC_ROUTINE, struct.pack("<H", dpc))
    if guest.kdbg == "scrambled":
        block = kw.vm.read(a.kdbg_va, a.kdbg_size)
        kw.vm.write(a.kdbg_va, bytes(b ^ 0xA5 for b in block))
    elif guest.kdbg == "encoded":
        _encode_kdbg(kw, a)
    for va in guest.drop_pages:
        pa = kw.vm.lookup(va)
        if pa is not None:
            kw.vm.mem.pages.pop(pa // PAGE, None)
    return tuple(out)


def _write_idt(kw: KernelWriter, pool: Pool, base: int, rva: int | None) -> int:
    size = 16 if kw.is64 else 8
    idt = pool.alloc(256 * size, align=0x1000)
    table = bytearray(256 * size)
    for vector in range(256 if rva is not None else 0):
        handler = base + (rva or 0) + 0x40 * vector
        if kw.is64:  # offset 0-15, selector 0x10, 0x8E00 (present interrupt gate), 16-31, 32-63
            gate = struct.pack("<HHHHII", handler & 0xFFFF, 0x10, 0x8E00,
                               handler >> 16 & 0xFFFF, handler >> 32, 0)
        else:
            gate = struct.pack("<HHHH", handler & 0xFFFF, 0x08, 0x8E00, handler >> 16)
        table[vector * size : (vector + 1) * size] = gate
    kw.vm.write(idt, bytes(table))
    return idt


def _gdt_entry(kw: KernelWriter, at: int, base: int) -> None:
    """A 32-bit data descriptor: limit 0xFFF, base split 0-15 / 16-23 / 24-31, DPL 0."""
    kw.vm.write(at, struct.pack("<HHBBBB", 0xFFF, base & 0xFFFF, base >> 16 & 0xFF, 0x93,
                                0x40, base >> 24 & 0xFF))


def _write_kpcr(kw: KernelWriter, kpcr: int, cpu: BuiltCpu, vcpu: VcpuSpec, idt: int,
                gdt: int, version: int, build: int, pool: Pool) -> None:
    is64 = kw.is64
    self_value = kpcr + 0x40 if vcpu.break_kpcr else kpcr
    if is64:
        kw.put_ptr(kpcr + KPCR64["GdtBase"], gdt)
        kw.put_ptr(kpcr + KPCR64["Self"], self_value)
        kw.put_ptr(kpcr + KPCR64["CurrentPrcb"], cpu.prcb)
        kw.put_ptr(kpcr + KPCR64["IdtBase"], idt)
        kw.put_ptr(kpcr + KPCR64["KdVersionBlock"], 0)  # not filled on x64 (sheet 3.4)
    else:
        kw.put_ptr(kpcr + KPCR32["SelfPcr"], self_value)
        kw.put_ptr(kpcr + KPCR32["Prcb"], cpu.prcb)
        kw.vm.write(kpcr + KPCR32["Irql"], bytes([vcpu.irql]))
        kw.put_ptr(kpcr + KPCR32["KdVersionBlock"], version)
        kw.put_ptr(kpcr + KPCR32["IDT"], idt)
        kw.put_ptr(kpcr + KPCR32["GDT"], gdt)
    idle = cpu.thread if vcpu.idle_thread else pool.alloc(0x100)
    kw.put_ptr(cpu.prcb + IDLE_THREAD[is64], idle)
    dpc = _dpc_offset(is64, build)
    if dpc is not None:
        kw.vm.write(cpu.prcb + dpc, bytes([1 if vcpu.dpc_active else 0]))
    if build in (7600, 7601):
        # The DPC stack: this vCPU's own stack when it is to be found running a DPC there,
        # else a stack of its own elsewhere in pool.
        top = cpu.stack_base if vcpu.on_dpc_stack and cpu.stack_base else \
            pool.alloc(0x10, align=0x1000) + (0x6000 if is64 else 0x3000)
        kw.put_ptr(cpu.prcb + DPC_STACK[is64], top)
    if is64:
        kw.put_ptr(kpcr + KERNEL_DTB_AT, kw.vm.dtb)


def _dpc_offset(is64: bool, build: int) -> int | None:
    if build in (7600, 7601):
        return DPC_ROUTINE_ACTIVE[is64]
    return DPC_ROUTINE_ACTIVE_WIN10 if is64 and build >= 10240 else None


def _encode_kdbg(kw: KernelWriter, a: KernelAddresses) -> None:
    """The KDBG encoded in place (KdpDataBlockEncoded = 1) and KdCopyDataBlock's code."""
    if not kw.is64:
        raise ValueError("the KDBG encoding is x64 only")
    flag, never, always = (a.kernel_base + rva for rva in (FLAG_RVA, NEVER_RVA, ALWAYS_RVA))
    kw.vm.write(flag, b"\x01")
    kw.vm.write(never, struct.pack("<QQ", KI_WAIT_NEVER, KI_WAIT_ALWAYS))
    mask, shift = (1 << 64) - 1, KI_WAIT_NEVER & 63
    plain = kw.vm.read(a.kdbg_va, a.kdbg_size)
    out = bytearray()
    for (value,) in struct.iter_unpack("<Q", plain):
        x = int.from_bytes((value ^ KI_WAIT_ALWAYS).to_bytes(8, "little"), "big")
        x ^= flag | 0xFFFF000000000000
        x = ((x >> shift) | (x << (64 - shift))) & mask if shift else x
        out += struct.pack("<Q", x ^ KI_WAIT_NEVER)
    kw.vm.write(a.kdbg_va, bytes(out))
    code_va = a.kernel_base + COPY_RVA
    code = bytearray()

    def rip_relative(prefix: bytes, target: int) -> None:  # a 7-byte [rip+disp32] form
        at = code_va + len(code)
        code.extend(prefix + struct.pack("<i", target - (at + 7)))

    rip_relative(b"\x80\x3d", flag)  # cmp byte ptr [rip+d], 0: 7 bytes with the imm8
    code.extend(b"\x00\x74\x20")  # imm8 0; je +0x20
    rip_relative(b"\x48\x8d\x0d", a.kdbg_va)  # lea rcx, [rip+KdDebuggerDataBlock]
    code.extend(b"\xba" + struct.pack("<I", a.kdbg_size))  # mov edx, size
    code.extend(b"\x41\xb8" + struct.pack("<I", a.kdbg_size // 8))  # mov r8d, size/8
    rip_relative(b"\x48\x8b\x05", never)  # mov rax, [rip+KiWaitNever]
    rip_relative(b"\x4c\x8b\x0d", always)  # mov r9, [rip+KiWaitAlways]
    kw.vm.write(code_va, bytes(code) + b"\xc3")


def _write_version_block(kw: KernelWriter, a: KernelAddresses, pool: Pool,
                         spec: DumpSpec) -> int:
    block = pool.alloc(0x28, align=8)
    head = pool.alloc(16, align=8)  # KdpDebuggerDataListHead -> the KDBG
    kw.put_ptr(head, a.kdbg_va)
    machine = 0x8664 if kw.is64 else 0x14C
    kw.vm.write(block, struct.pack("<HHBBBBHH", 0xF, spec.build, 6, 2, 0x46, 0, machine, 0x0C))
    kw.vm.write(block + 0x10, struct.pack("<QQQ", kw.sext(a.kernel_base),
                                          kw.sext(a.ps_loaded_module_list), kw.sext(head)))
    return block


def _write_kuser(kw: KernelWriter, build: int, product: int, suite: int) -> None:
    va = KUSER_VA[kw.is64]
    major, minor = (10, 0) if build >= 10240 else (6, 1) if build >= 7600 else (6, 0)
    kw.vm.write(va + 0x260, struct.pack("<I", build if build >= 10240 else 0))
    kw.vm.write(va + 0x264, struct.pack("<I", product))
    kw.vm.write(va + 0x26C, struct.pack("<II", major, minor))
    kw.vm.write(va + 0x2D0, struct.pack("<I", suite))


def _registers(kw: KernelWriter, spec: DumpSpec, vcpu: VcpuSpec, cpu: BuiltCpu, kpcr: int,
               idt: int, gdt: int) -> BuiltVcpu:
    is64 = kw.is64
    cr3 = kw.vm.dtb
    if vcpu.user and vcpu.kva_shadow:
        cr3 = _user_root(kw, kpcr)
    if is64:
        cs, ss = (0x33, 0x2B) if vcpu.user else (0x10, 0x18)
        fs, fs_base = 0x53 if vcpu.user else 0, 0
        gs_base, kgs = (TEB[True], kpcr) if vcpu.user else (kpcr, TEB[True])
    else:
        cs, ss = (0x1B, 0x23) if vcpu.user else (0x08, 0x10)
        fs, fs_base = (0x3B, TEB[False]) if vcpu.user else (0x30, kpcr)
        gs_base, kgs = 0, 0
    cr4 = CR4[is64] & ~0x20 | (0x20 if is64 or spec.pae else 0)  # CR4.PAE
    return BuiltVcpu(
        index=cpu.index, bits=64 if is64 else 32, rip=vcpu.rip, rsp=cpu.sp, rbp=cpu.bp,
        rflags=vcpu.rflags, cr0=CR0, cr3=cr3, cr4=cr4, cs=cs, ss=ss, fs=fs,
        fs_base=fs_base, gs_base=gs_base, kernel_gs_base=kgs, gdt_base=gdt,
        gdt_limit=0x7F if is64 else 0x3FF, idt_base=idt,
        idt_limit=0xFFF if is64 else 0x7FF, kpcr=kpcr, prcb=cpu.prcb, thread=cpu.thread)


def _user_root(kw: KernelWriter, kpcr: int) -> int:
    """A KVA-shadow user CR3: the TEB page and the KPCR+0x7000 page, nothing else."""
    user = AddressSpace(kw.vm.mem, kw.vm.mode)
    user.map_page(TEB[True], kw.vm.mem.alloc())
    pa = kw.vm.lookup(kpcr + KERNEL_DTB_AT)
    assert pa is not None
    user.map_page(kpcr + KERNEL_DTB_AT, pa // PAGE)
    return user.dtb
