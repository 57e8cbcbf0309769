"""Golden-file comparison with an explicit update switch.

Set DUMPTRIAGE_UPDATE_GOLDEN=1 to rewrite the expected files from the current output;
review the diff before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


# The moment an analysis ran differs on every run: golden files hold a fixed stand-in.
_GENERATED_AT = re.compile(r'("generated_at": )"[^"]*"')


def check_golden(relative: str, actual: str) -> None:
    actual = _GENERATED_AT.sub(r'\1"2026-01-01T00:00:00Z"', actual)
    path = GOLDEN / relative
    if os.environ.get("DUMPTRIAGE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"missing golden file {path}: run with DUMPTRIAGE_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path} (DUMPTRIAGE_UPDATE_GOLDEN=1 updates)"
