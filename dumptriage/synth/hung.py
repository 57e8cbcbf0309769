"""Hung guests: kernel worlds whose vCPUs idle, spin, run DPCs, take interrupts or run
user code, for the host-side memory dump reader (dump/kernel/discovery.py, vcpus.py).

Every address and byte is synthetic unless a comment names a source. The code bytes are
the patterns ``../shared/reference/hung-guest-dumps.md`` section 4.2 / 10 saw in a real
QEMU dump: RIP after ``F4`` (HLT), RIP on the ``EB FC`` after ``F3 90`` (PAUSE).
Each world is a DumpType 6 file (only touched pages are stored), so ``drop_pages`` can
leave pages out; tests present its memory with fabricated vCPU registers.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from dumptriage.synth import pe_unwind as U
from dumptriage.synth.pe_unwind import FunctionSpec, UnwindModuleSpec
from dumptriage.synth.presets import story_modules
from dumptriage.synth.spec import CpuSpec, DumpSpec, GuestSpec, ModuleSpec, StackSpec, VcpuSpec

SR = "\\SystemRoot\\system32\\"
DRV = SR + "drivers\\"
HLT_IDLE = bytes.fromhex("fb f4 c3")  # sti; hlt; ret  (RIP after the hlt: code_rip 2)
CLI_HLT = bytes.fromhex("fa f4 eb fd")  # cli; hlt; jmp back to the hlt
SPIN = bytes.fromhex("f3 90 eb fc")  # pause; jmp -4  (RIP on the jmp: code_rip 2)
BUSY = bytes.fromhex("48 8b 01 48 85 c0 74 05")  # mov rax,[rcx]; test rax,rax; jz +5

# -- Windows 10 19041 x64 ------------------------------------------------------------------
NT64 = 0xFFFFF8047BA00000
HAL64 = 0xFFFFF8047B940000
SPINDRV = 0xFFFFF80485A00000
PSL64_RVA = 0x2126D0  # builder default: PsLoadedModuleList = kernel + 0x2126D0
IDLE_RVA, WORK_RVA, CALLER_RVA, DPC_RVA = 0x41A2C0, 0x3F6A10, 0x3F7000, 0x3F8100
SPIN_FN, SPIN_RIP = 0x3000, 0x3012  # spindrv: sub rsp,28h ... pause at +0x10, jmp at +0x12
RET_INTO_NT = CALLER_RVA + 0x20  # the spin routine's caller, right after its CALL


def _stack(high: int, depth: int, ip: int, values: tuple[int, ...] = (), bp: int = 0
           ) -> StackSpec:
    return StackSpec(low=high - 0x6000, high=high, sp=high - depth, ip=ip, bp=bp,
                     values=values)


def _x64_modules(build: int, version: str) -> tuple[ModuleSpec, ...]:
    call = b"\xe8" + struct.pack("<i", SPIN_FN - RET_INTO_NT + (SPINDRV - NT64))
    nt = UnwindModuleSpec(
        name="ntoskrnl.exe", path=SR + "ntoskrnl.exe", base=NT64, size=0x1046000,
        timestamp=0x5F8A6A7E, checksum=0x00A4E6C5,
        exports=(("KeBugCheckEx", 0x3F5A40), ("PsLoadedModuleList", PSL64_RVA)),
        pdb=("ntkrnlmp.pdb", "B4C1F7A2-9E35-4D08-A1C6-3F2E8D7B5A90", 1), version=version,
        functions=(FunctionSpec(CALLER_RVA, CALLER_RVA + 0x80, prolog=4,
                                codes=(U.alloc(4, 0x28),)),),
        code=((CALLER_RVA, bytes.fromhex("4883ec28") + b"\xcc" * 23 + call),
              (IDLE_RVA, HLT_IDLE), (WORK_RVA, BUSY), (DPC_RVA, BUSY)))
    hal = ModuleSpec(name="hal.dll", path=SR + "hal.dll", base=HAL64, size=0xA6000,
                     timestamp=0x3AB3F1B8, checksum=0xA1B2)
    spin = UnwindModuleSpec(
        name="spindrv.sys", path=DRV + "spindrv.sys", base=SPINDRV, size=0x20000,
        timestamp=0x61A0B2C3, checksum=0x2A3B1,
        pdb=("spindrv.pdb", "0E1D2C3B-4A59-6877-8695-A4B3C2D1E0F1", 1),
        functions=(FunctionSpec(SPIN_FN, SPIN_FN + 0x40, prolog=4, codes=(U.alloc(4, 0x28),)),),
        code=((SPIN_FN, bytes.fromhex("4883ec28") + b"\x90" * 12 + SPIN),))
    return nt, hal, spin


def hung_x64() -> DumpSpec:
    """Windows 10 19041 x64, 5 vCPUs: 0 in user mode under KVA shadow (its CR3 maps no
    kernel memory), 1 idle in HLT on the idle thread, 2 spinning with IF=0 in the
    third-party spindrv.sys (unwinds into nt), 3 a kernel thread in nt, 4 running a DPC
    in nt. The KDBG is encoded (Win8+): KPRCB.DpcRoutineActive's offset on this build is
    only in the KDBG, so vCPU 4 is seen in its DPC only when the KDBG decodes."""
    high = 0xFFFF850429A06000
    spin_values = (0,) * 5 + (NT64 + RET_INTO_NT,) + (0,) * 5 + (0,)
    stacks = (_stack(high, 0x400, 0x00007FF6C0101234),
              _stack(high + 0x10000, 0x6F8, NT64 + IDLE_RVA + 2),
              _stack(high + 0x20000, 0x818, SPINDRV + SPIN_RIP, spin_values),
              _stack(high + 0x30000, 0x700, NT64 + WORK_RVA),
              _stack(high + 0x40000, 0x700, NT64 + DPC_RVA))
    return DumpSpec(
        arch="x64", dump_type=6, build=19041, processors=5, memory_mib=128,
        modules=_x64_modules(19041, "10.0.19041.1415"), kernel_base=NT64, stack=stacks[0],
        cpus=tuple(CpuSpec(stack=s) for s in stacks),
        guest=GuestSpec(vcpus=(
            VcpuSpec(rip=0x00007FF6C0101234, user=True, kva_shadow=True),
            VcpuSpec(rip=NT64 + IDLE_RVA + 2, idle_thread=True),
            VcpuSpec(rip=SPINDRV + SPIN_RIP, rflags=0x002),
            VcpuSpec(rip=NT64 + WORK_RVA),
            VcpuSpec(rip=NT64 + DPC_RVA, dpc_active=True)), kdbg="encoded"))


# -- Windows 7 SP1 x64 (a layout with KPRCB.DpcRoutineActive) ------------------------------
NT7 = 0xFFFFF80002A5D000
NETKVM = 0xFFFFF88001800000
DPC_RIP = 0x2410


def hung_x64_win7() -> DumpSpec:
    """Windows 7 SP1 x64, 2 vCPUs: 0 in a DPC of netkvm.sys, 1 halted with interrupts off
    (cli; hlt). No NtBuildNumber in KUSER_SHARED_DATA on Windows 7: the build comes from
    the kernel's version resource."""
    nt = ModuleSpec(name="ntoskrnl.exe", path=SR + "ntoskrnl.exe", base=NT7, size=0x5E7000,
                    timestamp=0x521EA035, checksum=0x0055B3B6,
                    exports=(("KeBugCheckEx", 0x6FA40), ("PsLoadedModuleList", 0x2126D0)),
                    pdb=("ntkrnlmp.pdb", "3844DBB9-2017-4967-BE7A-A4A2C20430FA", 2),
                    version="6.1.7601.24214")
    netkvm = UnwindModuleSpec(name="netkvm.sys", path=DRV + "netkvm.sys", base=NETKVM,
                              size=0x2C000, timestamp=0x53E9C4D2, checksum=0x3C11,
                              code=((DPC_RIP, BUSY),))
    high = 0xFFFFF88002F06000
    stacks = (_stack(high, 0x500, NETKVM + DPC_RIP), _stack(high + 0x10000, 0x300, NT7 + 0x71F02))
    return DumpSpec(
        arch="x64", dump_type=6, build=7601, processors=2, memory_mib=128,
        modules=(nt, netkvm), kernel_base=NT7, stack=stacks[0],
        cpus=tuple(CpuSpec(stack=s) for s in stacks),
        guest=GuestSpec(vcpus=(
            VcpuSpec(rip=NETKVM + DPC_RIP, dpc_active=True),
            VcpuSpec(rip=NT7 + 0x71F02, rflags=0x002, code=CLI_HLT, code_rip=2))))


# -- Windows 7 SP1 x86 PAE (the story's modules) -------------------------------------------
NT32 = 0x83C13000  # story: "Kernel base = 0x83c13000"
QUTMDRV = 0x93768000
HAL32 = 0x84025000
NDIS32 = 0x8B1E0000  # story_modules: ndis.sys
X86_STACK = 0x8D3FC000


def hung_x86_pae() -> DumpSpec:
    """Windows 7 SP1 x86 PAE, 4 vCPUs: 0 in an interrupt (KPCR.Irql 0x1C) in hal.dll,
    1 spinning with IF=0 at DISPATCH_LEVEL in qutmdrv.sys (EBP chain into nt), 2 in user
    mode, 3 at DISPATCH_LEVEL on its KPRCB's DPC stack in ndis.sys (DpcRoutineActive
    clear). Kernel base, PsLoadedModuleList and build come from KdVersionBlock."""
    sp, bp = X86_STACK - 0x800, X86_STACK - 0x7E0
    chain = [0] * 0x24
    chain[8], chain[9] = X86_STACK - 0x780, 0x83C49C1E  # story: nt!IofCallDriver+0x63
    stacks = tuple(replace(s, low=s.high - 0x3000) for s in (  # 12 KiB x86 kernel stacks
        _stack(X86_STACK - 0x10000, 0x600, HAL32 + 0x7B2C),
        _stack(X86_STACK, 0x800, QUTMDRV + 0x602, tuple(chain), bp=bp),
        _stack(X86_STACK + 0x10000, 0x400, 0x77A01234),
        _stack(X86_STACK + 0x20000, 0x500, NDIS32 + 0x1A2B0)))
    assert stacks[1].sp == sp
    return DumpSpec(
        arch="x86", pae=True, dump_type=6, build=7601, processors=4, memory_mib=256,
        modules=story_modules(), kernel_base=NT32, ps_loaded_module_list=0x83D5C4D0,
        stack=stacks[0], cpus=tuple(CpuSpec(stack=s) for s in stacks),
        guest=GuestSpec(vcpus=(
            VcpuSpec(rip=HAL32 + 0x7B2C, rflags=0x002, irql=0x1C, code=BUSY[:6]),
            VcpuSpec(rip=QUTMDRV + 0x602, rflags=0x002, irql=2, code=SPIN, code_rip=2),
            VcpuSpec(rip=0x77A01234, user=True),
            VcpuSpec(rip=NDIS32 + 0x1A2B0, irql=2, code=BUSY[:6], on_dpc_stack=True))))
