"""An upload, streamed to disk as it arrives: never the whole body in memory.

A request is ``multipart/form-data`` (one file field ``dump``, any number of ``context``
file fields) or a raw ``application/octet-stream`` body (the dump alone). Parts are parsed
by python-multipart's streaming parser and written block by block to files of the job's
own folder, hashed on the way with the history store's content hash
(``batch/hashing.py``), so a known dump is recognised without reading it again. All-zero
64 KiB blocks are not written but left as holes: kernel dumps of guests with free memory
are mostly zero pages, and a 4 GiB sparse upload then costs little disk.

Every name a client sends is untrusted: a file name is only ever the last component of a
path inside the job's folder, and one that could be anything else (a separator, ``..``,
a control character, more than 255 bytes) is refused, never cleaned up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dumptriage.batch.hashing import BLOCK, Hasher
from dumptriage.batch.sniffing import binary_kind
from dumptriage.service.config import Limits

_ZERO = bytes(BLOCK)
DUMP_FIELD = "dump"
CONTEXT_FIELD = "context"
DEFAULT_NAME = "upload.dmp"  # a raw body without ?filename=


class UploadRefused(Exception):
    """The request cannot be taken: ``status`` is the HTTP status, ``str()`` one line."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def check_name(raw: str, limits: Limits, what: str) -> str:
    """``raw`` as a file name of one component, or UploadRefused saying why not."""
    if not raw:
        raise UploadRefused(400, f"{what}: the file name is empty")
    if len(raw.encode("utf-8", "surrogatepass")) > limits.max_name:
        raise UploadRefused(400, f"{what}: file name longer than {limits.max_name} bytes")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise UploadRefused(400, f"{what}: file name {raw!r} holds a control character")
    if "/" in raw or "\\" in raw:
        raise UploadRefused(400, f"{what}: file name {raw!r} has path components "
                            "(send the file's own name only)")
    if raw in (".", ".."):
        raise UploadRefused(400, f"{what}: file name {raw!r} is not a file name")
    return raw


class BlockFile:
    """A new file written from a stream of chunks: hashed, bounded, zero blocks left as holes."""

    def __init__(self, path: Path, limit: int, what: str):
        # O_EXCL|O_NOFOLLOW: the job's folder is new, so nothing may be there already.
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600)
        self.path, self.limit, self.what = path, limit, what
        self.hasher = Hasher()
        self.pending = bytearray()
        self.written = 0  # bytes of whole blocks placed (written or left as a hole)
        self.head = b""

    def write(self, data: bytes | memoryview) -> None:
        size = self.written + len(self.pending) + len(data)
        if size > self.limit:
            raise UploadRefused(413, f"{self.what}: larger than {self.limit} bytes")
        if len(self.head) < 8:
            self.head = (self.head + bytes(data[:8]))[:8]
        self.hasher.update(data)
        self.pending += data
        if len(self.pending) >= BLOCK:
            whole = len(self.pending) // BLOCK * BLOCK
            view = memoryview(self.pending)
            for at in range(0, whole, BLOCK):
                self._place(view[at: at + BLOCK])
            view.release()
            del self.pending[:whole]

    def _place(self, block: memoryview) -> None:
        data = bytes(block)
        if data != _ZERO[: len(data)]:
            os.pwrite(self.fd, data, self.written)
        self.written += len(data)

    def finish(self) -> tuple[str, int]:
        """Write the rest, give the file its length (holes included); (hash, size)."""
        try:
            if self.pending:
                self._place(memoryview(self.pending))
                self.pending.clear()
            os.ftruncate(self.fd, self.written)
        finally:
            self.close()
        return self.hasher.hexdigest(), self.written

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass(frozen=True)
class Stored:
    """One received file: where it is, what it was called, its content hash and size."""

    name: str
    path: Path
    hash: str
    size: int
    kind: str = "dump"  # dump | zip | cab (batch's Input.kind)


@dataclass
class Received:
    """Everything one request brought, once its body has been read whole."""

    folder: Path
    dump: Stored | None = None
    context: list[Stored] = field(default_factory=list)


class RawBody:
    """An ``application/octet-stream`` body: the dump alone, named by ``?filename=``."""

    def __init__(self, received: Received, name: str, limits: Limits):
        self.received = received
        name = check_name(name, limits, "filename")
        (received.folder / DUMP_FIELD).mkdir()
        self.file = BlockFile(received.folder / DUMP_FIELD / name, limits.max_upload, name)
        self.name = name

    def feed(self, data: bytes) -> None:
        self.file.write(data)

    def finish(self) -> None:
        digest, size = self.file.finish()
        kind = binary_kind(self.file.head) or "dump"
        self.received.dump = Stored(self.name, self.file.path, digest, size, kind)

    def abort(self) -> None:
        self.file.close()


class FormBody:
    """A ``multipart/form-data`` body, parsed as it streams (python-multipart)."""

    def __init__(self, received: Received, boundary: bytes, limits: Limits):
        from python_multipart.multipart import MultipartParser

        self.received, self.limits = received, limits
        self.current: BlockFile | None = None
        self.field = ""
        self.name = ""
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, str] = {}
        callbacks: dict[str, Callable[..., None]] = {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self.header_name.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": lambda d, s, e: self._data(memoryview(d)[s:e]),
            "on_part_end": self._part_end,
        }
        self.parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def feed(self, data: bytes) -> None:
        from python_multipart.exceptions import MultipartParseError

        try:
            self.parser.write(data)
        except MultipartParseError as err:
            raise UploadRefused(400, f"malformed multipart body: {err}") from err

    def finish(self) -> None:
        from python_multipart.multipart import MultipartState

        self.parser.finalize()
        if self.parser.state not in (MultipartState.END, MultipartState.BOUNDARY_PADDING):
            raise UploadRefused(400, "malformed multipart body: no closing boundary")
        if self.current is not None:
            raise UploadRefused(400, "malformed multipart body: the last part is cut short")
        if self.received.dump is None:
            raise UploadRefused(400, "no file field 'dump' in the form")

    def abort(self) -> None:
        if self.current is not None:
            self.current.close()

    def _part_begin(self) -> None:
        self.headers = {}

    def _header_end(self) -> None:
        self.headers[self.header_name.decode("latin-1").lower()] = (
            self.header_value.decode("latin-1"))
        self.header_name.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.headers.get("content-disposition", ""))
        field_name = options.get(b"name", b"").decode("latin-1")
        if field_name not in (DUMP_FIELD, CONTEXT_FIELD):
            raise UploadRefused(400, f"unknown form field {field_name!r} (expected "
                                f"'{DUMP_FIELD}' and '{CONTEXT_FIELD}' files)")
        if b"filename" not in options:
            raise UploadRefused(400, f"form field {field_name!r} is not a file")
        try:
            raw = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError as err:
            raise UploadRefused(400, f"{field_name}: file name is not UTF-8") from err
        self.field, self.name = field_name, check_name(raw, self.limits, field_name)
        self.current = self._open(field_name, self.name)

    def _open(self, field_name: str, name: str) -> BlockFile:
        received, limits = self.received, self.limits
        if field_name == DUMP_FIELD:
            if received.dump is not None or (received.folder / DUMP_FIELD).exists():
                raise UploadRefused(400, "more than one 'dump' file in the form")
            folder, limit = received.folder / DUMP_FIELD, limits.max_upload
        else:
            if len(received.context) >= limits.max_context_files:
                raise UploadRefused(413, f"more than {limits.max_context_files} context files")
            # context/N/NAME: two host files may share a name (two hosts' qemu.log)
            folder = received.folder / CONTEXT_FIELD / str(len(received.context))
            limit = limits.max_context_file
        folder.mkdir(parents=True, exist_ok=True)
        return BlockFile(folder / name, limit, f"{field_name} {name!r}")

    def _data(self, data: memoryview) -> None:
        if self.current is not None:
            self.current.write(data)

    def _part_end(self) -> None:
        current = self.current
        if current is None:
            return
        self.current = None
        digest, size = current.finish()
        kind = binary_kind(current.head) or "dump"
        stored = Stored(self.name, current.path, digest, size, kind)
        if self.field == DUMP_FIELD:
            self.received.dump = stored
        else:
            self.received.context.append(stored)


Body = RawBody | FormBody


def body_for(content_type: str, received: Received, filename: str | None,
             limits: Limits) -> Body:
    """The reader for a request's ``Content-Type``, or UploadRefused (415)."""
    from python_multipart.multipart import parse_options_header

    ctype, options = parse_options_header(content_type)
    if ctype == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise UploadRefused(400, "multipart/form-data without a boundary")
        return FormBody(received, boundary, limits)
    if ctype == b"application/octet-stream":
        return RawBody(received, filename or DEFAULT_NAME, limits)
    shown = ctype.decode("latin-1") or "none"
    raise UploadRefused(415, f"Content-Type {shown!r}: send multipart/form-data or "
                        "application/octet-stream")
