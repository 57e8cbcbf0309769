"""drivers.tsv: well-formed rows with sources, and the classification rules."""

from __future__ import annotations

import re

import pytest

from dumptriage.catalogue.drivers import CLASSES, classify, driver_table
from dumptriage.catalogue.tsv import header_comments, read_rows

SOURCE_KEYS = {"corpus-modules", "win7", "corpus-modules+win7", "virtio-win", "spice-qxl",
               "story", "triage-x64"}


def test_rows_are_well_formed_and_sourced() -> None:
    rows = read_rows("drivers.tsv")
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), "duplicate module names"
    for name, module_class, vendor, _note, source in rows:
        assert re.fullmatch(r"[a-z0-9_.+-]+\.(sys|dll|exe)", name), name
        assert module_class in CLASSES and module_class != "unknown", name
        assert vendor, name
        assert source in SOURCE_KEYS, name
    header = "\n".join(header_comments("drivers.tsv"))
    for key in SOURCE_KEYS - {"corpus-modules+win7"}:
        assert key in header, key


@pytest.mark.parametrize(("name", "company", "expected"), [
    ("qutmdrv.sys", None, ("third_party", "Qihoo 360")),  # story README
    ("QUTMDRV.SYS", "Microsoft Corporation", ("third_party", "Qihoo 360")),  # table wins
    ("netkvm.sys", "Red Hat, Inc.", ("virtio", "Red Hat (virtio-win)")),
    ("viostor.sys", None, ("virtio", "Red Hat (virtio-win)")),
    ("Ntfs.sys", None, ("inbox", "Microsoft")),
    ("ntkrpamp.exe", None, ("inbox", "Microsoft")),
    ("amdppm.sys", None, ("inbox", "Microsoft")),
    ("mystery.sys", "Microsoft Corporation", ("inbox", "Microsoft")),
    ("mystery.sys", "Acme Storage Ltd.", ("third_party", "Acme Storage Ltd.")),
    ("mystery.sys", None, ("unknown", None)),
])
def test_classify(name: str, company: str | None, expected: tuple[str, str | None]) -> None:
    assert classify(name, company) == expected


def test_every_virtio_win_driver_the_brief_names_is_listed() -> None:
    table = driver_table()
    for name in ("netkvm.sys", "viostor.sys", "vioscsi.sys", "balloon.sys", "vioser.sys",
                 "viorng.sys", "vioinput.sys", "viofs.sys", "fwcfg.sys", "pvpanic.sys",
                 "qxldod.sys", "viogpudo.sys", "qxl.sys"):
        assert table[name].module_class == "virtio", name
