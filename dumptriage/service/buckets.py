"""``/v1/buckets``: the batch history's signatures, as ``dumptriage history`` lists them
(batch/queries.py), and one signature's dumps with the analyses that show them.

Called on the service's database thread (jobs.py), which owns the store's connection.
"""

from __future__ import annotations

from typing import Any

from dumptriage.batch.queries import history_buckets, history_totals
from dumptriage.batch.store import HistoryStore
from dumptriage.service.ledger import Ledger

MAX_DUMPS = 100  # of one bucket ("recent"), newest first

_SUMMARY = (
    "SELECT d.signature, COUNT(*) AS dumps, COUNT(DISTINCT d.vm) AS vms, "
    "MIN(d.crash_time) AS first_crash, MAX(d.crash_time) AS last_crash, "
    "MIN(d.first_seen) AS first_seen, MAX(d.analysed_at) AS last_seen, "
    "(SELECT d2.top_finding FROM dumps d2 WHERE d2.signature = d.signature "
    "AND d2.top_finding IS NOT NULL GROUP BY d2.top_finding "
    "ORDER BY COUNT(*) DESC, d2.top_finding LIMIT 1) AS top_finding "
    "FROM dumps d WHERE d.status = 'ok' AND d.signature = ? GROUP BY d.signature")
_DUMPS = (
    "SELECT d.hash, d.vm, d.crash_time, d.bugcheck, d.bugcheck_name, d.culprit, "
    "d.top_finding, d.top_confidence, d.os_build, d.first_seen, "
    "(SELECT s.path FROM sightings s WHERE s.hash = d.hash ORDER BY s.run_id DESC "
    "LIMIT 1) AS name FROM dumps d WHERE d.status = 'ok' AND d.signature = ? "
    "ORDER BY COALESCE(d.crash_time, d.first_seen) DESC, d.hash LIMIT ?")


def buckets(store: HistoryStore, since: str | None, vm: str | None, limit: int
            ) -> dict[str, Any]:
    return {"buckets": list(history_buckets(store, since, vm, limit)),
            "totals": history_totals(store)}


def bucket(store: HistoryStore, ledger: Ledger, signature: str) -> dict[str, Any] | None:
    summary = next(store.query(_SUMMARY, (signature,)), None)
    if summary is None:
        return None
    dumps = [dict(row) for row in store.query(_DUMPS, (signature, MAX_DUMPS))]
    ids = ledger.ids_for([d["hash"] for d in dumps])
    for dump in dumps:
        dump["analysis"] = ids.get(dump["hash"])
    return {**dict(summary), "recent": dumps}
