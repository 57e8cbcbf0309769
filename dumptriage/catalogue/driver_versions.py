"""Known-bad driver versions (driver_versions.tsv): which loaded builds have a published defect.

A row matches a loaded module when the file name is the same, the version's last number (the
virtio-win build) lies in [build_from, build_to), the Windows build lies in the row's range,
and the stop code is one the report shows (or the row names none).
"""

from __future__ import annotations

import re
from functools import cache

from dumptriage.catalogue.tsv import read_rows
from dumptriage.model.record import Record

DATA_FILE = "driver_versions.tsv"
CONFIDENCES = ("established", "plausible", "anecdotal")


class KnownBad(Record):
    module: str
    build_from: int
    build_to: int | None
    os_from: int | None
    os_to: int | None
    bugchecks: tuple[int, ...]
    defect: str
    fixed_in: str
    reference: str
    confidence: str

    def describe(self, version: str) -> str:
        return (f"{self.module} {version}: {self.defect} (fixed in {self.fixed_in}; "
                f"{self.reference}; {self.confidence})")


def _os_range(text: str) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    low, _, high = text.partition("-")
    return int(low), int(high or low)


@cache
def known_bad_table() -> tuple[KnownBad, ...]:
    rows = []
    for module, start, end, builds, codes, defect, fixed, ref, confidence in \
            read_rows(DATA_FILE):
        os_from, os_to = _os_range(builds)
        rows.append(KnownBad(
            module.lower(), int(start), int(end) if end else None, os_from, os_to,
            tuple(int(c, 16) for c in codes.split(",") if c), defect, fixed, ref, confidence))
    return tuple(rows)


def _build_of(version: str) -> int | None:
    numbers = re.findall(r"\d+", version)
    return int(numbers[3]) if len(numbers) >= 4 else None


def _matches(row: KnownBad, build: int, os_build: int | None, code: int | None) -> bool:
    if build < row.build_from or (row.build_to is not None and build >= row.build_to):
        return False
    if row.os_from is not None and (os_build is None or not row.os_from <= os_build
                                    <= (row.os_to or row.os_from)):
        return False
    if row.bugchecks:
        # 0x1000007E and friends are the same stop codes (bit 28), as in the rule engine.
        return code is not None and (code in row.bugchecks
                                     or code & ~0x10000000 in row.bugchecks)
    return True


def known_bad(versions: dict[str, str], os_build: int | None,
              code: int | None) -> list[str]:
    """One line per loaded module whose version is a catalogued bad build for this crash."""
    out = []
    for row in known_bad_table():
        version = versions.get(row.module)
        build = None if version is None else _build_of(version)
        if version is not None and build is not None and _matches(row, build, os_build, code):
            out.append(row.describe(version))
    return out
