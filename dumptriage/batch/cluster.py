"""``batch --dask ADDRESS``: the engine that sends the inputs to a Dask cluster.

``ADDRESS`` is a running scheduler (``tcp://host:8786``) whose workers mount the share at
the same paths as this machine, or ``local:N``: a cluster of N worker processes (one thread
each) started here on 127.0.0.1, without dashboard, for the run only.

Inputs go to the cluster as Dask futures of ``cluster_task.analyse_chunk`` (the Inputs'
paths, never the dumps' bytes): one input each at first, then as many as take about
TASK_SECONDS, at most ``window`` futures in flight. Their results are taken in completion
order (``distributed.as_completed``) and handed to run.py input by input, as the local Pool
hands them: the store, the progress bar and the output do not know which engine ran.

What Dask does: a worker lost mid-run (its process killed, its machine gone) costs only the
task it held, which the scheduler gives to another worker. A task held by more than the
scheduler's ``distributed.scheduler.allowed-failures`` (Dask's setting, default 3) workers
that all died comes back as KilledWorker: a task of several inputs is then split, each
input sent alone, and an input that again kills its workers becomes a DT692 error row
(tried again next run, as DT691: the scheduler also counts the tasks that only waited on a
dying worker). ``retries`` covers a task that raised (a worker missing dumptriage, say): it
is tried again, maybe elsewhere; if it still fails the run stops with one line (exit 2),
since the cluster, not the dump, is at fault.

The history stays on this machine; workers of a remote cluster are not given its path
(SQLite's WAL does not work across machines), so a dump already stored under another path
is read again there instead of being skipped by hash.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any

from dumptriage import __version__
from dumptriage.batch.cluster_task import analyse_chunk
from dumptriage.batch.discover import Input
from dumptriage.batch.engine import Done, lost
from dumptriage.batch.errors import KILLED_WORKERS, ClusterError
from dumptriage.batch.rows import Outcome
from dumptriage.batch.worker import WorkerOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

ADDRESS = re.compile(r"^(?:local:(?P<workers>\d{1,3})|tcp://(?P<host>[^\s/:]+|\[[0-9a-fA-F:]+\])"
                     r":(?P<port>\d{1,5}))$")
EXTRA = "needs the Dask extra: pip install 'dumptriage[dask]'"
RETRIES = 2  # a task that raised is tried this many times more before the run stops
CONNECT_TIMEOUT = 30  # seconds to reach a remote scheduler
WINDOW_PER_THREAD = 3  # tasks in flight per worker thread
MIN_WINDOW = 16
# A task costs the scheduler and this process about a millisecond whatever it holds, and a
# small dump takes about as long to read: inputs go several to a task, as many as take
# about TASK_SECONDS (measured as results come back; the first tasks hold one input each).
TASK_SECONDS = 0.25
MAX_CHUNK = 64
RESIZE_EVERY = 2.0  # seconds between looks at the cluster's size (workers come and go)


def check_address(text: str) -> str | None:
    """None when ``text`` is a --dask address, else what is wrong with it."""
    m = ADDRESS.match(text)
    if m is None:
        return "expected tcp://HOST:PORT (a running scheduler) or local:N"
    if m["workers"] is not None and not 1 <= int(m["workers"]) <= 256:
        return "local:N takes 1 to 256 workers"
    if m["port"] is not None and not 1 <= int(m["port"]) <= 65535:
        return "the port must be 1 to 65535"
    return None


def _local_workers(address: str) -> int | None:
    m = ADDRESS.match(address)
    return int(m["workers"]) if m is not None and m["workers"] is not None else None


class DaskEngine:
    def __init__(self, address: str, options: WorkerOptions, timeout: float | None):
        problem = check_address(address)
        if problem is not None:
            raise ClusterError(address, problem)
        try:
            import distributed
        except ImportError as err:
            raise ClusterError("--dask", EXTRA) from err
        self.address = address
        self.timeout = timeout if timeout and timeout > 0 else None
        self._cluster: LocalCluster | None = None
        workers = _local_workers(address)
        if workers is None:
            options = replace(options, db=None)  # see the module's docstring
        self.options = options
        try:
            if workers is not None:
                self._cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                    # no dashboard, but the scheduler's HTTP server (health, metrics) still
                    # starts: on a free port, not 8787 (taken by another run: a warning)
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    # the outcome of a lost worker is an error row, not log lines
                    silence_logs=logging.CRITICAL)
                self.client: Client = distributed.Client(self._cluster, set_as_default=False)
            else:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT,
                                                 set_as_default=False)
        except (OSError, TimeoutError) as err:
            self.close()
            raise ClusterError(address, f"cannot reach the Dask scheduler: "
                               f"{' '.join(str(err).split())}") from err
        self._window = MIN_WINDOW
        self._sized_at = float("-inf")
        self.chunk = 1  # inputs per task: grows once tasks are seen to be short
        self._per_input: float | None = None

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def window(self) -> int:
        """Tasks in flight: a few per worker thread, so none idles while results travel."""
        now = time.monotonic()
        if now - self._sized_at >= RESIZE_EVERY:
            threads = sum(self.client.nthreads().values())
            self._window = max(MIN_WINDOW, WINDOW_PER_THREAD * threads)
            self._sized_at = now
        return self._window

    def _learn(self, seconds: float, inputs: int) -> None:
        """Size the next chunks from how long this one took, per input."""
        each = seconds / max(inputs, 1)
        # down at once (a worker's first task also imports the analysis), up by halves
        if self._per_input is None or each < self._per_input:
            self._per_input = each
        else:
            self._per_input = (self._per_input + each) / 2
        self.chunk = max(1, min(MAX_CHUNK, int(TASK_SECONDS / max(self._per_input, 1e-6))))

    def run(self, items: Iterable[Input]) -> Iterator[Done]:
        from distributed import as_completed

        source = iter(items)
        finished: Any = as_completed(loop=self.client.loop, with_results=True,
                                     raise_errors=False)
        inflight: dict[Future[Any], list[Input]] = {}
        exhausted = False

        def submit(chunk: list[Input]) -> None:
            future = self.client.submit(analyse_chunk, chunk, self.options, self.timeout,
                                        __version__, pure=False, retries=RETRIES)
            inflight[future] = chunk
            finished.add(future)

        def top_up() -> None:
            nonlocal exhausted
            while not exhausted and len(inflight) < self.window():
                chunk = list(islice(source, self.chunk))
                exhausted = len(chunk) < self.chunk
                if chunk:
                    submit(chunk)

        try:
            top_up()
            for future, result in finished:
                chunk = inflight.pop(future)
                if future.status == "finished":
                    outcomes, seconds = result
                    self._learn(seconds, len(chunk))
                    yield from zip(chunk, outcomes, strict=True)
                elif len(chunk) > 1 and self._killed(result) is not None:
                    for item in chunk:  # which of them kills workers: each on its own
                        submit([item])
                elif future.status == "cancelled":
                    raise ClusterError(self.address, "the Dask scheduler dropped the work "
                                       f"(was it restarted?) while {chunk[0].path} was on it")
                else:
                    yield chunk[0], self._failed(chunk[0], result)
                top_up()
        finally:
            if inflight:
                self.client.cancel(list(inflight))

    @staticmethod
    def _killed(result: Any) -> Any:
        from distributed import KilledWorker

        error = result[1] if isinstance(result, tuple) else result
        return error if isinstance(error, KilledWorker) else None

    def _failed(self, item: Input, result: Any) -> list[Outcome]:
        killed = self._killed(result)
        if killed is not None:
            return [lost(item, KILLED_WORKERS, f"{item.path}: the {killed.allowed_failures + 1}"
                         " Dask workers that read it died (the scheduler's allowed-failures); "
                         "tried again next run")]
        error = result[1] if isinstance(result, tuple) else result
        text = " ".join(f"{type(error).__name__}: {error}".split())
        raise ClusterError(self.address, f"the Dask workers could not read {item.path} "
                           f"({text}); every worker needs dumptriage[dask] {__version__}")


__all__ = ["DaskEngine", "check_address"]
