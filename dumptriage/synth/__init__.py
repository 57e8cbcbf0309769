"""Synthetic Windows kernel crash dump builder: an independent witness for the reader.

It writes PAGEDUMP/PAGEDU64 containers (DumpType 1, 2, 3, 4, 5, 6, 8) with real page
tables, using construct and its own literal offsets (layout.py, kernel_tables.py). It must
never import the reader (dumptriage.dump, dumptriage.formats): DESIGN.md convention 2.
"""

from dumptriage.synth.builder import build, write
from dumptriage.synth.manifest import BuiltDump, BuiltModule, Mapping, PageSample
from dumptriage.synth.spec import (
    DumpSpec,
    ExceptionSpec,
    LargePageSpec,
    ModuleSpec,
    SpecialPteSpec,
    StackSpec,
)

__all__ = [
    "BuiltDump",
    "BuiltModule",
    "DumpSpec",
    "ExceptionSpec",
    "LargePageSpec",
    "Mapping",
    "ModuleSpec",
    "PageSample",
    "SpecialPteSpec",
    "StackSpec",
    "build",
    "write",
]
