"""Stand-in analyses for the service's safety tests (``serve --analyzer``, the hook batch's
WorkerOptions.analyzer has): they run in the worker processes, imported by name."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from dumptriage.analysis import analyze as real_analyze


def misbehave(path: str, context: Any = (), vm: str | None = None) -> Any:
    """By the upload's name: ``hang*`` sleeps 60 s, ``crash*`` kills its own process
    (as a segfault in a C extension or the OOM killer would), ``slow*`` takes 1.5 s;
    anything else is analysed."""
    name = Path(path).name
    if name.startswith("hang"):
        time.sleep(60)
    elif name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    elif name.startswith("slow"):
        time.sleep(1.5)
    return real_analyze(path, context, vm)
