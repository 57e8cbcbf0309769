"""Zip archives (standard library ``zipfile``), member by member within ArchiveLimits."""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

from dumptriage.batch.archives import (
    ArchiveLimits,
    Budget,
    Extracted,
    Member,
    Refused,
    TooLarge,
    copy_member,
    temp_file,
    unsafe_name,
)
from dumptriage.batch.errors import ArchiveRefused
from dumptriage.batch.sniffing import HEAD, member_kind


def _zip_entries(path: Path, limits: ArchiveLimits) -> None:
    """Refuse before zipfile reads a central directory of more entries than allowed."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        tail_len = min(size, 65536 + 22)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise ArchiveRefused(str(path), "not a readable zip: no end of central directory")
    entries = struct.unpack_from("<H", tail, at + 10)[0]
    if entries == 0xFFFF:  # zip64: the members are counted one by one instead
        return
    if entries > limits.max_members:
        raise ArchiveRefused(str(path), f"archive refused: {entries} members, more than "
                             f"{limits.max_members}")


def zip_members(path: Path, limits: ArchiveLimits, tmpdir: str | None = None
                ) -> Iterator[Member]:
    """The dump and transcript members of a zip, each extracted while it is looked at."""
    source = str(path)
    _zip_entries(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
        raise ArchiveRefused(source, f"not a readable zip: {err}") from err
    budget = Budget(source, path.stat().st_size, limits, limits.max_total)
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            budget.member(info.filename)
            yield from _zip_member(zf, info, budget, limits, tmpdir)


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget,
                limits: ArchiveLimits, tmpdir: str | None) -> Iterator[Member]:
    name = info.filename
    why = unsafe_name(name)
    if why is not None:
        yield Refused(name, why)
        return
    if info.flag_bits & 0x1:
        yield Refused(name, "encrypted member: not read")
        return
    try:
        with zf.open(info) as stream:
            head = stream.read(HEAD)
            budget.add(name, len(head))
            kind = member_kind(name, head)
            if kind is None:
                return
            with temp_file(tmpdir) as out:
                temp = out.name
                try:
                    digest, size = copy_member(stream.read, head, out, name, budget,
                                         limits.max_member_size)
                except TooLarge as err:
                    out.close()
                    os.unlink(temp)
                    yield Refused(name, str(err))
                    return
                except BaseException:
                    # A refused archive (the budget), a corrupt stream or an interrupt
                    # part-way: the half-written member must not stay behind.
                    out.close()
                    os.unlink(temp)
                    raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError) as err:  # zlib/bz2/lzma errors come as these
        yield Refused(name, f"member not readable: {type(err).__name__}: {err}")
        return
    try:
        yield Extracted(name, temp, digest, size, kind)
    finally:
        os.unlink(temp)
