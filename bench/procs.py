"""Whole-process timings: child runs of bench.child and of the dumptriage CLI."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildRun:
    """Medians over the repeats of one tool's (b) process."""

    wall: float  # seconds, measured by the parent around the whole child
    import_s: float
    open_s: float
    reads_s: float
    rss_mib: float  # peak RSS (max of getrusage maxrss and VmHWM), MiB
    anon_mib: float  # RssAnon at the end of the run
    file_mib: float  # RssFile at the end: file pages mapped (the dump's mmap, .so files)
    digest: str
    missing: int
    runs: int


# Children may write .pyc files, as an installed package has them (pip byte-compiles):
# without, every child compiles dumptriage's sources again (PYTHONDONTWRITEBYTECODE=1 is
# set on this project's machines) and the figures measure the compiler, not the tool.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=_ENV)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # analyze exits 1 on findings at --fail-on
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    return wall, proc.stdout


def child_runs(tool: str, dump: Path, vas_file: Path, repeats: int, cwd: Path) -> ChildRun:
    walls, rows = [], []
    _run([sys.executable, "-m", "bench.child", tool, str(dump), str(vas_file)], cwd)  # warm
    for _ in range(repeats):
        wall, out = _run([sys.executable, "-m", "bench.child", tool, str(dump),
                          str(vas_file)], cwd)
        walls.append(wall)
        rows.append(json.loads(out.strip().splitlines()[-1]))
    digests = {row["digest"] for row in rows}
    if len(digests) != 1:
        raise SystemExit(f"{tool} read different bytes on different runs")

    def med(key: str) -> float:
        return float(statistics.median(float(row[key]) for row in rows))

    rss = max(max(row["maxrss_kib"], row.get("vmhwm_kib", 0)) for row in rows) / 1024
    anon = max(row.get("rssanon_kib", 0) for row in rows) / 1024
    file = max(row.get("rssfile_kib", 0) for row in rows) / 1024
    return ChildRun(statistics.median(walls), med("import_s"), med("open_s"), med("reads_s"),
                    rss, anon, file, rows[0]["digest"], int(rows[0]["missing"]), repeats)


def python_startup(repeats: int) -> float:
    """Bare interpreter start-up (python -c pass), for reference."""
    return statistics.median(_run([sys.executable, "-c", "pass"], Path.cwd())[0]
                             for _ in range(max(3, repeats)))


def median_wall(cmd: list[str], runs: int, cwd: Path) -> float:
    _run(cmd, cwd)  # warm the page cache and .pyc files
    return statistics.median(_run(cmd, cwd)[0] for _ in range(runs))
