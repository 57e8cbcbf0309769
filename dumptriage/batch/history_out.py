"""``dumptriage history`` output: the signatures in the history, as a table, CSV, JSON or
markdown (``schema/batch-v1.schema.json``, ``history``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

from dumptriage.batch.output import Columns, table
from dumptriage.batch.queries import history_buckets, history_totals
from dumptriage.batch.store import HistoryStore
from dumptriage.render.safe import safe

COLUMNS: Columns = (
    ("signature", lambda b: b["signature"]),
    ("dumps", lambda b: str(b["dumps"])),
    ("VMs", lambda b: str(b["vms"])),
    ("first crash", lambda b: b["first_crash"] or "?"),
    ("last crash", lambda b: b["last_crash"] or "?"),
    ("first read", lambda b: b["first_seen"]),
    ("top finding", lambda b: b["top_finding"] or "-"),
    ("example", lambda b: b["example"] or "-"),
)
FIELDS = ("signature", "dumps", "vms", "first_crash", "last_crash", "first_seen", "last_seen",
          "runs", "top_finding", "example")


def render_history(out: TextIO, fmt: str, store: HistoryStore, since: str | None,
                   vm: str | None, limit: int | None) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        return history_buckets(store, since, vm, limit)

    totals = history_totals(store)
    if fmt in ("table", "markdown"):
        title = "Signatures" + (f" first seen since {since}" if since else "")
        shown = table(out, title, COLUMNS, rows, markdown=fmt == "markdown")
        if not shown:
            out.write("No signature" + (f" first seen since {since}" if since else "")
                      + ".\n")
        out.write(f"{totals['dumps']} dumps in the history ({totals['errors']} errors), "
                  f"{totals['signatures']} signatures, {totals['vms']} VMs, "
                  f"{totals['runs']} runs, the last started {totals['last_run']}\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for row in rows():
            writer.writerow([safe(str(row[f])) if row[f] is not None else "" for f in FIELDS])
    else:
        out.write(json.dumps({"schema": "dumptriage-history-v1", "totals": totals,
                              "signatures": [{f: r[f] for f in FIELDS} for r in rows()]},
                             indent=2) + "\n")
