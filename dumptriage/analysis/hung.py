"""Which CPU a bugcheck says was hung, checked against the CPUs the dump lists.

0x101 CLOCK_WATCHDOG_TIMEOUT: Arg3 is the hung CPU's KPRCB and Arg4 its index (Microsoft's
bug check reference, "Bug Check 0x101"). When the two disagree with KiProcessorBlock, an
anomaly says so: that is a corrupt dump or a misread argument, and either matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import BugCheck, Processor
from dumptriage.model.record import replace

CLOCK_WATCHDOG_TIMEOUT = 0x101


def mark_hung(bugcheck: BugCheck, processors: Sequence[Processor], *, complete: bool
              ) -> tuple[list[Processor], list[Anomaly]]:
    """Processors with the hung one marked, and the anomalies of the check.

    ``complete``: the dump lists every CPU (a minidump may hold only the crashing one, so
    a hung CPU missing from it is normal and not reported).
    """
    if bugcheck.code != CLOCK_WATCHDOG_TIMEOUT:
        return list(processors), []
    index, prcb = bugcheck.args[3], bugcheck.args[2]
    target = next((p for p in processors if p.index == index), None)
    problems: list[Anomaly] = []
    if target is None:
        problems.append(anomaly(AnomalyCode.BUGCHECK_ARG_MISMATCH, "Arg4",
                                f"names processor {index}, which the dump does not list"))
    elif target.prcb != prcb:
        problems.append(anomaly(AnomalyCode.BUGCHECK_ARG_MISMATCH, "Arg3",
                                f"{prcb:#x} is not the KPRCB of processor {index} "
                                f"({target.prcb:#x} in KiProcessorBlock)"))
    marked = [replace(p, hung=p.index == index) for p in processors]
    return marked, problems if complete else []
