"""Issue 10's target: evaluating every rule adds under 5 ms to an analysis. Not a test.

    python bench/rules.py [--repeats 200]

Times, in-process on the story sample with its VM's host files: building the facts from
the report plus evaluating all rules (`dumptriage.knowledge.conclude`), once cold (the
first call of the process: rules.json and facts.toml are loaded) and then warm (median of
the repeats). Figures go to stdout (and into README by hand).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dumptriage.analysis import _host, _read_dump
from dumptriage.knowledge import conclude
from dumptriage.knowledge.rulebook import builtin_rules

STORY = Path(__file__).resolve().parent.parent / "samples" / "win7-x86-clock-watchdog"


@dataclass
class Timing:
    cold_ms: float
    warm_ms: float
    rules: int
    findings: int


def measure(repeats: int) -> Timing:
    host, choice = _host([STORY / "vm113.xml", STORY / "qemu-vm113.log"], None)
    report = _read_dump(STORY / "MEMORY.DMP", host, choice)
    start = time.perf_counter()
    found = conclude(report)
    cold = (time.perf_counter() - start) * 1000
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        conclude(report)
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(cold, statistics.median(samples), len(builtin_rules()), len(found.findings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    t = measure(args.repeats)
    def verdict(ms: float) -> str:
        return "met" if ms < 5 else "NOT met"

    print(f"{t.rules} rules, {t.findings} findings on the story sample:\n"
          f"  per analysis once loaded: {t.warm_ms:.2f} ms (median of {args.repeats}); "
          f"under 5 ms: {verdict(t.warm_ms)}\n"
          f"  first call of a process (imports the engine and packaging, loads rules.json): "
          f"{t.cold_ms:.2f} ms; under 5 ms: {verdict(t.cold_ms)}")


if __name__ == "__main__":
    main()
