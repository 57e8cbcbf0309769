"""dumptriage: triage Windows kernel crash dumps from KVM guests, on Linux, without WinDbg.

The library's public face::

    from dumptriage import analyze, open_dump
    report = analyze("MEMORY.DMP")          # one serialisable Report
    signature_of(report).key                # its bucket key, with the notes that built it
    for result in analyze_many(paths, jobs=2):   # many inputs, in worker processes
        print(result.path, result.row)
    with open_dump("MEMORY.DMP") as dump:   # raw access: header facts, memory
        dump.read_virtual(dump.info.ps_loaded_module_list, 8)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "Anomaly",
    "BugCheck",
    "CrashDump",
    "DumpFormatError",
    "DumpInfo",
    "DumptriageError",
    "PageNotPresent",
    "Report",
    "UnsupportedDump",
    "__version__",
    "analyze",
    "analyze_many",
    "open_dump",
    "signature_of",
]

# Imports are resolved on first use so that `dumptriage --help` stays fast.
_LAZY = {
    "analyze": "dumptriage.analysis",
    "analyze_many": "dumptriage.batch",
    "open_dump": "dumptriage.dump.crash_dump",
    "CrashDump": "dumptriage.dump.crash_dump",
    "Anomaly": "dumptriage.model.anomaly",
    "BugCheck": "dumptriage.model.dump",
    "DumpInfo": "dumptriage.model.dump",
    "Report": "dumptriage.model.report",
    "DumpFormatError": "dumptriage.errors",
    "DumptriageError": "dumptriage.errors",
    "PageNotPresent": "dumptriage.errors",
    "UnsupportedDump": "dumptriage.errors",
}

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.analysis import analyze
    from dumptriage.batch import analyze_many
    from dumptriage.dump.crash_dump import CrashDump, open_dump
    from dumptriage.errors import DumpFormatError, DumptriageError, PageNotPresent, UnsupportedDump
    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.dump import BugCheck, DumpInfo
    from dumptriage.model.report import Report
    from dumptriage.signature import signature as signature_of


def __getattr__(name: str) -> Any:
    if name == "signature_of":  # the package dumptriage.signature would shadow a "signature"
        from dumptriage.signature import signature

        return signature
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dumptriage' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
