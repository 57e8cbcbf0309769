"""Anomalies come from one deterministic pass: the same dump gives the same list in the same
order whatever was read first (issue 9)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dumptriage import open_dump
from dumptriage.synth import build, presets

ORDERS = [("modules", "processors", "stack"), ("stack", "processors", "modules"),
          ("processors", "stack", "modules"), ()]


def _touch(dump: object, order: tuple[str, ...]) -> None:
    for part in order:
        value = getattr(dump, part)
        if callable(value):
            value()


def _broken_dump(tmp_path: Path) -> Path:
    # A bitmap dump whose header under-counts its pages: the page index finds it only when
    # its rank index is built, which reading a page (or nothing) may trigger first.
    built = build(presets.win10_x64_bitmap_kernel())
    data = bytearray(built.data)
    struct.pack_into("<Q", data, 0x2028, built.present_count - 1)
    path = tmp_path / "broken.dmp"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "-".join(o) or "nothing")
def test_same_anomalies_whatever_was_read_first(tmp_path: Path, order: tuple[str, ...]) -> None:
    path = _broken_dump(tmp_path)
    with open_dump(path) as first:
        expected = first.all_anomalies()
    assert [a.code for a in expected][:1] == ["header_inconsistent"]
    with open_dump(path) as dump:
        _touch(dump, order)
        assert dump.all_anomalies() == expected
        assert dump.all_anomalies() == expected  # asking twice changes nothing


def test_story_sample_anomalies_are_stable() -> None:
    story = Path(__file__).resolve().parents[2] / "samples" / "win7-x86-clock-watchdog"
    results = []
    for order in ORDERS:
        with open_dump(story / "MEMORY.DMP") as dump:
            _touch(dump, order)
            results.append(dump.all_anomalies())
    assert all(r == results[0] for r in results)
