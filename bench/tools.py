"""The three readers behind one tiny interface, each imported only when it is asked for.

- open_bugcheck(tool, path): open the dump, read the bugcheck code and 4 args, close.
- open_pages(tool, path): open the dump and return (read_page(va) -> bytes | None, close).

Nothing here imports a tool at module level: the child processes of bench/run.py import
this module and must pay only for the tool they measure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

TOOLS = ("dumptriage", "kdmp-parser", "volatility3")
PAGE = 0x1000

BugCheck = tuple[int, tuple[int, ...]]
PageReader = Callable[[int], "bytes | None"]


def preload(tool: str) -> None:
    """Import a tool's package (so that import time can be told apart from open time)."""
    if tool == "dumptriage":
        import dumptriage  # noqa: F401
    elif tool == "kdmp-parser":
        import kdmp_parser  # noqa: F401
    elif tool == "volatility3":
        from volatility3.framework.layers import crash, intel  # noqa: F401
    else:
        raise ValueError(f"unknown tool {tool!r}")


def open_bugcheck(tool: str, path: Path) -> BugCheck:
    if tool == "dumptriage":
        from dumptriage import open_dump

        with open_dump(path) as d:
            bugcheck = d.bugcheck
            assert bugcheck is not None  # the bench dumps are crash dumps
            return bugcheck.code, tuple(bugcheck.args)
    if tool == "kdmp-parser":
        import kdmp_parser

        # Keep the parser alive while reading: .header is a view into the C++ parser's
        # memory, and reading it after the parser is freed crashes (SIGSEGV).
        parser = kdmp_parser.KernelDumpParser(path)
        h = parser.header
        result = int(h.BugCheckCode), tuple(int(a) for a in h.BugCheckCodeParameter)
        del h, parser
        return result
    if tool == "volatility3":
        ctx, crash_layer = _volatility_crash(path)
        try:
            h = crash_layer.get_header()
            return int(h.BugCheckCode), tuple(int(a) for a in h.BugCheckCodeParameter)
        finally:
            ctx.layers["base"].destroy()
    raise ValueError(f"unknown tool {tool!r}")


def open_pages(tool: str, path: Path) -> tuple[PageReader, Callable[[], None]]:
    """Open a 64-bit dump for virtual page reads through its DirectoryTableBase."""
    if tool == "dumptriage":
        from dumptriage import open_dump

        d = open_dump(path)
        return (lambda va: d.read_virtual_or_none(va, PAGE)), d.close
    if tool == "kdmp-parser":
        import kdmp_parser

        p = kdmp_parser.KernelDumpParser(path)

        def kdmp_read(va: int) -> bytes | None:
            page = p.read_virtual_page(va)
            return None if page is None else bytes(page)

        return kdmp_read, lambda: None
    if tool == "volatility3":
        return _volatility_pages(path)
    raise ValueError(f"unknown tool {tool!r}")


def _volatility_crash(path: Path) -> tuple[Any, Any]:
    """A bare volatility3 Context (no symbols, no automagic): FileLayer -> crash layer."""
    from volatility3.framework import contexts
    from volatility3.framework.layers import crash, physical

    ctx = contexts.Context()
    ctx.config["base.location"] = path.resolve().as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "base", "base"))
    ctx.config["crash.base_layer"] = "base"
    ctx.add_layer(crash.WindowsCrashDump64Layer(ctx, "crash", "crash"))
    return ctx, ctx.layers["crash"]


def _volatility_pages(path: Path) -> tuple[PageReader, Callable[[], None]]:
    from volatility3.framework import exceptions
    from volatility3.framework.layers import intel

    ctx, crash_layer = _volatility_crash(path)
    ctx.config["kernel.memory_layer"] = "crash"
    ctx.config["kernel.page_map_offset"] = crash_layer.dtb
    ctx.add_layer(intel.WindowsIntel32e(ctx, "kernel", "kernel"))
    kernel = ctx.layers["kernel"]

    def vol_read(va: int) -> bytes | None:
        try:
            return bytes(kernel.read(va, PAGE))
        except exceptions.InvalidAddressException:
            return None

    return vol_read, ctx.layers["base"].destroy
