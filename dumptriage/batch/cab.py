"""CAB archives (PyPI ``cabarchive``), bounded before the library is trusted with them.

cabarchive decompresses the whole cabinet in memory, so the file's size is bounded first
and the CFDATA block headers are walked here (their ``cbUncomp`` summed, offsets checked to
advance inside the file) before it is called. The layout is Microsoft's [MS-CAB] 2.1-2.4:
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-cab/
CFHEADER is 36 bytes (cFolders at 26, cFiles at 28, flags at 30; with flag 0x0004 the
cbCFHeader/cbCFFolder/cbCFData reserve sizes follow), CFFOLDER is coffCabStart (4),
cCFData (2), typeCompress (2) plus its reserve, CFDATA is csum (4), cbData (2), cbUncomp (2)
plus its reserve, then cbData bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from dumptriage.batch.archives import (
    ArchiveLimits,
    Budget,
    Extracted,
    Member,
    Refused,
    temp_file,
    unsafe_name,
)
from dumptriage.batch.errors import ArchiveRefused
from dumptriage.batch.hashing import Hasher
from dumptriage.batch.sniffing import HEAD, member_kind

FLAG_RESERVE = 0x0004


def declared_expansion(buf: bytes, source: str, limits: ArchiveLimits) -> int:
    """The sum of every CFDATA block's cbUncomp (raises ArchiveRefused when it is not
    walkable or too large)."""
    def bad(why: str) -> ArchiveRefused:
        return ArchiveRefused(source, f"not a readable CAB: {why}")

    if len(buf) < 36 or buf[:4] != b"MSCF":
        raise bad("no CFHEADER")
    folders, files, flags = struct.unpack_from("<HHH", buf, 26)
    if files > limits.max_members:
        raise ArchiveRefused(source, f"archive refused: {files} members, more than "
                             f"{limits.max_members}")
    offset, folder_reserve, data_reserve = 36, 0, 0
    if flags & FLAG_RESERVE:
        if len(buf) < 40:
            raise bad("truncated CFHEADER reserve")
        header_reserve, folder_reserve, data_reserve = struct.unpack_from("<HBB", buf, 36)
        offset = 40 + header_reserve
    total = 0
    for i in range(folders):
        at = offset + i * (8 + folder_reserve)
        if at + 8 > len(buf):
            raise bad(f"CFFOLDER {i} past the end of the file")
        start, blocks, _ = struct.unpack_from("<IHH", buf, at)
        pos = start
        for _ in range(blocks):
            if pos + 8 > len(buf):
                raise bad(f"CFDATA block of folder {i} past the end of the file")
            cb_data, cb_uncomp = struct.unpack_from("<HH", buf, pos + 4)
            total += cb_uncomp
            if total > limits.cab_max_total:
                raise ArchiveRefused(source, "archive refused: more than "
                                     f"{limits.cab_max_total >> 20} MiB expanded")
            pos += 8 + data_reserve + cb_data  # always advances: no loop on a cycle
    return total


def cab_members(path: Path, limits: ArchiveLimits, tmpdir: str | None = None
                ) -> Iterator[Member]:
    """The dump and transcript members of a CAB, each written to a temporary file."""
    from cabarchive import CabArchive  # imported on first use: only CAB inputs pay for it

    source = str(path)
    size = path.stat().st_size
    if size > limits.cab_max_input:
        raise ArchiveRefused(source, f"CAB larger than {limits.cab_max_input >> 20} MiB: "
                             "not read")
    buf = path.read_bytes()[: limits.cab_max_input]
    expanded = declared_expansion(buf, source, limits)
    budget = Budget(source, size, limits, limits.cab_max_total)
    budget.add("(all)", expanded)  # the ratio check, on the sum of the block sizes
    try:
        archive = CabArchive(buf)
    except Exception as err:  # third-party parser on hostile bytes: any failure is "bad"
        raise ArchiveRefused(source, f"not a readable CAB: {type(err).__name__}: "
                             f"{err}") from err
    del buf
    for name in sorted(archive):
        budget.member(name)
        why = unsafe_name(name)
        if why is not None:
            yield Refused(name, why)
            continue
        data = archive[name].buf or b""
        kind = member_kind(name, data[:HEAD])
        if kind is None:
            continue
        hasher = Hasher()
        hasher.update(data)
        with temp_file(tmpdir) as out:
            out.write(data)
            temp = out.name
        try:
            yield Extracted(name, temp, hasher.hexdigest(), len(data), kind)
        finally:
            Path(temp).unlink()
