"""Read-backs of the history for output: a run's rows and buckets, and buckets over time.

Each yields plain dicts, one at a time, straight from SQLite (nothing is held in a list).
A bucket is one signature: how many dumps, their crash times, distinct VMs, the most
frequent top finding, one example path, and whether the signature is new in the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dumptriage.batch.store import HistoryStore

ROW_FIELDS = ("path", "status", "crash_time", "vm", "os_build", "os_name", "bugcheck",
              "bugcheck_name", "culprit", "top_finding", "top_confidence", "signature",
              "signature_notes", "error_code", "error", "source_kind", "hash")


def _since(column: str, since: str | None) -> tuple[str, tuple[Any, ...]]:
    if since is None:
        return "", ()
    return f" AND ({column} IS NULL OR {column} >= ?)", (since,)


def run_rows(store: HistoryStore, run_id: int, status: str, since: str | None = None
             ) -> Iterator[dict[str, Any]]:
    """The dumps read in this run (``status`` ok or error), by path; a copy of a dump read
    earlier in the same run counts as read too."""
    clause, params = _since("d.crash_time", since)
    sql = ("SELECT s.path, s.hash, d.* FROM sightings s JOIN dumps d ON d.hash = s.hash "
           "WHERE s.run_id = ? AND (s.analysed = 1 OR d.first_run = ?) AND d.status = ?"
           f"{clause} ORDER BY s.path")
    for row in store.query(sql, (run_id, run_id, status, *params)):
        yield {k: row[k] for k in ROW_FIELDS}


_TOP_FINDING = (
    "(SELECT d2.top_finding FROM dumps d2 WHERE d2.signature = d.signature "
    "AND d2.top_finding IS NOT NULL GROUP BY d2.top_finding "
    "ORDER BY COUNT(*) DESC, d2.top_finding LIMIT 1)")


def run_buckets(store: HistoryStore, run_id: int, since: str | None = None
                ) -> Iterator[dict[str, Any]]:
    """Every dump this run found (read now or known before), grouped by signature."""
    clause, params = _since("d.crash_time", since)
    sql = (
        "SELECT d.signature, COUNT(*) AS dumps, SUM(s.analysed) AS analysed, "
        "MIN(d.crash_time) AS first_crash, MAX(d.crash_time) AS last_crash, "
        "COUNT(DISTINCT d.vm) AS vms, MIN(s.path) AS example, "
        f"{_TOP_FINDING} AS top_finding, "
        "(SELECT MIN(d3.first_run) FROM dumps d3 WHERE d3.signature = d.signature) = ? "
        "AS new FROM sightings s JOIN dumps d ON d.hash = s.hash "
        f"WHERE s.run_id = ? AND d.status = 'ok'{clause} GROUP BY d.signature "
        "ORDER BY dumps DESC, d.signature")
    for row in store.query(sql, (run_id, run_id, *params)):
        yield {**dict(row), "new": bool(row["new"])}


def history_buckets(store: HistoryStore, since: str | None = None, vm: str | None = None,
                    limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Every signature in the history; ``since``: only those first seen (first crash, or
    first read when the crash time is unknown) at or after it."""
    having = ""
    params: list[Any] = []
    where = "d.status = 'ok'"
    if vm is not None:
        where += " AND d.vm = ?"
        params.append(vm)
    if since is not None:
        having = " HAVING MIN(COALESCE(d.crash_time, d.first_seen)) >= ?"
        params.append(since)
    sql = (
        "SELECT d.signature, COUNT(*) AS dumps, COUNT(DISTINCT d.vm) AS vms, "
        "MIN(d.crash_time) AS first_crash, MAX(d.crash_time) AS last_crash, "
        "MIN(d.first_seen) AS first_seen, MAX(d.analysed_at) AS last_seen, "
        "COUNT(DISTINCT d.first_run) AS runs, "
        f"{_TOP_FINDING} AS top_finding, "
        "(SELECT s.path FROM sightings s JOIN dumps d4 ON d4.hash = s.hash "
        "WHERE d4.signature = d.signature ORDER BY s.run_id DESC, s.path LIMIT 1) AS example "
        f"FROM dumps d WHERE {where} GROUP BY d.signature{having} "
        "ORDER BY dumps DESC, d.signature")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    yield from (dict(row) for row in store.query(sql, tuple(params)))


def history_totals(store: HistoryStore) -> dict[str, Any]:
    row = next(store.query(
        "SELECT COUNT(*) AS dumps, COALESCE(SUM(status = 'error'), 0) AS errors, "
        "COUNT(DISTINCT signature) AS signatures, COUNT(DISTINCT vm) AS vms, "
        "(SELECT COUNT(*) FROM runs) AS runs, "
        "(SELECT MAX(started_at) FROM runs) AS last_run FROM dumps"))
    return dict(row)
