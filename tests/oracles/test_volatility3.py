"""volatility3 against dumptriage on the builder's dumps (x86, x86 PAE, x64; types 1, 5, 6).

volatility3 2.28.2 reads DumpType 1 and 5 with WindowsCrashDump32Layer/64Layer; it refuses
6, which it reads here through a subclass that routes 6 to its type-5 loader (the layouts
are identical, dump-format.md §2.3). Its Windows Intel layers follow transition PTEs, as
dumptriage does; a pagefile PTE raises SwappedInvalidAddressException (with the page-file
offset, which dumptriage does not expose), a prototype PTE a PagedInvalidAddressException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dumptriage.synth import BuiltDump
from tests.oracles._common import (
    PAGE,
    SPECS,
    absent_pfns,
    dt_translate,
    open_dt,
    present_pfns,
    same_optional,
    unmapped_vas,
    va_probes,
)
from tests.oracles._volatility import open_volatility

from volatility3.framework import exceptions  # isort: skip  (after the importorskip)
from volatility3.framework.layers import crash  # isort: skip

ALL = list(SPECS)


def _open(b: BuiltDump) -> tuple[Any, Any]:
    assert b.path is not None
    return open_volatility(b.path, b.arch, b.pae, b.dtb, allow_type6=b.dump_type == 6)


def _vol_translate(kernel: Any, va: int) -> int | None:
    try:
        return int(kernel.translate(va)[0])
    except exceptions.InvalidAddressException:
        return None


@pytest.mark.parametrize("name", [n for n in ALL if n.endswith("type6")])
def test_stock_layer_refuses_type6(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    # Peer limitation: supported_dumptypes = [0x01, 0x05] in volatility3 2.28.2.
    b = oracle_dump(name)
    assert b.path is not None
    with pytest.raises(crash.WindowsCrashDumpFormatException, match="unsupported dump format"):
        open_volatility(b.path, b.arch, b.pae, b.dtb)


@pytest.mark.parametrize("name", ALL)
def test_header_fields_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    crash_layer, _ = _open(b)
    h = crash_layer.get_header()
    with open_dt(b) as d:
        info = d.info
        assert int(h.DumpType) == info.dump_type_code == b.dump_type
        assert int(h.BugCheckCode) == d.bugcheck.code
        assert [int(a) for a in h.BugCheckCodeParameter] == list(d.bugcheck.args)
        assert same_optional(info.directory_table_base, int(h.DirectoryTableBase))
        assert int(h.NumberProcessors) == info.processors
        assert same_optional(info.kd_debugger_data_block, int(h.KdDebuggerDataBlock))
        assert same_optional(info.ps_loaded_module_list, int(h.PsLoadedModuleList))
        assert same_optional(info.ps_active_process_head, int(h.PsActiveProcessHead))
        assert same_optional(info.pfn_database, int(h.PfnDataBase))
        assert int(h.MachineImageType) == info.machine
        assert int(h.MinorVersion) == info.os.build
        if b.arch == "x86":
            assert bool(int(h.PaeEnabled)) == info.pae == b.pae


@pytest.mark.parametrize("name", ALL)
def test_physical_pages_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    crash_layer, _ = _open(b)
    with open_dt(b) as d:
        for pfn in present_pfns(b):
            assert bytes(crash_layer.read(pfn * PAGE, PAGE)) == d.read_physical(
                pfn * PAGE, PAGE), hex(pfn)
        for pfn in absent_pfns(b):
            assert d.read_physical_or_none(pfn * PAGE, PAGE) is None, hex(pfn)
            with pytest.raises(exceptions.InvalidAddressException):
                crash_layer.read(pfn * PAGE, PAGE)


@pytest.mark.parametrize("name", ALL)
def test_translations_agree(name: str, oracle_dump: Callable[[str], BuiltDump]) -> None:
    b = oracle_dump(name)
    _, kernel = _open(b)
    kinds: set[str] = set()
    with open_dt(b) as d:
        for p in va_probes(b):
            kind = p.mapping.kind
            kinds.add(kind)
            ours = dt_translate(d, p.va)
            assert ours == p.expected, (kind, hex(p.va))
            theirs = _vol_translate(kernel, p.va)
            if ours is not None and d.read_physical_or_none(ours & ~0xFFF, 1) is None:
                # Documented difference: volatility3's public translate() (Intel._mapping)
                # also requires the target frame to be in the physical layer, so a VA
                # whose page the dump left out raises InvalidAddressException. dumptriage
                # (and kdmp-parser) return the PA and fail only on the read. Its page
                # walk itself, Intel._translate(), gives the same PA as ours.
                assert theirs is None, (kind, hex(p.va))
                assert kernel._translate(p.va)[0] == ours, (kind, hex(p.va))
            else:
                # Both follow transition PTEs (dump-format.md §7.5) and agree on every PA.
                assert theirs == ours, (kind, hex(p.va))
            if kind == "pagefile":
                with pytest.raises(exceptions.SwappedInvalidAddressException) as err:
                    kernel.translate(p.va)
                assert err.value.swap_offset == 0x1234 << 12  # the builder's page-file page
            if ours is not None:
                page_va = p.va & ~0xFFF
                mine = d.read_virtual_or_none(page_va, PAGE)
                if mine is None:  # a large page whose frame the dump does not hold
                    assert b.dump_type == 6, (kind, hex(p.va))
                    with pytest.raises(exceptions.InvalidAddressException):
                        kernel.read(page_va, PAGE)
                else:
                    assert bytes(kernel.read(page_va, PAGE)) == mine, (kind, hex(p.va))
        for va in unmapped_vas(b):
            assert dt_translate(d, va) is None, hex(va)
            assert _vol_translate(kernel, va) is None, hex(va)
    large = {"x64": {"large-2m", "large-1g"}, "x86": {"large-2m" if b.pae else "large-4m"}}
    assert {"4k", "transition", "prototype", "pagefile"} | large[b.arch] <= kinds
