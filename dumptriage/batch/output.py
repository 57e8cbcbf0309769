"""The batch output formats, streamed from the store: table, csv, jsonl, json, markdown.

``table`` and ``markdown``: the dumps read in this run, the errors, then the summary by
signature (most frequent first) and a counts line. ``csv``: one line per dump read (ok and
error). ``jsonl``: one object per line, ``record`` = ``dump``, ``bucket`` or ``run``.
``json``: one object ``{"schema", "run", "rows", "buckets"}``. The JSON forms are described
by ``schema/batch-v1.schema.json``. Text from dumps and file names goes through
``render.safe`` (no terminal escapes).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from dumptriage.batch.queries import ROW_FIELDS, run_buckets, run_rows
from dumptriage.batch.store import HistoryStore
from dumptriage.render.safe import safe

SCHEMA = "dumptriage-batch-v1"
FORMATS = ("table", "csv", "jsonl", "json", "markdown")
MAX_CELL = 60

ROW_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("path", lambda r: r["path"]),
    ("crash time", lambda r: r["crash_time"] or "?"),
    ("VM", lambda r: r["vm"] or "?"),
    ("OS build", lambda r: str(r["os_build"]) if r["os_build"] is not None else "?"),
    ("bugcheck", lambda r: " ".join(x for x in (r["bugcheck"], r["bugcheck_name"]) if x)
     or "?"),
    ("culprit", lambda r: r["culprit"] or "-"),
    ("top finding", lambda r: f"{r['top_finding']} ({r['top_confidence']})"
     if r["top_finding"] else "-"),
    ("signature", lambda r: r["signature"] or "?"),
)
ERROR_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("path", lambda r: r["path"]),
    ("code", lambda r: r["error_code"] or "?"),
    ("reason", lambda r: r["error"] or "?"),
)
BUCKET_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("signature", lambda b: b["signature"] + (" (new)" if b.get("new") else "")),
    ("dumps", lambda b: str(b["dumps"])),
    ("first crash", lambda b: b["first_crash"] or "?"),
    ("last crash", lambda b: b["last_crash"] or "?"),
    ("VMs", lambda b: str(b["vms"])),
    ("top finding", lambda b: b["top_finding"] or "-"),
    ("example", lambda b: b["example"] or "-"),
)
Columns = tuple[tuple[str, Callable[[dict[str, Any]], str]], ...]


def _cell(text: str, limit: int = MAX_CELL) -> str:
    text = safe(text).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(out: TextIO, title: str, columns: Columns,
          rows: Callable[[], Iterator[dict[str, Any]]], *, markdown: bool = False,
          cap: int = MAX_CELL) -> int:
    """Two passes over ``rows()`` (widths, then lines): nothing is kept between them."""
    widths = [len(name) for name, _ in columns]
    count = 0
    for row in rows():
        count += 1
        for i, (_, get) in enumerate(columns):
            widths[i] = max(widths[i], len(_cell(get(row), cap)))
    if not count:
        return 0
    out.write(f"{'## ' if markdown else ''}{title}\n\n")
    if markdown:
        out.write("| " + " | ".join(n for n, _ in columns) + " |\n")
        out.write("|" + "|".join("---" for _ in columns) + "|\n")
    else:
        out.write("  ".join(n.ljust(w) for (n, _), w in zip(columns, widths, strict=True))
                  .rstrip() + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows():
        cells = [_cell(get(row), cap) for _, get in columns]
        if markdown:
            out.write("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n")
        else:
            out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
                      .rstrip() + "\n")
    out.write("\n")
    return count


def counts_line(counts: dict[str, int], status: str) -> str:
    line = (f"{counts['found']} dumps found, {counts['analysed']} read, "
            f"{counts['skipped']} already in the history, {counts['errors']} errors")
    if status == "stopped":
        line += " (stopped at the first error: --fail-fast)"
    return line


def render(out: TextIO, fmt: str, store: HistoryStore, run_id: int, counts: dict[str, int],
           status: str, since: str | None = None) -> None:
    def ok() -> Iterator[dict[str, Any]]:
        return run_rows(store, run_id, "ok", since)

    def errors() -> Iterator[dict[str, Any]]:
        return run_rows(store, run_id, "error", since)

    def buckets() -> Iterator[dict[str, Any]]:
        return run_buckets(store, run_id, since)

    if fmt in ("table", "markdown"):
        md = fmt == "markdown"
        table(out, "Dumps read", ROW_COLUMNS, ok, markdown=md)
        table(out, "Errors", ERROR_COLUMNS, errors, markdown=md, cap=200)
        table(out, "Summary by signature", BUCKET_COLUMNS, buckets, markdown=md)
        out.write(counts_line(counts, status) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        fields = [f for f in ROW_FIELDS if f != "signature_notes"]
        writer.writerow(fields)
        for source in (ok, errors):
            for row in source():
                writer.writerow([safe(str(row[f])) if row[f] is not None else ""
                                 for f in fields])
    elif fmt == "jsonl":
        for source in (ok, errors):
            for row in source():
                out.write(json.dumps({"record": "dump", **_json_row(row)}) + "\n")
        for bucket in buckets():
            out.write(json.dumps({"record": "bucket", **bucket}) + "\n")
        out.write(json.dumps({"record": "run", **_run(store, run_id, counts, status)}) + "\n")
    else:
        _json(out, store, run_id, counts, status, (ok, errors), buckets)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    notes = row.get("signature_notes")
    return {**row, "signature_notes": json.loads(notes) if notes else []}


def _run(store: HistoryStore, run_id: int, counts: dict[str, int], status: str
         ) -> dict[str, Any]:
    info = next(store.query("SELECT started_at, finished_at, roots FROM runs WHERE id = ?",
                            (run_id,)))
    return {"id": run_id, "status": status, "started_at": info["started_at"],
            "finished_at": info["finished_at"], "roots": json.loads(info["roots"]), **counts}


def _json(out: TextIO, store: HistoryStore, run_id: int, counts: dict[str, int],
          status: str, rows: tuple[Callable[[], Iterator[dict[str, Any]]], ...],
          buckets: Callable[[], Iterator[dict[str, Any]]]) -> None:
    """One JSON document, written piece by piece."""
    run = json.dumps(_run(store, run_id, counts, status))
    out.write(f'{{\n  "schema": "{SCHEMA}",\n  "run": {run},\n  "rows": [')
    sep = "\n    "
    for source in rows:
        for row in source():
            out.write(sep + json.dumps(_json_row(row)))
            sep = ",\n    "
    out.write("\n  ],\n  \"buckets\": [" if sep != "\n    " else "],\n  \"buckets\": [")
    sep = "\n    "
    for bucket in buckets():
        out.write(sep + json.dumps(bucket))
        sep = ",\n    "
    out.write("\n  ]\n}\n" if sep != "\n    " else "]\n}\n")
