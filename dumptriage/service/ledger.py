"""The service's own SQLite file (``DATA/service.sqlite``): one row per analysis.

Table ``analyses`` (``PRAGMA user_version`` 1):

``id``           random, 32 hex digits: the ``/v1/analyses/{id}`` of the upload that made it
``key``          what makes two uploads the same analysis: the dump's content hash, or, with
                 host files or a VM name, a sha256 over it and their names and hashes
``hash``/``name``/``size``  the dump's content hash (batch/hashing.py), file name, bytes
``context``      JSON list of the host files' names; ``vm`` the ``?vm=`` asked for
``status``       queued | running | done | failed; ``error_code``/``error`` when failed
``report``       the zlib-compressed JSON report (batch/rows.py pack_report) when done
``members``      JSON list: for an archive, one entry per dump or refused member
``created_at``/``started_at``/``finished_at``  ISO 8601 UTC

The dumps themselves, their signatures and buckets go to the batch history store beside it
(``DATA/history.sqlite``), so ``dumptriage history --db`` reads what the service saw. One
thread owns both connections (jobs.py), as sqlite3 connections are bound to a thread.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from dumptriage.batch.rows import unpack_report
from dumptriage.batch.store import now_iso
from dumptriage.service.config import ServiceConfigError

VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL, context TEXT NOT NULL, vm TEXT, status TEXT NOT NULL,
    error_code TEXT, error TEXT, report BLOB, members TEXT,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
CREATE INDEX IF NOT EXISTS analyses_by_key ON analyses (key, status);
CREATE INDEX IF NOT EXISTS analyses_by_hash ON analyses (hash, status);
"""
ACTIVE = ("queued", "running")


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > VERSION:
                raise ServiceConfigError(f"{path}: made by a newer dumptriage (version "
                                         f"{version}); not written")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(_SCHEMA)
            self.conn.execute(f"PRAGMA user_version = {VERSION}")
        except sqlite3.DatabaseError as err:
            raise ServiceConfigError(f"{path}: not a usable service database: {err}") from err

    def close(self) -> None:
        self.conn.close()

    def abandon_unfinished(self) -> int:
        """Jobs a previous run of the service left queued or running: failed now."""
        cur = self.conn.execute(
            "UPDATE analyses SET status = 'failed', error_code = 'DT790', error = "
            "'the service stopped before this analysis finished; upload it again', "
            "finished_at = ? WHERE status IN ('queued', 'running')", (now_iso(),))
        return cur.rowcount

    def find(self, key: str) -> dict[str, Any] | None:
        """The analysis an upload with this key joins: done first, else one in progress."""
        row = self.conn.execute(
            "SELECT id FROM analyses WHERE key = ? AND status IN ('done', 'queued', "
            "'running') ORDER BY status = 'done' DESC, created_at LIMIT 1", (key,)).fetchone()
        return None if row is None else self.get(row["id"])

    def add(self, job_id: str, key: str, digest: str, name: str, size: int,
            context: list[str], vm: str | None) -> None:
        self.conn.execute(
            "INSERT INTO analyses (id, key, hash, name, size, context, vm, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
            (job_id, key, digest, name, size, json.dumps(context), vm, now_iso()))

    def started(self, job_id: str) -> None:
        self.conn.execute("UPDATE analyses SET status = 'running', started_at = ? WHERE id = ?",
                          (now_iso(), job_id))

    def finished(self, job_id: str, report: bytes | None, members: list[dict[str, Any]] | None,
                 error: tuple[str, str] | None) -> None:
        status = "failed" if error is not None else "done"
        code, reason = error if error is not None else (None, None)
        self.conn.execute(
            "UPDATE analyses SET status = ?, report = ?, members = ?, error_code = ?, "
            "error = ?, finished_at = ? WHERE id = ?",
            (status, report, None if members is None else json.dumps(members), code, reason,
             now_iso(), job_id))

    def get(self, job_id: str, with_report: bool = True) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM analyses WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _public(row, with_report)

    def ids_for(self, digests: list[str]) -> dict[str, str]:
        """hash -> the id of its latest done analysis (for the bucket pages' links)."""
        if not digests:
            return {}
        marks = ", ".join("?" * len(digests))
        rows = self.conn.execute(
            f"SELECT hash, id FROM analyses WHERE status = 'done' AND hash IN ({marks}) "
            "ORDER BY finished_at", digests).fetchall()
        return {r["hash"]: r["id"] for r in rows}


def _public(row: sqlite3.Row, with_report: bool) -> dict[str, Any]:
    """A row as ``/v1/analyses/{id}`` gives it (openapi.json ``Analysis``)."""
    out: dict[str, Any] = {
        "id": row["id"], "status": row["status"], "name": row["name"], "hash": row["hash"],
        "size": row["size"], "context": json.loads(row["context"]), "vm": row["vm"],
        "created_at": row["created_at"], "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }
    if row["status"] == "failed":
        out["error"] = row["error"]
        out["error_code"] = row["error_code"]
    if row["members"] is not None:
        out["members"] = json.loads(row["members"])
    if row["status"] == "done" and with_report and row["report"] is not None:
        out["report"] = unpack_report(row["report"])
    return out
