"""The Dask worker's side of ``batch --dask``: one input in, its outcomes out.

This module imports nothing of Dask: the client sends ``analyse`` by reference (module and
name), so a worker needs only ``dumptriage`` installed beside ``distributed``. The work unit
is the ``Input`` (paths, host-file paths, stat; never dump bytes): the worker opens the dump
from the share it mounts at the same path.

The analysis runs in the Dask worker's own thread, so a dump that kills the process (a
crash, the OOM killer) kills that Dask worker; its nanny starts a new one and the scheduler
hands the worker's inputs to others, giving an input up (KilledWorker) once it was on
``allowed-failures`` + 1 workers that died. The per-input ``--timeout`` is kept here, on the
worker: at the deadline the analysing thread is interrupted (an asynchronous exception,
raised at its next Python instruction) and the input becomes the DT690 row the local engine
gives. An analysis stuck inside C code for ``grace`` seconds more cannot be interrupted: the
watchdog then kills its own worker, which Dask treats as any lost worker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

from dumptriage import __version__
from dumptriage.batch.discover import Input
from dumptriage.batch.engine import lost
from dumptriage.batch.errors import TIMEOUT
from dumptriage.batch.rows import Outcome
from dumptriage.batch.worker import Worker, WorkerOptions

GRACE = 10.0  # seconds an interrupted analysis has to unwind before its worker is killed


class AnalysisTimeout(BaseException):
    """Raised in the analysing thread at its deadline. A BaseException: Worker.process turns
    every Exception into an error row, and this one must reach ``analyse``."""


class WorkerMismatch(Exception):
    """This worker runs another dumptriage than the client: its rows would differ."""


class _Watchdog:
    """Interrupts the thread that made it, ``seconds`` from now, unless disarmed first."""

    def __init__(self, seconds: float, grace: float):
        self.thread_id = threading.get_ident()
        self.grace = grace
        self.lock = threading.Lock()
        self.armed = True
        self.finished = threading.Event()
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            if not self.armed:
                return
            self.armed = False
            # CPython's C API: the exception is raised in that thread at its next bytecode.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.thread_id), ctypes.py_object(AnalysisTimeout))
        if not self.finished.wait(self.grace):
            os.kill(os.getpid(), signal.SIGKILL)  # blocked in C: this worker goes instead

    def disarm(self) -> None:
        """Idempotent. Once it returns, no interruption is pending: one that was already
        raised is raised inside the caller's ``try`` (see ``analyse``)."""
        try:
            with self.lock:
                self.armed = False
        finally:
            self.timer.cancel()
            self.finished.set()


_local = threading.local()  # one Worker per worker thread: its SQLite reader is per thread


def _worker(options: WorkerOptions) -> Worker:
    workers: dict[WorkerOptions, Worker] | None = getattr(_local, "workers", None)
    if workers is None:
        workers = _local.workers = {}
    if options not in workers:
        workers[options] = Worker(options)
    return workers[options]


def analyse(item: Input, options: WorkerOptions, timeout: float | None, version: str,
            grace: float = GRACE) -> list[Outcome]:
    """The Dask task: ``Worker.process`` (which never raises for a bad input) under the
    deadline. Raises only when this worker cannot serve the client at all."""
    if version != __version__:
        raise WorkerMismatch(f"this Dask worker runs dumptriage {__version__}, "
                             f"the client {version}")
    worker = _worker(options)
    if not timeout:
        return worker.process(item)
    dog = _Watchdog(timeout, grace)
    try:
        try:
            return worker.process(item)
        finally:
            dog.disarm()
    except AnalysisTimeout:
        dog.disarm()
        return [lost(item, TIMEOUT, f"{item.path}: still running after {timeout:g} s "
                     "(--timeout): interrupted on its Dask worker")]


def analyse_chunk(items: list[Input], options: WorkerOptions, timeout: float | None,
                  version: str) -> tuple[list[list[Outcome]], float]:
    """One Dask task for several inputs (each with its own deadline): their outcomes, in
    order, and the seconds they took together (the client sizes the next chunks by it)."""
    start = time.perf_counter()
    outcomes = [analyse(item, options, timeout, version) for item in items]
    return outcomes, time.perf_counter() - start


__all__ = ["GRACE", "AnalysisTimeout", "WorkerMismatch", "analyse", "analyse_chunk"]
