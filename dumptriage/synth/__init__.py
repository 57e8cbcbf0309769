"""Synthetic Windows kernel crash dump builder: an independent witness for the reader.

It writes PAGEDUMP/PAGEDU64 containers (DumpType 1, 2, 3, 4, 5, 6, 8) with real page
tables, per-CPU KPRCB state, unloaded drivers, PE export/debug/version directories and
triage minidump sections, using construct and its own literal offsets (layout.py,
kernel_tables.py). It must never import the reader (dumptriage.dump,
dumptriage.formats): DESIGN.md convention 2.
"""

from dumptriage.synth.builder import build, write
from dumptriage.synth.manifest import (
    BuiltCpu,
    BuiltDump,
    BuiltModule,
    BuiltTriage,
    BuiltUnloaded,
    BuiltVcpu,
    Mapping,
    PageSample,
)
from dumptriage.synth.spec import (
    CpuSpec,
    DumpSpec,
    ExceptionSpec,
    GuestSpec,
    LargePageSpec,
    ModuleSpec,
    Regs,
    SpecialPteSpec,
    StackSpec,
    TriageSpec,
    UnloadedDriverSpec,
    VcpuSpec,
)

__all__ = [
    "BuiltCpu",
    "BuiltDump",
    "BuiltModule",
    "BuiltTriage",
    "BuiltUnloaded",
    "BuiltVcpu",
    "CpuSpec",
    "DumpSpec",
    "ExceptionSpec",
    "GuestSpec",
    "LargePageSpec",
    "Mapping",
    "ModuleSpec",
    "PageSample",
    "Regs",
    "SpecialPteSpec",
    "StackSpec",
    "TriageSpec",
    "UnloadedDriverSpec",
    "VcpuSpec",
    "build",
    "write",
]
