"""``dumptriage batch`` and ``dumptriage history``: many dumps, bucketed and remembered."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import click

from dumptriage.cli import CONFIDENCES, EXIT_FINDINGS, EXIT_OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dumptriage.batch.store import HistoryStore

EXIT_COMPLETED_WITH_ERRORS = 3
_RELATIVE = re.compile(r"^(\d{1,5})([dwh])$")


class SinceDate(click.ParamType):  # type: ignore[type-arg]  # click >= 8.2 is generic
    """``YYYY-MM-DD``, an ISO date-time, or ``7d`` / ``2w`` / ``12h`` ago (UTC)."""

    name = "DATE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        m = _RELATIVE.match(text)
        if m:
            unit = {"d": "days", "w": "weeks", "h": "hours"}[m[2]]
            return datetime.now(UTC) - timedelta(**{unit: int(m[1])})
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{text!r} is not a date (YYYY-MM-DD, an ISO date-time, or 7d/2w/12h)",
                      param, ctx)
        return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _open_store(db: str | None) -> HistoryStore:
    from dumptriage.batch.store import HistoryStore, default_db_path

    return HistoryStore(db or default_db_path())


@contextmanager
def _db_errors(path: str) -> Iterator[None]:
    """SQLite failing mid-run (disk full, locked by another writer): one line, exit 2."""
    import sqlite3

    try:
        yield
    except sqlite3.Error as err:
        from dumptriage.batch.errors import HistoryError

        raise HistoryError(path, f"history database error: {err}") from err


class DaskAddress(click.ParamType):  # type: ignore[type-arg]  # click >= 8.2 is generic
    """``tcp://HOST:PORT`` or ``local:N`` (checked here; Dask is imported only to run)."""

    name = "ADDRESS"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from dumptriage.batch.cluster import check_address

        text = str(value).strip()
        problem = check_address(text)
        if problem is not None:
            self.fail(f"{text!r}: {problem}", param, ctx)
        return text


class _Bar:
    """A one-line progress counter on stderr, only on a terminal."""

    def __init__(self) -> None:
        self.on = sys.stderr.isatty()

    def __call__(self, p: object) -> None:
        if not self.on:
            return
        from dumptriage.batch.run import Progress

        assert isinstance(p, Progress)
        finished = p.done + p.unchanged
        if p.discovering:  # the total is not known yet: a counter
            line = f"{finished} inputs"
        else:
            filled = int(30 * finished / max(p.found, 1))
            line = f"[{'#' * filled}{'.' * (30 - filled)}] {finished}/{p.found}"
        sys.stderr.write(f"\r{line}, {p.skipped} already known, {p.errors} errors ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")


@click.command("batch")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: the number of CPUs); not with --dask.")
@click.option("--context-map", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML file mapping dump path globs to host-side files "
                   "([[context]] match/files/vm); default: host files in the dump's folder.")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="History database (SQLite). Default: the user data directory, "
                   "e.g. ~/.local/share/dumptriage/history.sqlite.")
@click.option("--format", "fmt", default="table",
              type=click.Choice(["table", "csv", "jsonl", "json", "markdown"]),
              help="Output format (default: table).")
@click.option("--since", type=SinceDate(), default=None,
              help="Only dumps that crashed at or after DATE (YYYY-MM-DD, ISO, or 7d/2w/12h "
                   "ago); files last modified before it are not opened.")
@click.option("--timeout", type=click.FloatRange(min=0), default=300.0, show_default=True,
              help="Seconds one input (an archive counts as one) may take before it is "
                   "stopped (a local worker killed, a Dask worker's analysis interrupted) "
                   "and reported; 0: no limit.")
@click.option("--dask", "dask", type=DaskAddress(), default=None,
              help="Analyse on a Dask cluster instead of local processes: tcp://HOST:PORT "
                   "(a running scheduler whose workers see the DIRs at the same paths) or "
                   "local:N (N worker processes here). Needs dumptriage[dask].")
@click.option("--fail-fast", is_flag=True, help="Stop at the first error row.")
@click.option("--rescan", is_flag=True, help="Read every dump again, even those already "
              "in the history (after a dumptriage upgrade or new host files).")
@click.option("--fail-on", type=click.Choice(CONFIDENCES), default=None,
              help="Exit with 1 when a dump read in this run has a top finding of this "
                   "confidence or stronger.")
@click.pass_context
def batch_command(ctx: click.Context, dirs: tuple[str, ...], jobs: int | None,
                  context_map: str | None, db: str | None, fmt: str, since: datetime | None,
                  timeout: float, dask: str | None, fail_fast: bool, rescan: bool,
                  fail_on: str | None) -> None:
    """Triage every dump under DIR... and group them by signature.

    Dumps are found by content, recursively: kernel dumps (PAGEDUMP/PAGEDU64, any name;
    files named *.dmp whatever their bytes, so a damaged one is reported), saved debugger
    transcripts (.txt), and zip and CAB archives (read member by member, bounded). Each is
    paired with the host-side files of its folder, or of --context-map. One row per dump
    read (path, crash time, VM, OS build, bugcheck, culprit, top finding, signature), the
    errors (one line each), then the summary by signature, most frequent first.

    Every dump is stored in the history by content hash; the next run skips the ones
    already there (--rescan reads them again), so nightly runs are incremental. A bad or
    hostile file is an error row, never the end of the run.

    \b
    Exit codes: 0 done; 1 a top finding at or above --fail-on; 2 unusable input
    (a DIR, --context-map, --db or --dask that cannot be used); 3 completed with errors
    (at least one error row: a corrupt dump, a refused archive, a time-out).
    """
    from dumptriage.batch.contextmap import load_context_map
    from dumptriage.batch.output import render
    from dumptriage.batch.run import BatchOptions, run_batch

    mapping = load_context_map(context_map) if context_map else None
    options = BatchOptions(roots=dirs, context_map=mapping, since=since,
                           timeout=timeout or None, fail_fast=fail_fast, rescan=rescan)
    if jobs is not None and dask is not None:
        raise click.UsageError("--jobs is for local worker processes; with --dask the "
                               "cluster's workers run the analyses (local:N for N of them)")
    if jobs is not None:
        options.jobs = jobs
    options.dask = dask
    bar = _Bar()
    with _open_store(db) as store, _db_errors(store.path):
        try:
            result = run_batch(options, store, bar)
        finally:
            bar.close()
        out = sys.stdout
        render(out, fmt, store, result.run_id, result.counts, result.status, _iso(since))
        out.flush()
        if result.counts["errors"]:
            ctx.exit(EXIT_COMPLETED_WITH_ERRORS)
        if fail_on is not None:
            strong = CONFIDENCES[: CONFIDENCES.index(fail_on) + 1]
            hit = next(store.query(
                "SELECT 1 FROM sightings s JOIN dumps d ON d.hash = s.hash WHERE "
                f"s.run_id = ? AND s.analysed = 1 AND d.top_confidence IN "
                f"({', '.join('?' * len(strong))}) LIMIT 1", (result.run_id, *strong)), None)
            if hit is not None:
                ctx.exit(EXIT_FINDINGS)
    ctx.exit(EXIT_OK)


@click.command("history")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="History database (default: the one `batch` writes).")
@click.option("--since", type=SinceDate(), default=None,
              help="Only signatures first seen at or after DATE: \"new since last week\" "
                   "is --since 1w.")
@click.option("--vm", default=None, help="Only the dumps of this VM.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most N signatures.")
@click.option("--format", "fmt", default="table",
              type=click.Choice(["table", "csv", "json", "markdown"]))
def history_command(db: str | None, since: datetime | None, vm: str | None,
                    limit: int | None, fmt: str) -> None:
    """List the signatures in the history: dumps, VMs, first and last crash.

    A signature's time is its dumps' crash time (the time it was first read when the
    crash time is unknown). Sorted by number of dumps, most first.
    """
    from pathlib import Path

    from dumptriage.batch.history_out import render_history
    from dumptriage.batch.store import default_db_path

    path = db or str(default_db_path())
    if not Path(path).exists():
        from dumptriage.batch.errors import HistoryError

        raise HistoryError(path, "no history yet: run `dumptriage batch DIR` first")
    with _open_store(path) as store, _db_errors(path):
        render_history(sys.stdout, fmt, store, _iso(since), vm, limit)
