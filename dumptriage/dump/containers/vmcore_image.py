"""The kdump-compressed image as bytes by offset, raw or rebuilt from a flattened stream.

QEMU writes ``kdump-zlib|lzo|snappy`` as makedumpfile's *flattened* format, because it
may write to a pipe (dump/dump.c ``write_start_flat_header``, ``write_buffer``): a 4 KiB
header ("makedumpfile", type 1, version 1 as big-endian int64) and then records, each a
big-endian (offset in the image, size) pair followed by that many bytes, ended by a
(-1, -1) record (formats/qemu_vmcore.ksy; hung-guest-dumps.md section 1.2).
``makedumpfile -R`` replays the records into the plain image; QEMU 8.2's ``kdump-raw-*``
formats write that image directly.

A flattened file is read in place: the records are indexed once (three integers each, in
``array`` form) and a read at an image offset is served from the record(s) holding it;
bytes no record wrote read as zero, as in the replayed sparse file. Reads use ``pread``,
not the mapping: a fault on a mapped file maps up to 64 KiB of cached neighbours (Linux
fault-around, see memory/physical.py), and walking every record header or scanning the
descriptors through the mapping would keep most of the file resident. QEMU's records never
overlap; a file whose records do is refused rather than guessed at.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array

from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.errors import DumpFormatError
from dumptriage.formats.qemu_vmcore_flat import MAKEDUMPFILE_DATA_HEADER, MAKEDUMPFILE_HEADER
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

FLAT_SIGNATURE = b"makedumpfile"
FLAT_BLOCK = dict(MAKEDUMPFILE_HEADER[2])["len_block"]  # MAX_SIZE_MDF_HEADER, 4096
_RECORD = flat_size(MAKEDUMPFILE_DATA_HEADER)
_RECORD_FORMAT = struct.Struct(MAKEDUMPFILE_DATA_HEADER[0])
# QEMU flushes 16 KiB caches (BUFSIZE_DATA_CACHE, 4 target pages), one record each: its
# 64 MiB test guest gave 97 records. This bound (24 MiB of index) covers about 16 GiB of
# compressed pages.
MAX_RECORDS = 1 << 20
MAX_IMAGE = 1 << 52


class RawImage:
    """The image is the file (``KDUMP   `` at offset 0)."""

    def __init__(self, data: memoryview, fd: int) -> None:
        self._data = data
        self._fd = fd
        self.size = len(data)
        self.anomalies: list[Anomaly] = []

    def read(self, offset: int, size: int) -> bytes:
        """Bytes at ``offset``; short when the file ends first."""
        if offset >= self.size or size <= 0:
            return b""
        return os.pread(self._fd, min(size, self.size - offset), offset)

    def view(self, offset: int, size: int) -> memoryview | None:
        """A zero-copy view of a range held whole by the file, else None."""
        if offset + size <= self.size:
            return self._data[offset : offset + size]
        return None


class FlatImage:
    """The image a flattened stream describes, served from the stream's records."""

    def __init__(self, path: str, data: memoryview, fd: int) -> None:
        self._data = data
        self._fd = fd
        self.anomalies: list[Anomaly] = []
        _check_flat_header(path, data)
        starts, lengths, positions = self._index(path, len(data))
        self._starts, self._lengths, self._positions = starts, lengths, positions
        self.size = max((s + n for s, n in zip(starts, lengths, strict=True)), default=0)

    def _index(self, path: str, size: int) -> tuple[array[int], array[int], array[int]]:
        # Three flat arrays, not a list of tuples: an index of 1M records stays at 24 MiB.
        records = (array("q"), array("q"), array("q"))  # image offset, length, file offset
        at, ended = FLAT_BLOCK, False
        while at + _RECORD <= size:
            offset, length = _RECORD_FORMAT.unpack(os.pread(self._fd, _RECORD, at))
            if offset == -1 and length == -1:
                ended = True
                break
            if offset < 0 or length < 0 or offset + length > MAX_IMAGE:
                raise DumpFormatError(path, "makedumpfile record", at,
                                      f"offset {offset:#x} / size {length:#x} are not a "
                                      "place in a dump image")
            if len(records[0]) >= MAX_RECORDS:
                raise DumpFormatError(path, "makedumpfile record", at,
                                      f"more than {MAX_RECORDS} records: replay the file with "
                                      "`makedumpfile -R` and read the result")
            if at + _RECORD + length > size:
                self.anomalies.append(anomaly(
                    AnomalyCode.DUMP_TRUNCATED, f"makedumpfile record at {at:#x}",
                    f"its {length:#x} bytes run past the end of the file ({size:#x}): the "
                    "records before it are read"))
                length = size - at - _RECORD
                ended = True
            if length:
                records[0].append(offset)
                records[1].append(length)
                records[2].append(at + _RECORD)
            at += _RECORD + length
        if not ended:
            self.anomalies.append(anomaly(
                AnomalyCode.DUMP_TRUNCATED, "makedumpfile records",
                f"the stream stops at {at:#x} without its end record (-1, -1): the file "
                "was cut short"))
        return _sorted_index(path, records)

    def read(self, offset: int, size: int) -> bytes:
        """Bytes at ``offset`` of the image (zero where no record wrote); short past its end."""
        size = max(0, min(size, self.size - offset))
        parts: list[bytes] = []
        while size > 0:
            i = bisect.bisect_right(self._starts, offset) - 1
            start = self._starts[i] if i >= 0 else 0
            end = start + self._lengths[i] if i >= 0 else 0
            if i >= 0 and offset < end:
                take = min(size, end - offset)
                at = self._positions[i] + offset - start
                parts.append(os.pread(self._fd, take, at))
            else:  # a hole: up to the next record
                following = self._starts[i + 1] if i + 1 < len(self._starts) else self.size
                take = min(size, following - offset)
                parts.append(bytes(take))
            offset += take
            size -= take
        return b"".join(parts)

    def view(self, offset: int, size: int) -> memoryview | None:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0 or offset + size > self._starts[i] + self._lengths[i]:
            return None
        at = self._positions[i] + offset - self._starts[i]
        return self._data[at : at + size]


Image = RawImage | FlatImage  # what the kdump reader reads through


def _check_flat_header(path: str, data: memoryview) -> None:
    if len(data) < FLAT_BLOCK:
        raise DumpFormatError(path, "makedumpfile header", 0,
                              f"truncated: the file has {len(data):#x} bytes, the header "
                              f"needs {FLAT_BLOCK:#x}")
    h = read_flat(MAKEDUMPFILE_HEADER, data, 0)
    if bytes(h.signature).rstrip(b"\0") != FLAT_SIGNATURE:
        raise DumpFormatError(path, "makedumpfile header", 0,
                              f"signature {bytes(h.signature)!r} is not 'makedumpfile'")
    if h.flat_type != 1 or h.flat_version != 1:
        raise DumpFormatError(path, "makedumpfile header", 0x10,
                              f"type {h.flat_type} / version {h.flat_version} is not the "
                              "flattened format (1 / 1)")


def _sorted_index(path: str, records: tuple[array[int], array[int], array[int]]
                  ) -> tuple[array[int], array[int], array[int]]:
    """The records in image order; QEMU interleaves descriptor and page-data records."""
    starts, lengths, positions = records
    order = sorted(range(len(starts)), key=starts.__getitem__)
    out = (array("q", (starts[i] for i in order)), array("q", (lengths[i] for i in order)),
           array("q", (positions[i] for i in order)))
    end = -1
    for offset, length, at in zip(*out, strict=True):
        if offset < end:
            raise DumpFormatError(path, "makedumpfile record", at - _RECORD,
                                  f"it rewrites image bytes at {offset:#x} that an earlier "
                                  "record wrote: replay the file with `makedumpfile -R`")
        end = offset + length
    return out
