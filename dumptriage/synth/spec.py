"""What a synthetic dump should contain: plain frozen dataclasses, no behaviour.

Every field has a sensible default so `DumpSpec()` alone builds a small valid
64-bit full dump. Addresses left as ``None`` are chosen by the builder (see
``builder.resolve``) and reported back in the manifest (``BuiltDump``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NamedTuple

Arch = Literal["x86", "x64"]
SpecialKind = Literal["transition", "prototype", "pagefile"]

# Dump types the builder can write (dump-format.md §2.1, S5 DUMP_TYPE).
DUMP_FULL = 1
DUMP_SUMMARY = 2
DUMP_HEADER_ONLY = 3
DUMP_TRIAGE = 4
DUMP_BITMAP_FULL = 5
DUMP_BITMAP_KERNEL = 6
DUMP_RDMP_KERNEL = 8  # `.dump /k` (kdmp-parser KernelMemoryDump)
DUMP_RDMP_KERNEL_USER = 9  # `.dump /ka` (KernelAndUserMemoryDump)
DUMP_RDMP_COMPLETE = 0xA  # `.dump /f` (CompleteMemoryDump, "64-bit Kernel range dump")
SUPPORTED_DUMP_TYPES = frozenset({1, 2, 3, 4, 5, 6, 8, 9, 0xA})


@dataclass(frozen=True)
class ModuleSpec:
    """One loaded kernel module: a KLDR_DATA_TABLE_ENTRY plus a PE header at `base`."""

    name: str  # BaseDllName, e.g. "ntkrpamp.exe"
    path: str  # FullDllName, e.g. "\\SystemRoot\\system32\\ntkrpamp.exe"
    base: int
    size: int
    timestamp: int = 0x4A5BC007
    checksum: int = 0
    # Rich PE content (pe_dirs.py), all off by default so plain modules keep a bare header:
    exports: tuple[tuple[str, int], ...] = ()  # (name, RVA inside .text)
    pdb: tuple[str, str, int] | None = None  # CodeView RSDS: (PdbFileName, GUID, Age)
    version: str | None = None  # VS_VERSION_INFO FileVersion, e.g. "6.1.7601.18205"
    # Old drivers linked with a small section alignment (/ALIGN:0x80) start their code
    # inside the first page: qutmdrv+0x4db is a return address in the story's stack. Set
    # this to the RVA of a first executable section that runs up to 0x1000.
    low_code_rva: int | None = None

    @property
    def rich(self) -> bool:
        return bool(self.exports) or self.pdb is not None or self.version is not None


@dataclass(frozen=True)
class StackSpec:
    """A kernel stack: [low, high) is mapped; `values` are placed pointer-sized from `sp` up."""

    low: int
    high: int
    sp: int
    ip: int
    bp: int = 0
    values: tuple[int, ...] = ()


class Regs(NamedTuple):
    """A saved register set: instruction, stack and frame pointer."""

    ip: int
    sp: int
    bp: int


@dataclass(frozen=True)
class CpuSpec:
    """One processor: its KPRCB's CurrentThread, that thread's stack and its saved CONTEXT.

    `stack` None on CPU 0 means DumpSpec.stack (the crashing thread); on another CPU, a
    thread without a stack (registers ip = CPU 0's, sp = bp = 0, as without `cpus`).
    `context_pointer` False leaves KPRCB.Context NULL (the reader must fall back to the
    embedded ProcessorState.ContextFrame); `context_frame` False leaves that frame zero.
    """

    stack: StackSpec | None = None
    context_pointer: bool = True
    context_frame: bool = True


class UnloadedDriverSpec(NamedTuple):
    """One MmUnloadedDrivers slot: base name, [start, end) and when it was unloaded."""

    name: str
    start: int
    end: int
    time: datetime


@dataclass(frozen=True)
class TriageSpec:
    """Full triage content for DumpType 4 (DumpSpec.triage None: header + marker only).

    Defaults follow the real Win10 19041 minidump (dump-format.md §12.1): MiniDumpFields
    0xCFF, TriageOptions 0xFFFFFFFF. `header_context`: the registers of the header's
    ContextRecord (= ContextOffset) when they differ from CPU 0's KeBugCheckEx context; the
    real 0x1000007E file holds the exception context there.
    """

    minidump_fields: int = 0xCFF
    triage_options: int = 0xFFFFFFFF
    header_context: Regs | None = None
    image_pages: int = 2  # data blocks: the first pages of each module image


@dataclass(frozen=True)
class LargePageSpec:
    """Map `va` with one large page (x86 4 MiB, PAE/x64 2 MiB, x64 1 GiB).

    `pa` None means: the builder picks a suitably aligned free physical range.
    Two marker pages inside it (first page, and the page at `probe_offset`) get content.
    """

    va: int
    size: int
    pa: int | None = None
    probe_offset: int = 0x5000


@dataclass(frozen=True)
class SpecialPteSpec:
    """A leaf PTE that is not a plain valid PTE (dump-format.md §11 item 15).

    transition: bit0=0, bit11=1, bit10=0; the page is still in RAM and readable.
    prototype:  bit10=1, bit0=0; not readable from a dump.
    pagefile:   bit0=0, bit10=0, bit11=0, page-file number and offset set; not readable.
    """

    va: int
    kind: SpecialKind


@dataclass(frozen=True)
class ExceptionSpec:
    """EXCEPTION_RECORD32/64 in the header (dump-format.md §1.2 0x7D0, §1.3 0xF00)."""

    code: int = 0x80000003  # STATUS_BREAKPOINT, what KeBugCheck2 records
    flags: int = 1
    address: int | None = None  # None: the context's instruction pointer
    parameters: tuple[int, ...] = ()


@dataclass(frozen=True)
class VcpuSpec:
    """One vCPU of a hung guest as a host-side memory dump records it (synth/guest.py).

    RSP/RBP are the CpuSpec stack's sp/bp of the same index (its KTHREAD gets the stack's
    limits). ``code`` is written so that RIP sits at ``code[code_rip]``. ``user``: CPL 3,
    GS base = a TEB, the KPCR in KERNEL_GS_BASE (x64). ``kva_shadow``: with ``user``, CR3
    is a user root that maps only the TEB page and the KPCR+0x7000 page (which holds the
    kernel root, as elf2dmp reads it).
    """

    rip: int
    rflags: int = 0x202  # IF set
    code: bytes = b""
    code_rip: int = 0
    user: bool = False
    kva_shadow: bool = False
    idle_thread: bool = False  # KPRCB.IdleThread == CurrentThread
    dpc_active: bool = False  # KPRCB.DpcRoutineActive (Win7 SP1 layouts only)
    on_dpc_stack: bool = False  # KPRCB.DpcStack = this vCPU's stack top (Win7 SP1 only)
    irql: int = 0  # x86 KPCR.Irql
    break_kpcr: bool = False  # KPCR.Self points elsewhere


@dataclass(frozen=True)
class GuestSpec:
    """What discovery needs in a hung guest's memory, and the vCPUs' registers.

    ``idt_handler_rva``: the exception gates point at kernel + this RVA (None: the gates
    are zero, "pointing nowhere"). ``kd_version_block``: x86 KPCR.KdVersionBlock ->
    DBGKD_GET_VERSION64. ``kdbg``: "scrambled" overwrites the KDBG block with bytes no key
    recovers (nothing may need it); "encoded" (x64) encodes it with the Win8+ scheme and
    writes a KdCopyDataBlock-shaped function naming the keys; "plain" leaves it readable.
    ``drop_pages``: VAs whose physical pages are left out of the dump (DumpType 6 writes
    only pages that were touched).
    """

    vcpus: tuple[VcpuSpec, ...]
    idt_handler_rva: int | None = 0x1F1E00
    kd_version_block: bool = True
    kuser: bool = True
    kdbg: Literal["scrambled", "encoded", "plain"] = "scrambled"
    drop_pages: tuple[int, ...] = ()


def _default_time() -> datetime:
    return datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DumpSpec:
    """Everything the builder writes. Defaults describe a small 64-bit full dump."""

    arch: Arch = "x64"
    pae: bool = True  # x86 only: PAE (3-level) vs classic 2-level paging
    dump_type: int = DUMP_FULL
    build: int = 19041
    major_version: int = 0xF  # 0xF free build, 0xC checked build (§1.2)
    processors: int = 1
    bugcheck: tuple[int, tuple[int, int, int, int]] = (0x161, (0, 0, 0, 0))
    system_time: datetime = field(default_factory=_default_time)
    uptime_100ns: int = 0
    comment: str | None = None
    product_type: int = 1
    suite_mask: int = 0x110
    attributes: int | None = None  # None leaves the "PAGE" fill
    required_dump_space: int | None = None  # None: the size of the file written
    memory_mib: int = 64
    # Physical memory runs (base pfn, page count). None: derived from memory_mib
    # with the classic PC hole below 1 MiB (pfn 0 and 0x9F..0xFF absent).
    runs: tuple[tuple[int, int], ...] | None = None
    modules: tuple[ModuleSpec, ...] | None = None  # None: just the kernel image
    stack: StackSpec | None = None
    kernel_base: int | None = None
    kdbg_va: int | None = None
    kdbg_size: int | None = None  # None: by build (§4.1 table)
    ps_loaded_module_list: int | None = None
    ps_active_process_head: int | None = None
    pfn_database: int | None = None
    prcb_vas: tuple[int, ...] | None = None  # one KPRCB per processor
    large_pages: tuple[LargePageSpec, ...] = ()
    special_ptes: tuple[SpecialPteSpec, ...] | None = None  # None: one of each kind
    exception: ExceptionSpec = field(default_factory=ExceptionSpec)
    pdpt_offset: int = 0x20  # PAE: the PDPT sits at page+0x20, 32-byte aligned (§7.2)
    alloc_start_pfn: int = 0x200  # first physical page the allocator hands out
    self_map: bool = True  # x64: PML4 self-reference entry (PteBase in KDBG)
    sparse: bool = False  # write(): zero pages become file holes
    # Per-CPU state (None: the legacy single-context layout, kept byte-identical).
    cpus: tuple[CpuSpec, ...] | None = None
    unloaded_drivers: tuple[UnloadedDriverSpec, ...] = ()  # MmUnloadedDrivers ring
    triage: TriageSpec | None = None  # DumpType 4 content
    guest: GuestSpec | None = None  # a hung guest's vCPUs (host-side memory dump content)
