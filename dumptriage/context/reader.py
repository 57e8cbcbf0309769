"""One bounded reader for every untrusted host-side file, folder and bundle.

Host files come from other machines and other people: a FIFO would block ``open()``
forever, a device never ends, a ``.tar.gz`` of zeros expands a thousandfold, a symlink can
point at its own folder. Everything the loader reads goes through here:

* regular files only, checked with ``os.stat`` *before* ``open`` and again with
  ``fstat`` after an ``O_NONBLOCK`` open (the path may be swapped in between);
* a size limit, reported as "file larger than N MiB", never a silent cut;
* folders walked without following symlinked folders (no loops), to a bounded depth
  and number of entries; what is skipped is said in a note;
* bundles read member by member from the compressed stream (``tarfile`` stream mode:
  no index of all headers first), with limits on member count, total expanded bytes and
  expansion ratio checked as each header arrives, stopping at the first excess and
  naming the member.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dumptriage.errors import ContextParseError

MIB = 1024 * 1024
MAX_FILE = 16 * MIB  # the largest host-side text file read (libvirt logs are rotated smaller)
MAX_BUNDLE_TOTAL = 32 * MIB  # total expanded bytes of one bundle (collect writes ~5 MiB)
MAX_MEMBERS = 500  # members of one bundle (collect writes about 15)
MAX_RATIO = 100  # expanded / compressed, once more than RATIO_FLOOR has expanded
RATIO_FLOOR = 4 * MIB
MAX_DEPTH = 8  # folder levels below a --context folder
MAX_ENTRIES = 2000  # files and folders seen in one --context folder
GZIP_MAGIC = b"\x1f\x8b"

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


def _what(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _os_error(path: str | Path, err: OSError) -> ContextParseError:
    if isinstance(err, FileNotFoundError):
        return ContextParseError(path, None, "no such file or directory")
    return ContextParseError(path, None, err.strerror or str(err))


def check_regular(path: str | Path) -> os.stat_result:
    """``os.stat`` the path; a non-regular file is ContextParseError before any open."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise _os_error(path, err) from err
    if not stat.S_ISREG(st.st_mode):
        raise ContextParseError(path, None, f"not a regular file ({_what(st.st_mode)}): "
                                "only regular host-side files are read")
    return st


def too_large(limit: int) -> str:
    return f"file larger than {limit // MIB} MiB (the limit for a host-side file)"


def read_file(path: str | Path, limit: int = MAX_FILE) -> bytes:
    """The whole file, at most ``limit`` bytes, or ContextParseError saying why not."""
    st = check_regular(path)
    if st.st_size > limit:
        raise ContextParseError(path, None, too_large(limit))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise _os_error(path, err) from err
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after the stat above
            raise ContextParseError(path, None, "not a regular file (changed while opening)")
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew after the stat
        raise ContextParseError(path, None, too_large(limit))
    return data


@dataclass(frozen=True)
class Skipped:
    """A folder entry that was not read, and why (becomes a note)."""

    path: str
    reason: str


def walk(root: Path) -> Iterator[Path | Skipped]:
    """Regular files under ``root`` (files before subfolders, by name); the rest as ``Skipped``.

    Symlinks to files are followed (the target is then checked like any file); symlinks
    to folders are not, so a link loop cannot recurse.
    """
    seen = [0]
    yield from _walk(root, 0, seen)


def _walk(folder: Path, depth: int, seen: list[int]) -> Iterator[Path | Skipped]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as err:
        yield Skipped(str(folder), f"folder not readable: {err.strerror or err}")
        return
    folders: list[Path] = []
    for entry in entries:
        seen[0] += 1
        if seen[0] > MAX_ENTRIES:
            yield Skipped(str(folder), f"more than {MAX_ENTRIES} entries: the rest not read")
            return
        path = Path(entry.path)
        if entry.is_symlink():
            try:
                target = os.stat(path)
            except OSError as err:
                yield Skipped(str(path), f"broken or looping symlink: {err.strerror or err}")
                continue
            if stat.S_ISDIR(target.st_mode):
                yield Skipped(str(path), "symlink to a folder: not followed")
                continue
            yield path
        elif entry.is_dir(follow_symlinks=False):
            folders.append(path)
        else:
            yield path
    for sub in folders:
        if depth + 1 > MAX_DEPTH:
            yield Skipped(str(sub), f"more than {MAX_DEPTH} folder levels deep: not read")
            continue
        yield from _walk(sub, depth + 1, seen)
        if seen[0] > MAX_ENTRIES:
            return


class BundleLimits:
    """Counts what a bundle has expanded so far and refuses at the first excess."""

    def __init__(self, source: str, compressed: int):
        self.source = source
        self.compressed = max(compressed, 1)
        self.members = 0
        self.expanded = 0

    def admit(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            self._refuse(member, f"more than {MAX_MEMBERS} members")
        if member.size > MAX_FILE:
            self._refuse(member, f"member larger than {MAX_FILE // MIB} MiB")
        # The header block plus the data rounded up to 512-byte blocks, as it is stored.
        self.expanded += tarfile.BLOCKSIZE + -(-member.size // tarfile.BLOCKSIZE) * 512
        if self.expanded > MAX_BUNDLE_TOTAL:
            self._refuse(member, f"more than {MAX_BUNDLE_TOTAL // MIB} MiB expanded")
        if self.expanded > RATIO_FLOOR and self.expanded > MAX_RATIO * self.compressed:
            self._refuse(member, f"expands more than {MAX_RATIO}x "
                         f"({self.compressed} bytes compressed)")

    def _refuse(self, member: tarfile.TarInfo, why: str) -> None:
        raise ContextParseError(self.source, None, f"bundle refused at member "
                                f"{member.name!r}: {why}")
