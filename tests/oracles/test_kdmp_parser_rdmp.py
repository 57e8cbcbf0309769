"""kdmp-parser against dumptriage on RDMP range dumps (DumpType 8, 9, 0xA) from the builder.

kdmp-parser 0.7.4 is the one independent reader of RDMP (it is also the one source of the
layout, dump-format.md section 2.4): KernelMemoryDump (8), KernelAndUserMemoryDump (9) and
CompleteMemoryDump (0xA). volatility3 2.28.2 is no oracle here: its crash layers list
supported_dumptypes = [0x1, 0x5] (layers/crash.py) and refuse every other DumpType.
The dumps carry 2 MiB and 1 GiB pages; 8 and 9 hold only the pages the guest uses, so
most of the 1 GiB page is absent from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dumptriage.synth import BuiltDump, DumpSpec, write
from tests.oracles._common import (
    PAGE,
    X64_BUGCHECK,
    X64_LARGE,
    dt_translate,
    open_dt,
    present_pfns,
    same_optional,
    unmapped_vas,
    va_probes,
)

kdmp_parser = pytest.importorskip(
    "kdmp_parser", reason="kdmp-parser is not installed (pip install -e '.[test]')")

TYPES = [8, 9, 0xA]


def _spec(dump_type: int) -> DumpSpec:
    return DumpSpec(arch="x64", dump_type=dump_type, build=22621, processors=2,
                    bugcheck=X64_BUGCHECK, memory_mib=2048, sparse=True,
                    large_pages=X64_LARGE, comment=f"oracle x64 RDMP type {dump_type:#x}")


@pytest.fixture(scope="module")
def rdmp_dump(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], BuiltDump]:
    root: Path = tmp_path_factory.mktemp("rdmp_oracles")
    cache: dict[int, BuiltDump] = {}

    def get(dump_type: int) -> BuiltDump:
        if dump_type not in cache:
            cache[dump_type] = write(_spec(dump_type), root / f"rdmp{dump_type:x}.dmp")
        return cache[dump_type]

    return get


def _open(b: BuiltDump) -> Any:
    assert b.path is not None
    return kdmp_parser.KernelDumpParser(b.path)


def _absent(b: BuiltDump) -> list[int]:
    """RAM pages the file does not hold (8/9 leave most of RAM out), and pages past RAM."""
    highest = max(s + n for s, n in b.ram_runs)
    candidates = [0, 0xA0, highest, highest + 0x1234, *range(0x100, highest, 0x1F3)][:40]
    return [p for p in candidates if b.page_rank(p) is None]


@pytest.mark.parametrize("dump_type", TYPES, ids=lambda t: f"type{t:x}")
def test_header_fields_agree(dump_type: int, rdmp_dump: Callable[[int], BuiltDump]) -> None:
    b = rdmp_dump(dump_type)
    peer = _open(b)
    h = peer.header
    with open_dt(b) as d:
        info = d.info
        assert int(peer.type) == info.dump_type_code == b.dump_type == dump_type
        assert h.BugCheckCode == d.bugcheck.code == X64_BUGCHECK[0]
        assert list(h.BugCheckCodeParameter) == list(d.bugcheck.args)
        assert peer.directory_table_base == (info.directory_table_base or 0) & ~0xFFF
        assert same_optional(info.kd_debugger_data_block, h.KdDebuggerDataBlock)
        assert same_optional(info.ps_loaded_module_list, h.PsLoadedModuleList)
        assert h.MinorVersion == info.os.build == 22621
        assert d.anomalies == []


@pytest.mark.parametrize("dump_type", TYPES, ids=lambda t: f"type{t:x}")
def test_physical_pages_agree(dump_type: int, rdmp_dump: Callable[[int], BuiltDump]) -> None:
    b = rdmp_dump(dump_type)
    peer = _open(b)
    with open_dt(b) as d:
        for pfn in present_pfns(b):
            theirs = peer.read_physical_page(pfn * PAGE)
            assert theirs is not None, hex(pfn)
            assert bytes(theirs) == d.read_physical(pfn * PAGE, PAGE), hex(pfn)
        absent = _absent(b)
        if dump_type != 0xA:
            assert len(absent) > 10  # a kernel range dump leaves most of RAM out
        for pfn in absent:
            assert d.read_physical_or_none(pfn * PAGE, PAGE) is None, hex(pfn)
            assert peer.read_physical_page(pfn * PAGE) is None, hex(pfn)


@pytest.mark.parametrize("dump_type", TYPES, ids=lambda t: f"type{t:x}")
def test_translations_agree(dump_type: int, rdmp_dump: Callable[[int], BuiltDump]) -> None:
    b = rdmp_dump(dump_type)
    peer = _open(b)
    kinds: set[str] = set()
    with open_dt(b) as d:
        for p in va_probes(b):
            kinds.add(p.mapping.kind)
            ours = dt_translate(d, p.va)
            assert ours == p.expected, (p.mapping.kind, hex(p.va))
            if p.mapping.kind == "transition":
                # kdmp-parser needs the Present bit (see test_kdmp_parser.py).
                assert peer.translate_virtual(p.va) is None, hex(p.va)
                continue
            assert peer.translate_virtual(p.va) == ours, (p.mapping.kind, hex(p.va))
            if ours is not None:
                page = peer.read_virtual_page(p.va & ~0xFFF)
                mine = d.read_virtual_or_none(p.va & ~0xFFF, PAGE)
                assert (None if page is None else bytes(page)) == mine, hex(p.va)
        for va in unmapped_vas(b):
            assert dt_translate(d, va) is None and peer.translate_virtual(va) is None
    assert {"4k", "large-2m", "large-1g", "transition", "prototype", "pagefile"} <= kinds
