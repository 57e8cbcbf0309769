"""The content hash that keys the history store, computed in chunks (memory stays at one
block whatever the file's size).

``sha256`` over the file in 64 KiB blocks, where a block that is all zero bytes is fed as the
single byte ``Z`` and any other block as ``D`` plus its bytes, then the length. The folding
makes the key depend on the content only (a sparse copy and a plain copy of one dump hash
alike) while letting sparse files skip their holes: ``SEEK_DATA``/``SEEK_HOLE`` find them
without reading. Kernel dumps are mostly zero pages when the guest had free memory, and the
synthetic ones are sparse, which is why this and not ``sha256sum``. The encoding is
injective for a given length, so collisions are as hard as sha256's.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

BLOCK = 1 << 16
PREFIX = b"dumptriage-content-v1\0"
_ZERO = bytes(BLOCK)


class Hasher:
    """Feed bytes in order (``update``); blocks are folded as described above."""

    def __init__(self) -> None:
        self._h = hashlib.sha256(PREFIX)
        self._pending = bytearray()
        self.length = 0

    def update(self, data: bytes | memoryview) -> None:
        self.length += len(data)
        if not self._pending and len(data) == BLOCK:
            self._block(data)
            return
        self._pending += data
        while len(self._pending) >= BLOCK:
            self._block(memoryview(self._pending)[:BLOCK])
            del self._pending[:BLOCK]

    def zero_blocks(self, count: int) -> None:
        """``count`` whole zero blocks (a hole), at a block boundary."""
        if self._pending:
            raise ValueError("zero_blocks off a block boundary")
        self._h.update(b"Z" * count)
        self.length += count * BLOCK

    def _block(self, block: bytes | memoryview) -> None:
        # bytes == bytes is a memcmp; memoryview == bytes compares item by item (slow).
        data = block if isinstance(block, bytes) else bytes(block)
        if data == (_ZERO if len(data) == BLOCK else bytes(len(data))):
            self._h.update(b"Z")
        else:
            self._h.update(b"D")
            self._h.update(data)

    def hexdigest(self) -> str:
        if self._pending:
            self._block(bytes(self._pending))
            self._pending.clear()
        h = self._h.copy()
        h.update(self.length.to_bytes(8, "little"))
        return h.hexdigest()


def _extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the data regions; the whole file where holes cannot be asked for."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:  # nothing but hole to the end
                return
            yield pos, size  # EINVAL: the file system does not say
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        pos = end


def hash_file(path: str | os.PathLike[str], check: Callable[[], None] | None = None) -> str:
    """The content hash of a regular file. ``check`` is called between blocks (cancel)."""
    with open(path, "rb", buffering=0) as fh:
        return hash_open_file(fh, check)


def hash_open_file(fh: BinaryIO, check: Callable[[], None] | None = None) -> str:
    fd = fh.fileno()
    size = os.fstat(fd).st_size
    hasher = Hasher()
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    done = 0  # always a multiple of BLOCK until the last block
    has_holes = hasattr(os, "SEEK_DATA")
    extents = _extents(fd, size) if has_holes else iter([(0, size)])
    for start, end in extents:
        first = start // BLOCK * BLOCK
        if first > done:
            hasher.zero_blocks((first - done) // BLOCK)
            done = first
        last = min(-(-end // BLOCK) * BLOCK, size)
        while done < last:
            n = os.preadv(fd, [view[: min(BLOCK, last - done)]], done)
            if n <= 0:  # the file shrank under us: hash what there was
                return hasher.hexdigest()
            hasher.update(view[:n])
            done += n
            if check is not None:
                check()
    if done < size:
        whole = (size - done) // BLOCK
        if whole:
            hasher.zero_blocks(whole)
        if size - done - whole * BLOCK:
            hasher.update(bytes(size - done - whole * BLOCK))
    return hasher.hexdigest()


def hash_stream(read: Callable[[int], bytes], sink: Callable[[bytes], object] | None = None
                ) -> tuple[str, int]:
    """Hash a stream (an archive member), passing each chunk to ``sink`` as well."""
    hasher = Hasher()
    while True:
        chunk = read(BLOCK)
        if not chunk:
            return hasher.hexdigest(), hasher.length
        hasher.update(chunk)
        if sink is not None:
            sink(chunk)
