"""Stack frames as the signature sees them: WinDbg-style ``module!function`` names, and the
skip list (``skip_frames.toml``) that says which frames name no owner."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from dumptriage.errors import RuleFileError

DATA_FILE = "skip_frames.toml"
# "nt+0x7f1e0" / "Ntfs+0x7ed3f": a module and an offset, no function name.
_MODULE_OFFSET = re.compile(r"^[^!+\s]+\+0x[0-9a-fA-F]+$")
_SYMBOL_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_EXTENSIONS = (".sys", ".exe", ".dll")
# A name our own walk took from the export table is the nearest export below the address,
# whatever function really holds it: "nt!MmSetAddressRangeModified+0x1c378" in the story
# dump is KeFlushMultipleRangeTb by WinDbg's symbols. Far from the export it names nothing,
# so the signature uses module+offset instead. 0x1000: most kernel functions are smaller
# than a page; a PDB's (symbol_source "pdb") or the debugger's names are always taken.
MAX_EXPORT_DISTANCE = 0x1000
_OFFSET_TAIL = re.compile(r"\+0x([0-9a-fA-F]+)$")


@dataclass(frozen=True)
class SkipEntry:
    pattern: str
    why: str
    references: tuple[str, ...]
    regex: re.Pattern[str]


@dataclass(frozen=True)
class SkipList:
    entries: tuple[SkipEntry, ...]
    aliases: dict[str, str]  # lower-case image name -> WinDbg module name

    def match(self, name: str) -> SkipEntry | None:
        for entry in self.entries:
            if entry.regex.match(name):
                return entry
        return None


@dataclass(frozen=True)
class FrameName:
    """One frame: ``module!function`` (``function`` None: only ``module+0xoffset`` known)."""

    module: str
    function: str | None
    offset: str | None
    method: str | None

    @property
    def key(self) -> str:
        if self.function is not None:
            return f"{self.module}!{self.function}"
        return f"{self.module}+{self.offset}" if self.offset else self.module

    @property
    def heuristic(self) -> bool:
        """Found by a raw stack scan: a stale return address may look like a frame."""
        return self.method == "scan"


def _pattern(text: str, source: str) -> re.Pattern[str]:
    module, sep, function = text.partition("!")
    if not sep or not module or not function:
        raise RuleFileError(source, None, f"skip pattern {text!r} is not module!function")

    def part(p: str) -> str:
        if "*" in p[:-1]:
            raise RuleFileError(source, None, f"skip pattern {text!r}: '*' only at the end")
        return re.escape(p[:-1]) + r"[^!]*" if p.endswith("*") else re.escape(p)

    return re.compile(f"^{part(module)}!{part(function)}$", re.IGNORECASE)


def parse_skip_list(data: dict[str, Any], source: str) -> SkipList:
    entries = []
    for raw in data.get("skip", []):
        try:
            pattern, why, refs = raw["pattern"], raw["why"], tuple(raw["references"])
        except (KeyError, TypeError) as err:
            raise RuleFileError(source, None, f"skip entry {raw!r}: needs pattern, why, "
                                "references") from err
        entries.append(SkipEntry(pattern, why, refs, _pattern(pattern, source)))
    aliases = {image.lower(): name for name, images in data.get("aliases", {}).items()
               for image in images}
    return SkipList(tuple(entries), aliases)


@lru_cache(maxsize=1)
def builtin_skip_list() -> SkipList:
    """The packaged skip list (read once per process; immutable)."""
    text = resources.files("dumptriage.signature").joinpath(DATA_FILE).read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise RuleFileError(DATA_FILE, None, str(err)) from err
    return parse_skip_list(data, DATA_FILE)


def module_name(image: str | None, skip: SkipList) -> str | None:
    """WinDbg's module name for an image file name: ``ntkrpamp.exe`` -> ``nt``,
    ``Ntfs.sys`` -> ``Ntfs``."""
    if not image:
        return None
    base = image.replace("\\", "/").rsplit("/", 1)[-1]
    alias = skip.aliases.get(base.lower())
    if alias is not None:
        return alias
    lower = base.lower()
    for ext in _EXTENSIONS:
        if lower.endswith(ext):
            return base[: -len(ext)]
    return base


def frame_name(frame: dict[str, Any], skip: SkipList) -> FrameName | None:
    """A report frame (``module``, ``symbol`` maybe None, ``offset``) as a FrameName.

    Symbols come as ``nt!KeBugCheckEx+0x1e`` (exports, debugger text), ``KeBugCheckEx+0x1e``
    or ``Ntfs+0x7ed3f`` (no function known); the offset into the function is dropped, since
    it differs between builds of the same function.
    """
    module = module_name(frame.get("module"), skip)
    symbol = frame.get("symbol")
    offset = frame.get("offset")
    method = frame.get("method")
    # "Ntfs+0x7ed3f" names the module only; "HalpClockInterrupt+0x50" (no "!") a function
    # of the frame's module: told apart by whether the prefix is that module's name.
    bare = isinstance(symbol, str) and _MODULE_OFFSET.match(symbol) is not None and (
        module is None or module_name(symbol.partition("+")[0], skip) == module)
    if isinstance(symbol, str) and symbol and not bare and not _far_export(frame, symbol):
        prefix, sep, function = symbol.partition("!")
        if not sep:
            prefix, function = "", symbol
        function = _SYMBOL_OFFSET.sub("", function).strip()
        owner = module or module_name(prefix, skip) or prefix
        if function and owner:
            return FrameName(owner, function, None, method)
    if module is None:
        if isinstance(symbol, str) and _MODULE_OFFSET.match(symbol):
            name, _, off = symbol.partition("+")
            return FrameName(module_name(name, skip) or name, None, off.lower(), method)
        return None
    return FrameName(module, None, str(offset).lower() if offset else None, method)


def _far_export(frame: dict[str, Any], symbol: str) -> bool:
    """A nearest-export name too far from its export to name the function (see above)."""
    if frame.get("method") == "debugger" or frame.get("symbol_source") == "pdb":
        return False
    tail = _OFFSET_TAIL.search(symbol)
    return tail is not None and int(tail[1], 16) > MAX_EXPORT_DISTANCE
