"""Names for NTSTATUS values and FAST_FAIL codes found in bugcheck arguments.

Backed by ``ntstatus.tsv`` and ``fast_fail.tsv`` (provenance in their headers), loaded on
first use.
"""

from __future__ import annotations

from functools import lru_cache

from dumptriage.catalogue.tsv import read_rows

NTSTATUS_FILE = "ntstatus.tsv"
FAST_FAIL_FILE = "fast_fail.tsv"


@lru_cache(maxsize=1)
def _ntstatus() -> dict[int, str]:
    return {int(row[0], 16): row[1] for row in read_rows(NTSTATUS_FILE)}


@lru_cache(maxsize=1)
def _fast_fail() -> dict[int, str]:
    return {int(row[0], 10): row[1] for row in read_rows(FAST_FAIL_FILE)}


def ntstatus_name(value: int) -> str | None:
    """'STATUS_ACCESS_VIOLATION' for 0xC0000005. Only the low 32 bits count: on x64 an
    NTSTATUS passed as a bugcheck argument is sometimes sign-extended (0xffffffffc0000005)."""
    return _ntstatus().get(value & 0xFFFFFFFF)


def fast_fail_name(value: int) -> str | None:
    """'FAST_FAIL_CORRUPT_LIST_ENTRY' for 3."""
    return _fast_fail().get(value)


def all_ntstatus() -> dict[int, str]:
    return dict(_ntstatus())


def all_fast_fail() -> dict[int, str]:
    return dict(_fast_fail())
