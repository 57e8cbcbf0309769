"""Two independent parsers read what the builder writes (DESIGN.md convention 2).

- kdmp-parser 0.7.4 (0vercl0k, C++ with Python bindings): 64-bit only; accepts DumpType
  1, 5, 6 and 8 (RDMP); rejects 2 ("Unknown Type 0x2"). No transition-PTE support.
- volatility3 2.28.2: WindowsCrashDump32Layer/64Layer accept DumpType 1 and 5 only; 6 is
  read here through a two-line subclass that treats it as 5 (volatility3 PR #1990 says
  type 6 is encoded identically to 5 on disk). Its WindowsIntel* layers follow transition
  PTEs and raise SwappedInvalidAddressException with the page-file offset.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dumptriage.synth import BuiltDump, DumpSpec, LargePageSpec, presets, write

X64_BITMAP_FULL = DumpSpec(arch="x64", dump_type=5, memory_mib=64,
                           large_pages=(LargePageSpec(va=0xFFFFF80490000000, size=0x200000),))
SPECS: dict[str, DumpSpec] = {
    "x64_full": presets.win10_x64_full(),
    "x64_bitmap_full": X64_BITMAP_FULL,
    "x64_bitmap_kernel": presets.win10_x64_bitmap_kernel(),
    "x64_rdmp": presets.rdmp_x64(),
    "x64_summary": presets.win7_x64_summary(),
    "x86_nonpae_full": presets.x86_nonpae_full(),
    "x86_pae_bitmap_full": presets.x86_pae_bitmap_full(),
    "x86_pae_full": DumpSpec(arch="x86", pae=True, dump_type=1, build=7601, memory_mib=32,
                             large_pages=(LargePageSpec(va=0x90000000, size=0x200000),)),
}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltDump]:
    root = tmp_path_factory.mktemp("peers")
    return {name: write(spec, root / f"{name}.dmp") for name, spec in SPECS.items()}


def _path(b: BuiltDump) -> Path:
    assert b.path is not None
    return b.path


# ---------------------------------------------------------------- kdmp-parser
@pytest.mark.parametrize("name", ["x64_full", "x64_bitmap_full", "x64_bitmap_kernel",
                                  "x64_rdmp"])
def test_kdmp_parser(name: str, dumps: dict[str, BuiltDump]) -> None:
    kdmp = pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    b = dumps[name]
    p = kdmp.KernelDumpParser(_path(b))
    assert int(p.type) == b.dump_type
    assert p.directory_table_base == b.dtb
    h = p.header
    assert h.KdDebuggerDataBlock == b.kdbg_va
    assert h.PsLoadedModuleList == b.ps_loaded_module_list
    assert h.BugCheckCode == b.spec.bugcheck[0]
    assert list(h.BugCheckCodeParameter) == list(b.spec.bugcheck[1])
    assert h.MinorVersion == b.spec.build and h.NumberProcessors == b.spec.processors
    assert p.context.Rip == b.context_ip and p.context.Rsp == b.context_sp
    for s in b.samples:
        page = p.read_physical_page(s.pa)
        assert page is not None, s.label
        assert hashlib.sha256(page).hexdigest() == s.sha256, s.label
    for m in b.mappings:
        # kdmp-parser's VirtTranslate does not follow transition PTEs: it reports None
        expected = None if m.kind == "transition" else m.pa
        assert p.translate_virtual(m.va) == expected, (m.kind, hex(m.va))


def test_kdmp_parser_rejects_summary_dumps(dumps: dict[str, BuiltDump]) -> None:
    kdmp = pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    # Peer limitation, not a builder bug: kdmp-parser 0.7.4 has no DumpType 2 reader.
    with pytest.raises(RuntimeError):
        kdmp.KernelDumpParser(_path(dumps["x64_summary"]))


# ---------------------------------------------------------------- volatility3
@functools.cache
def _bitmap6_layer() -> Any:
    crash = pytest.importorskip("volatility3.framework.layers.crash")

    class Bitmap6As5(crash.WindowsCrashDump64Layer):  # type: ignore[misc, name-defined]
        supported_dumptypes: ClassVar[list[int]] = [0x1, 0x5, 0x6]
        dump_type: int

        def _load_segments(self) -> None:
            if self.dump_type == 6:  # identical on disk to 5 (volatility3 PR #1990)
                self.dump_type = 5
            super()._load_segments()

    return Bitmap6As5


def open_volatility(b: BuiltDump) -> tuple[Any, Any, Any]:
    """A bare volatility Context: FileLayer -> crash layer -> Windows Intel layer."""
    pytest.importorskip("volatility3.framework", reason="volatility3 is not installed")
    from volatility3.framework import contexts
    from volatility3.framework.layers import crash, intel, physical

    ctx = contexts.Context()
    ctx.config["base.location"] = _path(b).resolve().as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "base", "base"))
    ctx.config["crash.base_layer"] = "base"
    if b.arch == "x64":
        cls = _bitmap6_layer() if b.dump_type == 6 else crash.WindowsCrashDump64Layer
    else:
        cls = crash.WindowsCrashDump32Layer
    ctx.add_layer(cls(ctx, "crash", "crash"))
    ctx.config["kernel.memory_layer"] = "crash"
    ctx.config["kernel.page_map_offset"] = b.dtb
    paging = (intel.WindowsIntel32e if b.arch == "x64"
              else intel.WindowsIntelPAE if b.pae else intel.WindowsIntel)
    ctx.add_layer(paging(ctx, "kernel", "kernel"))
    return ctx, ctx.layers["crash"], ctx.layers["kernel"]


@pytest.mark.parametrize("name", ["x64_full", "x64_bitmap_full", "x64_bitmap_kernel",
                                  "x86_nonpae_full", "x86_pae_bitmap_full", "x86_pae_full"])
def test_volatility3(name: str, dumps: dict[str, BuiltDump]) -> None:
    b = dumps[name]
    _, crash_layer, kernel = open_volatility(b)
    from volatility3.framework import exceptions

    hdr = crash_layer.get_header()
    assert int(hdr.DirectoryTableBase) == b.dtb
    assert int(hdr.KdDebuggerDataBlock) == b.kdbg_va
    assert int(hdr.BugCheckCode) == b.spec.bugcheck[0]
    assert int(hdr.MachineImageType) == (0x8664 if b.arch == "x64" else 0x14C)
    for s in b.samples:
        page = crash_layer.read(s.pa, 0x1000)
        assert hashlib.sha256(page).hexdigest() == s.sha256, s.label
    for m in b.mappings:
        if m.kind == "pagefile":
            with pytest.raises(exceptions.SwappedInvalidAddressException) as err:
                kernel.translate(m.va)
            assert err.value.swap_offset == 0x1234 << 12  # page-file page 0x1234
        elif m.kind == "prototype":
            with pytest.raises(exceptions.InvalidAddressException):
                kernel.translate(m.va)
        else:  # valid, large and transition pages translate
            assert kernel.translate(m.va)[0] == m.pa, (m.kind, hex(m.va))
    kdbg = kernel.read(b.kdbg_va, 0x18)
    assert kdbg[0x10:0x14] == b"KDBG"
