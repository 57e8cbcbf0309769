"""The triage readers on corrupted headers and tables: data or anomalies, never a crash.

Every count, offset and size is a file field (DESIGN.md convention 5): the readers must
bound them by the file length and their caps, whatever values they hold.
"""

from __future__ import annotations

import random
from dataclasses import fields, replace
from pathlib import Path

import pytest

from dumptriage import open_dump
from dumptriage.dump.containers.triage.container import TriageDump
from dumptriage.dump.containers.triage.drivers import MAX_DRIVERS, read_drivers
from dumptriage.dump.containers.triage.memory import build_triage_memory
from dumptriage.dump.containers.triage.unloaded import MAX_UNLOADED, read_unloaded_drivers

_EXTREMES = [0, 1, 7, 0x7FFFFFFF, 0xFFFFFFFF]


@pytest.mark.parametrize("seed", range(40))
def test_random_header_fields_and_bytes(corpus: Path, seed: int) -> None:
    rng = random.Random(seed)
    with open_dump(corpus / "dumps" / "triage_x64.dmp") as dump:
        assert isinstance(dump.container, TriageDump)
        raw = bytearray(dump.container.data)
        base = dump.container.header
    # Scribble over the driver list, pool, unloaded section and block table.
    for start in (base.driver_list_offset, base.string_pool_offset,
                  base.unloaded_drivers_offset, base.data_blocks_offset):
        for _ in range(rng.randrange(0, 64)):
            raw[start + rng.randrange(0, 0x400)] = rng.randrange(256)
    data = memoryview(bytes(raw[: rng.choice([len(raw), rng.randrange(0x2000, len(raw))])]))
    changed = {f.name: rng.choice([*_EXTREMES, rng.randrange(0, len(raw) + 0x1000)])
               for f in fields(base) if rng.random() < 0.3}
    header = replace(base, **changed)
    for bits in (64, 32):
        memory, _ = build_triage_memory(header, data, pointer_bits=bits,
                                        kdbg_va=rng.choice([None, 0xFFFFF8047C600B20]))
        for piece in memory.ranges():
            assert piece.offset + piece.size <= len(data)
        modules, _ = read_drivers(header, data, bits)
        assert len(modules) <= MAX_DRIVERS
        unloaded, _ = read_unloaded_drivers(header, data, bits)
        assert len(unloaded) <= MAX_UNLOADED
