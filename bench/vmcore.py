"""QEMU vmcore benchmark: an 8 GiB guest's ELF core, opened, its vCPU notes and pages read.

Writes a sparse ELF vmcore of an 8 GiB x64 guest (the PC layout QEMU dumps: low memory,
RAM to 3 GiB, a 16 MiB VGA block, the BIOS ROM below 4 GiB, 5 GiB above it) with
synth/vmcore.py: the holes are seeked over, so only the page tables and ~4 MiB of marked
pages are real data. Then, in a fresh child process per run (as ``bench/child.py`` does):
import dumptriage, open the file, take every vCPU's registers from the notes, read 1000
random guest-physical pages and 200 virtual pages through vCPU 0's CR3, and report the
times and the peak RSS (/proc VmHWM). The same on a 1 GiB guest
shows RSS does not grow with the guest; a 1 GiB guest as kdump-zlib (flattened, as QEMU
streams it) gives the cost of decompressing on demand.

    python bench/vmcore.py [--repeats 5] [--vcpus 8]

Targets (issue 14): the per-vCPU state of an 8 GiB guest in under 1 s, memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 1 << 30
MARKED_PAGES = 1024  # 4 MiB of real data
KERNEL_VA = 0xFFFFF80000000000


def _layout(gib: int) -> list[tuple[int, int]]:
    low = min(gib * GIB, 3 * GIB)
    runs = [(0, 0xA0000), (0x100000, low - 0x100000), (0xFD000000, 16 << 20),
            (0xFFFC0000, 0x40000)]
    if gib * GIB > low:
        runs.append((4 * GIB, gib * GIB - low))
    return runs


def write_guest(path: Path, gib: int, vcpus: int, kdump: bool = False
                ) -> tuple[list[int], list[int]]:
    """The sparse vmcore; returns the marked physical pages and their kernel VAs."""
    from dumptriage.synth.vmcore import write_elf, write_kdump

    rng = random.Random(gib)
    runs = _layout(gib)
    ram = [(base, size) for base, size in runs if size > 0x40000 and base >= 0x100000]
    marked = sorted({(b + rng.randrange(0, s // 0x1000) * 0x1000) for b, s in ram
                     for _ in range(MARKED_PAGES // len(ram))})
    pages = {pa: struct.pack("<Q", pa) * 512 for pa in marked}
    # x64 tables at 0x10000-: one PML4, one PDPT, PDs and PTs mapping KERNEL_VA + i pages.
    pml4, pdpt, pd0, tables = 0x10000, 0x11000, 0x12000, 0x13000
    vas = [KERNEL_VA + i * 0x1000 for i in range(len(marked))]
    pages[pml4] = _entries({(KERNEL_VA >> 39) & 0x1FF: pdpt | 3})
    pages[pdpt] = _entries({0: pd0 | 3})
    pts = (len(marked) + 511) // 512
    pages[pd0] = _entries({i: (tables + i * 0x1000) | 3 for i in range(pts)})
    for i in range(pts):
        chunk = marked[i * 512 : (i + 1) * 512]
        pages[tables + i * 0x1000] = _entries({j: pa | 3 for j, pa in enumerate(chunk)})
    cpus = [{"rip": KERNEL_VA + 0x1000 * i, "rsp": KERNEL_VA + 0x8000, "cr0": 0x80050033,
             "cr3": pml4, "cr4": 0x6F8, "cs": 0x10, "gs_base": KERNEL_VA + 0x100000 * i,
             "kernel_gs_base": 0, "rflags": 0x202} for i in range(vcpus)]
    if kdump:
        write_kdump(path, runs, cpus, pages=pages)
    else:
        write_elf(path, runs, cpus, pages=pages)
    return marked, vas


def _entries(values: dict[int, int]) -> bytes:
    table = bytearray(0x1000)
    for index, value in values.items():
        table[index * 8 : index * 8 + 8] = struct.pack("<Q", value)
    return bytes(table)


def child(path: str, marked_file: str) -> None:
    """One measured run: import, open, notes, page reads; one JSON line out."""
    t0 = time.perf_counter()
    from dumptriage.dump.containers import open_container

    t_import = time.perf_counter()
    marked = json.loads(Path(marked_file).read_text())
    container = open_container(path)
    offer = container.kernel_offer()
    regs = [(v.index, v.rip, v.rsp, v.cr3, v.interrupts_enabled) for v in offer.vcpus]
    t_notes = time.perf_counter()
    physical, memory = container.physical, offer.memory
    assert physical is not None and memory is not None
    rng = random.Random(14)
    bad = 0
    for pa in rng.sample(marked["pa"], min(1000, len(marked["pa"]))):
        if physical.read(pa, 0x1000)[:8] != struct.pack("<Q", pa):
            bad += 1
    for va, pa in rng.sample(list(zip(marked["va"], marked["pa"], strict=True)), 200):
        if memory.read(va, 0x1000)[:8] != struct.pack("<Q", pa):
            bad += 1
    t_reads = time.perf_counter()
    hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    container.close()
    print(json.dumps({"import_s": t_import - t0, "open_notes_s": t_notes - t_import,
                      "reads_s": t_reads - t_notes, "total_s": t_reads - t0,
                      "vcpus": len(regs), "bad": bad,
                      # VmHWM, not getrusage's maxrss: Linux carries maxrss over execve, so a
                      # child of a large parent would report the parent's size.
                      "rss_kib": hwm, "maxrss_kib": resource.getrusage(
                          resource.RUSAGE_SELF).ru_maxrss}))


def measure(path: Path, marked: list[int], vas: list[int], repeats: int) -> dict[str, float]:
    marked_file = path.with_suffix(".json")
    marked_file.write_text(json.dumps({"pa": marked, "va": vas}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "bench.vmcore", "--child", str(path), str(marked_file)]
    rows = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        wall = time.perf_counter() - t0
        if i:  # the first run warms the page cache and .pyc files
            rows.append({**json.loads(out.strip().splitlines()[-1]), "wall_s": wall})
    if any(r["bad"] for r in rows):
        raise SystemExit("pages read back wrong")
    return {key: statistics.median(r[key] for r in rows) if not key.endswith("rss_kib")
            else max(r[key] for r in rows) for key in rows[0]}


def _analyze_wall(path: Path, repeats: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "dumptriage", "analyze", "--json", str(path)]
    walls = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        if i:
            walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vcpus", type=int, default=8)
    parser.add_argument("--child", nargs=2, metavar=("CORE", "MARKED"))
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        for gib, kdump in ((8, False), (1, False), (1, True)):
            path = Path(folder) / f"guest{gib}.{'kdump' if kdump else 'core'}"
            t0 = time.perf_counter()
            marked, vas = write_guest(path, gib, args.vcpus, kdump)
            written = time.perf_counter() - t0
            disk = os.stat(path).st_blocks * 512
            r = measure(path, marked, vas, args.repeats)
            analyze = _analyze_wall(path, args.repeats)
            kind = "kdump-zlib (flattened)" if kdump else "ELF"
            size = path.stat().st_size / GIB
            print(f"{kind}, {gib} GiB guest, {args.vcpus} vCPUs: file {size:.2f} GiB apparent, "
                  f"{disk / (1 << 20):.1f} MiB on disk (written in {written:.1f} s); "
                  f"whole process {r['wall_s']:.3f} s (import {r['import_s'] * 1000:.1f} ms, "
                  f"open + vCPU notes {r['open_notes_s'] * 1000:.2f} ms, 1000 physical + 200 "
                  f"virtual pages {r['reads_s'] * 1000:.1f} ms); peak RSS "
                  f"{r['rss_kib'] / 1024:.1f} MiB (median of {args.repeats}); "
                  f"`dumptriage analyze --json` whole process {analyze:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
