"""Mutated dumps never crash, hang or over-allocate: they read or raise DumptriageError.

Hypothesis mutates the builder's dumps where the reader takes its counts and offsets
from: the dump header, the structure after it (runs / SUMMARY_DUMP / BMP / TRIAGE_DUMP
header, bitmap, RDMP header and ranges) and the file length. QEMU vmcores (ELF, kdump raw
and flattened, of a small kernel world with its guest header note) are mutated in their
ELF header and program headers, notes, kdump headers, bitmap and page descriptors.
Sized to run in well under a minute in CI.
"""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dumptriage import analyze, open_dump
from dumptriage.errors import DumptriageError
from dumptriage.synth import DumpSpec, build, presets

KINDS = [(1, "x64", False), (2, "x86", True), (5, "x86", False), (6, "x64", False),
         (4, "x64", False), (4, "x86", True), (2, "x64", False),
         # RDMP: kernel ranges padded to a page (8), all RAM packed after the table (0xA).
         (8, "x64", False), (0xA, "x64", False)]
# Dumps with kernel state (modules, CPUs, stacks, triage sections) from the presets.
PRESETS = [presets.win7_x86_pae_summary, presets.triage_x64_story, presets.triage_x86_story]

# QEMU vmcores of an 8 MiB kernel world with the VMCOREINFO guest header: (format,
# writer options, arch, pae).
VMCORES = [("elf", {}, "x64", False), ("kdump", {"flattened": True}, "x64", False),
           ("kdump", {"flattened": False}, "x86", True), ("elf", {"elf_class": 32}, "x86", False)]

# Header fields the reader trusts most: counts, offsets, types (dump-format.md section 1).
HOT_OFFSETS_64 = [0x10, 0x30, 0x34, 0x80, 0x88, 0x8C, 0x90, 0x98, 0xF98, 0xFA0, 0x1050]
HOT_OFFSETS_32 = [0x10, 0x20, 0x24, 0x5C, 0x60, 0x64, 0x68, 0x6C, 0x70, 0xF88, 0xFA0, 0x8A0]


@cache
def _dump(index: int) -> bytes:
    if index >= len(KINDS) + len(PRESETS):
        return _vmcore(index - len(KINDS) - len(PRESETS))
    if index >= len(KINDS):
        data = build(PRESETS[index - len(KINDS)]()).data
        assert data is not None
        return data
    dump_type, arch, pae = KINDS[index]
    data = build(DumpSpec(arch=arch, pae=pae, dump_type=dump_type, memory_mib=8)).data
    assert data is not None
    return data


def _vmcore(index: int) -> bytes:
    from dumptriage.synth.vmcore_world import vmcore_from_spec

    fmt, options, arch, pae = VMCORES[index]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.core"
        vmcore_from_spec(DumpSpec(arch=arch, pae=pae, memory_mib=8), path,
                         fmt=fmt, **options)  # type: ignore[arg-type]
        return path.read_bytes()


def _vmcore_offsets(data: bytes) -> st.SearchStrategy[int]:
    # ELF: header, section/program headers, notes; kdump: disk_dump_header's counts, the
    # sub header at 0x1000, the notes after it, bitmaps and descriptors (hung-guest-dumps.md
    # sections 1.1 and 1.2); flattened: the first records' big-endian headers.
    return st.one_of(st.integers(0, 0x200), st.integers(0x1000, 0x2200),
                     st.integers(0x1A0, 0x1D0), st.integers(0, min(len(data), 0x40000) - 1),
                     st.integers(0, len(data) - 1))


def _interesting_offset(data: bytes) -> st.SearchStrategy[int]:
    if not data.startswith(b"PAGE"):
        return _vmcore_offsets(data)
    header = 0x2000 if data[4:8] == b"DU64" else 0x1000
    hot = HOT_OFFSETS_64 if header == 0x2000 else HOT_OFFSETS_32
    return st.one_of(
        st.sampled_from(hot).flatmap(lambda o: st.integers(o, o + 7)),
        st.integers(header, header + 0x80),  # runs/summary/BMP/triage header
        st.integers(0, min(len(data), header + 0x3000) - 1),
        # Anywhere: page tables, the module list, KPRCBs, stacks, triage sections.
        st.integers(0, len(data) - 1),
    )


@st.composite
def mutations(draw: st.DrawFn) -> tuple[int, tuple[tuple[int, int], ...], int | None]:
    """Which dump, which bytes to overwrite, where to cut: small enough to print."""
    which = draw(st.integers(0, len(KINDS) + len(PRESETS) + len(VMCORES) - 1))
    data = _dump(which)
    changes = tuple(
        (draw(_interesting_offset(data)),
         draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, 0x41, 0x50]) | st.integers(0, 255)))
        for _ in range(draw(st.integers(1, 6)))
    )
    cut = draw(st.none() | st.integers(0, len(data)))
    return which, changes, cut


def _apply(which: int, changes: tuple[tuple[int, int], ...], cut: int | None) -> bytes:
    data = bytearray(_dump(which))
    for offset, value in changes:
        if offset < len(data):
            data[offset] = value
    return bytes(data[:cut] if cut is not None else data)


def _exercise(path: Path) -> None:
    report = analyze(path)  # modules, processors, stack: all bounded
    # A vmcore records no stop code unless its guest header has one: bugcheck is null then.
    assert report.bugcheck is not None or report.source.kind == "vmcore"
    with open_dump(path) as dump:
        for va in (dump.info.ps_loaded_module_list, dump.info.kd_debugger_data_block):
            if va:
                dump.read_virtual_or_none(va, 0x40)
        dump.read_physical_or_none(0x1000, 0x1000)
        for vcpu in dump.container.kernel_offer().vcpus[:4]:  # a vmcore's notes
            dump.read_virtual_or_none(vcpu.rip, 16)
            dump.read_physical_or_none(vcpu.cr3 & ~0xFFF, 0x1000)


# DUMPTRIAGE_FUZZ_EXAMPLES raises the count for a longer local run (3000 took 25 s).
EXAMPLES = int(os.environ.get("DUMPTRIAGE_FUZZ_EXAMPLES", "300"))


# The deadline only catches a hang (a loop on a hostile list), not slowness: 10 s, because a
# busy 2-core machine once took 2.8 s for one example (speed is measured in bench/).
@settings(max_examples=EXAMPLES, deadline=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_dumps_read_or_fail_cleanly(
        case: tuple[int, tuple[tuple[int, int], ...], int | None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.dmp"
        path.write_bytes(_apply(*case))
        tracemalloc.start()
        try:
            _exercise(path)
            event("read")
        except DumptriageError as err:
            event(type(err).__name__)
            assert str(err) and "\n" not in str(err)
            assert str(path) in str(err) or "address" in str(err)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        # Never an allocation sized by a file field: the inputs are at most a few MB.
        assert peak < 32 * 1024 * 1024, peak
