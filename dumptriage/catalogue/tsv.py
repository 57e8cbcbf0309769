"""Reading the catalogue's TSV data files: '#' comment lines, one header row, then data rows.

Files are read from next to this module (they ship as package data). A plain path keeps
``importlib.resources`` off the CLI's start-up path.
"""

from __future__ import annotations

import os

# os.path rather than pathlib: pathlib costs several milliseconds of import on the CLI path.
_HERE = os.path.dirname(os.path.abspath(__file__))


def data_path(filename: str) -> str:
    return os.path.join(_HERE, filename)


def read_text(filename: str) -> str:
    """The whole data file, header comments included."""
    with open(data_path(filename), encoding="utf-8") as fh:
        return fh.read()


def header_comments(filename: str) -> list[str]:
    """The leading '#' lines (provenance), without the '# ' prefix."""
    out: list[str] = []
    for line in read_text(filename).splitlines():
        if not line.startswith("#"):
            break
        out.append(line[1:].strip())
    return out


def read_rows(filename: str) -> list[list[str]]:
    """Data rows split on tabs; comment lines and the column-header row are skipped."""
    lines = [ln for ln in read_text(filename).splitlines() if ln and not ln.startswith("#")]
    return [line.split("\t") for line in lines[1:]]
