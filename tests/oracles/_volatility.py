"""Open a crash dump with volatility3 in a bare Context (no symbols, no automagic).

FileLayer -> WindowsCrashDump32Layer/64Layer (physical) -> WindowsIntel / WindowsIntelPAE /
WindowsIntel32e (virtual, page_map_offset = the header's DirectoryTableBase).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

import pytest

volatility3 = pytest.importorskip(
    "volatility3.framework", reason="volatility3 is not installed (pip install -e '.[test]')")

from volatility3.framework import contexts  # noqa: E402
from volatility3.framework.layers import crash, intel, physical  # noqa: E402


@functools.cache
def type6_as_5(base: type) -> type:
    """volatility3 2.28.2 lists DumpType 1 and 5 only. A kernel bitmap dump (6) has the
    same on-disk layout as 5 (BMP header "SDMP" instead of "FDMP", dump-format.md §2.3;
    volatility3 PR #1990), so this subclass lets it read 6 through its type-5 loader."""

    class Bitmap6As5(base):  # type: ignore[misc]
        supported_dumptypes: ClassVar[list[int]] = [0x1, 0x5, 0x6]
        dump_type: int

        def _load_segments(self) -> None:
            if self.dump_type == 6:
                self.dump_type = 5
            super()._load_segments()

    return Bitmap6As5


@functools.cache
def _stock_64() -> type:
    return crash.WindowsCrashDump64Layer  # type: ignore[no-any-return]


def open_volatility(path: Path, arch: str, pae: bool, dtb: int, *,
                    allow_type6: bool = False) -> tuple[Any, Any]:
    """(crash layer, kernel virtual layer)."""
    ctx = contexts.Context()
    ctx.config["base.location"] = path.resolve().as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "base", "base"))
    ctx.config["crash.base_layer"] = "base"
    cls: type = crash.WindowsCrashDump64Layer if arch == "x64" else crash.WindowsCrashDump32Layer
    if allow_type6:
        cls = type6_as_5(cls)
    ctx.add_layer(cls(ctx, "crash", "crash"))
    ctx.config["kernel.memory_layer"] = "crash"
    ctx.config["kernel.page_map_offset"] = dtb
    paging = (intel.WindowsIntel32e if arch == "x64"
              else intel.WindowsIntelPAE if pae else intel.WindowsIntel)
    ctx.add_layer(paging(ctx, "kernel", "kernel"))
    return ctx.layers["crash"], ctx.layers["kernel"]
