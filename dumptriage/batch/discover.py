"""Find the dumps under the DIR arguments, by content, and pair each with its host files.

Folders are walked in name order (the same tree always gives the same order), one folder at
a time, without following symlinked folders, to a bounded depth; only regular files are
opened (a FIFO would block). A file the history already knows unchanged (same path, size,
mtime and inode: ``known``) is yielded as ``Known`` without being opened. The host-side
files of a folder are looked for only when one of its dumps needs them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dumptriage.batch.contextmap import ContextMap
from dumptriage.batch.sniffing import GZIP_MAGIC, HEAD, file_kind

MAX_DEPTH = 32
CONTEXT_MAX = 16 << 20  # as dumptriage.context.reader.MAX_FILE: bigger is not a host file


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class Input:
    """One dump, transcript or archive to read."""

    path: str  # as shown: the DIR argument joined with the path under it
    abspath: str  # the history's key for the file
    kind: str  # dump | text | zip | cab
    context: tuple[str, ...]
    vm: str | None
    stat: FileStat


@dataclass(frozen=True)
class Known:
    """A file the history holds unchanged (skipped unless --rescan)."""

    path: str
    abspath: str


@dataclass(frozen=True)
class Ignored:
    path: str
    reason: str


Found = Input | Known | Ignored
KnownCheck = Callable[[str, FileStat], bool]


@dataclass
class Discovery:
    roots: tuple[str, ...]
    context_map: ContextMap | None = None
    known: KnownCheck | None = None
    since_ns: int | None = None  # files last modified before this are not read

    def __iter__(self) -> Iterator[Found]:
        for root in self.roots:
            path = Path(root)
            if path.is_dir():
                yield from self._folder(path, root, "", 0)
            else:
                yield from self._files(path.parent, [(path.name, root, path.name)])

    def _folder(self, folder: Path, shown: str, relative: str, depth: int) -> Iterator[Found]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            yield Ignored(shown, f"folder not readable: {err.strerror or err}")
            return
        files, subfolders = [], []
        for entry in entries:
            sub_shown = os.path.join(shown, entry.name)
            sub_rel = f"{relative}/{entry.name}" if relative else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.name, sub_shown, sub_rel))
                elif entry.is_dir():
                    yield Ignored(sub_shown, "symlinked folder: not followed")
                else:
                    files.append((entry.name, sub_shown, sub_rel))
            except OSError as err:
                yield Ignored(sub_shown, f"not readable: {err.strerror or err}")
        yield from self._files(folder, files)
        for name, sub_shown, sub_rel in subfolders:
            if depth + 1 > MAX_DEPTH:
                yield Ignored(sub_shown, f"more than {MAX_DEPTH} folder levels deep")
                continue
            yield from self._folder(folder / name, sub_shown, sub_rel, depth + 1)

    def _files(self, folder: Path, files: list[tuple[str, str, str]]) -> Iterator[Found]:
        # Two passes: the folder's host files are known before its first dump is yielded.
        pairing = _FolderContext(folder)
        pending: list[tuple[str, str, str, str, FileStat]] = []
        for name, shown, relative in files:
            full = folder / name
            try:
                st = os.stat(full)
            except OSError as err:
                yield Ignored(shown, f"not readable: {err.strerror or err}")
                continue
            if not stat.S_ISREG(st.st_mode):
                yield Ignored(shown, "not a regular file")
                continue
            fstat = FileStat(st.st_size, st.st_mtime_ns, st.st_ino)
            abspath = os.path.abspath(full)
            if self.known is not None and self.known(abspath, fstat):
                yield Known(shown, abspath)
                continue
            if self.since_ns is not None and st.st_mtime_ns < self.since_ns:
                yield Ignored(shown, "older than --since")
                continue
            kind, head = _sniff(full)
            if kind is None:
                yield Ignored(shown, "not a dump, transcript or archive")
                continue
            if kind in ("maybe-context", "gzip"):
                pairing.candidate(full, head, kind)
                continue
            pending.append((shown, relative, abspath, kind, fstat))
        for shown, relative, abspath, kind, fstat in pending:
            context, vm = self._context(relative, abspath, pairing)
            yield Input(shown, abspath, kind, context, vm, fstat)

    def _context(self, relative: str, abspath: str, pairing: _FolderContext
                 ) -> tuple[tuple[str, ...], str | None]:
        if self.context_map is not None:
            entry = self.context_map.lookup(relative, abspath)
            if entry is not None:
                return entry.files, entry.vm
        return pairing.files(), None


def _sniff(path: Path) -> tuple[str | None, bytes]:
    try:
        with open(path, "rb", buffering=0) as fh:
            head = fh.read(8)
            if len(head) == 8 and head.startswith((b"PAGEDU", b"PK", b"MSCF", b"MDMP")):
                return file_kind(path.name, head), head
            head += fh.read(HEAD - 8)
    except OSError:
        return None, b""
    if head.startswith(GZIP_MAGIC):
        return "gzip", head
    return file_kind(path.name, head), head


class _FolderContext:
    """The host-side files of one folder, recognised when first asked for."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.candidates: list[tuple[Path, bytes, str]] = []
        self._files: tuple[str, ...] | None = None

    def candidate(self, path: Path, head: bytes, kind: str) -> None:
        self.candidates.append((path, head, kind))
        self._files = None

    def files(self) -> tuple[str, ...]:
        if self._files is None:
            self._files = tuple(str(p) for p, head, kind in self.candidates
                                if _is_host_file(p, head, kind))
        return self._files


def _is_host_file(path: Path, head: bytes, kind: str) -> bool:
    """Recognised by dumptriage.context the way analyze --context would read it."""
    from dumptriage.context import load_context
    from dumptriage.context.sniff import detect
    from dumptriage.errors import DumptriageError

    if kind == "maybe-context":
        return detect(head.decode("utf-8", "replace")) is not None
    try:  # a gzip file: a `dumptriage collect` bundle only if it loads as one
        return not load_context([path]).is_empty
    except (DumptriageError, OSError):
        return False
