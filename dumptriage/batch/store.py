"""The history: an SQLite file (WAL) of every dump seen, keyed by content hash.

Tables (schema version 2; ``migrations.py`` builds and upgrades them):

``dumps``      one row per content hash: the batch row's fields, the signature and its
               notes, the compressed JSON report, ``first_run`` (the run that first saw it),
               ``retry`` (1: an error worth trying again: timeout, worker died). Inputs that
               could not be hashed (an unreadable archive, a refused member, a killed
               worker) are keyed ``path:ABSOLUTE-PATH`` instead.
``paths``      the stat cache: absolute path (``archive!member`` for members, ``parent`` the
               archive) -> hash, size, mtime_ns, inode; ``complete`` 1 once fully read. A
               path whose size, mtime and inode are unchanged is not read again.
``runs``       one row per batch run: start/end, the roots, counts, ``status``
               (running | done | interrupted: a run that was killed stays ``running``).
``sightings``  which run saw which path with which hash (``analysed`` 1: read in that run).
``schema_version``  one row per migration applied.

Outcomes are written as they arrive and committed at least every ``COMMIT_EVERY`` seconds
(WAL, synchronous=NORMAL: a commit is one write to the log, no fsync), so a run killed
with SIGKILL keeps everything committed, loses at most the last fraction of a second,
which the next run reads again, and never leaves a half-written input. Power loss may lose
the last commits, never the file's consistency.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dumptriage import __version__
from dumptriage.batch.discover import FileStat, Input
from dumptriage.batch.errors import HistoryError
from dumptriage.batch.migrations import migrate
from dumptriage.batch.rows import Outcome

ROW_COLUMNS = ("source_kind", "crash_time", "vm", "os_build", "os_name", "bugcheck",
               "bugcheck_name", "culprit", "top_finding", "top_confidence", "signature",
               "error_code", "error")
COMMIT_EVERY = 0.25  # seconds; one commit per outcome costs ~0.2 ms of the parent's time


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/dumptriage/history.sqlite`` (platformdirs' user data dir)."""
    from platformdirs import user_data_path

    return user_data_path("dumptriage", appauthor=False) / "history.sqlite"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class HistoryStore:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            migrate(self.conn, self.path)
            self._open_since: float | None = None  # a write transaction is open
        except sqlite3.DatabaseError as err:
            raise HistoryError(self.path, f"not a usable history database: {err}") from err
        except OSError as err:
            raise HistoryError(self.path, err.strerror or str(err)) from err

    def close(self) -> None:
        self.flush()
        self.conn.close()

    def flush(self) -> None:
        """Commit what was recorded so far."""
        if self._open_since is not None:
            self.conn.execute("COMMIT")
            self._open_since = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the stat cache -------------------------------------------------------------
    def known_file(self, abspath: str, st: FileStat) -> bool:
        row = next(iter(self.conn.execute(
            "SELECT p.complete, d.retry FROM paths p LEFT JOIN dumps d ON d.hash = p.hash "
            "WHERE p.path = ? AND p.size = ? AND p.mtime_ns = ? AND p.inode = ?",
            (abspath, st.size, st.mtime_ns, st.inode)).fetchall()), None)
        return row is not None and bool(row[0]) and not row[1]

    # --- runs -----------------------------------------------------------------------
    def start_run(self, roots: list[str]) -> int:
        self.flush()
        cur = self.conn.execute("INSERT INTO runs (started_at, roots) VALUES (?, ?)",
                                (now_iso(), json.dumps(roots)))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str) -> None:
        self.flush()
        counts = self.run_counts(run_id)
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, status = ?, found = ?, analysed = ?, "
            "skipped = ?, errors = ? WHERE id = ?",
            (now_iso(), status, counts["found"], counts["analysed"], counts["skipped"],
             counts["errors"], run_id))

    def run_counts(self, run_id: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(s.analysed OR d.first_run = ?), 0), "
            "COALESCE(SUM(d.status = 'error' AND (s.analysed OR d.first_run = ?)), 0) "
            "FROM sightings s LEFT JOIN dumps d ON d.hash = s.hash WHERE s.run_id = ?",
            (run_id, run_id, run_id)).fetchall()[0]
        found, analysed, errors = (int(v) for v in row)
        return {"found": found, "analysed": analysed, "skipped": found - analysed,
                "errors": errors}

    # --- recording ------------------------------------------------------------------
    def record(self, run_id: int, item: Input, outcomes: list[Outcome]) -> None:
        """One input's outcomes, in one transaction (committed before returning)."""
        archive = item.kind in ("zip", "cab")
        seen_at = now_iso()
        with self._transaction():
            for outcome in outcomes:
                row = outcome.row
                assert row.hash is not None
                if not outcome.skipped:
                    self._put_dump(run_id, outcome, item)
                member = row.path[len(item.path) + 1:] if archive and "!" in row.path else ""
                key = f"{item.abspath}!{member}" if member else item.abspath
                if not row.retry:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO paths (path, parent, hash, size, mtime_ns, "
                        "inode, complete, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, item.abspath if member else None, row.hash, item.stat.size,
                         item.stat.mtime_ns, item.stat.inode, 0 if archive else 1, seen_at))
                self.conn.execute(
                    "INSERT OR REPLACE INTO sightings (run_id, path, hash, analysed) "
                    "VALUES (?, ?, ?, ?)", (run_id, row.path, row.hash,
                                            0 if outcome.skipped else 1))
            if archive and not any(o.row.retry for o in outcomes):
                # The archive itself: complete, with its own error row's key if refused.
                own = next((o.row.hash for o in outcomes if o.row.path == item.path), None)
                self.conn.execute(
                    "INSERT OR REPLACE INTO paths (path, parent, hash, size, mtime_ns, inode, "
                    "complete, seen_at) VALUES (?, NULL, ?, ?, ?, ?, 1, ?)",
                    (item.abspath, own, item.stat.size, item.stat.mtime_ns, item.stat.inode,
                     seen_at))

    def _put_dump(self, run_id: int, outcome: Outcome, item: Input) -> None:
        row = outcome.row
        values = [getattr(row, c) for c in ROW_COLUMNS]
        self.conn.execute(
            f"INSERT INTO dumps (hash, status, retry, {', '.join(ROW_COLUMNS)}, "
            "signature_notes, report, size, context, tool_version, first_run, first_seen, "
            f"analysed_at) VALUES ({', '.join('?' * (len(ROW_COLUMNS) + 11))}) "
            "ON CONFLICT(hash) DO UPDATE SET status = excluded.status, "
            "retry = excluded.retry, "
            + ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS)
            + ", signature_notes = excluded.signature_notes, report = excluded.report, "
            "size = excluded.size, context = excluded.context, "
            "tool_version = excluded.tool_version, analysed_at = excluded.analysed_at",
            (row.hash, row.status, int(row.retry), *values,
             json.dumps(list(row.signature_notes)), outcome.report, outcome.size,
             json.dumps(list(item.context)), __version__, run_id, now_iso(), now_iso()))
        if row.status == "ok":  # an earlier timeout of this file is settled now
            self.conn.execute("DELETE FROM dumps WHERE hash = ? AND retry = 1",
                              (f"path:{item.abspath}",))

    def record_known(self, run_id: int, shown: str, abspath: str) -> None:
        """A file the stat cache knows: its sightings (for an archive, its members')."""
        with self._transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO sightings (run_id, path, hash, analysed) "
                "SELECT ?, ?, hash, 0 FROM paths WHERE path = ? AND hash IS NOT NULL",
                (run_id, shown, abspath))
            self.conn.execute(
                "INSERT OR REPLACE INTO sightings (run_id, path, hash, analysed) "
                "SELECT ?, ? || substr(path, length(parent) + 1), hash, 0 FROM paths "
                "WHERE parent = ?", (run_id, shown, abspath))

    def _transaction(self) -> _Tx:
        return _Tx(self)

    # --- reading --------------------------------------------------------------------
    def report(self, digest: str) -> dict[str, Any] | None:
        self.flush()
        from dumptriage.batch.rows import unpack_report

        rows = self.conn.execute("SELECT report FROM dumps WHERE hash = ?", (digest,)).fetchall()
        row = rows[0] if rows else None
        return None if row is None or row[0] is None else unpack_report(row[0])

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[sqlite3.Row]:
        self.flush()
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        yield from cur.execute(sql, params)


class _Tx:
    """One input's statements, inside the batch transaction that is committed every
    COMMIT_EVERY seconds: a savepoint, so a failure undoes this input only."""

    def __init__(self, store: HistoryStore):
        self.store = store

    def __enter__(self) -> None:
        if self.store._open_since is None:
            self.store.conn.execute("BEGIN IMMEDIATE")
            self.store._open_since = time.monotonic()
        self.store.conn.execute("SAVEPOINT one_input")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        conn = self.store.conn
        if exc_type is not None:
            conn.execute("ROLLBACK TO one_input")
        conn.execute("RELEASE one_input")
        since = self.store._open_since
        if since is not None and time.monotonic() - since >= COMMIT_EVERY:
            self.store.flush()
