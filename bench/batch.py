"""Issue 12's targets for `dumptriage batch`. Not a test (no timing is asserted anywhere).

    python bench/batch.py [--count 10000] [--mixed 1000] [--jobs 2] [--work DIR]

(1) ``count`` small synthetic x64 dumps (bench/dumps.small_spec: 16 MiB sparse guests,
    distinct bugcheck args, two stop codes), written once into the work folder;
    `dumptriage batch DIR --jobs N --db FRESH --format csv` as a whole process, timed
    first (every dump read) and second (nothing new: the stat cache). Targets: under 15 s
    and under 3 s with --jobs 2 on this project's 2-core machine.
(2) Memory: the peak RSS of the batch process and of its largest worker, sampled from
    /proc every 50 ms, for ``count`` and for a tenth of it: flat means the same.
(3) ``mixed`` dumps of which 5% are damaged (a third truncated inside the header, a
    third with the magic overwritten, a third cut to zero bytes): every good dump must be
    a row, every bad one an error row, and the exit code 3 (completed with errors).
Figures go to stdout; bench/results.md gets them by hand.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dumps import small_spec
from bench.machine import describe
from dumptriage.synth import write

CLI = [sys.executable, "-m", "dumptriage"]


@dataclass
class Timed:
    seconds: float
    code: int
    stdout: str
    parent_rss_mib: float
    worker_rss_mib: float


def make_dumps(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / ".count"
    if stamp.exists() and stamp.read_text() == str(count):
        return
    for i in range(count):
        # 100 dumps per folder, as a share of per-VM folders would hold them
        sub = folder / f"vm{i // 100:03d}"
        sub.mkdir(exist_ok=True)
        write(small_spec(i), sub / f"dump{i:05d}.dmp")
    stamp.write_text(str(count))


def damage(folder: Path, every: int = 20) -> int:
    bad = 0
    for n, path in enumerate(sorted(folder.rglob("*.dmp"))):
        if n % every:
            continue
        kind = bad % 3
        if kind == 0:
            os.truncate(path, 1000)  # inside the 8 KiB header
        elif kind == 1:
            with open(path, "r+b") as fh:
                fh.write(b"GARBAGE!")
        else:
            os.truncate(path, 0)
        bad += 1
    return bad


def _tree(pid: int) -> list[int]:
    # every thread's children: a process started from another thread than the main one
    # (a Dask nanny's worker, started from its event loop) is listed under that thread
    out = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out.extend(_tree(int(child)))
    return out


def _rss(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(args: list[str]) -> Timed:
    start = time.perf_counter()
    proc = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    parent = worker = 0.0
    buf = io.BytesIO()
    os.set_blocking(proc.stdout.fileno(), False)  # type: ignore[union-attr]
    while proc.poll() is None:
        pids = _tree(proc.pid)
        parent = max(parent, _rss(proc.pid))
        worker = max([worker, *(_rss(p) for p in pids[1:])])
        chunk = proc.stdout.read()  # type: ignore[union-attr]
        if chunk:
            buf.write(chunk)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    rest = proc.stdout.read()  # type: ignore[union-attr]
    if rest:
        buf.write(rest)
    return Timed(seconds, proc.returncode, buf.getvalue().decode(), parent, worker)


def run(folder: Path, db: Path, jobs: int) -> tuple[Timed, Timed]:
    db.unlink(missing_ok=True)
    args = ["batch", str(folder), "--jobs", str(jobs), "--db", str(db), "--format", "csv"]
    return timed(args), timed(args)


def _plain(path: str) -> int:
    from dumptriage.analysis import analyze

    bug = analyze(path).bugcheck
    return bug.code if bug is not None else -1


def baseline(folder: Path, jobs: int, count: int) -> float:
    """The issue's reference: a plain loop of analyze over the dumps in `jobs` processes
    (multiprocessing.Pool, chunks of 16), no hashing, signatures or history."""
    import multiprocessing

    paths = sorted(str(p) for p in folder.rglob("*.dmp"))[:count]
    start = time.perf_counter()
    with multiprocessing.get_context("forkserver").Pool(jobs) as pool:
        for _ in pool.imap_unordered(_plain, paths, chunksize=16):
            pass
    return time.perf_counter() - start


def _rows(out: str) -> tuple[int, int]:
    rows = list(csv.DictReader(io.StringIO(out)))
    return sum(r["status"] == "ok" for r in rows), sum(r["status"] == "error" for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--mixed", type=int, default=1_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dt-bench-batch")
    a = ap.parse_args(argv)
    print(describe())
    print(f"load average at start: {os.getloadavg()}")
    for count in (a.count // 10, a.count):
        folder = a.work / f"small-{count}"
        t0 = time.perf_counter()
        make_dumps(folder, count)
        print(f"{count} dumps ready in {time.perf_counter() - t0:.1f} s")
        plain = baseline(folder, a.jobs, 2000)
        print(f"(0) plain loop of analyze over {min(count, 2000)} of them, {a.jobs} processes: "
              f"{plain:.2f} s ({min(count, 2000) / plain:.0f} dumps/s)")
        first, second = run(folder, a.work / f"history-{count}.sqlite", a.jobs)
        ok, bad = _rows(first.stdout)
        print(f"(1) {count} dumps, --jobs {a.jobs}: first run {first.seconds:.2f} s "
              f"({count / first.seconds:.0f} dumps/s, exit {first.code}, {ok} rows, {bad} "
              f"errors); second run {second.seconds:.2f} s (exit {second.code}, "
              f"{sum(_rows(second.stdout))} rows)")
        print(f"(2) {count} dumps: peak RSS batch process {first.parent_rss_mib:.1f} MiB, "
              f"largest worker {first.worker_rss_mib:.1f} MiB (second run: "
              f"{second.parent_rss_mib:.1f} MiB)")
    mixed = a.work / f"mixed-{a.mixed}"
    if mixed.exists():
        subprocess.run(["rm", "-rf", str(mixed)], check=True)
    make_dumps(mixed, a.mixed)
    bad_made = damage(mixed)
    first, _ = run(mixed, a.work / "history-mixed.sqlite", a.jobs)
    ok, bad = _rows(first.stdout)
    print(f"(3) {a.mixed} mixed dumps, {bad_made} damaged: {first.seconds:.2f} s, {ok} rows "
          f"+ {bad} error rows, exit code {first.code} (3 = completed with errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
