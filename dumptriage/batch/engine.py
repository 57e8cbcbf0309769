"""Worker processes with a per-input deadline: the local engine.

An engine (``Engine``) takes the inputs discovery yields and yields each one's outcomes as
it finishes; run.py does not know which one it has. This module's ``Pool`` is the local
one; ``cluster.DaskEngine`` (``batch --dask``) sends the same inputs to Dask workers.

Each worker is a process with its own pipe. It is given up to ``DEPTH`` inputs at a time
(the next one is already waiting when it finishes one, so it never idles while the parent
records) and answers them in order, so the parent always knows which input a worker is on:
one that runs past ``timeout`` (counted from when the worker reached it) is killed with
SIGKILL and replaced, its queued inputs handed to the replacement; one that dies (a
signal, the OOM killer) costs only its current input. Both become error rows (``DT690``
timeout, ``DT691`` died), marked to be tried again next run. Workers start from a
forkserver that has the analysis code imported already (POSIX), so starting one costs a
fork; elsewhere they are spawned.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Protocol

from dumptriage.batch.discover import Input
from dumptriage.batch.errors import TIMEOUT, WORKER_DIED
from dumptriage.batch.rows import Outcome, error_row
from dumptriage.batch.worker import WorkerOptions, serve

DEPTH = 2
Done = tuple[Input, list[Outcome]]


class Engine(Protocol):
    """Runs inputs somewhere; ``run`` yields ``(input, outcomes)`` in completion order,
    exactly once per input, and never raises for a bad input (it is an error row)."""

    def run(self, items: Iterable[Input]) -> Iterator[Done]: ...

    def close(self) -> None: ...


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["dumptriage.batch.worker", "dumptriage.analysis"])
        return ctx
    return multiprocessing.get_context("spawn")


class _Slot:
    def __init__(self, ctx: BaseContext, options: WorkerOptions):
        ours, theirs = ctx.Pipe(duplex=True)
        self.conn: Connection = ours
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=serve, args=(theirs, options), daemon=True)
        self.process.start()
        theirs.close()
        self.queue: deque[Input] = deque()
        self.deadline = float("inf")

    def give(self, item: Input, timeout: float | None) -> None:
        if not self.queue:
            self.started(timeout)
        self.queue.append(item)
        self.conn.send((0, item))

    def started(self, timeout: float | None) -> None:
        self.deadline = time.monotonic() + timeout if timeout else float("inf")

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(None if kill else 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class Pool:
    """``run(items)`` yields ``(input, outcomes)`` as inputs finish (completion order)."""

    def __init__(self, jobs: int, options: WorkerOptions, timeout: float | None,
                 depth: int = DEPTH):
        self.jobs = max(1, jobs)
        self.options = options
        self.timeout = timeout if timeout and timeout > 0 else None
        # depth 1: an input is asked for only when a worker is idle, so ``items`` may block
        # waiting for the next one (the service's long-lived pools, service/jobs.py).
        self.depth = max(1, depth)
        self._ctx = _context()

    def close(self) -> None:
        """Nothing held between runs: ``run`` starts and stops its workers."""

    def run(self, items: Iterable[Input]) -> Iterator[Done]:
        source = iter(items)
        slots = [_Slot(self._ctx, self.options) for _ in range(self.jobs)]
        exhausted = False
        try:
            while True:
                for slot in slots:
                    while not exhausted and len(slot.queue) < self.depth:
                        item = next(source, None)
                        if item is None:
                            exhausted = True
                            break
                        slot.give(item, self.timeout)
                if not any(slot.queue for slot in slots):
                    return
                yield from self._collect(slots)
        finally:
            for slot in slots:
                slot.stop(kill=bool(slot.queue))

    def _collect(self, slots: list[_Slot]) -> Iterator[Done]:
        busy = {slot.conn: slot for slot in slots if slot.queue}
        wait_for = min(s.deadline for s in busy.values()) - time.monotonic()
        ready = wait(list(busy), timeout=None if wait_for == float("inf") else max(0, wait_for))
        for conn in ready:
            slot = busy[conn]  # type: ignore[index]
            try:
                _, outcomes = slot.conn.recv()
            except (EOFError, OSError):
                item = slot.queue[0]
                yield item, [lost(item, WORKER_DIED, f"{item.path}: the worker died (exit "
                                   f"code {slot.process.exitcode}) while reading it")]
                self._replace(slots, slot)
                continue
            item = slot.queue.popleft()
            slot.started(self.timeout)
            yield item, outcomes
        now = time.monotonic()
        for slot in list(slots):
            if slot.queue and slot.deadline <= now:
                item = slot.queue[0]
                yield item, [lost(item, TIMEOUT, f"{item.path}: still running after "
                                   f"{self.timeout:g} s (--timeout): worker killed")]
                self._replace(slots, slot)

    def _replace(self, slots: list[_Slot], slot: _Slot) -> None:
        """Kill ``slot``'s worker; its current input is lost, the queued ones move on."""
        slot.stop(kill=True)
        fresh = _Slot(self._ctx, self.options)
        slots[slots.index(slot)] = fresh
        for item in list(slot.queue)[1:]:
            fresh.give(item, self.timeout)


def lost(item: Input, code: str, reason: str) -> Outcome:
    """The error row of an input whose worker was lost (timeout, death)."""
    return Outcome(error_row(item.path, f"path:{item.abspath}", code, reason, retry=True))
