"""Frozen dataclasses shared by every layer, and the report they add up to.

Public names are snake_case; the raw on-disk names (``BugCheckCode``...) stay in the
generated parsers under ``dumptriage.formats``. ``to_dict()`` gives the documented JSON
contract (``schema/report-v1.schema.json``): addresses and arguments are hex strings,
counts and codes are numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


def hex_addr(value: int | None) -> str | None:
    """Addresses as '0x' + lowercase hex; JSON numbers lose 64-bit precision in many readers."""
    return None if value is None else f"{value:#x}"


def hex_arg(value: int, width_bits: int) -> str:
    """A bugcheck argument at the dump's natural width (8 or 16 hex digits)."""
    return f"0x{value:0{width_bits // 4}x}"


@dataclass(frozen=True)
class Anomaly:
    """Something odd about the input, reported as data. ``code`` is stable (see anomalies.py)."""

    code: str
    where: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "where": self.where, "detail": self.detail}


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
    code: int
    args: tuple[int, int, int, int]
    name: str | None
    width_bits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "code_hex": f"0x{self.code:08x}",
            "name": self.name,
            "args": [hex_arg(a, self.width_bits) for a in self.args],
        }


@dataclass(frozen=True)
class Source:
    path: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind}


@dataclass(frozen=True)
class Report:
    """Everything dumptriage found about one input: the library's one result type."""

    source: Source
    dump: DumpInfo | None
    bugcheck: BugCheck | None
    anomalies: tuple[Anomaly, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "source": self.source.to_dict(),
            "dump": None if self.dump is None else self.dump.to_dict(),
            "bugcheck": None if self.bugcheck is None else self.bugcheck.to_dict(),
            "anomalies": [a.to_dict() for a in self.anomalies],
        }
