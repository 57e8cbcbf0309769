"""From the raw DUMP_HEADER32/64 (Microsoft's field names) to the friendly facts.

Everything here is pure: it takes the parsed header and returns values; the container
decides what to do with them.
"""

from __future__ import annotations

from datetime import UTC

from dumptriage.model.header import OsInfo

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

# The header is pre-filled with the "PAGE" dword; a field never written still holds it
# (dump-format.md section 1.4: kdmp-parser, rizin and Ghidra all test for it).
PAGE_FILL_32 = 0x45474150
PAGE_FILL_64 = 0x4547415045474150

MACHINE_I386 = 0x14C
MACHINE_AMD64 = 0x8664
MACHINE_ARM64 = 0xAA64
ARCH_BY_MACHINE = {MACHINE_I386: "x86", MACHINE_AMD64: "x64", MACHINE_ARM64: "arm64"}

# DUMP_TYPE values (mindumpdef.h for 1-7; kdmp-parser for the RDMP types 8-0xA).
DUMP_TYPE_NAMES = {
    0: "unknown",
    1: "full",
    2: "kernel_summary",
    3: "header_only",
    4: "triage",
    5: "bitmap_full",
    6: "bitmap_kernel",
    7: "automatic",
    8: "kernel_range",
    9: "kernel_and_user_range",
    0xA: "complete_range",
}

# WinDbg's own banner line per DumpType (dump-format.md section 2.2, from WinDbg
# transcripts). The type 5 wording is not attested in any transcript we have; it follows
# the pattern of the type 1 and type 6 lines. Types 3 and 8-0xA have no attested banner:
# their lines are ours and say only what the file holds.
BANNERS = {
    1: "Kernel Complete Dump File: Full address space is available",
    2: "Kernel Summary Dump File: Only kernel address space is available",
    3: "Kernel Header-only Dump File: No memory is available",
    4: "Mini Kernel Dump File: Only registers and stack trace are available",
    5: "Kernel Bitmap Dump File: Full address space is available",
    6: "Kernel Bitmap Dump File: Kernel address space is available, "
    "User address space may not be available.",
    7: "Kernel Bitmap Dump File: Kernel address space is available, "
    "User address space may not be available.",
    8: "Kernel range dump",
    9: "Kernel range dump",
    0xA: "Kernel range dump",
}

# NT product types (winnt.h VER_NT_*), spelled as WinDbg prints them after "Product:".
PRODUCT_TYPES = {1: "WinNt", 2: "LanManNt", 3: "ServerNt"}

# VER_SUITE_* bits (winnt.h), spelled as WinDbg prints them after "suite:".
SUITE_NAMES = (
    (0x0001, "SmallBusiness"),
    (0x0002, "Enterprise"),
    (0x0004, "BackOffice"),
    (0x0008, "CommunicationServer"),
    (0x0010, "TerminalServer"),
    (0x0020, "SmallBusinessRestricted"),
    (0x0040, "EmbeddedNT"),
    (0x0080, "DataCenter"),
    (0x0100, "SingleUserTS"),
    (0x0200, "Personal"),
    (0x0400, "Blade"),
    (0x0800, "EmbeddedRestricted"),
    (0x1000, "SecurityAppliance"),
    (0x2000, "StorageServer"),
    (0x4000, "ComputeServer"),
    (0x8000, "WHServer"),
)

# MajorVersion holds the top nibble of NtBuildNumber: 0xF free build, 0xC checked build.
CHECKED_BUILD_MAJOR = 0xC

# FILETIMEs beyond 9999-12-31 cannot be a datetime; such a value is garbage anyway. The
# constant is (datetime(9999, 12, 31) - datetime(1601, 1, 1)) in 100-ns ticks, written
# out so that `datetime` loads only when a time is shown (tests/dump pin it).
_FILETIME_MAX = 2_650_466_880_000_000_000


def is_absent(value: int) -> bool:
    """True for a field the writer never filled (the PAGE fill)."""
    return value in (PAGE_FILL_32, PAGE_FILL_64)


def optional(value: int) -> int | None:
    return None if is_absent(value) else value


def filetime_to_iso(filetime: int) -> str | None:
    """FILETIME (100-ns ticks since 1601 UTC) as ISO 8601 UTC with milliseconds."""
    if filetime <= 0 or filetime > _FILETIME_MAX or is_absent(filetime):
        return None
    from datetime import datetime, timedelta

    epoch = datetime(1601, 1, 1, tzinfo=UTC)
    moment = epoch + timedelta(microseconds=filetime // 10)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def uptime_seconds(ticks: int) -> float | None:
    """SystemUpTime is in 100-ns ticks; WinDbg shows it to the millisecond."""
    if ticks <= 0 or is_absent(ticks):
        return None
    return round(ticks / 10_000_000, 3)


def format_uptime(seconds: float) -> str:
    """WinDbg's 'System Uptime' form: '0 days 5:00:52.740'."""
    millis = round(seconds * 1000)
    days, millis = divmod(millis, 86_400_000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{days} days {hours}:{minutes:02d}:{secs:02d}.{millis:03d}"


def decode_comment(raw: bytes) -> str | None:
    if raw[:4] == b"PAGE" or not raw.strip(b"\0"):
        return None
    text = raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
    return text or None


def suite_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in SUITE_NAMES if mask & bit)


def os_info(raw: Any) -> OsInfo:
    """OS facts from MajorVersion/MinorVersion/ProductType/SuiteMask."""
    build = int(raw.minor_version) & 0xFFFF
    product = optional(int(raw.product_type))
    suite = optional(int(raw.suite_mask))
    return OsInfo(
        build=build,
        nt_version=None,  # named by the analysis layer (catalogue/windows_builds.tsv)
        product_name=None,
        checked=(int(raw.major_version) & 0xF) == CHECKED_BUILD_MAJOR,
        product_type=PRODUCT_TYPES.get(product) if product is not None else None,
        suite_mask=suite,
        suites=suite_names(suite) if suite is not None else (),
    )
