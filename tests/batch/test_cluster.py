"""`batch --dask`: a real dask.distributed LocalCluster of worker processes on 127.0.0.1
(2 workers, 1 thread each, no dashboard). The same rows and buckets as the local engine; a
worker killed mid-run; a dump that kills every worker that reads it; the per-input
timeout on the worker; the errors of a missing extra, a bad address, no scheduler."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from dumptriage.batch.run import BatchOptions, Progress, RunResult, run_batch
from dumptriage.batch.store import HistoryStore
from dumptriage.cli import main
from tests.batch.helpers import make_share, small_dump

ATTEMPTS = "DUMPTRIAGE_TEST_ATTEMPTS"  # tests/batch/slow_analyzer.py notes each start there
ALLOWED_FAILURES = 2  # the test scheduler's distributed.scheduler.allowed-failures


@dataclass
class Cluster:
    address: str
    attempts: Path
    client: Client

    def started(self) -> dict[str, set[int]]:
        """Dump name -> the pids of the worker processes that started reading it."""
        out: dict[str, set[int]] = {}
        for note in self.attempts.iterdir():
            name, pid = note.name.rsplit(".", 1)
            out.setdefault(name, set()).add(int(pid))
        return out

    def worker_pids(self) -> set[int]:
        return set(self.client.run(os.getpid).values())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the tests that reach it by tcp:// (the path a real scheduler takes).
    Worker saturation 1.0: a worker holds only the input it runs, so the one a test kills
    holds nothing else that the scheduler would count against."""
    attempts = tmp_path_factory.mktemp("attempts")
    os.environ[ATTEMPTS] = str(attempts)  # the workers (and their restarts) inherit it
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0}):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                             host="127.0.0.1", dashboard_address=None,
                             scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                             silence_logs=logging.CRITICAL)
    client = Client(local, set_as_default=False)
    try:
        yield Cluster(local.scheduler_address, attempts, client)
    finally:
        client.close()
        local.close()
        del os.environ[ATTEMPTS]


@pytest.fixture
def attempts(cluster: Cluster) -> Cluster:
    for note in cluster.attempts.iterdir():
        note.unlink()
    cluster.client.wait_for_workers(2, timeout=60)  # a test before may have killed some
    return cluster


def _stable(text: str) -> str:
    return re.sub(r'"(started_at|finished_at|first_seen|last_seen)": "[^"]*"', r'"\1": "T"',
                  text)


def test_dask_gives_the_rows_and_buckets_of_the_local_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    share = make_share(Path("share"), tmp_path / "tmp")
    outputs = []
    for db, engine in (("local.sqlite", ["--jobs", "2"]), ("dask.sqlite", ["--dask", "local:2"])):
        code = main(["batch", str(share), "--db", db, "--format", "jsonl", *engine])
        out, err = capsys.readouterr()
        assert (code, err) == (3, "")  # the damaged MEMORY.DMP: completed with errors
        outputs.append([json.loads(line) for line in _stable(out).splitlines()])
    local, dask_run = outputs
    assert dask_run == local
    kinds = [r["record"] for r in local]
    assert kinds.count("dump") == 6 and kinds.count("bucket") == 4  # 5 read + 1 error row
    errors = [r for r in local if r["record"] == "dump" and r["status"] == "error"]
    assert [(e["path"], e["error_code"]) for e in errors] == [("share/vm202/MEMORY.DMP",
                                                               "DT100")]


def _run(cluster: Cluster, folder: Path, db: Path, analyzer: str, timeout: float = 60.0,
         on_progress: object = None) -> tuple[RunResult, dict[str, tuple[str, str | None, int]]]:
    options = BatchOptions(roots=(str(folder),), dask=cluster.address, timeout=timeout,
                           analyzer=f"tests.batch.slow_analyzer:{analyzer}")
    with HistoryStore(db) as store:
        result = run_batch(options, store, on_progress)  # type: ignore[arg-type]
        rows = store.conn.execute("SELECT s.path, d.status, d.error_code, d.retry FROM "
                                  "sightings s JOIN dumps d ON d.hash = s.hash").fetchall()
    return result, {Path(p).name: (status, code, retry) for p, status, code, retry in rows}


def test_a_worker_killed_mid_run_loses_nothing(attempts: Cluster, tmp_path: Path) -> None:
    for i in range(12):  # 0.2 s each (slow_analyzer.steady): the workers are always busy
        small_dump(tmp_path / "d" / f"k{i:02d}.dmp", i)
    killed: list[int] = []

    def kill_a_busy_worker(progress: Progress) -> None:
        if progress.done == 2 and not killed:
            busy: list[str] = []
            for _ in range(50):  # between two inputs a worker may hold none for a moment
                busy = [w for w, keys in attempts.client.processing().items() if keys]
                if busy:
                    break
                time.sleep(0.02)
            pid = attempts.client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result, rows = _run(attempts, tmp_path / "d", tmp_path / "h.sqlite", "steady",
                        on_progress=kill_a_busy_worker)
    assert killed
    assert result.counts == {"found": 12, "analysed": 12, "skipped": 0, "errors": 0}
    assert all(status == "ok" for status, _, _ in rows.values()) and len(rows) == 12
    # the input the killed worker was reading was started again by another worker
    redone = [name for name, pids in attempts.started().items()
              if killed[0] in pids and len(pids) == 2]
    assert redone


def test_a_dump_that_kills_its_workers_becomes_an_error_row(attempts: Cluster,
                                                            tmp_path: Path) -> None:
    for i in range(4):
        small_dump(tmp_path / "d" / f"good{i}.dmp", i)
    small_dump(tmp_path / "d" / "poison.dmp", 9)
    result, rows = _run(attempts, tmp_path / "d", tmp_path / "h.sqlite", "kill_on_poison")
    assert rows.pop("poison.dmp") == ("error", "DT692", 1)  # KilledWorker: next run retries
    assert rows == {f"good{i}.dmp": ("ok", None, 0) for i in range(4)}
    assert result.counts["errors"] == 1
    # given up after allowed-failures + 1 workers died on it, each a different process
    assert len(attempts.started()["poison.dmp"]) == ALLOWED_FAILURES + 1


def test_a_chunk_given_up_is_split_and_only_the_poisoned_dump_is_an_error_row(
        attempts: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dumptriage.batch import cluster as cluster_module

    # two tasks in flight: after the first results the rest goes as one chunk of many
    monkeypatch.setattr(cluster_module, "MIN_WINDOW", 1)
    monkeypatch.setattr(cluster_module, "WINDOW_PER_THREAD", 1)
    for i in range(20):
        small_dump(tmp_path / "d" / f"good{i:02d}.dmp", i)
    small_dump(tmp_path / "d" / "poison.dmp", 99)  # last in name order: in the big chunk
    result, rows = _run(attempts, tmp_path / "d", tmp_path / "h.sqlite", "kill_on_poison")
    assert rows.pop("poison.dmp") == ("error", "DT692", 1)
    assert rows == {f"good{i:02d}.dmp": ("ok", None, 0) for i in range(20)}
    assert result.counts == {"found": 21, "analysed": 21, "skipped": 0, "errors": 1}
    # allowed-failures + 1 deaths in the chunk, as many again alone
    assert len(attempts.started()["poison.dmp"]) == 2 * (ALLOWED_FAILURES + 1)


def test_the_local_engine_reports_the_same_dump_as_a_dead_worker(tmp_path: Path) -> None:
    small_dump(tmp_path / "d" / "good.dmp", 0)
    small_dump(tmp_path / "d" / "poison.dmp", 9)
    options = BatchOptions(roots=(str(tmp_path / "d"),), jobs=2,
                           analyzer="tests.batch.slow_analyzer:kill_on_poison")
    with HistoryStore(tmp_path / "h.sqlite") as store:
        run_batch(options, store)
        rows = dict(store.conn.execute("SELECT s.path, d.error_code FROM sightings s "
                                       "JOIN dumps d ON d.hash = s.hash").fetchall())
    assert {Path(p).name: code for p, code in rows.items()} == {"good.dmp": None,
                                                                "poison.dmp": "DT691"}


def test_the_timeout_applies_on_the_dask_worker(attempts: Cluster, tmp_path: Path) -> None:
    # slow_analyzer.spin_on_slow loops for 60 s on "slow" files: interrupted at 2 s
    for i, name in enumerate(("a.dmp", "slow.dmp", "z.dmp")):
        small_dump(tmp_path / "d" / name, i)
    before = attempts.worker_pids()
    result, rows = _run(attempts, tmp_path / "d", tmp_path / "h.sqlite", "spin_on_slow",
                        timeout=2.0)
    assert rows == {"a.dmp": ("ok", None, 0), "slow.dmp": ("error", "DT690", 1),
                    "z.dmp": ("ok", None, 0)}
    assert result.counts["errors"] == 1
    assert attempts.worker_pids() == before  # interrupted, not killed


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_without_the_extra_dask_is_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    small_dump(tmp_path / "d" / "a.dmp")
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    code, out, err = _cli(capsys, "batch", str(tmp_path / "d"), "--db",
                          str(tmp_path / "h.sqlite"), "--dask", "local:2")
    assert (code, out) == (2, "")
    assert err == "dumptriage: error: --dask: needs the Dask extra: pip install " \
                  "'dumptriage[dask]'\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--dask", "scheduler:8786"], "expected tcp://HOST:PORT (a running scheduler) or local:N"),
    (["--dask", "local:0"], "local:N takes 1 to 256 workers"),
    (["--dask", "local:2", "--jobs", "2"], "--jobs is for local worker processes"),
])
def test_bad_dask_arguments_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       args: list[str], message: str) -> None:
    code, out, err = _cli(capsys, "batch", str(tmp_path), "--db", str(tmp_path / "h.sqlite"),
                          *args)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_no_scheduler_at_the_address_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from dumptriage.batch import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 2)
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code, out, err = _cli(capsys, "batch", str(tmp_path), "--db",
                              str(tmp_path / "h.sqlite"), "--dask", f"tcp://127.0.0.1:{port}")
    assert (code, out) == (2, "")
    assert err.startswith(f"dumptriage: error: tcp://127.0.0.1:{port}: cannot reach the Dask "
                          "scheduler: ") and err.count("\n") == 1


def test_a_worker_without_the_analysis_stops_the_run(attempts: Cluster, tmp_path: Path) -> None:
    # Every try raises (the analysis cannot be imported there): retries=, then one line.
    from dumptriage.batch.errors import ClusterError

    small_dump(tmp_path / "d" / "a.dmp")
    options = BatchOptions(roots=(str(tmp_path / "d"),), dask=attempts.address,
                           analyzer="tests.batch.nowhere:analyze")
    with HistoryStore(tmp_path / "h.sqlite") as store, pytest.raises(
            ClusterError, match=r"the Dask workers could not read \S+a\.dmp \(ModuleNotFound"
            r"Error: No module named 'tests\.batch\.nowhere'\); every worker needs "
            r"dumptriage\[dask\] "):
        run_batch(options, store)


def test_a_worker_of_another_version_stops_the_run(attempts: Cluster, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from dumptriage.batch import cluster as cluster_module
    from dumptriage.batch.errors import ClusterError

    small_dump(tmp_path / "d" / "a.dmp")
    monkeypatch.setattr(cluster_module, "__version__", "0.0.0-client")
    with pytest.raises(ClusterError, match=r"WorkerMismatch: this Dask worker runs dumptriage "
                       r"\S+, the client 0\.0\.0-client"):
        _run(attempts, tmp_path / "d", tmp_path / "h.sqlite", "steady")


def test_a_local_cluster_run_writes_nothing_to_stderr(tmp_path: Path) -> None:
    # A whole process (Dask's warnings and logs would reach the real stderr), with port
    # 8787 (the scheduler HTTP server's default) taken, as by another run.
    import contextlib
    import socket
    import subprocess

    from tests.batch.helpers import REPO

    small_dump(tmp_path / "d" / "a.dmp")
    with socket.socket() as sock:
        with contextlib.suppress(OSError):  # already taken: all the better
            sock.bind(("127.0.0.1", 8787))
            sock.listen()
        done = subprocess.run(
            [sys.executable, "-m", "dumptriage", "batch", str(tmp_path / "d"), "--db",
             str(tmp_path / "h.sqlite"), "--format", "csv", "--dask", "local:1"],
            cwd=REPO, capture_output=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode().splitlines()[1].startswith(f"{tmp_path / 'd' / 'a.dmp'},ok,")
