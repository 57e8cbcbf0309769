"""Small functions that turn one concrete bugcheck argument into words.

Each takes the value and the pointer width of the dump (32 or 64) and returns a short phrase,
or None when there is nothing to add. ``bugcheck_params.toml`` names them in ``kind``.
"""

from __future__ import annotations

from collections.abc import Callable

from dumptriage.catalogue.params import enum_table
from dumptriage.catalogue.statuses import fast_fail_name, ntstatus_name

# x64 splits the 48-bit canonical address space in two halves; everything in between faults.
_X64_KERNEL_START = 0xFFFF_8000_0000_0000
_X64_USER_END = 0x0000_8000_0000_0000
# 32-bit Windows: kernel space starts at 2 GB unless booted with /3GB (then 3 GB).
_X86_KERNEL_START = 0x8000_0000

KindFn = Callable[[int, int], str | None]


def address(value: int, bits: int) -> str:
    """Which half of the address space a pointer is in (x64: or non-canonical)."""
    if value == 0:
        return "NULL pointer"
    if bits == 32:
        return "kernel-mode address" if value >= _X86_KERNEL_START else "user-mode address"
    if value >= _X64_KERNEL_START:
        return "kernel-mode address"
    if value < _X64_USER_END:
        return "user-mode address"
    return "non-canonical address"


def irql(value: int, bits: int) -> str:
    """'IRQL 2 (DISPATCH_LEVEL)'; levels between DISPATCH and the clock are device IRQLs."""
    names = enum_table("irql_x86" if bits == 32 else "irql_x64")
    name = names.get(value)
    if name is None:
        top_device_irql = 0x1A if bits == 32 else 0xB
        name = "device IRQL (DIRQL)" if 2 < value <= top_device_irql else "not a valid IRQL"
    return f"IRQL {value} ({name})"


def access(value: int, bits: int) -> str:
    """0xA / 0xD1 / 0xC5 Arg3: bit 0 = write, bit 3 (or the value 2 on 0xD1) = execute."""
    if value & 0x8 or value == 2:
        return "execute (instruction fetch)"
    return "write access" if value & 0x1 else "read access"


def pf_access(value: int, bits: int) -> str:
    """0x50 Arg2: 0 read, 1 (before Windows 10 1507) or 2 write, 0x10 execute."""
    if value == 0:
        return "read access"
    if value in (1, 2):
        return "write access"
    if value in (0x8, 0x10):
        return "execute (instruction fetch)"
    return f"unknown access type {value:#x}"


def ntstatus(value: int, bits: int) -> str | None:
    """The NTSTATUS name; None for small values that are not statuses (0, 1, 2...)."""
    name = ntstatus_name(value)
    if name is not None:
        return name
    low = value & 0xFFFFFFFF
    return f"NTSTATUS {low:#010x} (name not in our table)" if low >= 0x4000_0000 else None


def fast_fail(value: int, bits: int) -> str:
    name = fast_fail_name(value)
    return name if name is not None else f"unknown FAST_FAIL code {value}"


def count(value: int, bits: int) -> str:
    return f"{value}"


def ticks(value: int, bits: int) -> str:
    return f"{value} ticks"


def processor(value: int, bits: int) -> str:
    return f"processor {value}"


def milliseconds(value: int, bits: int) -> str:
    return f"{value} ms ({value / 1000:g} s)"


def seconds(value: int, bits: int) -> str:
    return f"{value} s"


def file_line(value: int, bits: int) -> str:
    """NTFS/FAT bugcheck Arg1: high 16 bits = source file id, low 16 bits = line number."""
    return f"source file id {(value >> 16) & 0xFFFF:#x}, line {value & 0xFFFF}"


KINDS: dict[str, KindFn] = {
    "address": address,
    "irql": irql,
    "access": access,
    "pf_access": pf_access,
    "ntstatus": ntstatus,
    "fast_fail": fast_fail,
    "count": count,
    "ticks": ticks,
    "processor": processor,
    "milliseconds": milliseconds,
    "seconds": seconds,
    "file_line": file_line,
}


def enum_value(table: str, value: int) -> str:
    """A value looked up in ``[enums.TABLE]``."""
    text = enum_table(table).get(value)
    return text if text is not None else f"value {value:#x} not in our table"
