"""BuiltDump: the ground truth of what the builder wrote, for tests and benchmarks."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dumptriage.synth.spec import DumpSpec, ModuleSpec

MappingKind = Literal[
    "4k", "large-4m", "large-2m", "large-1g", "transition", "prototype", "pagefile"
]


@dataclass(frozen=True)
class Mapping:
    """One leaf translation. `pa` is None when the page is not readable from the dump."""

    va: int
    pa: int | None
    size: int
    kind: MappingKind
    pte: int  # the raw leaf entry value the builder wrote


@dataclass(frozen=True)
class PageSample:
    """A physical page with content and the SHA-256 of its 4 KiB."""

    pa: int
    sha256: str
    label: str
    file_offset: int | None  # where the page sits in the file (None: not in the file)


@dataclass(frozen=True)
class BuiltModule:
    name: str
    path: str
    base: int
    size: int
    timestamp: int
    checksum: int
    ldr_va: int  # VA of its KLDR_DATA_TABLE_ENTRY
    header_pages: int = 1  # pages at base with PE content (headers + .rdata directories)
    exports: tuple[tuple[str, int], ...] = ()  # (name, RVA) as written
    pdb: tuple[str, str, int] | None = None  # (PdbFileName, GUID, Age) in the RSDS record
    version: str | None = None  # VS_VERSION_INFO FileVersion

    @classmethod
    def of(cls, spec: ModuleSpec, ldr_va: int, header_pages: int = 1) -> BuiltModule:
        return cls(spec.name, spec.path, spec.base, spec.size, spec.timestamp,
                   spec.checksum, ldr_va, header_pages, spec.exports, spec.pdb, spec.version)

    def export_at(self, name: str) -> int:
        """VA of an export."""
        return self.base + dict(self.exports)[name]


@dataclass(frozen=True)
class BuiltDump:
    """What was written. `data` is set by build(), `path` by write()."""

    spec: DumpSpec
    arch: str
    pae: bool
    dump_type: int
    header_size: int
    dtb: int
    kdbg_va: int
    kdbg_size: int
    kernel_base: int
    ps_loaded_module_list: int
    ps_active_process_head: int
    pfn_database: int
    prcb_vas: tuple[int, ...]
    ki_processor_block: int
    ki_bugcheck_data: int
    context_ip: int
    context_sp: int
    context_bp: int
    first_page_offset: int | None  # file offset of the first stored page
    bitmap_bits: int | None  # types 2/5/6: bitmap length
    present: tuple[tuple[int, int], ...]  # (first pfn, count) runs of pages in the file
    ram_runs: tuple[tuple[int, int], ...]
    mappings: tuple[Mapping, ...]
    samples: tuple[PageSample, ...]
    modules: tuple[BuiltModule, ...]
    file_size: int
    required_dump_space: int
    cpus: tuple[BuiltCpu, ...] = ()
    unloaded: tuple[BuiltUnloaded, ...] = ()
    mm_unloaded_drivers: int = 0  # VA of the kernel variable (KDBG +0x220)
    mm_last_unloaded_driver: int = 0  # VA of the u32 (KDBG +0x228)
    triage: BuiltTriage | None = None
    vcpus: tuple[BuiltVcpu, ...] = ()
    kernel_dtb: int = 0  # the kernel's paging root (the header's DTB)
    data: bytes | None = None
    path: Path | None = None

    @property
    def present_count(self) -> int:
        return sum(count for _, count in self.present)

    def page_rank(self, pfn: int) -> int | None:
        """Index of `pfn` among the stored pages (file order), None if not stored."""
        starts = [s for s, _ in self.present]
        i = bisect.bisect_right(starts, pfn) - 1
        if i < 0 or pfn >= self.present[i][0] + self.present[i][1]:
            return None
        before = sum(c for _, c in self.present[:i])
        return before + pfn - self.present[i][0]

    def file_offset(self, pa: int) -> int | None:
        """File offset of physical address `pa`, None when its page is not in the file."""
        rank = self.page_rank(pa >> 12)
        if rank is None or self.first_page_offset is None:
            return None
        return self.first_page_offset + rank * 0x1000 + (pa & 0xFFF)

    def mapping(self, kind: MappingKind) -> Mapping:
        """The first mapping of a kind (e.g. "transition")."""
        return next(m for m in self.mappings if m.kind == kind)


@dataclass(frozen=True)
class BuiltVcpu:
    """One vCPU's registers as a QEMU note would hold them, and what they lead to."""

    index: int
    bits: int
    rip: int
    rsp: int
    rbp: int
    rflags: int
    cr0: int
    cr3: int
    cr4: int
    cs: int
    ss: int
    fs: int
    fs_base: int
    gs_base: int
    kernel_gs_base: int
    gdt_base: int
    gdt_limit: int
    idt_base: int
    idt_limit: int
    kpcr: int  # the KPCR written for it
    prcb: int
    thread: int  # KPRCB.CurrentThread


@dataclass(frozen=True)
class BuiltCpu:
    """One processor as written: KiProcessorBlock[index] = prcb, CurrentThread = thread.

    `context_va` is *(KPRCB + OffsetPrcbContext) (None: the pointer is NULL); `frame_va`
    is KPRCB + OffsetPrcbProcStateContext when that embedded CONTEXT holds the registers
    (None: left zero). Stack fields are those written into the KTHREAD (None: not written).
    """

    index: int
    prcb: int
    thread: int
    ip: int
    sp: int
    bp: int
    context_va: int | None
    frame_va: int | None
    initial_stack: int | None
    stack_limit: int | None
    stack_base: int | None
    crashed: bool


@dataclass(frozen=True)
class BuiltUnloaded:
    """One MmUnloadedDrivers entry as written (entry_va: its UNLOADED_DRIVERS slot)."""

    name: str
    start: int
    end: int
    time_filetime: int
    entry_va: int


@dataclass(frozen=True)
class BuiltTriage:
    """Where each triage section landed (file offset, size), for reader tests.

    `sections` names: mm, unloaded, prcb, process, thread, stack, kdbg, drivers, strings,
    blocks (the TRIAGE_DATA_BLOCK table), block_data (the packed contents).
    `drivers`: (full name, entry file offset, DUMP_STRING file offset) in list order.
    `blocks`: (VA, file offset, size, label) in table order.
    """

    sections: tuple[tuple[str, int, int], ...]
    top_of_stack: int
    stack_base: int
    driver_stride: int
    drivers: tuple[tuple[str, int, int], ...]
    blocks: tuple[tuple[int, int, int, str], ...]
    valid_offset: int
    unloaded_count_size: int  # bytes of the count before the entries (x64 8, x86 4)

    def section(self, name: str) -> tuple[int, int]:
        return next((off, size) for n, off, size in self.sections if n == name)
