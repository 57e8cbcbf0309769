"""Zip (standard library) and CAB (``cabarchive``) archives, read member by member.

WER uploads a crash as a CAB or zip holding the dump beside Report.wer and friends. Every
member is untrusted: its name never reaches the file system (members are written to a
temporary file of our own naming, because the dump reader mmaps a path), names that would
escape a folder are refused, and expansion is bounded by member count, total size and
ratio to the archive's size, counted on the bytes actually produced, never on a size the
archive declares.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dumptriage.batch.errors import ArchiveRefused
from dumptriage.batch.hashing import BLOCK, Hasher

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one archive may expand to (README "Batch" lists them)."""

    max_members: int = 1000
    max_member_size: int = 32 * GIB  # a full kernel dump of a large guest
    max_total: int = 64 * GIB
    max_ratio: int = 200  # expanded / archive size, checked once past ratio_floor
    ratio_floor: int = 64 * MIB
    cab_max_input: int = 64 * MIB  # cabarchive parses the whole file in memory
    cab_max_total: int = 512 * MIB


@dataclass(frozen=True)
class Extracted:
    """A dump or transcript member, written to ``temp`` (deleted when iteration goes on)."""

    name: str
    temp: str
    hash: str
    size: int
    kind: str


@dataclass(frozen=True)
class Refused:
    """A member that was not read, and why (an error row)."""

    name: str
    reason: str


Member = Extracted | Refused
_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name(name: str) -> str | None:
    """Why a member name would escape the folder it is extracted to, or None."""
    parts = name.replace("\\", "/").split("/")
    if "\x00" in name:
        return "member name holds a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute member name"
    if ".." in parts:
        return "member name climbs out of the archive ('..')"
    return None


class Budget:
    """Counts expanded bytes over the whole archive and refuses at the first excess."""

    def __init__(self, source: str, compressed: int, limits: ArchiveLimits, total: int):
        self.source, self.limits, self.total_limit = source, limits, total
        self.compressed = max(compressed, 1)
        self.expanded = 0
        self.members = 0

    def member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            self.refuse(name, f"more than {self.limits.max_members} members")

    def add(self, name: str, nbytes: int) -> None:
        self.expanded += nbytes
        lim = self.limits
        if self.expanded > self.total_limit:
            self.refuse(name, f"more than {self.total_limit // MIB} MiB expanded")
        if self.expanded > lim.ratio_floor and self.expanded > lim.max_ratio * self.compressed:
            self.refuse(name, f"expands more than {lim.max_ratio}x its "
                        f"{self.compressed} bytes (a zip bomb?)")

    def refuse(self, name: str, why: str) -> None:
        raise ArchiveRefused(self.source, f"archive refused at member {name!r}: {why}")


def copy_member(read: Callable[[int], bytes], head: bytes, out: IO[bytes], name: str,
          budget: Budget, limit: int) -> tuple[str, int]:
    """Write ``head`` then the rest of the stream to ``out``, hashing and counting."""
    hasher = Hasher()
    size = 0
    chunk = head
    while chunk:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"member larger than {limit // MIB} MiB: not read")
        hasher.update(chunk)
        out.write(chunk)
        chunk = read(BLOCK)
        if chunk:
            budget.add(name, len(chunk))
    return hasher.hexdigest(), size


class TooLarge(Exception):
    pass


def temp_file(tmpdir: str | None) -> IO[bytes]:
    return tempfile.NamedTemporaryFile(prefix="dumptriage-member-", suffix=".bin",
                                       dir=tmpdir, delete=False)


def members(path: Path, kind: str, limits: ArchiveLimits, tmpdir: str | None = None
            ) -> Iterator[Member]:
    """The members of a ``zip`` or ``cab`` archive (see zipped.py and cab.py)."""
    if kind == "zip":
        from dumptriage.batch.zipped import zip_members

        return zip_members(path, limits, tmpdir)
    from dumptriage.batch.cab import cab_members

    return cab_members(path, limits, tmpdir)
