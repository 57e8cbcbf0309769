"""NT version and release name for a kernel build number (data in windows_builds.tsv)."""

from __future__ import annotations

import bisect
from functools import cache

from dumptriage.catalogue.tsv import read_text
from dumptriage.model.record import Record


class WindowsBuild(Record):
    build: int
    nt_version: str
    client_name: str
    server_name: str


@cache
def _table() -> tuple[WindowsBuild, ...]:
    text = read_text("windows_builds.tsv")
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        build, version, client, server = line.split("\t")
        rows.append(WindowsBuild(int(build), version, client, server))
    return tuple(sorted(rows, key=lambda r: r.build))


def windows_build(build: int) -> WindowsBuild | None:
    """The listed build at or just below ``build`` (service builds share a release)."""
    table = _table()
    i = bisect.bisect_right([r.build for r in table], build) - 1
    if i < 0:
        return None
    return table[i]


def product_name(build: int, product_type: int | None) -> str | None:
    """Release name; server products (ProductType 2 or 3) get the server name."""
    row = windows_build(build)
    if row is None:
        return None
    if row.build != build and build >= 10240:
        # An unlisted Windows 10/11 build: name only the family, not a release.
        return "Windows (NT 10.0)"
    return row.server_name if product_type in (2, 3) else row.client_name
