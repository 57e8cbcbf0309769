"""Shared fixtures: where the read-only shared data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# CI clones main into another folder with shared/ beside it, as for the session.
SHARED = Path(os.environ.get("DUMPTRIAGE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
STORY = SHARED / "story"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"shared corpus not found at {CORPUS} (set DUMPTRIAGE_SHARED)")
    return CORPUS
