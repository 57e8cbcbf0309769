"""kdmp-parser (0vercl0k, C++ with Python bindings) against dumptriage on the builder's dumps.

kdmp-parser 0.7.4 reads 64-bit DumpType 1 (full), 5 (bitmap full) and 6 (bitmap kernel).
It refuses 32-bit PAGEDUMP files and triage minidumps (DumpType 4). Its VirtTranslate
walks the four x64 levels with 2 MiB and 1 GiB pages and requires the Present bit at
every level, so it does NOT follow transition PTEs; dumptriage does (dump-format.md §7.5:
"S2 treats it as valid, and so should we").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dumptriage.synth import BuiltDump
from tests.conftest import require_shared
from tests.oracles._common import (
    PAGE,
    absent_pfns,
    dt_translate,
    filetime,
    open_dt,
    present_pfns,
    same_optional,
    unmapped_vas,
    va_probes,
)

kdmp_parser = pytest.importorskip(
    "kdmp_parser", reason="kdmp-parser is not installed (pip install -e '.[test]')")

X64 = ["x64_type1", "x64_type5", "x64_type6"]


def _open(b: BuiltDump) -> Any:
    assert b.path is not None
    return kdmp_parser.KernelDumpParser(b.path)


@pytest.mark.parametrize("name", X64)
def test_header_fields_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    peer = _open(b)
    h = peer.header
    with open_dt(b) as d:
        info = d.info
        assert int(peer.type) == info.dump_type_code == h.DumpType.value == b.dump_type
        assert h.BugCheckCode == d.bugcheck.code
        assert list(h.BugCheckCodeParameter) == list(d.bugcheck.args)
        # kdmp-parser's directory_table_base is page-aligned (& ~0xFFF); the raw field is not
        assert same_optional(info.directory_table_base, h.DirectoryTableBase)
        assert peer.directory_table_base == (info.directory_table_base or 0) & ~0xFFF
        assert h.NumberProcessors == info.processors
        assert same_optional(info.kd_debugger_data_block, h.KdDebuggerDataBlock)
        assert same_optional(info.ps_loaded_module_list, h.PsLoadedModuleList)
        assert same_optional(info.ps_active_process_head, h.PsActiveProcessHead)
        assert same_optional(info.pfn_database, h.PfnDatabase)
        assert h.MachineImageType == info.machine == 0x8664
        assert h.MinorVersion == info.os.build
        assert same_optional(info.expected_size, h.RequiredDumpSpace)
        assert info.system_time is not None
        assert filetime(h.SystemTime) == _iso(info.system_time)
        assert info.uptime_seconds == pytest.approx(h.SystemUpTime / 1e7, abs=1e-3)


def _iso(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("name", X64)
def test_physical_pages_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    peer = _open(b)
    with open_dt(b) as d:
        for pfn in present_pfns(b):
            ours = d.read_physical(pfn * PAGE, PAGE)
            theirs = peer.read_physical_page(pfn * PAGE)
            assert theirs is not None, hex(pfn)
            assert bytes(theirs) == ours, hex(pfn)
        for s in b.samples:
            if s.file_offset is not None:
                assert d.read_physical_or_none(s.pa, PAGE) is not None, s.label
        for pfn in absent_pfns(b):
            assert d.read_physical_or_none(pfn * PAGE, PAGE) is None, hex(pfn)
            assert peer.read_physical_page(pfn * PAGE) is None, hex(pfn)


@pytest.mark.parametrize("name", X64)
def test_translations_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    peer = _open(b)
    kinds: set[str] = set()
    with open_dt(b) as d:
        for p in va_probes(b):
            kind = p.mapping.kind
            kinds.add(kind)
            ours = dt_translate(d, p.va)
            theirs = peer.translate_virtual(p.va)
            assert ours == p.expected, (kind, hex(p.va))
            if kind == "transition":
                # Documented difference: kdmp-parser's VirtTranslate needs the Present bit
                # and returns None for a transition PTE; dumptriage (like volatility3)
                # follows the frame, which is still in RAM (dump-format.md §7.5).
                assert theirs is None, hex(p.va)
                assert peer.read_virtual_page(p.va) is None, hex(p.va)
                assert d.read_virtual_or_none(p.va, PAGE) is not None
            else:  # valid 4k/2m/1g agree on the PA; prototype/pagefile: both unavailable
                assert theirs == ours, (kind, hex(p.va))
            if ours is not None and kind != "transition":
                page_va = p.va & ~0xFFF
                mine = d.read_virtual_or_none(page_va, PAGE)
                page = peer.read_virtual_page(page_va)
                assert (None if page is None else bytes(page)) == mine, (kind, hex(p.va))
        for va in unmapped_vas(b):
            assert dt_translate(d, va) is None, hex(va)
            assert peer.translate_virtual(va) is None, hex(va)
    assert {"4k", "large-2m", "large-1g", "transition", "prototype", "pagefile"} <= kinds


def test_refuses_32bit_dumps(oracle_dump: Callable[[str], BuiltDump]) -> None:
    # Peer limitation: kdmp-parser only knows PAGEDU64 ("The header looks wrong.").
    with pytest.raises(RuntimeError):
        _open(oracle_dump("x86pae_type1"))


def test_real_minidump_is_refused() -> None:
    """kdmp-parser does not read triage minidumps; dumptriage reads their header.

    Oracle: kdmp-parser 0.7.4 on triage_x64.dmp prints "Unsupported type MiniDump (0x4).",
    "The header looks wrong.", "ParseDmpHeader failed." and the binding raises RuntimeError.
    """
    path = require_shared("corpus/dumps/triage_x64.dmp")
    with pytest.raises(RuntimeError, match="Invalid kernel dump file"):
        kdmp_parser.KernelDumpParser(Path(path))
    with open_dt_path(path) as d:
        assert d.info.dump_type_code == 4
        assert d.bugcheck.code == 0x1000007E


def open_dt_path(path: Path) -> Any:
    from dumptriage import open_dump

    return open_dump(path)
