"""The Dask task's deadline (dumptriage/batch/cluster_task.py), without a cluster: the
analysing thread is interrupted at the deadline; one stuck in C has its process killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from dumptriage import __version__
from dumptriage.batch.cluster_task import analyse
from dumptriage.batch.discover import FileStat, Input
from dumptriage.batch.worker import WorkerOptions
from tests.batch.helpers import REPO, small_dump

SPIN = WorkerOptions(analyzer="tests.batch.slow_analyzer:spin_on_slow")


def _input(path: Path) -> Input:
    return Input(str(path), str(path), "dump", (), None, FileStat(path.stat().st_size, 0, 0))


def test_the_deadline_interrupts_a_running_analysis(tmp_path: Path) -> None:
    slow = _input(small_dump(tmp_path / "slow.dmp", 1))
    [outcome] = analyse(slow, SPIN, 0.5, __version__)  # spin_on_slow would loop for 60 s
    assert (outcome.row.status, outcome.row.error_code, outcome.row.retry) == (
        "error", "DT690", True)
    assert outcome.row.error == (f"{slow.path}: still running after 0.5 s (--timeout): "
                                 "interrupted on its Dask worker")


def test_an_analysis_within_its_deadline_leaves_nothing_pending(tmp_path: Path) -> None:
    fast = _input(small_dump(tmp_path / "a.dmp", 0))
    [outcome] = analyse(fast, SPIN, 0.5, __version__)
    assert outcome.row.status == "ok" and outcome.row.signature == "0x133/0x0 nt+0x7f1e0"
    end = time.monotonic() + 1.0  # past the deadline: no interruption arrives late
    while time.monotonic() < end:
        time.sleep(0.01)


def test_an_analysis_stuck_in_c_takes_its_process_down() -> None:
    # time.sleep is one C call: the interruption cannot land, so after the grace the
    # watchdog kills the process (on a Dask worker: a lost worker, rescheduled elsewhere)
    code = ("from dumptriage.batch.cluster_task import _Watchdog\nimport time\n"
            "_Watchdog(0.2, 0.3)\ntime.sleep(30)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=25,
                          capture_output=True)
    assert done.returncode == -signal.SIGKILL
