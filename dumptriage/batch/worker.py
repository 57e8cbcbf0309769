"""The worker side: one input (a dump, a transcript or an archive) in, its outcomes out.

Runs in a worker process (engine.py), but is plain functions: ``process`` is also what a
test calls in-process. Failures never escape: a DumptriageError becomes an error row with
its code and one-line reason; anything else (a bug in dumptriage) an ``DT699`` row naming
the exception.
"""

from __future__ import annotations

import importlib
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dumptriage.batch.archives import ArchiveLimits, Extracted, members
from dumptriage.batch.discover import Input
from dumptriage.batch.errors import INTERNAL
from dumptriage.batch.hashing import hash_file
from dumptriage.batch.rows import Outcome, Row, error_row, pack_report, row_from_report
from dumptriage.errors import DumptriageError

Analyzer = Callable[..., Any]
DEFAULT_ANALYZER = "dumptriage.analysis:analyze"


@dataclass(frozen=True)
class WorkerOptions:
    """What every worker needs. ``analyzer`` names the analysis function as
    ``module:function``: the public ``dumptriage.analyze`` unless a test puts a stand-in
    there (tests/batch/slow_analyzer.py: the documented hook for timeout tests)."""

    db: str | None = None  # the history, read here only to skip known hashes
    rescan: bool = False
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    analyzer: str = DEFAULT_ANALYZER
    tmpdir: str | None = None


def load_analyzer(name: str) -> Analyzer:
    module, _, attribute = name.partition(":")
    function: Analyzer = getattr(importlib.import_module(module), attribute)
    return function


class SeenCheck:
    """Asks the history, read-only, whether a content hash is already stored for good."""

    def __init__(self, db: str):
        self._db = db
        self._conn: sqlite3.Connection | None = None

    def __call__(self, digest: str) -> bool:
        if self._conn is None:
            if not Path(self._db).exists():
                return False
            self._conn = sqlite3.connect(self._db, timeout=30)
            self._conn.execute("PRAGMA query_only = 1")
        # fetchall: a statement left half-read keeps its read transaction (and the WAL) open
        rows = self._conn.execute("SELECT retry FROM dumps WHERE hash = ?",
                                  (digest,)).fetchall()
        row = rows[0] if rows else None
        return row is not None and not row[0]


class Worker:
    def __init__(self, options: WorkerOptions):
        self.options = options
        self.analyze = load_analyzer(options.analyzer)
        self.seen = SeenCheck(options.db) if options.db and not options.rescan else None
        self.tmpdir = options.tmpdir or tempfile.gettempdir()

    def process(self, item: Input) -> list[Outcome]:
        try:
            if item.kind in ("zip", "cab"):
                return self._archive(item)
            return [self._file(item.path, item.abspath, item)]
        except DumptriageError as err:
            return [Outcome(error_row(item.path, f"path:{item.abspath}", err.code,
                                      _shown(str(err), item)))]
        except OSError as err:
            return [Outcome(error_row(item.path, f"path:{item.abspath}", "DT001",
                                      f"{item.path}: {err.strerror or err}"))]
        except Exception as err:  # a bug of ours: still one row, never a dead batch
            return [Outcome(error_row(item.path, f"path:{item.abspath}", INTERNAL,
                                      f"{item.path}: internal error: "
                                      f"{type(err).__name__}: {err}"))]

    def _file(self, shown: str, readable: str, item: Input,
              digest: str | None = None, size: int | None = None) -> Outcome:
        if digest is None:
            digest = hash_file(readable)
            size = item.stat.size
        if self.seen is not None and self.seen(digest):
            return Outcome(Row(path=shown, hash=digest, status="known"), skipped=True)
        try:
            report = self.analyze(readable, item.context, item.vm).to_dict()
        except DumptriageError as err:
            text = str(err).replace(readable, shown)
            return Outcome(error_row(shown, digest, err.code, _shown(text, item)), size=size)
        report["source"]["path"] = shown
        return Outcome(row_from_report(report, shown, digest), pack_report(report), size)

    def _archive(self, item: Input) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            for member in members(Path(item.abspath), item.kind, self.options.limits,
                                  self.tmpdir):
                shown = f"{item.path}!{member.name}"
                if isinstance(member, Extracted):
                    outcomes.append(self._member(shown, member, item))
                else:
                    outcomes.append(Outcome(error_row(
                        shown, f"path:{item.abspath}!{member.name}", "DT610",
                        f"{shown}: {member.reason}")))
        except DumptriageError as err:
            outcomes.append(Outcome(error_row(item.path, f"path:{item.abspath}", err.code,
                                              _shown(str(err), item))))
        return outcomes

    def _member(self, shown: str, member: Extracted, item: Input) -> Outcome:
        try:
            return self._file(shown, member.temp, item, member.hash, member.size)
        except Exception as err:
            return Outcome(error_row(shown, member.hash, INTERNAL, f"{shown}: internal "
                                     f"error: {type(err).__name__}: {err}"))


def _shown(text: str, item: Input) -> str:
    return text.replace(item.abspath, item.path)


def serve(conn: Any, options: WorkerOptions) -> None:
    """A worker process's loop: (seq, Input) in, (seq, [Outcome]) out; None stops it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    worker = Worker(options)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        seq, item = message
        conn.send((seq, worker.process(item)))


__all__ = ["SeenCheck", "Worker", "WorkerOptions", "serve"]
