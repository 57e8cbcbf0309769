"""Shared ground for the oracle tests: the dump matrix, probes, and dumptriage's answers.

Every probe is chosen from the builder's manifest (BuiltDump), with a seeded RNG, so a
failure names the same VA or physical page on every run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dumptriage import open_dump
from dumptriage.dump.crash_dump import CrashDump
from dumptriage.errors import PageNotPresent
from dumptriage.synth import BuiltDump, DumpSpec, LargePageSpec, Mapping

PAGE = 0x1000
SEED = 0x0DD5EED
PAGE_FILL32 = 0x45474150  # "PAGE": header fields Windows never wrote (dump-format.md §1.4)
PAGE_FILL64 = 0x4547415045474150

# The x64 dumps carry a 1 GiB page (PDPTE.PS) as well as a 2 MiB one, so they need 2 GiB
# of guest RAM; sparse=True keeps the zero pages as file holes (a few MB on disk).
X64_LARGE = (LargePageSpec(va=0xFFFFC00000000000, size=0x40000000),
             LargePageSpec(va=0xFFFFF80490000000, size=0x200000))
X64_BUGCHECK = (0x1000007E, (0xFFFFFFFFC0000005, 0xFFFFF8048B58334C,
                             0xFFFF850429891EE8, 0xFFFF850429891720))
X86_BUGCHECK = (0x101, (0x61, 0, 0x807A3120, 1))


def _x64(dump_type: int) -> DumpSpec:
    return DumpSpec(arch="x64", dump_type=dump_type, build=19041, processors=2,
                    bugcheck=X64_BUGCHECK, memory_mib=2048, sparse=True,
                    large_pages=X64_LARGE, comment=f"oracle x64 type {dump_type}",
                    uptime_100ns=123_456_789_0)


def _x86_pae(dump_type: int) -> DumpSpec:
    return DumpSpec(arch="x86", pae=True, dump_type=dump_type, build=7601, processors=2,
                    bugcheck=X86_BUGCHECK, memory_mib=16, uptime_100ns=987_654_321,
                    large_pages=(LargePageSpec(va=0x90000000, size=0x200000),))


def _x86_nonpae(dump_type: int) -> DumpSpec:
    return DumpSpec(arch="x86", pae=False, dump_type=dump_type, build=2600, processors=1,
                    bugcheck=(0x8E, (0xC0000005, 0x80545B60, 0xF7A2FBC4, 0)),
                    memory_mib=16, kernel_base=0x804D7000,
                    large_pages=(LargePageSpec(va=0x81000000, size=0x400000),))


SPECS: dict[str, DumpSpec] = {
    **{f"x64_type{t}": _x64(t) for t in (1, 5, 6)},
    **{f"x86pae_type{t}": _x86_pae(t) for t in (1, 5, 6)},
    **{f"x86_type{t}": _x86_nonpae(t) for t in (1, 5, 6)},
}


def dt_translate(d: CrashDump, va: int) -> int | None:
    try:
        return d.translate(va)
    except PageNotPresent:
        return None


def open_dt(b: BuiltDump) -> CrashDump:
    assert b.path is not None
    return open_dump(b.path)


@dataclass(frozen=True)
class Probe:
    """One VA to translate, what the builder says it maps to, and the mapping it is in."""

    va: int
    expected: int | None
    mapping: Mapping


def va_probes(b: BuiltDump) -> Iterator[Probe]:
    """Every manifest mapping; large pages at their first byte, probe page and last byte."""
    for m in b.mappings:
        if m.kind.startswith("large"):
            offsets = [0, b.spec.large_pages[0].probe_offset + 0x123, m.size - 8,
                       m.size // 2 + 0x10]
        elif m.kind == "4k":
            offsets = [0x7F8]
        else:
            offsets = [0]
        for off in offsets:
            yield Probe(m.va + off, None if m.pa is None else m.pa + off, m)


def unmapped_vas(b: BuiltDump) -> list[int]:
    """Kernel VAs the builder never mapped (checked against its manifest)."""
    if b.arch == "x64":
        candidates = [0, 0x1000, 0x00007FFFFFFF0000, 0xFFFF800000000000, 0xFFFFF80500000000]
    else:
        candidates = [0, 0x1000, 0x7FFE0000, 0xC0400000 - 0x1000, 0xFFC00000]
    return [va for va in candidates
            if not any(m.va <= va < m.va + m.size for m in b.mappings)]


def present_pfns(b: BuiltDump, count: int = 24) -> list[int]:
    """Every sampled page plus `count` random pages stored in the file (seeded)."""
    rng = random.Random(f"{SEED}:{b.arch}:{b.pae}:{b.dump_type}")  # str seeds are stable
    pfns = {s.pa >> 12 for s in b.samples if s.file_offset is not None}
    runs = b.present
    total = b.present_count
    for _ in range(count):
        k = rng.randrange(total)
        for start, n in runs:
            if k < n:
                pfns.add(start + k)
                break
            k -= n
    return sorted(pfns)


def absent_pfns(b: BuiltDump) -> list[int]:
    """Pages inside and beyond guest RAM that the file does not hold."""
    highest = max(s + n for s, n in b.ram_runs)
    candidates = [0, 0xA0, 0xFF, highest, highest + 0x1234, 0x100000]
    if b.dump_type == 6:  # a kernel bitmap dump leaves RAM pages out
        candidates += [p for p in range(0x100, highest, 0x1F3)][:12]
    return [p for p in candidates if b.page_rank(p) is None]


def filetime(raw: int) -> datetime:
    return datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=raw // 10)


def same_optional(ours: int | None, raw: int) -> bool:
    """dumptriage reports absent header fields (the "PAGE" fill, 0) as None."""
    if ours is None:
        return raw in (0, PAGE_FILL32, PAGE_FILL64)
    return ours == raw
