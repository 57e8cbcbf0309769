"""Reading stop codes given as text: hex first, decimal only as a fallback (bugchecks.py)."""

from __future__ import annotations

import pytest

from dumptriage.catalogue.bugchecks import lookup, name_of, parse_code


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0x101, "CLOCK_WATCHDOG_TIMEOUT"),
        (0x1000007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"),
        (0x161, "LIVE_SYSTEM_DUMP"),
        (0x20001, "HYPERVISOR_ERROR"),
        (0xDEADDEAD, "MANUALLY_INITIATED_CRASH1"),
        (0x1D0, "ACPI_FIRMWARE_WATCHDOG_TIMEOUT"),  # the docs table misspells it CPI_...
        (0xC000021A, "WINLOGON_FATAL_ERROR"),
    ],
)
def test_name_of(code: int, name: str) -> None:
    assert name_of(code) == name


def test_name_of_unknown() -> None:
    assert name_of(0x0) is None
    assert name_of(0x7FFFFFFF) is None


@pytest.mark.parametrize(
    "text",
    [
        "0x101",
        "0X101",
        "101",
        "257",
        "0n257",
        "CLOCK_WATCHDOG_TIMEOUT",
        "clock_watchdog_timeout",
        " 0x00000101 ",
    ],
)
def test_all_spellings_of_0x101(text: str) -> None:
    entry = lookup(text)
    assert entry is not None and entry.code == 0x101


def test_bare_number_prefers_hex() -> None:
    # 133 is a known hex code (DPC_WATCHDOG_VIOLATION): hex wins over decimal 133 (0x85).
    assert parse_code("133") == 0x133
    assert parse_code("0n133") == 0x85


def test_decimal_fallback_only_when_hex_unknown() -> None:
    assert parse_code("257") == 0x101  # 0x257 is not a stop code
    assert parse_code("1c8") == 0x1C8  # hex letters: never decimal


def test_alias_names() -> None:
    entry = lookup("FTDISK_INTERNAL_ERROR")  # the docs' name for bugcodes.h's 0x58
    assert entry is not None and entry.code == 0x58 and entry.name == "VOLMGRX_INTERNAL_ERROR"


@pytest.mark.parametrize("text", ["", "zz", "0xZZ", "0n12a", "NOT_A_BUGCHECK"])
def test_unparseable(text: str) -> None:
    assert lookup(text) is None


def test_unknown_number_parses_but_has_no_entry() -> None:
    assert parse_code("0x12345") == 0x12345
    assert lookup("0x12345") is None


def test_int_lookup() -> None:
    entry = lookup(0xD1)
    assert entry is not None and entry.name == "DRIVER_IRQL_NOT_LESS_OR_EQUAL"
    assert entry.hex_code == "0x000000D1"
