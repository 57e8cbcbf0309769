"""Frozen dataclasses shared by every layer, and the report they add up to.

Public names are snake_case; the raw on-disk names (``BugCheckCode``...) stay in the
generated parsers under ``dumptriage.formats``. ``to_dict()`` gives the documented JSON
contract (``schema/report-v1.schema.json``): addresses and arguments are hex strings,
counts and codes are numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def hex_addr(value: int | None) -> str | None:
    """Addresses as '0x' + lowercase hex; JSON numbers lose 64-bit precision in many readers."""
    return None if value is None else f"{value:#x}"


def unix_to_iso(seconds: int | None) -> str | None:
    """A PE TimeDateStamp as ISO 8601 UTC; None for 0/absent (reproducible builds use hashes)."""
    if not seconds:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def hex_arg(value: int, width_bits: int) -> str:
    """A bugcheck argument at the dump's natural width (8 or 16 hex digits)."""
    return f"0x{value:0{width_bits // 4}x}"


@dataclass(frozen=True)
class OsInfo:
    build: int
    nt_version: str | None
    product_name: str | None
    checked: bool
    product_type: str | None
    suite_mask: int | None
    suites: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "nt_version": self.nt_version,
            "product_name": self.product_name,
            "checked": self.checked,
            "product_type": self.product_type,
            "suite_mask": self.suite_mask,
            "suites": list(self.suites),
        }


@dataclass(frozen=True)
class DumpInfo:
    """What WinDbg prints in its banner, read from the dump header."""

    signature: str
    arch: str
    machine: int
    pae: bool | None
    dump_type_code: int
    dump_type: str
    banner: str
    header_size: int
    os: OsInfo
    processors: int
    system_time: str | None
    uptime_seconds: float | None
    comment: str | None
    directory_table_base: int | None
    ps_loaded_module_list: int | None
    ps_active_process_head: int | None
    pfn_database: int | None
    kd_debugger_data_block: int | None
    kernel_base: int | None
    attributes: int | None
    file_size: int
    expected_size: int | None

    @property
    def pointer_bits(self) -> int:
        return 32 if self.arch == "x86" else 64

    def to_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "arch": self.arch,
            "machine": self.machine,
            "pae": self.pae,
            "dump_type_code": self.dump_type_code,
            "dump_type": self.dump_type,
            "banner": self.banner,
            "header_size": self.header_size,
            "os": self.os.to_dict(),
            "processors": self.processors,
            "system_time": self.system_time,
            "uptime_seconds": self.uptime_seconds,
            "comment": self.comment,
            "directory_table_base": hex_addr(self.directory_table_base),
            "ps_loaded_module_list": hex_addr(self.ps_loaded_module_list),
            "ps_active_process_head": hex_addr(self.ps_active_process_head),
            "pfn_database": hex_addr(self.pfn_database),
            "kd_debugger_data_block": hex_addr(self.kd_debugger_data_block),
            "kernel_base": hex_addr(self.kernel_base),
            "attributes": self.attributes,
            "file_size": self.file_size,
            "expected_size": self.expected_size,
        }


@dataclass(frozen=True)
class BugCheck:
    """The stop code and its four arguments, as the dump states them.

    What they mean (the name, the arguments in words, subtypes) is not a reader's fact: the
    analysis layer looks it up in the catalogue (``model.explanation.Explanation``).
    """

    code: int
    args: tuple[int, int, int, int]
    width_bits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_hex": f"0x{self.code:08x}",
            "args": [hex_arg(a, self.width_bits) for a in self.args],
        }


@dataclass(frozen=True)
class PdbInfo:
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


@dataclass(frozen=True)
class Module:
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


@dataclass(frozen=True)
class UnloadedModule:
    name: str
    start: int
    end: int
    unload_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": hex_addr(self.start), "end": hex_addr(self.end),
                "unload_time": self.unload_time}


@dataclass(frozen=True)
class Processor:
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


@dataclass(frozen=True)
class Frame:
    """One stack entry: a code address, where on the stack it was found, and how."""

    address: int
    stack_address: int | None
    module: str | None
    offset: int | None
    symbol: str | None
    method: str  # "context", "frame_pointer" or "scan" (heuristic, like WinDbg's warning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": hex_addr(self.address),
            "stack_address": hex_addr(self.stack_address),
            "module": self.module,
            "offset": hex_addr(self.offset),
            "symbol": self.symbol,
            "method": self.method,
        }
