"""An image file from a symbol store (not a loaded one): its key facts and RSDS record.

A file on disk is laid out by file offset, a loaded image by RVA; the PE reader of the
dump layer (``dump/kernel/pe_image.read_pe``) reads by address, so it is given a reader
that maps each RVA to the file through the section table (IMAGE_SECTION_HEADER: VirtualSize
at +8, VirtualAddress at +0xC, SizeOfRawData at +0x10, PointerToRawData at +0x14; PE/COFF
specification). Headers map one to one (RVA 0 is file offset 0).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable

from dumptriage.dump.kernel.pe_image import PeImage, read_pe

_MAX_SECTIONS = 96
_MAX_READ = 1 << 20
# ntoskrnl.exe is about 11 MiB (10.0.19041), the largest kernel images ~40 MiB (GPU drivers).
MAX_IMAGE_FILE = 128 << 20


class ImageFileError(Exception):
    """Not a PE image, or one whose headers cannot be read."""


def read_image_file(path: str) -> PeImage:
    """Headers, sections and the RSDS record of the image file at ``path``."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            image = _read(bytes(view[: min(len(view), 0x1000)]), view)
    except (OSError, ValueError) as err:
        raise ImageFileError(f"{path}: {err}") from err
    if image is None:
        raise ImageFileError(f"{path}: not a PE image")
    return image


def image_reader(path: str) -> Callable[[int, int], bytes | None]:
    """``read(rva, size)`` over the image file at ``path``, as the loader would lay it out
    (the stack walker borrows .pdata, UNWIND_INFO and code this way). The file is read
    once; an image above MAX_IMAGE_FILE is refused."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_FILE + 1)
    except OSError as err:
        raise ImageFileError(f"{path}: {err}") from err
    if len(data) > MAX_IMAGE_FILE:
        raise ImageFileError(f"{path}: larger than {MAX_IMAGE_FILE >> 20} MiB")
    read = _rva_reader(data[:0x1000], data)
    if read is None:
        raise ImageFileError(f"{path}: not a PE image")
    return read


def _read(head: bytes, data: mmap.mmap) -> PeImage | None:
    read = _rva_reader(head, data)
    return read_pe(read, 0) if read is not None else None


def _rva_reader(head: bytes, data: mmap.mmap | bytes) -> Callable[[int, int], bytes | None] | None:
    spans = _section_spans(head)
    size_of_headers = _size_of_headers(head)
    if spans is None or size_of_headers is None:
        return None

    def read(va: int, size: int) -> bytes | None:
        if size < 0 or size > _MAX_READ or va < 0:
            return None
        if va + size <= size_of_headers:
            return data[va : va + size] if va + size <= len(data) else None
        for rva, vsize, raw_size, raw in spans:
            if rva <= va and va + size <= rva + max(vsize, raw_size):
                start = raw + va - rva
                chunk = data[start : start + size] if va - rva < raw_size else b""
                return chunk + b"\0" * (size - len(chunk))  # past SizeOfRawData: zeros
        return None

    return read


def _nt_offset(head: bytes) -> int | None:
    if len(head) < 0x40 or head[:2] != b"MZ":
        return None
    e_lfanew = struct.unpack_from("<I", head, 0x3C)[0]
    if not 0x40 <= e_lfanew <= len(head) - 0x108 or head[e_lfanew : e_lfanew + 4] != b"PE\0\0":
        return None
    return int(e_lfanew)


def _size_of_headers(head: bytes) -> int | None:
    at = _nt_offset(head)
    if at is None:
        return None
    return int(struct.unpack_from("<I", head, at + 0x18 + 0x3C)[0])


def _section_spans(head: bytes) -> list[tuple[int, int, int, int]] | None:
    at = _nt_offset(head)
    if at is None:
        return None
    count, = struct.unpack_from("<H", head, at + 6)
    opt_size, = struct.unpack_from("<H", head, at + 0x14)
    table = at + 0x18 + opt_size
    spans = []
    for i in range(min(count, _MAX_SECTIONS)):
        entry = table + 40 * i
        if entry + 40 > len(head):
            break
        vsize, rva, raw_size, raw = struct.unpack_from("<IIII", head, entry + 8)
        spans.append((rva, vsize, raw_size, raw))
    return spans
