"""What a reader finds in a dump beyond its header: modules, processors, stack frames.

Public names are snake_case; the raw on-disk names (``BugCheckCode``...) stay in the
generated parsers under ``dumptriage.formats``. ``to_dict()`` gives the documented JSON
contract (``schema/report-v1.schema.json``): addresses and arguments are hex strings,
counts and codes are numbers. The header's facts live in ``model.header`` (re-exported
here).
"""

from __future__ import annotations

from datetime import UTC

from dumptriage.model.header import BugCheck as BugCheck
from dumptriage.model.header import DumpInfo as DumpInfo
from dumptriage.model.header import OsInfo as OsInfo
from dumptriage.model.header import hex_addr as hex_addr
from dumptriage.model.header import hex_arg as hex_arg
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any


def unix_to_iso(seconds: int | None) -> str | None:
    """A PE TimeDateStamp as ISO 8601 UTC; None for 0/absent (reproducible builds use hashes)."""
    if not seconds:
        return None
    from datetime import datetime

    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


class PdbInfo(Record):
    """The CodeView RSDS record of a PE image: what a symbol server lookup needs."""

    name: str
    guid: str  # uppercase hex without braces or dashes, as symbol stores spell it
    age: int

    @property
    def symbol_key(self) -> str:
        """``<GUID><age>`` folder name in a symbol store (age in hex, no leading zeros)."""
        return f"{self.guid}{self.age:X}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "guid": self.guid, "age": self.age}


class Module(Record):
    """A loaded kernel module (like a line of WinDbg's `lm`)."""

    name: str
    base: int
    size: int
    timestamp: int | None  # PE TimeDateStamp (seconds since 1970, UTC)
    checksum: int | None
    path: str | None
    # Filled by the analysis layer from catalogue/drivers.tsv, not by the reader:
    module_class: str = "unknown"  # "inbox", "virtio", "third_party", "unknown"
    vendor: str | None = None
    pdb: PdbInfo | None = None
    version: str | None = None
    company: str | None = None  # the version resource's CompanyName
    # Since Windows 10, Microsoft's images are built reproducibly and TimeDateStamp holds
    # a hash of the build, not a time (WinDbg says so in lmv). Set when the value lies
    # after the crash, which a real link time cannot.
    timestamp_is_hash: bool = False

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, address: int) -> bool:
        return self.base <= address < self.base + self.size

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": hex_addr(self.base),
            "end": hex_addr(self.end),
            "size": self.size,
            "timestamp": self.timestamp,
            "timestamp_utc": None if self.timestamp_is_hash else unix_to_iso(self.timestamp),
            "timestamp_is_hash": self.timestamp_is_hash,
            "checksum": self.checksum,
            "path": self.path,
            "class": self.module_class,
            "vendor": self.vendor,
            "pdb": None if self.pdb is None else self.pdb.to_dict(),
            "version": self.version,
            "company": self.company,
        }


class UnloadedModule(Record):
    name: str
    start: int
    end: int
    unload_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": hex_addr(self.start), "end": hex_addr(self.end),
                "unload_time": self.unload_time}


class Processor(Record):
    """One CPU: its KPRCB, the thread it ran and the registers saved for it, if any."""

    index: int
    prcb: int | None
    thread: int | None
    ip: int | None
    sp: int | None
    fp: int | None
    crashed: bool = False
    hung: bool = False
    context_source: str | None = None  # where the registers came from

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "prcb": hex_addr(self.prcb),
            "thread": hex_addr(self.thread),
            "ip": hex_addr(self.ip),
            "sp": hex_addr(self.sp),
            "fp": hex_addr(self.fp),
            "crashed": self.crashed,
            "hung": self.hung,
            "context_source": self.context_source,
        }


class Frame(Record):
    """One stack entry: a code address, where on the stack it was found, and how."""

    # None only for a debugger's top frame: WinDbg prints each frame's return address
    # (RetAddr), which is the next frame's code address, never the top frame's own.
    address: int | None
    stack_address: int | None
    module: str | None
    offset: int | None
    symbol: str | None
    # "context", "exception_context" (a bugcheck argument's CONTEXT record), "frame_pointer",
    # "unwind", "scan" (heuristic, like WinDbg's warning), or
    # "debugger" (a STACK_TEXT / k line of a debugger transcript)
    method: str
    # Set only when symbols were asked for (dumptriage.symbols.symbolize): "pdb" when a PDB
    # named the frame; otherwise why not ("no PDB id: ...", "PDB not in the store: ...",
    # "age mismatch: ..."). Absent from the JSON when None, so reports without symbols
    # keep their shape.
    symbol_source: str | None = None
    unsymbolized_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "address": hex_addr(self.address),
            "stack_address": hex_addr(self.stack_address),
            "module": self.module,
            "offset": hex_addr(self.offset),
            "symbol": self.symbol,
            "method": self.method,
        }
        if self.symbol_source is not None:
            data["symbol_source"] = self.symbol_source
        if self.unsymbolized_reason is not None:
            data["unsymbolized_reason"] = self.unsymbolized_reason
        return data
