"""The error tree of dumptriage.

An exception means the tool could not do what was asked (an unreadable header, a context
file that is not what it claims to be). Findings about a dump that *was* read are data:
they go into the report as anomalies, never as exceptions.

Every class has a stable ``code`` that scripts and logs can rely on. ``str(err)`` is one
line naming the file, the structure, the offset and what was wrong.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see model/record.py: keeps imports off the open path
if TYPE_CHECKING:
    from pathlib import Path


class DumptriageError(Exception):
    """Base class of every error dumptriage raises on purpose."""

    code = "DT000"


class DumpFormatError(DumptriageError):
    """A dump structure could not be read: bad magic, truncated, or counts that cannot be."""

    code = "DT100"

    def __init__(self, path: str | Path, structure: str, offset: int | None, reason: str):
        self.path = str(path)
        self.structure = structure
        self.offset = offset
        self.reason = reason
        where = f" at offset {offset:#x}" if offset is not None else ""
        super().__init__(f"{self.path}: {structure}{where}: {reason}")


class UnsupportedDump(DumpFormatError):
    """A well-formed file of a kind dumptriage recognises but does not read (yet)."""

    code = "DT101"


class PageNotPresent(DumptriageError):
    """A physical page (or the page behind a virtual address) is not in the dump.

    This is normal in kernel and bitmap dumps; callers that walk kernel structures turn
    it into an anomaly.
    """

    code = "DT110"

    def __init__(self, address: int, reason: str, *, virtual: bool = False):
        self.address = address
        self.reason = reason
        self.virtual = virtual
        kind = "virtual address" if virtual else "physical address"
        super().__init__(f"{kind} {address:#x}: {reason}")


class ContextParseError(DumptriageError):
    """A host-side file (domain XML, QEMU log, Proxmox config...) could not be read."""

    code = "DT200"

    def __init__(self, source: str | Path, line: int | None, reason: str):
        self.source = str(source)
        self.line = line
        self.reason = reason
        where = f":{line}" if line is not None else ""
        super().__init__(f"{self.source}{where}: {reason}")


class DebuggerError(DumptriageError):
    """cdb/kd could not be run, or its output could not be read."""

    code = "DT300"


class RuleFileError(DumptriageError):
    """A rule or catalogue data file is malformed."""

    code = "DT400"

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f":{line}" if line is not None else ""
        super().__init__(f"{self.path}{where}: {reason}")


class FixRefused(DumptriageError):
    """`dumptriage fix` was asked for a change the VM's QEMU, libvirt or host would reject
    (a feature too new for its version, a missing dependency, an Intel-only feature on AMD),
    or for a file it cannot patch."""

    code = "DT500"

    def __init__(self, source: str | Path, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")
