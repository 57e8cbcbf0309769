"""Issue 16's benchmark: `dumptriage batch` on the local engine against `--dask local:N`.
Not a test (no timing is asserted anywhere).

    python bench/cluster.py [--count 10000] [--scale 2000] [--workers 1,2,3,4]
                            [--repeat 2] [--work DIR]

(1) ``count`` small synthetic dumps (bench/batch.make_dumps, the issue-12 set): the whole
    process `dumptriage batch DIR --db FRESH --format csv` with `--jobs 2`, then with
    `--dask local:2` (a LocalCluster of 2 worker processes, 1 thread each, started and
    stopped by the run). Both outputs must hold the same rows (compared line by line, the
    hash column included).
(2) The fixed cost of a Dask run: the same command on a folder with one dump.
(3) Scaling: ``scale`` of the dumps with `--jobs N` and `--dask local:N` for each N of
    ``workers``; on this project's 2-core machine N > 2 shows what oversubscription costs,
    not what more machines would give.
Each figure is the fastest of ``repeat`` runs, the two engines taking turns (the machine is
shared: the slower runs measured the neighbours), with the load average before it. Peak
RSS of the batch process and its largest child (worker) as bench/batch.py samples it.
Figures go to stdout; bench/results.md and README get them by hand.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch import Timed, make_dumps, timed
from bench.machine import describe


def batch(folder: Path, db: Path, engine: list[str]) -> Timed:
    db.unlink(missing_ok=True)
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    return timed(["batch", str(folder), "--db", str(db), "--format", "csv", *engine])


def best(folder: Path, db: Path, engines: list[list[str]], repeat: int) -> list[Timed]:
    """The fastest of ``repeat`` runs of each engine, the engines taking turns (a burst of
    load from a neighbour then falls on both)."""
    runs: list[list[tuple[Timed, float]]] = [[] for _ in engines]
    for _ in range(repeat):
        for engine, done in zip(engines, runs, strict=True):
            load = os.getloadavg()[0]
            done.append((batch(folder, db, engine), load))
    out = []
    for engine, done in zip(engines, runs, strict=True):
        fastest, load = min(done, key=lambda r: r[0].seconds)
        print(f"    [{' '.join(engine)}: {', '.join(f'{r.seconds:.2f}' for r, _ in done)} s; "
              f"load {load:.1f} before the fastest]")
        out.append(fastest)
    return out


def subset(source: Path, dest: Path, count: int) -> Path:
    """The first ``count`` dumps of ``source`` (hard links: the same files, no copies)."""
    if dest.exists() and (dest / ".count").read_text() == str(count):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for path in sorted(source.rglob("*.dmp"))[:count]:
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    (dest / ".count").write_text(str(count))
    return dest


def line(label: str, count: int, t: Timed) -> str:
    rows = t.stdout.count("\n") - 1
    return (f"{label}: {t.seconds:.2f} s ({count / t.seconds:.0f} dumps/s), exit {t.code}, "
            f"{rows} rows; peak RSS batch process {t.parent_rss_mib:.1f} MiB, largest child "
            f"{t.worker_rss_mib:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--scale", type=int, default=2_000)
    ap.add_argument("--workers", default="1,2,3,4")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dt-bench-batch")
    a = ap.parse_args(argv)
    print(describe())
    print(f"load average at start: {os.getloadavg()}")
    folder = a.work / f"small-{a.count}"
    t0 = time.perf_counter()
    make_dumps(folder, a.count)
    print(f"{a.count} dumps ready in {time.perf_counter() - t0:.1f} s")
    db = a.work / "history-cluster.sqlite"

    local, dask = best(folder, db, [["--jobs", "2"], ["--dask", "local:2"]], a.repeat)
    print(line(f"(1) {a.count} dumps, --jobs 2", a.count, local))
    print(line(f"(1) {a.count} dumps, --dask local:2", a.count, dask))
    same = sorted(local.stdout.splitlines()) == sorted(dask.stdout.splitlines())
    print(f"(1) same rows from both engines: {same}")

    one = subset(folder, a.work / "one", 1)
    for label, t in zip(("--jobs 2", "--dask local:2"), best(
            one, db, [["--jobs", "2"], ["--dask", "local:2"]], a.repeat), strict=True):
        print(line(f"(2) 1 dump, {label}", 1, t))

    part = subset(folder, a.work / f"part-{a.scale}", a.scale)
    for n in (int(w) for w in a.workers.split(",")):
        engines = [["--jobs", str(n)], ["--dask", f"local:{n}"]]
        for engine, t in zip(engines, best(part, db, engines, a.repeat), strict=True):
            print(line(f"(3) {a.scale} dumps, {' '.join(engine)}", a.scale, t))
    print(f"load average at end: {os.getloadavg()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
