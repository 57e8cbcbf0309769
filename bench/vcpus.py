"""Issue 14's target for a hung guest: the per-vCPU report of an 8 GiB guest's vmcore.

    python bench/vcpus.py [--gib 8] [--repeats 5] [--format elf|kdump]

Builds the 4-vCPU Windows 10 x64 hung-guest world (synth/hung.py: one vCPU in user mode
under KVA shadow, one idle, one spinning with IF=0 in a driver, one kernel thread) in a
guest of --gib GiB of RAM, writes it as a QEMU ELF core (zero RAM as file holes: a sparse
file) or a kdump-compressed file, then runs, each in a fresh process, `analyze(FILE)` (open,
discovery: paging root, KPCRs, kernel from the IDT, module list, build; each vCPU's state
and stack; the rules) and reports the median wall time of that call and the peak RSS.
Target: under 1 s, memory flat in the guest size. Not a test: figures go to stdout (and
into README by hand).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dumptriage.synth import hung
from dumptriage.synth.builder import guest_memory
from dumptriage.synth.vmcore import write_elf, write_kdump

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from dumptriage import analyze
t1 = time.perf_counter()
report = analyze(sys.argv[1])
t2 = time.perf_counter()
# VmHWM, not getrusage's maxrss: Linux carries ru_maxrss over execve, so this child would
# report the size of the parent that wrote the world (267 MiB for the 8 GiB kdump).
rss = max((int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM:")), default=0) / 1024
print(json.dumps({"import_s": t1 - t0, "analyze_s": t2 - t1, "rss_mib": rss,
                  "states": [v.state for v in report.vcpus]}))
"""


def write_world(path: Path, gib: int, fmt: str) -> None:
    spec = dataclasses.replace(hung.hung_x64(), memory_mib=gib * 1024)
    built, runs, pages = guest_memory(spec)
    names = ("rip", "rsp", "rbp", "rflags", "cr0", "cr3", "cr4", "cs", "ss", "fs", "fs_base",
             "gs_base", "kernel_gs_base", "gdt_base", "gdt_limit", "idt_base", "idt_limit",
             "bits")
    vcpus = [{n: getattr(v, n) for n in names} for v in built.vcpus]
    (write_elf if fmt == "elf" else write_kdump)(path, runs, vcpus, pages=pages)


def measure(path: Path, repeats: int) -> list[dict[str, object]]:
    rows = []
    for _ in range(repeats + 1):  # the first run warms the page cache and .pyc files
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                             text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--format", choices=("elf", "kdump"), default="elf")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"vm.{args.format}"
        write_world(path, args.gib, args.format)
        size = path.stat().st_size
        on_disk = path.stat().st_blocks * 512
        rows = measure(path, args.repeats)
    seconds = statistics.median(float(str(r["analyze_s"])) for r in rows)
    rss = statistics.median(float(str(r["rss_mib"])) for r in rows)
    verdict = "met" if seconds < 1.0 else "MISSED"
    print(f"{args.gib} GiB guest, {args.format}: file {size / 2**30:.1f} GiB "
          f"({on_disk / 2**20:.1f} MiB on disk); analyze() {seconds * 1000:.0f} ms "
          f"(median of {args.repeats}), peak RSS {rss:.1f} MiB; states {rows[0]['states']}; "
          f"target < 1 s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
