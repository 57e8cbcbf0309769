"""Shared fixtures: where the read-only shared data lives.

The real third-party corpus (``corpus/``, ``story/``, ``reference/``) is not in the repository.
Tests find it through ``DUMPTRIAGE_SHARED`` or the ``shared/`` folder beside the checkout. Where
it is absent, a test that reads it is skipped with one line naming the missing path and how to
get it; when ``DUMPTRIAGE_SHARED`` is set explicitly (as ``.ci/run`` does), a missing folder or
file is a failure instead, so CI never skips them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
_ENV = os.environ.get("DUMPTRIAGE_SHARED", "")
# Set explicitly: a missing folder fails the run instead of skipping tests.
SHARED_EXPLICIT = _ENV != ""
# CI clones main into another folder with shared/ beside it, as for the session.
SHARED = Path(_ENV) if SHARED_EXPLICIT else REPO.parent / "shared"
CORPUS = SHARED / "corpus"
STORY = SHARED / "story"
# Our own copies of the story's logs (samples/README.md says where they came from).
SAMPLE_STORY = REPO / "samples" / "win7-x86-clock-watchdog"
HOW_TO_GET = ("get it with `bash scripts/get-corpus.sh DIR` and set DUMPTRIAGE_SHARED=DIR, "
              "or put it at ../shared beside the checkout")


# Shared paths each test module declared through shared(): when one is missing, that module's
# failing tests and its empty parameter sets are reported as skipped, naming the missing path.
_DECLARED: dict[str, list[Path]] = {}


def shared(relative: str = "") -> Path:
    """The path of ``relative`` under the shared data folder (it may not exist).

    Call it at module level: the calling module is recorded as depending on that path.
    """
    path = SHARED / relative if relative else SHARED
    module = str(sys._getframe(1).f_globals.get("__name__", ""))
    _DECLARED.setdefault(module, []).append(path)
    return path


def cwd_for(args: Sequence[str]) -> Path:
    """The folder to run a CLI case in: the shared folder when an argument is a relative path
    into it (``corpus/...``, ``story/...``), else the repository, so a case that reads nothing
    of the corpus (``--help``, a missing absolute path) runs without it."""
    tops = ("corpus/", "story/", "reference/")
    return SHARED if any(a.startswith(tops) for a in args) else REPO


def missing_message(path: Path) -> str:
    return f"shared data not found: {path} ({HOW_TO_GET})"


def require_shared(relative: str) -> Path:
    """The shared path, skipping the test (failing when set explicitly) if it is absent."""
    path = SHARED / relative
    if not path.exists():
        if SHARED_EXPLICIT:
            pytest.fail(missing_message(path))
        pytest.skip(missing_message(path))
    return path


def _missing_for(item: pytest.Item, error: BaseException | None) -> Path | None:
    """The missing shared path that explains an outcome of ``item``, if any."""
    if isinstance(error, FileNotFoundError) and isinstance(error.filename, (str, os.PathLike)):
        path = Path(error.filename)
        if path.is_relative_to(SHARED) or path.absolute().is_relative_to(SHARED.absolute()):
            return path
    module = getattr(getattr(item, "module", None), "__name__", "")
    return next((p for p in _DECLARED.get(module, []) if not p.exists()), None)


def pytest_sessionstart(session: pytest.Session) -> None:
    if SHARED_EXPLICIT and not SHARED.is_dir():
        raise pytest.UsageError(
            f"DUMPTRIAGE_SHARED={_ENV} is set but that folder does not exist ({HOW_TO_GET})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A test that needs missing shared data is skipped with one line, not failed.

    Only when ``DUMPTRIAGE_SHARED`` is not set: with it set, the error stays a failure.
    """
    outcome = yield
    report = outcome.get_result()
    if SHARED_EXPLICIT:
        return
    error = call.excinfo.value if call.excinfo is not None else None
    empty_set = report.skipped and "got empty parameter set" in str(report.longrepr)
    if not (report.failed or empty_set):
        return
    path = _missing_for(item, error)
    if path is None:
        return
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, missing_message(path))


@pytest.fixture(scope="session")
def corpus() -> Path:
    return require_shared("corpus")
