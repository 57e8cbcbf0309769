"""Worker processes with a per-input deadline.

Each worker is a process with its own pipe and handles one input at a time, so a worker
that runs past ``timeout`` can be killed (SIGKILL) and replaced without losing the others'
work, and a worker that dies (a signal, the OOM killer) costs only its current input. Both
become error rows (``DT690`` timeout, ``DT691`` died), marked to be tried again next run.
Workers start from a forkserver that has the analysis code imported already (POSIX), so
starting one costs a fork; elsewhere they are spawned.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from dumptriage.batch.discover import Input
from dumptriage.batch.errors import TIMEOUT, WORKER_DIED
from dumptriage.batch.rows import Outcome, error_row
from dumptriage.batch.worker import WorkerOptions, serve


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
        self.item: Input | None = None
        self.deadline = 0.0

    def give(self, seq: int, item: Input, timeout: float | None) -> None:
        self.item = item
        self.deadline = time.monotonic() + timeout if timeout else float("inf")
        self.conn.send((seq, item))

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(5 if not kill else None)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class Pool:
    """``run(items)`` yields ``(input, outcomes)`` as inputs finish (completion order)."""

    def __init__(self, jobs: int, options: WorkerOptions, timeout: float | None):
        self.jobs = max(1, jobs)
        self.options = options
        self.timeout = timeout if timeout and timeout > 0 else None
        self._ctx = _context()

    def run(self, items: Iterable[Input]) -> Iterator[tuple[Input, list[Outcome]]]:
        source = iter(items)
        slots = [_Slot(self._ctx, self.options) for _ in range(self.jobs)]
        busy: dict[Connection, _Slot] = {}
        seq = 0
        exhausted = False
        try:
            while True:
                for slot in slots:
                    if exhausted or slot.item is not None:
                        continue
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    seq += 1
                    slot.give(seq, item, self.timeout)
                    busy[slot.conn] = slot
                if not busy:
                    return
                yield from self._collect(slots, busy)
        finally:
            for slot in slots:
                slot.stop(kill=slot.item is not None)

    def _collect(self, slots: list[_Slot], busy: dict[Connection, _Slot]
                 ) -> Iterator[tuple[Input, list[Outcome]]]:
        now = time.monotonic()
        wait_for = min(s.deadline for s in busy.values()) - now
        ready = wait(list(busy), timeout=None if wait_for == float("inf") else max(0, wait_for))
        for conn in ready:
            slot = busy[conn]  # type: ignore[index]
            item = slot.item
            assert item is not None
            try:
                _, outcomes = slot.conn.recv()
            except (EOFError, OSError):
                code = slot.process.exitcode
                yield item, [_lost(item, WORKER_DIED, f"{item.path}: the worker died "
                                   f"(exit code {code}) while reading it")]
                self._replace(slots, busy, slot)
                continue
            del busy[slot.conn]
            slot.item = None
            yield item, outcomes
        now = time.monotonic()
        for slot in list(busy.values()):
            if slot.item is not None and slot.deadline <= now:
                item = slot.item
                yield item, [_lost(item, TIMEOUT, f"{item.path}: still running after "
                                   f"{self.timeout:g} s (--timeout): worker killed")]
                self._replace(slots, busy, slot)

    def _replace(self, slots: list[_Slot], busy: dict[Connection, _Slot], slot: _Slot
                 ) -> None:
        busy.pop(slot.conn, None)
        slot.stop(kill=True)
        slot.item = None
        slots[slots.index(slot)] = _Slot(self._ctx, self.options)


def _lost(item: Input, code: str, reason: str) -> Outcome:
    return Outcome(error_row(item.path, f"path:{item.abspath}", code, reason, retry=True))
