"""The history store on a real SQLite file: incremental runs, migrations, kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dumptriage.batch.errors import HistoryError
from dumptriage.batch.migrations import LATEST, migrate
from dumptriage.batch.run import BatchOptions, run_batch
from dumptriage.batch.store import HistoryStore
from tests.batch.helpers import REPO, small_dump


def _run(store: HistoryStore, *roots: Path, **kw: object) -> dict[str, int]:
    options = BatchOptions(roots=tuple(str(r) for r in roots), jobs=2, **kw)  # type: ignore[arg-type]
    return run_batch(options, store).counts


def test_second_run_skips_what_it_has(tmp_path: Path) -> None:
    for i in range(4):
        small_dump(tmp_path / "d" / f"{i}.dmp", i)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        assert _run(store, tmp_path / "d") == {"found": 4, "analysed": 4, "skipped": 0,
                                               "errors": 0}
        assert _run(store, tmp_path / "d") == {"found": 4, "analysed": 0, "skipped": 4,
                                               "errors": 0}
        small_dump(tmp_path / "d" / "new.dmp", 9)
        assert _run(store, tmp_path / "d")["analysed"] == 1  # only the new one
        assert _run(store, tmp_path / "d", rescan=True)["analysed"] == 5


def test_a_moved_dump_is_known_by_content(tmp_path: Path) -> None:
    small_dump(tmp_path / "a" / "x.dmp")
    with HistoryStore(tmp_path / "h.sqlite") as store:
        _run(store, tmp_path / "a")
        (tmp_path / "a" / "x.dmp").rename(tmp_path / "a" / "renamed.dmp")
        counts = _run(store, tmp_path / "a")
    # The stat cache misses (new path), the worker hashes, the hash is known: not read.
    assert (counts["found"], counts["analysed"], counts["skipped"]) == (1, 0, 1)


def test_wal_and_schema_version(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite") as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
        versions = [v for (v,) in store.conn.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, LATEST + 1))


def test_migration_from_version_1_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, str(path), upto=1) == 1
    conn.execute("INSERT INTO dumps (hash, status, tool_version, first_run, first_seen, "
                 "analysed_at, signature) VALUES ('h1', 'ok', '0.0', 1, 'x', 'x', '0x1 a!b')")
    conn.close()
    with HistoryStore(path) as store:
        rows = store.conn.execute("SELECT hash, signature, context FROM dumps").fetchall()
        assert rows == [("h1", "0x1 a!b", None)]  # column added by migration 2
        assert store.conn.execute("SELECT MAX(version) FROM schema_version").fetchall() == [
            (LATEST,)]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    with HistoryStore(path) as store:
        store.conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(HistoryError, match="newer than this dumptriage"):
        HistoryStore(path)


def test_not_a_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="not a usable history database"):
        HistoryStore(path)


KILLED_RUN = """
import sys
from dumptriage.batch.run import BatchOptions, run_batch
from dumptriage.batch.store import HistoryStore
if __name__ == "__main__":
    with HistoryStore(sys.argv[1]) as store:
        run_batch(BatchOptions(roots=(sys.argv[2],), jobs=1,
                               analyzer="tests.batch.slow_analyzer:steady"), store)
"""


def test_resume_after_kill_9(tmp_path: Path) -> None:
    n = 12
    for i in range(n):
        small_dump(tmp_path / "d" / f"{i:02d}.dmp", i)
    db = tmp_path / "h.sqlite"
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(tmp_path / "d")],
                            env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while done < 3 and time.monotonic() < deadline:  # 0.2 s per dump: well before n
            time.sleep(0.1)
            if db.exists():
                try:
                    c = sqlite3.connect(db, timeout=5)
                    done = c.execute("SELECT COUNT(*) FROM dumps").fetchall()[0][0]
                    c.close()
                except sqlite3.OperationalError:
                    pass
        assert done >= 3, "the run did not commit anything in 60 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run, its forkserver and its worker
        proc.wait()
    with HistoryStore(db) as store:
        kept = store.conn.execute("SELECT COUNT(*) FROM dumps").fetchall()[0][0]
        assert 3 <= kept < n
        [(status,)] = store.conn.execute("SELECT status FROM runs").fetchall()
        assert status == "running"  # killed: never finished
        counts = _run(store, tmp_path / "d")
    # Nothing committed is read again; everything else is; nothing is counted twice.
    assert counts == {"found": n, "analysed": n - kept, "skipped": kept, "errors": 0}
