"""Shared, cached builds of the presets (building once keeps the suite fast)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from dumptriage.synth import BuiltDump, DumpSpec, build
from dumptriage.synth import presets as P

PRESETS: dict[str, Callable[[], DumpSpec]] = {
    "win7_x86_pae_summary": P.win7_x86_pae_summary,
    "win10_x64_bitmap_kernel": P.win10_x64_bitmap_kernel,
    "win10_x64_full": P.win10_x64_full,
    "win7_x64_summary": P.win7_x64_summary,
    "x86_nonpae_full": P.x86_nonpae_full,
    "x86_pae_bitmap_full": P.x86_pae_bitmap_full,
    "triage_x64_minimal": P.triage_x64_minimal,
    "triage_x86_minimal": P.triage_x86_minimal,
    "header_only_x64": P.header_only_x64,
    "rdmp_x64": P.rdmp_x64,
    "win10_x64_cpus": P.win10_x64_cpus,
    "triage_x64_story": P.triage_x64_story,
    "triage_x86_story": P.triage_x86_story,
}
# presets whose pages can be read back (types 1, 2, 5, 6)
MEMORY_PRESETS = [n for n in PRESETS if not n.startswith(("triage", "header", "rdmp"))]


@functools.cache
def built(name: str) -> BuiltDump:
    return build(PRESETS[name]())
