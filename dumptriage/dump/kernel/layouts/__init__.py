"""Kernel structure offsets: per build in kernel.toml; per .ksy type from its flattened form.

``kernel.toml`` holds the structures that change per build (KLDR_DATA_TABLE_ENTRY, the
KPRCB/KTHREAD fallbacks), one entry per (arch, build range). ``field_offsets`` turns a
flattened .ksy type into field offsets, so readers that index into a table by hand take
the offsets from the one description instead of writing them again.
"""

from __future__ import annotations

import os
import re
import struct
from functools import cache
from typing import Any

from dumptriage.dump.containers.flat import FlatType
from dumptriage.model.record import Record


class LdrLayout(Record):
    """KLDR_DATA_TABLE_ENTRY offsets for one architecture."""

    in_load_order_links: int
    dll_base: int
    size_of_image: int
    full_dll_name: int
    base_dll_name: int
    checksum: int
    timestamp: int
    sources: tuple[str, ...]


class KernelLayout(Record):
    """Fallback KPRCB/KTHREAD offsets for an (arch, build range)."""

    id: str
    arch: str
    min_build: int
    max_build: int
    kpcr_to_prcb: int
    prcb_current_thread: int
    prcb_proc_state_context: int
    kernel_stack_size: int
    sources: tuple[str, ...]
    kthread_initial_stack: int | None = None
    kthread_stack_limit: int | None = None
    kthread_stack_base: int | None = None
    prcb_idle_thread: int | None = None
    prcb_dpc_routine_active: int | None = None  # u8, non-zero while a DPC routine runs
    prcb_dpc_stack: int | None = None  # the DPC stack's initial stack pointer


class KpcrLayout(Record):
    """KPCR offsets for one architecture (the same on every build the sources cover)."""

    self_pointer: int  # x64 Self, x86 SelfPcr: the KPCR's own address
    current_prcb: int  # x64 CurrentPrcb, x86 Prcb: KPCR + ``prcb``
    idt_base: int
    gdt_base: int
    kd_version_block: int
    prcb: int  # the embedded KPRCB
    sources: tuple[str, ...]
    irql: int | None = None  # x86 only: x64 keeps IRQL in CR8
    gdt_selector: int | None = None  # x86: the GDT entry whose base is the KPCR


class KuserLayout(Record):
    """KUSER_SHARED_DATA: where it is mapped and the version fields read from it."""

    x64_va: int
    x86_va: int
    nt_build_number: int
    nt_product_type: int
    nt_major_version: int
    nt_minor_version: int
    suite_mask: int
    sources: tuple[str, ...]


class DbgkdVersionLayout(Record):
    """DBGKD_GET_VERSION64 (what KPCR.KdVersionBlock points at)."""

    major_version: int
    minor_version: int
    machine_type: int
    kern_base: int
    ps_loaded_module_list: int
    debugger_data_list: int
    size: int
    sources: tuple[str, ...]


_HERE = os.path.dirname(os.path.abspath(__file__))


@cache
def _data() -> dict[str, Any]:
    """kernel.toml, from its JSON copy kernel.json: importing tomllib and parsing costs ~6 ms
    at start-up here, the JSON well under 1. ``python -m dumptriage.dump.kernel.layouts.compile``
    rewrites the copy; tests/dump/test_layouts.py fails when it is stale."""
    import json

    # A plain open keeps importlib.resources (tens of ms of imports) off the CLI path.
    with open(os.path.join(_HERE, "kernel.json"), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def parse_toml() -> dict[str, Any]:
    """The source of truth, kernel.toml, parsed."""
    import tomllib

    with open(os.path.join(_HERE, "kernel.toml"), "rb") as fh:
        return tomllib.load(fh)


def write_compiled() -> str:
    import json

    path = os.path.join(_HERE, "kernel.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(parse_toml(), fh, indent=1, sort_keys=True)
        fh.write("\n")
    return path


def ldr_layout(arch: str) -> LdrLayout | None:
    entry = _data()["ldr"].get(arch)
    if entry is None:
        return None
    return LdrLayout(**{**entry, "sources": tuple(entry["sources"])})


def kpcr_layout(arch: str) -> KpcrLayout | None:
    entry = _data()["kpcr"].get(arch)
    return None if entry is None else KpcrLayout(**{**entry, "sources": tuple(entry["sources"])})


def kuser_layout() -> KuserLayout:
    entry = _data()["kuser"]
    return KuserLayout(**{**entry, "sources": tuple(entry["sources"])})


def dbgkd_version_layout() -> DbgkdVersionLayout:
    entry = _data()["dbgkd_version"]
    return DbgkdVersionLayout(**{**entry, "sources": tuple(entry["sources"])})


def all_layouts() -> tuple[KernelLayout, ...]:
    return tuple(KernelLayout(**{**e, "sources": tuple(e["sources"])})
                 for e in _data()["layout"])


def kernel_layout(arch: str, build: int) -> KernelLayout | None:
    """The layout whose build range holds ``build``; None for an unknown build."""
    for layout in all_layouts():
        if layout.arch == arch and layout.min_build <= build <= layout.max_build:
            return layout
    return None


def nearest_layout(arch: str, build: int) -> KernelLayout | None:
    """Best effort for an unknown build: the closest listed range of the same arch."""
    same_arch = [layout for layout in all_layouts() if layout.arch == arch]
    if not same_arch:
        return None

    def distance(layout: KernelLayout) -> int:
        if build < layout.min_build:
            return layout.min_build - build
        return max(0, build - layout.max_build)

    return min(same_arch, key=distance)


# -- fields of the flattened .ksy types ---------------------------------------------------

def field_offsets(table: FlatType) -> dict[str, int]:
    """Byte offset of every field of a flattened .ksy type (dumptriage/formats/*_flat.py)."""
    return {name: at for name, (at, _) in field_spans(table).items()}


def field_spans(table: FlatType) -> dict[str, tuple[int, int]]:
    """(offset, size) of every field of a flattened .ksy type.

    The format has one struct code per field ("<16s24sQQ": name, driver_name, start,
    end), so a field's offset is the packed size of the codes before it.
    """
    fmt, fields, _ = table
    codes = re.findall(r"\d*[a-zA-Z?]", fmt.lstrip("<"))
    if len(codes) != len(fields):
        raise ValueError(f"{fmt!r} does not have one struct code per field of {fields!r}")
    spans, at = {}, 0
    for (name, _), code in zip(fields, codes, strict=True):
        size = struct.calcsize("<" + code)
        spans[name] = (at, size)
        at += size
    return spans


def flat_constant(table: FlatType, name: str) -> int:
    """An integer-constant instance of a flattened .ksy type (e.g. ``ofs_ldr_entry``)."""
    return dict(table[2])[name]
