"""Batch triage of dump folders: discovery by content, parallel workers, a history store.

    from dumptriage.batch import analyze_many
    for result in analyze_many(["a.dmp", "b.dmp"], jobs=2):
        print(result.path, result.row.signature)

The CLI (``dumptriage batch`` / ``history``, cli_batch.py) adds the SQLite history
(``store.HistoryStore``) and the output formats (``output.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dumptriage.batch.discover import FileStat, Input
from dumptriage.batch.rows import Row, unpack_report
from dumptriage.batch.sniffing import binary_kind

__all__ = ["AnalyzeResult", "analyze_many"]


@dataclass(frozen=True)
class AnalyzeResult:
    """One dump's result: its batch row and its report in JSON form (None: an error row,
    whose reason is ``row.error``)."""

    path: str
    row: Row
    report: dict[str, Any] | None


def analyze_many(paths: Sequence[str | os.PathLike[str]], jobs: int | None = None,
                 context: Sequence[str | os.PathLike[str]] = (), vm: str | None = None,
                 timeout: float | None = 300.0) -> Iterator[AnalyzeResult]:
    """Analyse dumps, transcripts or zip/CAB archives in worker processes; results are
    yielded as they finish (completion order), one per dump (several per archive).
    ``context``/``vm`` apply to every dump, as for ``analyze``. Never raises for a bad
    input: it becomes a result whose ``row.status`` is ``error``."""
    from dumptriage.batch.engine import Pool
    from dumptriage.batch.worker import WorkerOptions

    def inputs() -> Iterator[Input]:
        for raw in paths:
            path = Path(raw)
            try:
                st = path.stat()
                with open(path, "rb") as fh:
                    head = fh.read(8)
            except OSError:
                st, head = None, b""
            fstat = FileStat(st.st_size, st.st_mtime_ns, st.st_ino) if st else FileStat(0, 0, 0)
            kind = binary_kind(head) or "dump"
            yield Input(str(raw), os.path.abspath(path), kind,
                        tuple(str(c) for c in context), vm, fstat)

    pool = Pool(jobs or os.cpu_count() or 1, WorkerOptions(), timeout)
    for _, outcomes in pool.run(inputs()):
        for outcome in outcomes:
            report = unpack_report(outcome.report) if outcome.report else None
            yield AnalyzeResult(outcome.row.path, outcome.row, report)
