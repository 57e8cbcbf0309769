"""The ground floor: frozen dataclasses shared by every layer. Imports nothing of ours.

``anomaly`` (typed anomalies and their stable codes), ``dump`` (what a reader finds in a
dump), ``host`` (a VM's virtual hardware), ``explanation`` (what the catalogue says about a
bugcheck) and ``report`` (the one result of an analysis). Import from the submodules; the
names here are a convenience for library users and resolve on first use.
"""

from __future__ import annotations

_WHERE = {
    "Anomaly": "anomaly", "AnomalyCode": "anomaly",
    "OsInfo": "dump", "DumpInfo": "dump", "BugCheck": "dump", "PdbInfo": "dump",
    "Module": "dump", "UnloadedModule": "dump", "Processor": "dump", "Frame": "dump",
    "VmConfig": "host", "Explanation": "explanation",
    "Culprit": "report", "HostChoice": "report", "Source": "report", "Report": "report",
    "Tool": "report",
}

__all__ = [
    "Anomaly", "AnomalyCode", "BugCheck", "Culprit", "DumpInfo", "Explanation", "Frame",
    "HostChoice", "Module", "OsInfo", "PdbInfo", "Processor", "Report", "Source", "Tool",
    "UnloadedModule", "VmConfig",
]

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.model.anomaly import Anomaly, AnomalyCode
    from dumptriage.model.dump import (
        BugCheck,
        DumpInfo,
        Frame,
        Module,
        OsInfo,
        PdbInfo,
        Processor,
        UnloadedModule,
    )
    from dumptriage.model.explanation import Explanation
    from dumptriage.model.host import VmConfig
    from dumptriage.model.report import Culprit, HostChoice, Report, Source, Tool


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dumptriage.model' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"dumptriage.model.{module}"), name)
