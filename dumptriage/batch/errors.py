"""Errors of batch triage. Each has a stable ``code``; ``str(err)`` is one line naming the
file and what was wrong (the CLI prints it after ``dumptriage: error:``)."""

from __future__ import annotations

from dumptriage.errors import DumptriageError


class BatchError(DumptriageError):
    """Batch triage could not read an input or its own files."""

    code = "DT600"

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ArchiveRefused(BatchError):
    """A zip or CAB archive that is unreadable, or refused by the expansion limits."""

    code = "DT610"


class HistoryError(BatchError):
    """The history database cannot be opened, is newer than this tool, or is damaged."""

    code = "DT620"


class ContextMapError(BatchError):
    """The --context-map file is not valid."""

    code = "DT630"


class ClusterError(BatchError):
    """``--dask``: the Dask extra is missing, the scheduler cannot be reached, or the
    workers cannot run dumptriage (not installed, another version)."""

    code = "DT640"


# Codes of the error rows that are not exceptions: the parent saw them from outside.
TIMEOUT = "DT690"  # the worker ran past --timeout and was killed
WORKER_DIED = "DT691"  # the worker process died (a signal, out of memory)
# --dask: the scheduler gave the input up after its allowed-failures (KilledWorker): every
# Dask worker that held it died. Tried again next run, as DT691.
KILLED_WORKERS = "DT692"
INTERNAL = "DT699"  # an unexpected exception in dumptriage itself (a bug: please report)
