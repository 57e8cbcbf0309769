"""Analyses as jobs: deduplicated by content, run in batch's worker processes, remembered.

An upload that is complete becomes a job unless an analysis of the same content (and the
same host files and VM) is already done or under way: then the caller gets that one. Jobs
wait in a queue for one of ``--workers`` runner threads; each runner hands its job to
batch's ``Pool`` (engine.py) with one worker process, so an analysis runs outside the
server, is killed past ``--timeout`` (``DT690``), and one that crashes its process
(``DT691``) fails that job only. The outcome is written to the ledger (ledger.py) and to the
batch history store (one history run per job), then the upload is deleted.

All SQLite work happens on one thread (``_db``); the event loop awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from dumptriage import __version__
from dumptriage.batch.discover import FileStat, Input
from dumptriage.batch.rows import Outcome, pack_report, unpack_report
from dumptriage.service.config import ServiceConfig
from dumptriage.service.ledger import Ledger
from dumptriage.service.uploads import Received

T = TypeVar("T")
INTERNAL = "DT799"


@dataclass(frozen=True)
class Job:
    id: str
    folder: Path
    received: Received
    vm: str | None


def new_job_id() -> str:
    return uuid.uuid4().hex


def analysis_key(received: Received, vm: str | None) -> str:
    """The dump's content hash alone, or one over it, the host files, the VM asked for."""
    assert received.dump is not None
    if not received.context and vm is None:
        return f"{received.dump.hash}/{__version__}"
    h = hashlib.sha256(b"dumptriage-analysis-v1\0")
    h.update(received.dump.hash.encode())
    for stored in sorted(received.context, key=lambda s: s.name):
        h.update(b"\0" + stored.name.encode("utf-8", "surrogatepass") + b"\0"
                 + stored.hash.encode())
    h.update(b"\0vm\0" + (vm or "").encode("utf-8", "surrogatepass"))
    return f"{h.hexdigest()}/{__version__}"


class Jobs:
    def __init__(self, config: ServiceConfig):
        self.config = config
        self._db = ThreadPoolExecutor(1, thread_name_prefix="dumptriage-db")
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._active = 0  # uploads in progress + queued + running
        self._runners: list[threading.Thread] = []
        self._ledger: Ledger | None = None  # both owned by the _db thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished: dict[str, asyncio.Event] = {}  # jobs in progress (event loop only)
        self._store: Any = None

    # --- life -----------------------------------------------------------------------
    def start(self) -> None:
        uploads = self.config.uploads
        uploads.mkdir(parents=True, exist_ok=True)
        for leftover in [*uploads.iterdir(), self.config.data / "work"]:
            shutil.rmtree(leftover, ignore_errors=True)  # a previous run's unfinished work
        self._call(self._open)
        for n in range(max(1, self.config.workers)):
            # Daemon threads: a shutdown does not wait for an analysis to end; the worker
            # processes are daemonic too, so multiprocessing ends them at exit.
            runner = threading.Thread(target=self._runner, args=(n,),
                                      name=f"dumptriage-job-{n}", daemon=True)
            runner.start()
            self._runners.append(runner)

    def stop(self) -> None:
        for _ in self._runners:
            self._queue.put(None)
        self._call(self._close)
        self._db.shutdown(wait=True)

    def _open(self) -> None:
        from dumptriage.batch.store import HistoryStore

        self._ledger = Ledger(self.config.ledger)
        self._ledger.abandon_unfinished()
        self._store = HistoryStore(self.config.history)

    def _close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
        if self._store is not None:
            self._store.close()

    # --- capacity -------------------------------------------------------------------
    def reserve(self) -> bool:
        """Count one more job in progress, unless ``max_jobs`` are already."""
        with self._lock:
            if self._active >= self.config.limits.max_jobs:
                return False
            self._active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._active -= 1

    @property
    def active(self) -> int:
        return self._active

    # --- the database thread ----------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._db.submit(fn, *args).result()

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        future: Future[T] = self._db.submit(fn, *args)
        return await asyncio.wrap_future(future)

    @property
    def ledger(self) -> Ledger:
        assert self._ledger is not None
        return self._ledger

    @property
    def store(self) -> Any:
        return self._store

    # --- submitting -----------------------------------------------------------------
    async def submit(self, job: Job) -> dict[str, Any]:
        """Queue ``job`` (its upload is complete), or return the analysis it duplicates.
        The caller has reserved a place; it is released here for a duplicate."""
        key = analysis_key(job.received, job.vm)
        existing = await self.db(self._find_or_add, job, key)
        if existing is not None:
            shutil.rmtree(job.folder, ignore_errors=True)
            self.release()
            return {**existing, "deduplicated": True}
        self._loop = asyncio.get_running_loop()
        self._finished[job.id] = asyncio.Event()
        self._queue.put(job)
        return {"id": job.id, "status": "queued", "deduplicated": False}

    async def wait(self, job_id: str, seconds: float) -> None:
        """Until the job is done or failed, or ``seconds`` have passed (a long poll)."""
        event = self._finished.get(job_id)
        if event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), seconds)

    def _announce(self, job_id: str) -> None:
        """From a runner thread: the job's outcome is in the ledger."""
        def finished() -> None:
            event = self._finished.pop(job_id, None)
            if event is not None:
                event.set()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(finished)

    def _find_or_add(self, job: Job, key: str) -> dict[str, Any] | None:
        # One thread does all database work, so finding and adding cannot interleave.
        existing = self.ledger.find(key)
        if existing is not None:
            return existing
        dump = job.received.dump
        assert dump is not None
        self.ledger.add(job.id, key, dump.hash, dump.name, dump.size,
                        [c.name for c in job.received.context], job.vm)
        return None

    # --- running --------------------------------------------------------------------
    def _runner(self, n: int) -> None:
        """One long-lived batch Pool of one worker process: it asks for the next job only
        when its worker is idle (depth 1), so a warm worker (rules and catalogues loaded)
        takes job after job; a killed or dead one is replaced by the Pool."""
        from dumptriage.batch.engine import Pool
        from dumptriage.batch.worker import WorkerOptions

        scratch = self.config.data / "work" / f"worker-{n}"  # archive members go here
        scratch.mkdir(parents=True, exist_ok=True)
        limits = self.config.limits
        pool = Pool(1, WorkerOptions(limits=limits.archive, analyzer=self.config.analyzer,
                                     tmpdir=str(scratch)), limits.timeout, depth=1)
        taken: dict[str, Job] = {}
        while True:
            try:
                for item, outcomes in pool.run(self._inputs(taken)):
                    self._done(taken.pop(item.abspath), item, outcomes, scratch)
                return
            except Exception as err:  # a bug of ours: its jobs fail, the runner goes on
                for job in list(taken.values()):
                    self._fail(job, err)
                taken.clear()

    def _inputs(self, taken: dict[str, Job]) -> Iterator[Input]:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                item = self._input(job)
            except Exception as err:
                self._fail(job, err)
                continue
            taken[item.abspath] = job
            yield item

    def _input(self, job: Job) -> Input:
        self._call(self.ledger.started, job.id)
        dump = job.received.dump
        assert dump is not None
        st = os.stat(dump.path)
        return Input(dump.name, str(dump.path), dump.kind,
                     tuple(str(c.path) for c in job.received.context), job.vm,
                     FileStat(st.st_size, st.st_mtime_ns, st.st_ino))

    def _done(self, job: Job, item: Input, outcomes: list[Outcome], scratch: Path) -> None:
        # Files first, then the answer: a client that sees "done" finds nothing left over.
        for leftover in scratch.iterdir():  # members of an archive refused half-way
            leftover.unlink(missing_ok=True)
        shutil.rmtree(job.folder, ignore_errors=True)
        try:
            self._call(self._record, job, item, [_unrooted(o, job.folder) for o in outcomes])
        except Exception as err:
            self._fail(job, err)
            return
        self._announce(job.id)
        self.release()

    def _fail(self, job: Job, err: Exception) -> None:
        try:
            self._call(self.ledger.finished, job.id, None, None,
                       (INTERNAL, f"internal error: {type(err).__name__}: {err}"))
        finally:
            self._announce(job.id)
            self._cleanup(job)

    def _cleanup(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)
        self.release()

    def _record(self, job: Job, item: Input, outcomes: list[Outcome]) -> None:
        run_id = self._store.start_run([f"upload:{job.id}"])
        self._store.record(run_id, item, outcomes)
        self._store.finish_run(run_id, "done")
        self._store.flush()
        report, members, error = summarise(item, outcomes)
        self.ledger.finished(job.id, report, members, error)


def summarise(item: Input, outcomes: list[Outcome]
              ) -> tuple[bytes | None, list[dict[str, Any]] | None, tuple[str, str] | None]:
    """(report, members, error) of a job: an archive's first readable dump gives the report."""
    archive = item.kind in ("zip", "cab")
    members = [_member(o) for o in outcomes] if archive else None
    good = next((o for o in outcomes if o.row.status == "ok" and o.report is not None), None)
    if good is not None:
        return good.report, members, None
    bad = next((o.row for o in outcomes if o.row.status == "error"), None)
    if bad is not None:
        return None, members, (bad.error_code or INTERNAL, bad.error or "failed")
    return None, members, ("DT610", f"{item.path}: the archive holds no dump or debugger text")


def _member(outcome: Outcome) -> dict[str, Any]:
    row = outcome.row
    return {"name": row.path, "status": row.status, "hash": row.hash,
            "signature": row.signature, "top_finding": row.top_finding,
            "error_code": row.error_code, "error": row.error}


def _unrooted(outcome: Outcome, folder: Path) -> Outcome:
    """The outcome with the job folder's paths shown as the uploaded names (``vm113.xml``,
    not ``/srv/data/uploads/ID/context/vm113.xml``): the server's layout is not the
    client's business, and the reports read as for the files the engineer dropped."""
    row = outcome.row
    error = _unroot(row.error, str(folder)) if row.error else row.error
    report = outcome.report
    if report is not None:
        text = json.dumps(unpack_report(report), separators=(",", ":"))
        report = pack_report(json.loads(_unroot(text, json.dumps(str(folder))[1:-1])))
    return replace(outcome, row=replace(row, error=error), report=report)


def _unroot(text: str, folder: str) -> str:
    """``FOLDER/context/N/``, ``FOLDER/dump/`` and ``FOLDER/`` taken out of ``text``."""
    return re.sub(re.escape(folder) + r"/(?:context/\d+/|dump/)?", "", text)
