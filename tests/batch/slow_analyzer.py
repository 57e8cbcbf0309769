"""The documented stand-in analysis for timeout and kill tests (WorkerOptions.analyzer /
BatchOptions.analyzer = "tests.batch.slow_analyzer:FUNCTION").

Worker processes import it by name, so it works with any start method; monkeypatching the
test process would not reach them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dumptriage.analysis import analyze as real_analyze


def hang_on_slow(path: str, context: Any = (), vm: str | None = None) -> Any:
    """Hangs (60 s) on files whose name holds "slow"; analyses the others."""
    if "slow" in Path(path).name:
        time.sleep(60)
    return real_analyze(path, context, vm)


def steady(path: str, context: Any = (), vm: str | None = None) -> Any:
    """0.2 s per dump: a run long enough to be killed half-way."""
    time.sleep(0.2)
    return real_analyze(path, context, vm)
