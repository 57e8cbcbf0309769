"""One batch run: discovery -> engine -> history store, outcome by outcome.

The engine is the local worker pool (engine.Pool) or, with ``dask`` set, a Dask cluster
(cluster.DaskEngine); either takes the same inputs and yields the same outcomes.

Nothing is accumulated here: each outcome is committed to the store as it arrives and the
output is read back from the store afterwards (output.py), so memory does not grow with the
number of dumps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from dumptriage.batch.archives import ArchiveLimits
from dumptriage.batch.contextmap import ContextMap
from dumptriage.batch.discover import Discovery, Ignored, Input, Known
from dumptriage.batch.engine import Engine, Pool
from dumptriage.batch.store import HistoryStore
from dumptriage.batch.worker import DEFAULT_ANALYZER, WorkerOptions


@dataclass
class Progress:
    """Counts so far, handed to the progress callback after every input."""

    found: int = 0
    done: int = 0
    skipped: int = 0
    errors: int = 0
    ignored: int = 0
    unchanged: int = 0  # known to the history by path and stat: not sent to a worker
    discovering: bool = True


@dataclass
class BatchOptions:
    roots: tuple[str, ...]
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    context_map: ContextMap | None = None
    since: datetime | None = None
    timeout: float | None = 300.0
    fail_fast: bool = False
    rescan: bool = False
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    analyzer: str = DEFAULT_ANALYZER
    tmpdir: str | None = None
    dask: str | None = None  # "tcp://host:port" or "local:N": the Dask engine


@dataclass(frozen=True)
class RunResult:
    run_id: int
    status: str  # done | stopped (--fail-fast)
    counts: dict[str, int]


def run_batch(options: BatchOptions, store: HistoryStore,
              on_progress: Callable[[Progress], None] | None = None) -> RunResult:
    engine = make_engine(options, store.path)  # a cluster is reached before the run starts
    try:
        run_id = store.start_run(list(options.roots))
        progress = Progress()
        status = "interrupted"
        try:
            status = _run(options, store, run_id, progress, on_progress, engine)
        finally:
            store.finish_run(run_id, status)
    finally:
        engine.close()
    return RunResult(run_id, status, store.run_counts(run_id))


def make_engine(options: BatchOptions, db: str) -> Engine:
    worker = WorkerOptions(db=db, rescan=options.rescan, limits=options.limits,
                           analyzer=options.analyzer, tmpdir=options.tmpdir)
    if options.dask is None:
        return Pool(options.jobs, worker, options.timeout)
    from dumptriage.batch.cluster import DaskEngine  # imports dask: only for --dask

    return DaskEngine(options.dask, worker, options.timeout)


def _run(options: BatchOptions, store: HistoryStore, run_id: int, progress: Progress,
         on_progress: Callable[[Progress], None] | None, engine: Engine) -> str:
    since_ns = int(options.since.timestamp() * 1e9) if options.since else None
    discovery = Discovery(options.roots, options.context_map,
                          None if options.rescan else store.known_file, since_ns)

    def inputs() -> Iterator[Input]:
        for found in discovery:
            if isinstance(found, Known):
                store.record_known(run_id, found.path, found.abspath)
                progress.found += 1
                progress.skipped += 1
                progress.unchanged += 1
            elif isinstance(found, Ignored):
                progress.ignored += 1
            else:
                progress.found += 1
                yield found
        progress.discovering = False

    for item, outcomes in engine.run(inputs()):
        store.record(run_id, item, outcomes)
        progress.done += 1
        progress.skipped += sum(1 for o in outcomes if o.skipped)
        failed = sum(1 for o in outcomes if o.row.status == "error")
        progress.errors += failed
        if on_progress is not None:
            on_progress(progress)
        if failed and options.fail_fast:
            return "stopped"
    return "done"
