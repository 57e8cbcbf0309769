"""What a dump header states: the banner facts and the bugcheck (the open path's model).

Kept apart from the kernel facts (``model.dump``: modules, processors, frames) so that
opening a dump for its bugcheck loads only these few classes.
"""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any


def hex_addr(value: int | None) -> str | None:
    """Addresses as '0x' + lowercase hex; JSON numbers lose 64-bit precision in many readers."""
    return None if value is None else f"{value:#x}"


def hex_arg(value: int, width_bits: int) -> str:
    """A bugcheck argument at the dump's natural width (8 or 16 hex digits)."""
    return f"0x{value:0{width_bits // 4}x}"


class OsInfo(Record):
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


class DumpInfo(Record):
    """What WinDbg prints in its banner, read from the dump header."""

    # None where the input is not the dump itself (a saved debugger transcript names the
    # dump's kind, build and processors, but not its container bytes).
    signature: str | None
    arch: str
    machine: int | None
    pae: bool | None
    dump_type_code: int | None
    dump_type: str
    banner: str
    header_size: int | None
    os: OsInfo
    processors: int | None
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
    file_size: int | None
    expected_size: int | None
    # A host-side memory dump (QEMU vmcore) only: the kernel image's symbol-store key
    # (TimeDateStamp %08X + SizeOfImage %x) found without a header. Absent from the JSON
    # when None, so crash dump reports keep their shape.
    kernel_image_key: str | None = None

    @property
    def pointer_bits(self) -> int:
        return 32 if self.arch == "x86" else 64

    def to_dict(self) -> dict[str, Any]:
        data = self._facts()
        if self.kernel_image_key is not None:
            data["kernel_image_key"] = self.kernel_image_key
        return data

    def _facts(self) -> dict[str, Any]:
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


class BugCheck(Record):
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
