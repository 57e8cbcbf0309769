"""Issue 3's target: modules + processors + stack for a 250-module dump, in-process.

    python bench/kernel_state.py [--modules 250] [--repeats 7]

Builds a Windows 10 x64 bitmap kernel dump (dumptriage.synth) with N modules, every one
with a CodeView record and a version resource (so the PE reader does its full work), a
4-CPU KiProcessorBlock and a crashing stack, then times, on a freshly opened dump each
time: `dump.modules` + `dump.processors` + `dump.stack()` (the median of the repeats).
Target: under 50 ms. Not a test: figures go to stdout (and into README by hand).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dumptriage import open_dump
from dumptriage.synth import ModuleSpec, StackSpec, presets, write

DRIVERS = 0xFFFFF80480000000


def spec_with_modules(count: int) -> presets.DumpSpec:  # type: ignore[name-defined]
    base = presets.win10_x64_cpus()
    modules = list(base.modules or ())
    for i in range(count - len(modules)):
        name = f"drv{i:03d}.sys"
        modules.append(ModuleSpec(
            name=name, path=f"\\SystemRoot\\System32\\drivers\\{name}",
            base=DRIVERS + i * 0x100000, size=0x40000, timestamp=0x5F000000 + i,
            checksum=0x1000 + i, pdb=(f"drv{i:03d}.pdb",
                                      f"{i:08X}-1111-2222-3333-444455556666", 1),
            version=f"10.0.19041.{i}"))
    return dataclasses.replace(base, modules=tuple(modules), dump_type=6,
                               stack=_full_stack(modules))


def _full_stack(modules: list[ModuleSpec]) -> StackSpec:
    """The crashing thread's whole 24 KiB stack, one code address in every four slots."""
    high = 0xFFFF850429892000
    sp = high - 0x6000 + 0x10
    slots = (0x6000 - 0x10) // 8
    values = tuple(modules[i % len(modules)].base + 0x1000 + 8 * i if i % 4 == 0 else i
                   for i in range(slots))
    return StackSpec(low=high - 0x6000, high=high, sp=sp, ip=modules[0].base + 0x1000,
                     bp=0, values=values)


def measure(path: Path, repeats: int) -> tuple[float, int, int, int]:
    times = []
    counts = (0, 0, 0)
    for _ in range(repeats):
        with open_dump(path) as dump:
            start = time.perf_counter()
            modules, processors, stack = dump.modules, dump.processors, dump.stack()
            times.append(time.perf_counter() - start)
            counts = (len(modules), len(processors), len(stack))
    return statistics.median(times), *counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kernel_state.dmp"
        write(spec_with_modules(args.modules), path)
        seconds, modules, cpus, frames = measure(path, args.repeats)
    verdict = "met" if seconds < 0.050 else "MISSED"
    print(f"modules + processors + stack: {seconds * 1000:.1f} ms (median of {args.repeats}) "
          f"for {modules} modules, {cpus} CPUs, {frames} frames; target < 50 ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
