"""`python bench/run.py --profile`: where dumptriage spends its time in (a) and (b)."""

from __future__ import annotations

import cProfile
import io
import pstats
import subprocess
import sys
from pathlib import Path

from bench import dumps
from bench.tools import open_bugcheck, open_pages


def _top(prof: cProfile.Profile, title: str, n: int = 25) -> None:
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(n)
    print(f"\n===== cProfile: {title} =====")
    print(buf.getvalue())


def import_times(repo: Path, top: int = 20) -> None:
    """(d): `python -X importtime` of `dumptriage analyze`, heaviest modules first."""
    sample = repo / "samples" / "win7-x86-clock-watchdog" / "MEMORY.DMP"
    cmd = [sys.executable, "-X", "importtime", "-c", "from dumptriage.cli import run; run()",
           "analyze", str(sample)]
    subprocess.run(cmd, cwd=repo, capture_output=True, check=False)  # warm .pyc files
    err = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False).stderr
    rows = []
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0]), parts[2].rstrip()))
    print("\n===== -X importtime: dumptriage analyze (cumulative us, self us, module) =====")
    for cum, own, name in sorted(rows, reverse=True)[:top]:
        print(f"{cum:>9} {own:>9} {name}")


def run(workdir: Path, gib: int, reads: int) -> None:
    items = dumps.small_dumps(workdir, 100)
    open_bugcheck("dumptriage", items[0][0])
    prof = cProfile.Profile()
    prof.enable()
    for path, _ in items:
        open_bugcheck("dumptriage", path)
    prof.disable()
    _top(prof, "(a) dumptriage open + bugcheck x100")

    path, vas, _ = dumps.big_dump(workdir, gib, reads)
    prof = cProfile.Profile()
    prof.enable()
    read_page, close = open_pages("dumptriage", path)
    for va in vas:
        read_page(va)
    close()
    prof.disable()
    _top(prof, f"(b) dumptriage open + {reads} page reads ({gib} GiB)")
