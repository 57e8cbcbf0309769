"""``batch --dask ADDRESS``: the engine that sends the inputs to a Dask cluster.

``ADDRESS`` is a running scheduler (``tcp://host:8786``) whose workers mount the share at
the same paths as this machine, or ``local:N``: a cluster of N worker processes (one thread
each) started here on 127.0.0.1, without dashboard, for the run only.

Each input is one Dask future (``cluster_task.analyse``: the Input's paths, never the dump's
bytes), at most ``window`` in flight, their results taken in completion order
(``distributed.as_completed``) and handed to run.py exactly as the local Pool hands them;
the store, the progress bar and the output do not know which engine ran. What Dask does:
a worker lost mid-run (its process killed, its machine gone) costs only the inputs it held,
which the scheduler gives to other workers; an input that was held by more than the
scheduler's ``distributed.scheduler.allowed-failures`` (Dask's setting, default 3) workers
that all died comes back as KilledWorker and becomes a DT692 error row. ``retries`` covers
a task that raised (a worker missing dumptriage, say): it is tried again, maybe elsewhere;
if it still fails the run stops with one line (exit 2), since the cluster, not the dump, is
at fault. The history stays on this machine; workers of a remote cluster are not given
its path (SQLite's WAL does not work across machines), so a dump already stored under
another path is read again there instead of being skipped by hash.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from dumptriage import __version__
from dumptriage.batch.cluster_task import analyse
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
WINDOW_PER_THREAD = 4  # inputs in flight per worker thread: none idles while results travel
MIN_WINDOW = 32
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

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def window(self) -> int:
        now = time.monotonic()
        if now - self._sized_at >= RESIZE_EVERY:
            threads = sum(self.client.nthreads().values())
            self._window = max(MIN_WINDOW, WINDOW_PER_THREAD * threads)
            self._sized_at = now
        return self._window

    def run(self, items: Iterable[Input]) -> Iterator[Done]:
        from distributed import as_completed

        source = iter(items)
        finished: Any = as_completed(loop=self.client.loop, with_results=True,
                                     raise_errors=False)
        inflight: dict[Future[list[Outcome]], Input] = {}
        exhausted = False

        def top_up() -> None:
            nonlocal exhausted
            while not exhausted and len(inflight) < self.window():
                item = next(source, None)
                if item is None:
                    exhausted = True
                    return
                future = self.client.submit(analyse, item, self.options, self.timeout,
                                            __version__, pure=False, retries=RETRIES)
                inflight[future] = item
                finished.add(future)

        try:
            top_up()
            for future, result in finished:
                item = inflight.pop(future)
                yield item, self._outcomes(item, future.status, result)
                top_up()
        finally:
            if inflight:
                self.client.cancel(list(inflight))

    def _outcomes(self, item: Input, status: str, result: Any) -> list[Outcome]:
        if status == "finished":
            outcomes: list[Outcome] = result
            return outcomes
        from distributed import KilledWorker

        error = result[1] if isinstance(result, tuple) else result
        if isinstance(error, KilledWorker):
            return [lost(item, KILLED_WORKERS, f"{item.path}: the {error.allowed_failures + 1} "
                         "Dask workers that read it died (the scheduler's allowed-failures); "
                         "tried again next run")]
        text = " ".join(f"{type(error).__name__}: {error}".split())
        raise ClusterError(self.address, f"the Dask workers could not read {item.path} "
                           f"({text}); every worker needs dumptriage[dask] {__version__}")


__all__ = ["DaskEngine", "check_address"]
