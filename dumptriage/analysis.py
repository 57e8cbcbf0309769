"""Orchestration: one input in, one ``Report`` out. The CLI only renders what this returns.

Named analysis.py, not analyze.py (DESIGN.md), so that the submodule never shadows the
public ``dumptriage.analyze`` function.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from dumptriage.dump.container import open_dump
from dumptriage.model import Report, Source


def analyze(path: str | os.PathLike[str]) -> Report:
    """Read a kernel dump and report what it says. Raises DumpFormatError if unreadable."""
    with open_dump(Path(path)) as dump:
        kdbg = dump.kdbg
        info = replace(dump.info, kernel_base=kdbg.kern_base if kdbg and kdbg.kern_base else None)
        return Report(
            source=Source(path=str(path), kind="kernel_dump"),
            dump=info,
            bugcheck=dump.bugcheck,
            anomalies=tuple(dump.anomalies),
        )
