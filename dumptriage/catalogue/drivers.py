"""Module classes (inbox / virtio / third_party / unknown) from drivers.tsv."""

from __future__ import annotations

from functools import cache

from dumptriage.catalogue.tsv import read_rows
from dumptriage.model.record import Record

CLASSES = ("inbox", "virtio", "third_party", "unknown")
_MICROSOFT = "microsoft corporation"


class DriverEntry(Record):
    name: str
    module_class: str
    vendor: str
    note: str
    source: str


@cache
def driver_table() -> dict[str, DriverEntry]:
    table = {}
    for name, module_class, vendor, note, source in read_rows("drivers.tsv"):
        table[name] = DriverEntry(name, module_class, vendor, note, source)
    return table


def classify(name: str, company: str | None = None) -> tuple[str, str | None]:
    """(class, vendor) for a module file name; the version resource's company breaks ties.

    The catalogue wins over the version resource: a virtio-win driver's CompanyName is
    "Red Hat, Inc." and a renamed third-party driver could claim anything.
    """
    entry = driver_table().get(name.lower())
    if entry is not None:
        return entry.module_class, entry.vendor
    if company:
        if company.strip().lower() == _MICROSOFT:
            return "inbox", "Microsoft"
        return "third_party", company.strip()
    return "unknown", None
