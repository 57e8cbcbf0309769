"""Default addresses for everything a DumpSpec leaves as None.

None of these are read from a real kernel except where noted; they are plausible values
in the right address ranges so that readers exercise realistic (sign-extended, canonical)
addresses.
"""

from __future__ import annotations

from dumptriage.synth import kernel_tables as K
from dumptriage.synth.kernel import KernelAddresses
from dumptriage.synth.spec import DumpSpec, ModuleSpec, SpecialPteSpec, StackSpec


def default_runs(memory_mib: int) -> tuple[tuple[int, int], ...]:
    """PC-like RAM: pfn 0 and the 0xA0000-0xFFFFF legacy hole are not RAM."""
    pages = memory_mib * 256
    if pages <= 0x100:
        raise ValueError("memory_mib too small")
    return ((0x1, 0x9E), (0x100, pages - 0x100))


def kernel_base(spec: DumpSpec) -> int:
    if spec.kernel_base is not None:
        return spec.kernel_base
    if spec.arch == "x86":
        return 0x83C13000  # Win7 SP1 x86 story dump: "Kernel base = 0x83c13000"
    # Win7 x64 kernels load below fffff800`03000000; Win10 19041 value from §12.1.
    return 0xFFFFF80002A5D000 if spec.build < 9200 else 0xFFFFF8047BA00000


def kernel_module(spec: DumpSpec) -> ModuleSpec:
    # Windows 7 x86 PAE kernels are ntkrpamp.exe (multiprocessor PAE image);
    # 64-bit and non-PAE kernels here are called ntoskrnl.exe.
    name = "ntkrpamp.exe" if spec.arch == "x86" and spec.pae else "ntoskrnl.exe"
    size = 0x412000 if spec.arch == "x86" else 0x600000
    return ModuleSpec(name=name, path=f"\\SystemRoot\\system32\\{name}",
                      base=kernel_base(spec), size=size)


def modules(spec: DumpSpec) -> tuple[ModuleSpec, ...]:
    return spec.modules if spec.modules is not None else (kernel_module(spec),)


def stack(spec: DumpSpec) -> StackSpec:
    if spec.stack is not None:
        return spec.stack
    base = kernel_base(spec)
    if spec.arch == "x86":  # 12 KiB x86 kernel stack
        return StackSpec(low=0x807FA000, high=0x807FD000, sp=0x807FC800,
                         ip=base + 0x7B11E, bp=0x807FC820)
    return StackSpec(low=0xFFFFF88002F00000, high=0xFFFFF88002F06000,
                     sp=0xFFFFF88002F05800, ip=base + 0x7F1E0, bp=0)


def special_ptes(spec: DumpSpec) -> tuple[SpecialPteSpec, ...]:
    if spec.special_ptes is not None:
        return spec.special_ptes
    base = 0x8F7F0000 if spec.arch == "x86" else 0xFFFFF8A000010000  # paged-pool-ish
    return (SpecialPteSpec(base, "transition"), SpecialPteSpec(base + 0x1000, "prototype"),
            SpecialPteSpec(base + 0x2000, "pagefile"))


def prcbs(spec: DumpSpec, base: int) -> tuple[int, ...]:
    if spec.prcb_vas is not None:
        if len(spec.prcb_vas) != spec.processors:
            raise ValueError("prcb_vas needs one address per processor")
        return spec.prcb_vas
    off = K.kernel_offsets(spec.arch == "x64", spec.build).kpcr_to_prcb
    if spec.arch == "x86":
        # CPU 0's KPCR lives in the kernel image; CPU 1's KPRCB is 0x807a3120 as in the
        # story's bugcheck 0x101 Arg3 ("The PRCB address of the hung processor").
        cpu0 = base + 0x12CC00
        rest = [0x807A3000 + (i - 1) * 0x10000 for i in range(1, spec.processors)]
    else:
        cpu0 = base + 0x300000
        rest = [0xFFFFF88000E00000 + (i - 1) * 0x10000 for i in range(1, spec.processors)]
    return tuple(pcr + off for pcr in (cpu0, *rest))


def addresses(spec: DumpSpec) -> KernelAddresses:
    base = kernel_base(spec)
    is64 = spec.arch == "x64"
    glob = base + (0x230000 if is64 else 0x150000)  # a block of kernel globals
    loaded = spec.ps_loaded_module_list
    if loaded is None:
        loaded = base + (0x2126D0 if is64 else 0x1494D0)  # x86: story's 0x83d5c4d0
    return KernelAddresses(
        kernel_base=base,
        kdbg_va=spec.kdbg_va if spec.kdbg_va is not None
        else base + (0x1E10A0 if is64 else 0x129C28),
        kdbg_size=spec.kdbg_size or K.kdbg_size(spec.build),
        ps_loaded_module_list=loaded,
        ps_active_process_head=spec.ps_active_process_head or loaded + 0x20,
        pfn_database=spec.pfn_database or (0xFFFFFA8000000000 if is64 else 0x85000000),
        mm_pfn_database_var=glob + 0x40,
        ki_bugcheck_data=glob,
        ki_processor_block=glob + 0x80,
        mm_unloaded_drivers=glob + 0x300,
        mm_last_unloaded_driver=glob + 0x310,
        prcb_vas=prcbs(spec, base),
        pool_va=0xFFFFFA8004000000 if is64 else 0x86400000,
    )
