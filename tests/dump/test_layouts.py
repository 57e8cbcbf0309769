"""The per-build offset tables: every entry sourced, ranges disjoint, lookups right."""

from __future__ import annotations

import itertools
from datetime import UTC

import pytest

from dumptriage.dump.kernel.layouts import (
    all_layouts,
    dbgkd_version_layout,
    kernel_layout,
    kpcr_layout,
    kuser_layout,
    ldr_layout,
    nearest_layout,
)

SOURCES = {"ntdiff-w7x86", "ntdiff-w7x64", "ntdiff-ldr", "sheet-5.2", "sheet-6.1", "sheet-6.2",
           "sheet-12", "ntdiff-w7x86-kpcr", "ntdiff-kuser", "hung-2.3", "hung-3.3", "hung-3.4"}


def test_every_layout_names_known_sources() -> None:
    for layout in all_layouts():
        assert layout.sources and set(layout.sources) <= SOURCES, layout.id
    for arch in ("x86", "x64"):
        ldr = ldr_layout(arch)
        assert ldr is not None and set(ldr.sources) <= SOURCES


def test_build_ranges_do_not_overlap() -> None:
    for arch in ("x86", "x64"):
        ranges = sorted((lay.min_build, lay.max_build) for lay in all_layouts()
                        if lay.arch == arch)
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end < start


@pytest.mark.parametrize(("arch", "build", "layout_id"), [
    ("x86", 7601, "win7-x86"), ("x64", 7601, "win7-x64"), ("x64", 9600, "win8-x64"),
    ("x86", 9600, "win8-x86"), ("x64", 10240, "win10-x64"), ("x64", 19045, "win10-x64"),
    ("x64", 22000, "win10-x64"), ("x64", 26100, "win10-x64"), ("x86", 19041, "win10-x86"),
])
def test_lookup_by_build(arch: str, build: int, layout_id: str) -> None:
    layout = kernel_layout(arch, build)
    assert layout is not None and layout.id == layout_id


def test_documented_offsets_are_pinned() -> None:
    # ntdiff Win7 SP1 x86 _KTHREAD: InitialStack 0x28, StackLimit 0x2c, StackBase 0x190.
    w7x86 = kernel_layout("x86", 7601)
    assert w7x86 is not None
    assert (w7x86.kthread_initial_stack, w7x86.kthread_stack_limit,
            w7x86.kthread_stack_base) == (0x28, 0x2C, 0x190)
    # ntdiff Win7 SP1 x64 _KTHREAD: StackBase 0x278; KPRCB ContextFrame at 0x120 (sheet 6.2).
    w7x64 = kernel_layout("x64", 7601)
    assert w7x64 is not None
    assert (w7x64.kthread_stack_base, w7x64.prcb_proc_state_context) == (0x278, 0x120)
    # KLDR_DATA_TABLE_ENTRY (sheet 5.2): x86 DllBase 0x18 / BaseDllName 0x2C; x64 0x30 / 0x58.
    x86, x64 = ldr_layout("x86"), ldr_layout("x64")
    assert x86 is not None and x64 is not None
    assert (x86.dll_base, x86.size_of_image, x86.base_dll_name) == (0x18, 0x20, 0x2C)
    assert (x64.dll_base, x64.size_of_image, x64.base_dll_name, x64.timestamp) == (
        0x30, 0x40, 0x58, 0x80)


def test_guest_structure_offsets_are_pinned() -> None:
    """The tables a vmcore is read through without a KDBG (hung-guest-dumps.md 3.3, 3.4;
    ntdiff Win7 SP1 x86 _KPCR.h, _KUSER_SHARED_DATA.h, Win7 SP1 x64 _KPRCB.h)."""
    x64, x86 = kpcr_layout("x64"), kpcr_layout("x86")
    assert x64 is not None and x86 is not None
    assert (x64.self_pointer, x64.current_prcb, x64.idt_base, x64.prcb, x64.irql) == (
        0x18, 0x20, 0x38, 0x180, None)
    assert (x86.self_pointer, x86.current_prcb, x86.irql, x86.kd_version_block, x86.prcb,
            x86.gdt_selector) == (0x1C, 0x20, 0x24, 0x34, 0x120, 0x30)
    for arch in ("x64", "x86"):
        layout = kpcr_layout(arch)
        assert layout is not None and set(layout.sources) <= SOURCES
    kuser = kuser_layout()
    assert (kuser.x64_va, kuser.x86_va) == (0xFFFFF78000000000, 0xFFDF0000)
    assert (kuser.nt_build_number, kuser.nt_product_type, kuser.nt_major_version,
            kuser.suite_mask) == (0x260, 0x264, 0x26C, 0x2D0)
    version = dbgkd_version_layout()
    assert (version.minor_version, version.kern_base, version.ps_loaded_module_list) == (
        0x02, 0x10, 0x18)
    w7x64, w7x86 = kernel_layout("x64", 7601), kernel_layout("x86", 7601)
    assert w7x64 is not None and w7x86 is not None
    assert (w7x64.prcb_idle_thread, w7x64.prcb_dpc_routine_active, w7x64.prcb_dpc_stack) == (
        0x18, 0x21DA, 0x21C0)
    assert (w7x86.prcb_idle_thread, w7x86.prcb_dpc_routine_active, w7x86.prcb_dpc_stack) == (
        0x0C, 0x1932, 0x1908)


def test_unknown_build_gets_the_nearest_layout() -> None:
    assert kernel_layout("x64", 30000) is None
    nearest = nearest_layout("x64", 30000)
    assert nearest is not None and nearest.id == "win10-x64"
    assert kernel_layout("x86", 2600) is None
    assert nearest_layout("arm64", 22000) is None


def test_filetime_limit_is_the_last_representable_day() -> None:
    from datetime import datetime, timedelta

    from dumptriage.dump.containers.header import _FILETIME_MAX, filetime_to_iso

    epoch = datetime(1601, 1, 1, tzinfo=UTC)
    last = datetime(9999, 12, 31, tzinfo=UTC)
    assert (last - epoch) // timedelta(microseconds=1) * 10 == _FILETIME_MAX
    assert filetime_to_iso(_FILETIME_MAX) == "9999-12-31T00:00:00.000Z"
    assert filetime_to_iso(_FILETIME_MAX + 1) is None


def test_compiled_kernel_layouts_are_fresh() -> None:
    # python -m dumptriage.dump.kernel.layouts.compile rewrites kernel.json from kernel.toml.
    from dumptriage.dump.kernel import layouts

    assert layouts._data() == layouts.parse_toml()
