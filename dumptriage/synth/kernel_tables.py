"""Kernel in-memory structure offsets the builder writes, as data keyed by (arch, build).

Sources: dump-format.md §4.1 (KDDEBUGGER_DATA64: S3 vtypes, S2 kdbg.json, S4 kdbg.h, S15),
§5.1/§5.2 (UNICODE_STRING, KLDR_DATA_TABLE_ENTRY: S12, S9, S8), §6.1/§6.2 (KPRCB, S11/S12),
§12.1 (values read from a real Win10 19041 x64 minidump).
"""

from __future__ import annotations

from dataclasses import dataclass

# KDDEBUGGER_DATA64 (§4.1). Pointer fields are 64 bits wide on every architecture and
# sign-extended on x86 (S3 masks to 32 bits, QEMU reads the low dword).
KDBG_LIST_FLINK, KDBG_LIST_BLINK = 0x00, 0x08
KDBG_OWNER_TAG, KDBG_SIZE = 0x10, 0x14  # "KDBG", u32 Header.Size
KDBG_POINTERS: dict[str, int] = {
    "KernBase": 0x18,
    "PsLoadedModuleList": 0x48,
    "PsActiveProcessHead": 0x50,
    "KiBugcheckData": 0x88,
    "MmPfnDatabase": 0xC0,
    "KiProcessorBlock": 0x218,
    "MmUnloadedDrivers": 0x220,
    "MmLastUnloadedDriver": 0x228,
}
KDBG_PAE_WORD = 0x36  # u16, bit 0 = PaeEnabled (S4 names it; §10.14)
KDBG_PTE_BASE = 0x360  # Win10 RS1+: randomised PTE self-map base (value, not pointer)
KDBG_U16: dict[str, int] = {
    "OffsetKThreadInitialStack": 0x29E,
    "SizeEProcess": 0x2A8,
    "OffsetEprocessDirectoryTableBase": 0x2AE,
    "SizePrcb": 0x2B0,
    "OffsetPrcbCurrentThread": 0x2B4,
    "OffsetPrcbProcStateContext": 0x2BC,
    "OffsetPrcbNumber": 0x2BE,
    "SizeEThread": 0x2C0,
    "OffsetPrcbContext": 0x338,  # Win7+
}


def kdbg_size(build: int) -> int:
    """Header.Size by OS version (§4.1 table: Win7 0x340, Win8 0x360, RS1-RS4 0x368, RS5+ 0x380)."""
    if build < 9200:
        return 0x340
    if build < 14393:
        return 0x360
    if build < 17763:
        return 0x368
    return 0x380


@dataclass(frozen=True)
class KernelOffsets:
    """The KDBG u16 offset fields for one (arch, build range); also where we write KPRCB data."""

    size_prcb: int
    prcb_current_thread: int
    prcb_proc_state_context: int
    prcb_number: int
    prcb_context: int
    size_ethread: int
    size_eprocess: int
    eprocess_dtb: int
    kthread_initial_stack: int
    kpcr_to_prcb: int  # KPRCB = KPCR + this (§6.1: x86 0x120, x64 0x180)
    kthread_stack_limit: int  # KTHREAD.StackLimit (not in KDBG)
    kthread_stack_base: int  # KTHREAD.StackBase (not in KDBG)
    initial_stack_gap: int  # StackBase - InitialStack (the FP save area below the base)

    def as_kdbg(self) -> dict[str, int]:
        return {
            "OffsetKThreadInitialStack": self.kthread_initial_stack,
            "SizeEProcess": self.size_eprocess,
            "OffsetEprocessDirectoryTableBase": self.eprocess_dtb,
            "SizePrcb": self.size_prcb,
            "OffsetPrcbCurrentThread": self.prcb_current_thread,
            "OffsetPrcbProcStateContext": self.prcb_proc_state_context,
            "OffsetPrcbNumber": self.prcb_number,
            "SizeEThread": self.size_ethread,
            "OffsetPrcbContext": self.prcb_context,
        }


# x86 Win7+: CurrentThread +0x04, Number +0x3CC, ContextFrame +0x18 (§6.2). The sizes and
# OffsetPrcbContext are NOT from a source: synthetic values that fit inside the KPRCB.
# KTHREAD (ntdiff/headers Win7_SP1/x86 ntdll.dll _KTHREAD.h): InitialStack +0x28,
# StackLimit +0x2C, StackBase +0x190. InitialStack = StackBase - 0x210 (FX_SAVE_AREA size,
# the x86 NPX save area below the base). Also used for the XP/8.1 x86 presets (synthetic).
X86_WIN7 = KernelOffsets(
    size_prcb=0x3628, prcb_current_thread=0x04, prcb_proc_state_context=0x18,
    prcb_number=0x3CC, prcb_context=0x3618, size_ethread=0x2B8, size_eprocess=0x2C0,
    eprocess_dtb=0x18, kthread_initial_stack=0x28, kpcr_to_prcb=0x120,
    kthread_stack_limit=0x2C, kthread_stack_base=0x190, initial_stack_gap=0x210,
)
# x64 Win7 SP1 (S12): CurrentThread +0x08, Number +0x24, ContextFrame +0x120, Context +0x4BD8.
# SizePrcb/SizeEThread/SizeEProcess and the InitialStack gap (Win10's) are synthetic.
# KTHREAD (ntdiff/headers Win7_SP1/x64 ntdll.dll _KTHREAD.h): InitialStack +0x28,
# StackLimit +0x30, StackBase +0x278.
X64_WIN7 = KernelOffsets(
    size_prcb=0x4D00, prcb_current_thread=0x08, prcb_proc_state_context=0x120,
    prcb_number=0x24, prcb_context=0x4BD8, size_ethread=0x4A8, size_eprocess=0x4D0,
    eprocess_dtb=0x28, kthread_initial_stack=0x28, kpcr_to_prcb=0x180,
    kthread_stack_limit=0x30, kthread_stack_base=0x278, initial_stack_gap=0x370,
)
# x64 Win10 19041, all read from the real minidump's KDBG copy (§12.1), Number synthetic.
# KTHREAD StackLimit +0x30, StackBase +0x38 and InitialStack = StackBase - 0x370 also from
# the real minidump's thread copy (§12.1 TopOfStack row: 0x...2c90 vs base 0x...3000).
X64_WIN10 = KernelOffsets(
    size_prcb=0xAF00, prcb_current_thread=0x08, prcb_proc_state_context=0x1F0,
    prcb_number=0x24, prcb_context=0x85C0, size_ethread=0x898, size_eprocess=0xA40,
    eprocess_dtb=0x28, kthread_initial_stack=0x28, kpcr_to_prcb=0x180,
    kthread_stack_limit=0x30, kthread_stack_base=0x38, initial_stack_gap=0x370,
)


def kernel_offsets(is64: bool, build: int) -> KernelOffsets:
    if not is64:
        return X86_WIN7
    return X64_WIN7 if build < 9200 else X64_WIN10


# UNICODE_STRING (§5.1): Length u16 +0, MaximumLength u16 +2, Buffer +4 (x86) / +8 (x64).
USTR_BUFFER = {False: 0x04, True: 0x08}
USTR_SIZE = {False: 0x08, True: 0x10}


@dataclass(frozen=True)
class LdrOffsets:
    """KLDR_DATA_TABLE_ENTRY field offsets (§5.2)."""

    dll_base: int
    entry_point: int
    size_of_image: int
    full_dll_name: int
    base_dll_name: int
    flags: int
    load_count: int
    checksum: int
    timestamp: int
    size: int


# x86: S12 Win7 SP1 LDR_DATA_TABLE_ENTRY (S9 KLDR32 agrees on the fields used); 0x48 bytes.
LDR32 = LdrOffsets(0x18, 0x1C, 0x20, 0x24, 0x2C, 0x34, 0x38, 0x40, 0x44, 0x48)
# x64: S9 dmp_kldr_data_table_entry64 and S8 KldrDataTableEntry agree; 0x88 bytes.
LDR64 = LdrOffsets(0x30, 0x38, 0x40, 0x48, 0x58, 0x68, 0x6C, 0x78, 0x80, 0x88)


# UNLOADED_DRIVERS (§5.3, S6): Name UNICODE_STRING, StartAddress, EndAddress, CurrentTime.
UNLOADED_SIZE = {False: 0x18, True: 0x28}
UNLOADED_START = {False: 0x08, True: 0x10}
UNLOADED_END = {False: 0x0C, True: 0x18}
UNLOADED_TIME = {False: 0x10, True: 0x20}
# The ring holds 50 entries (MI_UNLOADED_DRIVERS; §5.3 marks the count [open]).
UNLOADED_SLOTS = 50
