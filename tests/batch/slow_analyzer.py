"""The documented stand-in analysis for timeout and kill tests (WorkerOptions.analyzer /
BatchOptions.analyzer = "tests.batch.slow_analyzer:FUNCTION").

Worker processes (local or Dask) import it by name, so it works with any start method;
monkeypatching the test process would not reach them. With $DUMPTRIAGE_TEST_ATTEMPTS set to
a folder, each call leaves a file NAME.PID there: which process started which dump.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from dumptriage.analysis import analyze as real_analyze


def _note_attempt(path: str) -> None:
    folder = os.environ.get("DUMPTRIAGE_TEST_ATTEMPTS")
    if folder:
        Path(folder, f"{Path(path).name}.{os.getpid()}").touch()


def hang_on_slow(path: str, context: Any = (), vm: str | None = None) -> Any:
    """Hangs (60 s) on files whose name holds "slow"; analyses the others."""
    if "slow" in Path(path).name:
        time.sleep(60)
    return real_analyze(path, context, vm)


def steady(path: str, context: Any = (), vm: str | None = None) -> Any:
    """0.2 s per dump: a run long enough to be killed half-way."""
    _note_attempt(path)
    time.sleep(0.2)
    return real_analyze(path, context, vm)


def spin_on_slow(path: str, context: Any = (), vm: str | None = None) -> Any:
    """Loops (60 s, in Python, as a runaway analysis would) on files whose name holds
    "slow"; analyses the others."""
    if "slow" in Path(path).name:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            time.sleep(0.05)
    return real_analyze(path, context, vm)


def kill_on_poison(path: str, context: Any = (), vm: str | None = None) -> Any:
    """Kills the process it runs in (SIGKILL, as the OOM killer would) on files whose name
    holds "poison", every time; analyses the others."""
    _note_attempt(path)
    if "poison" in Path(path).name:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_analyze(path, context, vm)
