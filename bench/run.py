"""dumptriage vs kdmp-parser vs volatility3 (issue 2's bench). Not a test.

    python bench/run.py            # full run, writes bench/results.md
    python bench/run.py --quick    # smoke run: fewer dumps and repeats, a 2 GiB dump

(a) open + bugcheck for N small dumps, in-process, mean per dump (median of repeats);
(b) open + 1000 random virtual page reads on a 16 GiB sparse bitmap dump, each tool as a
    whole process (python startup + import + open + reads), median wall time;
(c) peak RSS of each (b) process;
(d) `dumptriage analyze` (text and --json) on the story sample, median wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dumps, machine, procs, report
from bench.tools import TOOLS, open_bugcheck, preload

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    quick: bool
    small: int  # (a) dumps
    vol_small: int  # (a) dumps for volatility3 (it is slow)
    repeats: int  # (a) and (b) repeats
    gib: int  # (b) guest size
    reads: int
    analyze_runs: int
    workdir: Path
    profile: bool
    results: Path | None


@dataclass
class Results:
    facts: dict[str, str]
    settings: Settings
    per_dump: dict[str, float] = field(default_factory=dict)  # (a) seconds, bitmap dumps
    per_dump_n: dict[str, int] = field(default_factory=dict)
    per_full_dump: dict[str, float] = field(default_factory=dict)  # (a) seconds, full dumps
    whole: dict[str, procs.ChildRun] = field(default_factory=dict)  # (b)+(c)
    python_startup: float = 0.0
    spread: dict[str, int] = field(default_factory=dict)
    analyze: dict[str, float] = field(default_factory=dict)  # (d)
    notes: list[str] = field(default_factory=list)


def bench_open_bugcheck(s: Settings, r: Results) -> None:
    _open_bugcheck(s, r, dumps.small_dumps(s.workdir, s.small), r.per_dump, "bitmap")
    full = dumps.small_dumps(s.workdir, s.small, dump_type=1)
    _open_bugcheck(s, r, full, r.per_full_dump, "full", tools=("dumptriage", "kdmp-parser"))


def _open_bugcheck(s: Settings, r: Results, items: list[tuple[Path, tuple[int, tuple[int, ...]]]],
                   into: dict[str, float], kind: str,
                   tools: tuple[str, ...] = TOOLS) -> None:
    for tool in tools:
        subset = items[: s.vol_small] if tool == "volatility3" else items
        preload(tool)
        open_bugcheck(tool, subset[0][0])  # warm-up: first-use costs are not per dump
        means = []
        for _ in range(s.repeats):
            t0 = time.perf_counter()
            for path, expected in subset:
                got = open_bugcheck(tool, path)
                if got != expected:
                    raise SystemExit(f"{tool} read {got} from {path}, expected {expected}")
            means.append((time.perf_counter() - t0) / len(subset))
        into[tool] = statistics.median(means)
        r.per_dump_n[tool] = len(subset)
        print(f"(a) {kind} {tool}: {into[tool] * 1e3:.3f} ms per dump over {len(subset)} "
              f"dumps (median of {s.repeats})", flush=True)


def bench_page_reads(s: Settings, r: Results) -> None:
    path, vas, r.spread = dumps.big_dump(s.workdir, s.gib, s.reads)
    vas_file = s.workdir / "vas.txt"
    vas_file.write_text("\n".join(f"{va:#x}" for va in vas))
    r.python_startup = procs.python_startup(s.repeats)
    for tool in TOOLS:
        r.whole[tool] = procs.child_runs(tool, path, vas_file, s.repeats, REPO)
        c = r.whole[tool]
        print(f"(b) {tool}: {c.wall:.3f} s whole process (open {c.open_s:.3f} s, "
              f"reads {c.reads_s:.3f} s), peak RSS {c.rss_mib:.1f} MiB, "
              f"{c.missing} missing", flush=True)
    digests = {tool: c.digest for tool, c in r.whole.items()}
    if len(set(digests.values())) != 1:
        r.notes.append(f"(b) the tools read DIFFERENT bytes: {digests}")
    else:
        r.notes.append(f"(b) all three tools read the same {s.reads} pages "
                       f"(sha256 {next(iter(digests.values()))[:16]}...)")


def bench_analyze(s: Settings, r: Results) -> None:
    sample = REPO / "samples" / "win7-x86-clock-watchdog" / "MEMORY.DMP"
    exe = Path(sys.executable).with_name("dumptriage")
    if exe.is_file():
        cmd = [str(exe)]
    else:  # what the console script runs (pyproject [project.scripts]), in this venv
        cmd = [sys.executable, "-c", "from dumptriage.cli import run; run()"]
        r.notes.append(f"(d) {exe} does not exist (dumptriage is not pip-installed in this "
                       "environment); timed `python -c 'from dumptriage.cli import run; "
                       "run()'` from the repo root instead, which is what the script runs")
    for label, extra in (("text", []), ("--json", ["--json"])):
        r.analyze[label] = procs.median_wall([*cmd, "analyze", str(sample), *extra],
                                             s.analyze_runs, REPO)
        print(f"(d) dumptriage analyze {label}: {r.analyze[label]:.3f} s "
              f"(median of {s.analyze_runs})", flush=True)


def parse(argv: list[str] | None) -> Settings:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fast smoke run")
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "dumptriage-bench",
                    help="where the generated dumps are cached (default: %(default)s)")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile dumptriage's (a) and (b) and print the top entries")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results.md",
                    help="markdown output (default: %(default)s)")
    ap.add_argument("--no-results", action="store_true", help="print only")
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    results = None if a.no_results else a.results
    if a.quick:
        return Settings(True, 50, 10, 1, 2, 1000, 5, a.workdir, a.profile, results)
    return Settings(False, 500, 50, 3, 16, 1000, 20, a.workdir, a.profile, results)


def main(argv: list[str] | None = None) -> int:
    s = parse(argv)
    r = Results(machine.describe(), s)
    for k, v in r.facts.items():
        print(f"{k}: {v}")
    bench_open_bugcheck(s, r)
    bench_page_reads(s, r)
    bench_analyze(s, r)
    text = report.markdown(r)
    print()
    print(text)
    if s.results is not None:
        s.results.write_text(text)
        print(f"written to {s.results}")
    if s.profile:
        from bench import profiling

        profiling.run(s.workdir, s.gib, s.reads)
        profiling.import_times(REPO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
