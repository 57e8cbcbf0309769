"""Every Windows stop code: name, source, aliases, read lazily from ``bugchecks.tsv``.

The table is package data (see the provenance header in the file). It is parsed on first
use and cached, so importing this module costs nothing.

How a code given as text is read (``lookup`` / ``parse_code``):

* ``0x101`` is hex; ``0n257`` is decimal (WinDbg's prefix for decimal).
* A stop-code name or alias, in any case: ``CLOCK_WATCHDOG_TIMEOUT``.
* A bare number is read as **hex first**, because WinDbg and Microsoft's documentation write
  stop codes in hex (``CLOCK_WATCHDOG_TIMEOUT (101)``). Only when the hex reading is not a
  known code and the text is all decimal digits is it read as decimal. So ``101`` and ``257``
  both mean 0x101, while ``133`` means 0x133 (DPC_WATCHDOG_VIOLATION), not decimal 133; write
  ``0n133`` to force decimal.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dumptriage.catalogue.tsv import read_rows
from dumptriage.catalogue.tsv import read_text as _read_text
from dumptriage.model.record import Record

DATA_FILE = "bugchecks.tsv"
_HEX_RE = re.compile(r"[0-9a-fA-F]+")


class BugcheckEntry(Record):
    """One stop code as listed in ``bugchecks.tsv``."""

    code: int
    name: str
    source: str
    aliases: tuple[str, ...] = ()

    @property
    def hex_code(self) -> str:
        """The code the way WinDbg's ``.bugcheck`` prints it: 0x + 8 hex digits."""
        return f"0x{self.code:08X}"


class _Table(Record):
    by_code: dict[int, BugcheckEntry]
    by_name: dict[str, BugcheckEntry]


def _parse_row(fields: list[str]) -> BugcheckEntry:
    aliases = tuple(a for a in (fields[3] if len(fields) > 3 else "").split(",") if a)
    return BugcheckEntry(code=int(fields[0], 16), name=fields[1], source=fields[2], aliases=aliases)


def read_text() -> str:
    """The raw data file (header included), for tests and provenance display."""
    return _read_text(DATA_FILE)


@lru_cache(maxsize=1)
def _table() -> _Table:
    by_code: dict[int, BugcheckEntry] = {}
    by_name: dict[str, BugcheckEntry] = {}
    for fields in read_rows(DATA_FILE):
        entry = _parse_row(fields)
        by_code[entry.code] = entry
        by_name.setdefault(entry.name, entry)
    for entry in by_code.values():  # aliases never shadow a primary name
        for alias in entry.aliases:
            by_name.setdefault(alias, entry)
    return _Table(by_code=by_code, by_name=by_name)


def all_entries() -> list[BugcheckEntry]:
    """Every entry, ordered by code."""
    return sorted(_table().by_code.values(), key=lambda e: e.code)


def name_of(code: int) -> str | None:
    """The stop-code name for ``code`` (0x101 -> 'CLOCK_WATCHDOG_TIMEOUT'), or None."""
    entry = _table().by_code.get(code)
    return None if entry is None else entry.name


def by_code(code: int) -> BugcheckEntry | None:
    return _table().by_code.get(code)


def parse_code(text: str) -> int | None:
    """Turn user text into a stop code following the rules in the module docstring.

    Returns None when the text is neither a known name nor a number. A number that is not
    a known code is still returned (hex reading), so callers can say "unknown code 0x..".
    """
    token = text.strip()
    entry = _table().by_name.get(token.upper())
    if entry is not None:
        return entry.code
    lowered = token.lower()
    if lowered.startswith("0x"):
        return int(lowered[2:], 16) if _HEX_RE.fullmatch(lowered[2:]) else None
    if lowered.startswith("0n"):
        return int(lowered[2:]) if lowered[2:].isdigit() else None
    if not _HEX_RE.fullmatch(token):
        return None
    as_hex = int(token, 16)
    if as_hex in _table().by_code or not token.isdigit():
        return as_hex
    as_dec = int(token, 10)
    return as_dec if as_dec in _table().by_code else as_hex


def lookup(code_or_name: str | int) -> BugcheckEntry | None:
    """The entry for an int code, or for text as read by ``parse_code``; None if unknown."""
    code = code_or_name if isinstance(code_or_name, int) else parse_code(code_or_name)
    return None if code is None else _table().by_code.get(code)
