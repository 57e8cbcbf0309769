"""Ready-made DumpSpecs: the story case, one spec per container, and the benchmark dump.

Module bases/sizes/timestamps are synthetic unless a comment names an oracle.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dumptriage.synth import story_x64 as X64
from dumptriage.synth.spec import (
    CpuSpec,
    DumpSpec,
    ExceptionSpec,
    LargePageSpec,
    ModuleSpec,
    StackSpec,
    TriageSpec,
    UnloadedDriverSpec,
)
from dumptriage.synth.story import KE_BUGCHECK_EX, cpu1_stack, story_stack

SR = "\\SystemRoot\\system32\\"
DRV = "\\SystemRoot\\system32\\drivers\\"


def _mod(name: str, base: int, size: int, ts: int, path: str = DRV) -> ModuleSpec:
    # CheckSum: any non-zero value keeps readers honest about reading the right field.
    return ModuleSpec(name=name, path=path + name.lower(), base=base, size=size,
                      timestamp=ts, checksum=(size >> 4) ^ (ts & 0xFFFF))


def story_modules() -> tuple[ModuleSpec, ...]:
    """Win7 SP1 x86 modules. Oracle for nt, Ntfs, FLTMGR and qutmdrv: the return
    addresses in windbg-analyze.txt (Ntfs+0x7ed3f = 8c0ebd3f gives Ntfs at 0x8c06d000,
    qutmdrv+0x4db = 937684db gives qutmdrv at 0x93768000; FLTMGR must contain 843ce3cb);
    "Kernel base = 0x83c13000" gives nt. Everything else is synthetic."""
    nt = ModuleSpec(name="ntkrpamp.exe", path=SR + "ntkrpamp.exe", base=0x83C13000,
                    size=0x412000, timestamp=0x51DB806A, checksum=0x003C8F23,
                    exports=NT_STORY_EXPORTS,
                    pdb=("ntkrpamp.pdb", "684DA42A-30CC-4E6E-A5C1-F1D4C4B1A9F2", 2),
                    version="6.1.7601.18205")  # "Built by: 7601.18205.x86fre..."
    flt = replace(_mod("FLTMGR.SYS", 0x843C1000, 0x4C000, 0x4CE7892A),  # WinDbg: FLTMGR!
                  exports=(("FltRegisterFilter", 0x2A1B0), ("FltStartFiltering", 0x2A410)),
                  pdb=("fltMgr.pdb", "1B9E5C3D-6F02-4B8A-9C4E-2D7F8A0B3C51", 1),
                  version="6.1.7601.17514")
    return (
        nt,
        _mod("hal.dll", 0x84025000, 0x37000, 0x4CE7880B, SR),
        _mod("kdcom.dll", 0x80BB4000, 0x8000, 0x4A5BDAA9, SR),
        _mod("ACPI.sys", 0x8B0C4000, 0x4A000, 0x4CE788EA),
        _mod("viostor.sys", 0x8B1D0000, 0xB000, 0x5398F05C),
        _mod("ndis.sys", 0x8B1E0000, 0xB7000, 0x4CE78903),
        flt,
        replace(_mod("Ntfs.sys", 0x8C06D000, 0x133000, 0x51B0D3B5),
                pdb=("ntfs.pdb", "5C0F9A7E-3B21-4D6C-8E0A-71F2B9C4D6E8", 1)),
        _mod("tcpip.sys", 0x8C20B000, 0x14B000, 0x51C3F2F6),
        _mod("netkvm.sys", 0x8C3A0000, 0x2C000, 0x53E9C4D2),
        # third party, no version resource: only its CodeView record
        replace(_mod("qutmdrv.sys", 0x93768000, 0x12000, 0x56A1B4C3),
                pdb=("qutmdrv.pdb", "9A3D7E21-0C5B-4F18-B6E2-4F0A1D9C8B73", 1),
                low_code_rva=0x380),
    )


# ntkrpamp.exe exports, RVAs derived from windbg-analyze.txt STACK_TEXT: "sym+off" of a row
# is the RetAddr of the row above it, so RVA = RetAddr - off - 0x83c13000. KeBugCheckEx's
# own address is not printed; it is story.KE_BUGCHECK_EX (synthetic). ExQueueWorkItem is
# synthetic. Non-exported frames (KeAccumulateTicks ...) resolve to the nearest export below.
NT_STORY_EXPORTS: tuple[tuple[str, int], ...] = (
    ("KeBugCheckEx", KE_BUGCHECK_EX - 0x83C13000),  # 0xDDB00; Eip = +0x1e
    ("IofCallDriver", 0x83C49C1E - 0x63 - 0x83C13000),  # 0x36BBB
    ("ZwFlushBuffersFile", 0x83C4E7AD - 0x11 - 0x83C13000),  # 0x3B79C
    ("MmSetAddressRangeModified", 0x83C70CA0 - 0x205 - 0x83C13000),  # 0x5DA9B
    # x86 ntoskrnl exports these two for the HAL's clock interrupt
    ("KeUpdateSystemTime", 0x83C8D610 - 0x613 - 0x83C13000),  # 0x79FFD
    ("KeUpdateRunTime", 0x83C8D763 - 0x145 - 0x83C13000),  # 0x7A61E
    ("CcFlushCache", 0x83C9ACDB - 0x294 - 0x83C13000),  # 0x87A47
    ("NtFlushBuffersFile", 0x83E1C4BB - 0x1D7 - 0x83C13000),  # 0x2092E4
    ("ExQueueWorkItem", 0x8A3C0),
)


STORY_CRASH = datetime(2017, 3, 15, 5, 11, 54, 777000, tzinfo=UTC)
STORY_BOOT = STORY_CRASH - timedelta(hours=5, seconds=52, milliseconds=740)


def story_unloaded() -> tuple[UnloadedDriverSpec, ...]:
    """Synthetic: inbox drivers a Win7 guest unloads after boot ("Loading unloaded module
    list" in windbg-analyze.txt shows the list exists; its entries are not printed).
    Ranges are free kernel VA (no loaded module overlaps them)."""
    def at(seconds: int) -> datetime:
        return STORY_BOOT + timedelta(seconds=seconds)
    return (
        UnloadedDriverSpec("hwpolicy.sys", 0x8B2A0000, 0x8B2AE000, at(9)),
        UnloadedDriverSpec("dump_viostor.sys", 0x8B2B0000, 0x8B2BB000, at(14)),
        UnloadedDriverSpec("dump_dumpfve.sys", 0x8B2C0000, 0x8B2D1000, at(14)),
        UnloadedDriverSpec("spsys.sys", 0x9A400000, 0x9A471000, at(3 * 3600 + 1210)),
    )


def win7_x86_pae_summary() -> DumpSpec:
    """The story: Windows 7 SP1 x86 PAE kernel summary dump (windbg-analyze.txt).

    Oracle lines: "Windows 7 Kernel Version 7601 (Service Pack 1) MP (2 procs) Free x86",
    "Product: WinNt, suite: TerminalServer SingleUserTS", "Kernel base = 0x83c13000
    PsLoadedModuleList = 0x83d5c4d0", "Debug session time: Wed Mar 15 13:11:54.777 2017
    (GMT+8)", "System Uptime: 0 days 5:00:52.740", "CLOCK_WATCHDOG_TIMEOUT (101)" with
    Arg1 00000061, Arg2 0, Arg3 807a3120, Arg4 1. RAM: 3071 MiB (story/README.md).
    """
    return DumpSpec(
        arch="x86", pae=True, dump_type=2, build=7601, processors=2,
        bugcheck=(0x101, (0x61, 0, 0x807A3120, 1)),
        system_time=STORY_CRASH,
        uptime_100ns=(5 * 3600 + 52) * 10_000_000 + 740 * 10_000,
        product_type=1, suite_mask=0x110, memory_mib=3071,
        modules=story_modules(), stack=story_stack(),
        kernel_base=0x83C13000, ps_loaded_module_list=0x83D5C4D0,
        # CPU 0 bugchecked (KeBugCheckEx stack); CPU 1 is the hung one (Arg3/Arg4).
        cpus=(CpuSpec(), CpuSpec(stack=cpu1_stack())), unloaded_drivers=story_unloaded(),
    )


def _win10_modules() -> tuple[ModuleSpec, ...]:
    # ntoskrnl base from the real 19041 minidump (dump-format.md §12.1); others synthetic.
    return (
        ModuleSpec(name="ntoskrnl.exe", path=SR + "ntoskrnl.exe", base=0xFFFFF8047BA00000,
                   size=0x1046000, timestamp=0x5F8A6A7E, checksum=0x00A4E6C5),
        _mod("hal.dll", 0xFFFFF8047B940000, 0xA6000, 0x3AB3F1B8, SR),
        _mod("kd.dll", 0xFFFFF8047B930000, 0xB000, 0x1F5A9B3D, SR),
        _mod("Wdf01000.sys", 0xFFFFF80480C00000, 0xD4000, 0x6C5BF7A2),
        _mod("amdppm.sys", 0xFFFFF8048B570000, 0x26000, 0x8A4C6B1E),
        _mod("Ntfs.sys", 0xFFFFF80481000000, 0x2FC000, 0x2D6EA0F5),
    )


def win10_x64_bitmap_kernel() -> DumpSpec:
    """DumpType 6 (Win10 "Kernel Bitmap Dump"), build 19041, 4 GiB RAM, with a 1 GiB and
    a 2 MiB large page."""
    return DumpSpec(
        arch="x64", dump_type=6, build=19041, processors=2,
        bugcheck=(0x1000007E, (0xC0000005, 0xFFFFF8048B58334C, 0xFFFFF80429892348,
                               0xFFFFF80429891720)),
        system_time=datetime(2021, 6, 1, 12, 0, tzinfo=UTC),
        uptime_100ns=36_000_000_000, memory_mib=4096, modules=_win10_modules(),
        large_pages=(LargePageSpec(va=0xFFFFC00000000000, size=0x40000000),
                     LargePageSpec(va=0xFFFFF80490000000, size=0x200000)),
    )


def win10_x64_full() -> DumpSpec:
    """DumpType 1 with four runs and gaps (the PC hole and two synthetic ones)."""
    return DumpSpec(
        arch="x64", dump_type=1, build=19041, processors=1,
        runs=((0x1, 0x9E), (0x100, 0xF00), (0x1400, 0x400), (0x2000, 0x200)),
        modules=_win10_modules()[:3], comment="dumptriage synth: full dump with runs",
        large_pages=(LargePageSpec(va=0xFFFFF80490000000, size=0x200000),),
    )


def win7_x64_summary() -> DumpSpec:
    """DumpType 2 on 64-bit (SUMMARY_DUMP64, bitmap at +0x28), Windows 7 SP1."""
    return DumpSpec(
        arch="x64", dump_type=2, build=7601, processors=2,
        bugcheck=(0x101, (0x31, 0, 0xFFFFF880009B3180, 1)),
        system_time=datetime(2016, 11, 2, 8, 30, tzinfo=UTC),
        uptime_100ns=12_345_678_900, memory_mib=2048,
        modules=(
            ModuleSpec(name="ntoskrnl.exe", path=SR + "ntoskrnl.exe",
                       base=0xFFFFF80002A5D000, size=0x5E7000, timestamp=0x521EA035,
                       checksum=0x0055B3B6),
            _mod("hal.dll", 0xFFFFF80003044000, 0x49000, 0x4CE7C669, SR),
            _mod("Ntfs.sys", 0xFFFFF88001240000, 0x1A3000, 0x51B0D3E1),
        ),
    )


def x86_nonpae_full() -> DumpSpec:
    """DumpType 1, 32-bit classic 2-level paging (XP SP3 build 2600) with a 4 MiB page."""
    return DumpSpec(
        arch="x86", pae=False, dump_type=1, build=2600, memory_mib=64,
        kernel_base=0x804D7000, ps_loaded_module_list=0x8055B1C0,
        kdbg_va=0x80545B60,
        large_pages=(LargePageSpec(va=0x81000000, size=0x400000),),
    )


def x86_pae_bitmap_full() -> DumpSpec:
    """DumpType 5 on 32-bit (BMP header at 0x1000), Windows 8.1 x86 PAE, 2 MiB page."""
    return DumpSpec(
        arch="x86", pae=True, dump_type=5, build=9600, memory_mib=64,
        kernel_base=0x81A0A000,
        large_pages=(LargePageSpec(va=0x81000000, size=0x200000),),
    )


def sparse_x64_bitmap(gib: int = 16) -> DumpSpec:
    """Benchmark: a `gib` GiB DumpType 5 dump, every page present, zero pages as holes.

    16 GiB gives a 4M-bit bitmap (512 KiB) and a 16 GiB file of a few MB on disk.
    """
    return DumpSpec(arch="x64", dump_type=5, build=19041, runs=((0, gib * 262144),),
                    sparse=True)


def triage_x64_minimal() -> DumpSpec:
    return DumpSpec(arch="x64", dump_type=4, build=19041,
                    bugcheck=(0x1000007E, (0xC0000005, 0, 0, 0)))


def triage_x86_minimal() -> DumpSpec:
    return DumpSpec(arch="x86", dump_type=4, build=7601,
                    bugcheck=(0x101, (0x61, 0, 0x807A3120, 1)))


def header_only_x64() -> DumpSpec:
    return DumpSpec(arch="x64", dump_type=3)


def rdmp_x64() -> DumpSpec:
    """DumpType 8: RDMP range dump (newer dbgeng `.dump /k`)."""
    return DumpSpec(arch="x64", dump_type=8, build=22621)


def rdmp_kernel_user_x64() -> DumpSpec:
    """DumpType 9: RDMP range dump of kernel and user pages (newer dbgeng `.dump /ka`)."""
    return DumpSpec(arch="x64", dump_type=9, build=22621)


def rdmp_complete_x64() -> DumpSpec:
    """DumpType 0xA: RDMP "64-bit Kernel range dump" of all RAM (newer dbgeng `.dump /f`)."""
    return DumpSpec(arch="x64", dump_type=0xA, build=22621, memory_mib=16)


def _x64_stack(high: int, depth: int, ip: int) -> StackSpec:
    """A small synthetic x64 kernel stack: 24 KiB, sp `depth` bytes below the base."""
    return StackSpec(low=high - 0x6000, high=high, sp=high - depth, ip=ip, bp=0,
                     values=(ip + 0x40, 0, high - 0x100))


def win10_x64_cpus() -> DumpSpec:
    """Per-CPU state on Win10 x64 (DumpType 6): three CPUs with their own registers and
    stacks; CPU 2 has no KPRCB.Context pointer (NULL), only ProcessorState.ContextFrame,
    so a reader must fall back to it. Two unloaded drivers. All values synthetic."""
    nt = 0xFFFFF8047BA00000
    boot = datetime(2021, 6, 1, 2, 0, tzinfo=UTC)
    return DumpSpec(
        arch="x64", dump_type=6, build=19041, processors=3, memory_mib=256,
        bugcheck=(0x133, (1, 0x1E00, 0xFFFFF8047C4FB320, 0)),
        system_time=boot + timedelta(hours=10), uptime_100ns=36_000_000_000,
        modules=_win10_modules(),
        cpus=(CpuSpec(),
              CpuSpec(stack=_x64_stack(0xFFFF850429A06000, 0x6F8, nt + 0x3F6A10)),
              CpuSpec(stack=_x64_stack(0xFFFF850429B46000, 0x818, nt + 0x1F2C44),
                      context_pointer=False)),
        unloaded_drivers=(
            UnloadedDriverSpec("dam.sys", 0xFFFFF8048C800000, 0xFFFFF8048C813000,
                               boot + timedelta(seconds=7)),
            UnloadedDriverSpec("WdBoot.sys", 0xFFFFF8048C820000, 0xFFFFF8048C82F000,
                               boot + timedelta(seconds=9)),
        ),
    )


def triage_x86_story() -> DumpSpec:
    """The story as a Win7 x86 small memory dump: same modules, CPUs, stack, 0x101."""
    return replace(win7_x86_pae_summary(), dump_type=4, triage=TriageSpec())


def _triage_x64_modules() -> tuple[ModuleSpec, ...]:
    nt, hal, kd, wdf, amdppm, ntfs = _win10_modules()
    return (
        replace(nt, exports=X64.NT_EXPORTS, version="10.0.19041.1415",
                pdb=("ntkrnlmp.pdb", "B4C1F7A2-9E35-4D08-A1C6-3F2E8D7B5A90", 1)),
        hal, kd,
        replace(wdf, exports=(("WdfVersionBind", 0x6A2F0), ("WdfVersionUnbind", 0x6A6C0)),
                pdb=("Wdf01000.pdb", "7E2A9C14-5B3D-4F61-8C07-D9A1E6F24B38", 1),
                version="1.31.19041.1"),
        replace(amdppm, pdb=("amdppm.pdb", "C3D85E0F-1A47-4B92-9E6D-0B7F2C4A8E15", 1),
                version="10.0.19041.1"),
        ntfs,
    )


def triage_x64_story() -> DumpSpec:
    """Win10 19041 x64 small memory dump: 0x1000007E in amdppm.sys (story_x64.py).

    Arg1 c0000005 (sign-extended as in the real file), Arg2 the faulting IP in amdppm,
    Arg3/Arg4 the EXCEPTION_RECORD and CONTEXT on the stack. Header ContextRecord = the
    exception context; CPU 0's KPRCB.Context = the KeBugCheckEx context; header
    EXCEPTION_RECORD = the breakpoint KeBugCheck2 records at KeBugCheckEx (§12.1)."""
    idle = X64.NT + 0x41A2C0  # synthetic: the other CPUs sit in the idle loop
    return DumpSpec(
        arch="x64", dump_type=4, build=19041, processors=4,
        bugcheck=(0x1000007E, (0xFFFFFFFFC0000005, X64.FAULT_IP, X64.EXCEPTION_VA,
                               X64.CONTEXT_VA)),
        system_time=datetime(2021, 11, 20, 9, 41, 7, tzinfo=UTC),
        uptime_100ns=95_000_000, modules=_triage_x64_modules(), stack=X64.stack(),
        prcb_vas=(0xFFFFF80478AD1180, 0xFFFF9B0002100180, 0xFFFF9B0002200180,
                  0xFFFF9B0002300180),
        cpus=(CpuSpec(), *(CpuSpec(stack=_x64_stack(0xFFFFD60F3C300000 + i * 0x10000,
                                                      0x6F8, idle)) for i in range(3))),
        unloaded_drivers=(
            UnloadedDriverSpec("dam.sys", 0xFFFFF8048C800000, 0xFFFFF8048C813000,
                               datetime(2021, 11, 20, 9, 39, 40, tzinfo=UTC)),
            UnloadedDriverSpec("hwpolicy.sys", 0xFFFFF8048C820000, 0xFFFFF8048C831000,
                               datetime(2021, 11, 20, 9, 39, 41, tzinfo=UTC)),
            UnloadedDriverSpec("mcupdate.dll", 0xFFFFF8048C840000, 0xFFFFF8048C869000,
                               datetime(2021, 11, 20, 9, 39, 41, tzinfo=UTC)),
        ),
        exception=ExceptionSpec(code=0x80000003, flags=1, address=X64.KE_BUGCHECK_EX),
        triage=TriageSpec(header_context=X64.exception_context()),
    )
