"""The ``--context-map`` file: which host-side files belong to which dumps.

A TOML file of ``[[context]]`` tables, tried in order, the first match wins::

    [[context]]
    match = "node1/vm113/**"          # glob over the dump's path under its DIR argument
    files = ["hosts/node1/vm113.xml", "hosts/node1/qemu-vm113.log"]
    vm = "vm113"                      # optional: the VM in those files (as analyze --vm)

``*`` matches within one folder level, ``**`` across levels, ``?`` one character; the glob
is also tried against the absolute path. ``files`` are relative to the map file's folder
(or absolute) and must exist. A dump no entry matches gets the host-side files of its own
folder, if any.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dumptriage.batch.errors import ContextMapError

MAX_ENTRIES = 10_000
MAX_MAP_BYTES = 4 << 20


@dataclass(frozen=True)
class MapEntry:
    pattern: str
    regex: re.Pattern[str]
    files: tuple[str, ...]
    vm: str | None


def glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


@dataclass(frozen=True)
class ContextMap:
    entries: tuple[MapEntry, ...]

    def lookup(self, relative: str, absolute: str) -> MapEntry | None:
        for entry in self.entries:
            if entry.regex.match(relative) or entry.regex.match(absolute):
                return entry
        return None


def load_context_map(path: str | Path) -> ContextMap:
    source = str(path)
    file = Path(path)
    try:
        if file.stat().st_size > MAX_MAP_BYTES:
            raise ContextMapError(source, f"larger than {MAX_MAP_BYTES >> 20} MiB")
        data = tomllib.loads(file.read_text("utf-8"))
    except OSError as err:
        raise ContextMapError(source, err.strerror or str(err)) from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ContextMapError(source, f"not valid TOML: {err}") from err
    raw_entries = data.get("context", [])
    if not isinstance(raw_entries, list) or len(raw_entries) > MAX_ENTRIES:
        raise ContextMapError(source, f"[[context]] must be a list of at most {MAX_ENTRIES}")
    entries = [_entry(raw, i, file.parent, source) for i, raw in enumerate(raw_entries, 1)]
    return ContextMap(tuple(entries))


def _entry(raw: object, index: int, base: Path, source: str) -> MapEntry:
    where = f"[[context]] #{index}"
    if not isinstance(raw, dict):
        raise ContextMapError(source, f"{where} is not a table")
    pattern, files, vm = raw.get("match"), raw.get("files"), raw.get("vm")
    if not isinstance(pattern, str) or not pattern:
        raise ContextMapError(source, f"{where}: 'match' must be a non-empty glob")
    if (not isinstance(files, list) or not files
            or not all(isinstance(f, str) for f in files)):
        raise ContextMapError(source, f"{where}: 'files' must be a list of paths")
    if vm is not None and not isinstance(vm, str):
        raise ContextMapError(source, f"{where}: 'vm' must be a string")
    resolved = []
    for name in files:
        full = Path(name) if Path(name).is_absolute() else base / name
        if not full.exists():
            raise ContextMapError(source, f"{where}: {name}: no such file or folder")
        resolved.append(str(full))
    return MapEntry(pattern, glob_regex(pattern), tuple(resolved), vm)
