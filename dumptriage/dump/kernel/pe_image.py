"""PE images as the kernel loaded them: headers, CodeView record, version, exports.

Layouts are the PE/COFF specification's (Microsoft "PE Format" page): IMAGE_DOS_HEADER
e_lfanew at 0x3C; IMAGE_FILE_HEADER after "PE\\0\\0"; optional header magic 0x10B (PE32)
or 0x20B (PE32+) with the data directories at +0x60 / +0x70; IMAGE_SECTION_HEADER 40 bytes;
IMAGE_DEBUG_DIRECTORY 28 bytes (type 2 = CodeView); the "RSDS" record {GUID, age, name};
IMAGE_EXPORT_DIRECTORY 40 bytes; resource directories of 16 bytes + 8-byte entries;
VS_FIXEDFILEINFO signature 0xFEEF04BD.

A loaded image is laid out by RVA, so every read is ``base + rva``. This is a hot path
(every module of a 250-module dump, within a 50 ms budget), so it uses struct over a few
small reads instead of pefile. Measured by bench/pe_reader.py (figures in
bench/results.md): for the same facts (header, sections, CodeView, version resource)
pefile is 9-13x slower on the bench dump's 246 rich modules (290-510 ms for them, against
a 50 ms budget for modules, CPUs and stack together) and 18-71x slower on amdppm.sys and
Wdf01000.sys; and pefile wants the image's bytes up front, where this reader asks the dump
only for the pages it needs. pefile stays as the test oracle
(tests/dump/test_pe_vs_pefile.py compares every fact on real and synthetic images).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable

from dumptriage.model.dump import PdbInfo
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]

_DIR_EXPORT, _DIR_RESOURCE, _DIR_DEBUG = 0, 2, 6
_DEBUG_TYPE_CODEVIEW = 2
_RT_VERSION = 16
_SCN_MEM_EXECUTE = 0x2000_0000
_SCN_CNT_CODE = 0x0000_0020
_MAX_SECTIONS = 96  # the loader rejects more than 96 sections
_MAX_EXPORTS = 65536
_MAX_NAME = 256


class Section(Record):
    name: str
    rva: int
    size: int
    executable: bool


class PeImage:
    """What dumptriage reads from a loaded image; exports are read on first use (cached
    here, so the object is not a frozen Record)."""

    __slots__ = ("_exports", "base", "checksum", "directories", "machine", "pdb", "sections",
                 "size_of_image", "timestamp")

    def __init__(self, *, base: int, size_of_image: int, timestamp: int, checksum: int,
                 machine: int, sections: tuple[Section, ...],
                 directories: tuple[tuple[int, int], ...], pdb: PdbInfo | None = None):
        self.base = base
        self.size_of_image = size_of_image
        self.timestamp = timestamp
        self.checksum = checksum
        self.machine = machine
        self.sections = sections
        self.directories = directories
        self.pdb = pdb
        self._exports: list[tuple[int, str]] | None = None

    def is_code(self, rva: int) -> bool:
        """True when the RVA lies in an executable section (or no section table is known)."""
        if not self.sections:
            return True
        return any(s.executable and s.rva <= rva < s.rva + s.size for s in self.sections)

    def directory(self, index: int) -> tuple[int, int]:
        return self.directories[index] if index < len(self.directories) else (0, 0)


def read_pe(read: ReadBytes, base: int) -> PeImage | None:
    """Parse the headers of the image at ``base``; None when they are not in the dump."""
    # DOS, NT and section headers all live in the first page; a minidump data block may
    # hold only SizeOfHeaders (0x400 is the usual file alignment) of it.
    first = read(base, 0x1000) or read(base, 0x400)
    if first is None or first[:2] != b"MZ":
        return None
    e_lfanew = struct.unpack_from("<I", first, 0x3C)[0]
    if not 0x40 <= e_lfanew <= len(first) - 0x108:
        return None
    head = first[e_lfanew : e_lfanew + 0x18 + 0xF0]
    if head[:4] != b"PE\0\0":
        return None
    machine, nsections, timestamp = struct.unpack_from("<HHI", head, 4)
    opt_size = struct.unpack_from("<H", head, 0x14)[0]
    optional = head[0x18:]
    magic = struct.unpack_from("<H", optional, 0)[0]
    if magic not in (0x10B, 0x20B):
        return None
    size_of_image, checksum = struct.unpack_from("<I4xI", optional, 0x38)
    directories = _directories(optional, magic)
    sections = _sections(_slicer(first, base), base + e_lfanew + 0x18 + opt_size,
                         min(nsections, _MAX_SECTIONS))
    image = PeImage(base=base, size_of_image=size_of_image, timestamp=timestamp,
                    checksum=checksum, machine=machine, sections=sections,
                    directories=directories)
    image.pdb = _codeview(read, image)
    return image


def _slicer(page: bytes, base: int) -> ReadBytes:
    """Reads served from the already-read first page (the section table is in it)."""

    def read(va: int, size: int) -> bytes | None:
        start = va - base
        return page[start : start + size] if start >= 0 and start + size <= len(page) else None

    return read


def _directories(optional: bytes, magic: int) -> tuple[tuple[int, int], ...]:
    at = 0x60 if magic == 0x10B else 0x70
    count = struct.unpack_from("<I", optional, at - 4)[0]
    count = min(count, 16, (len(optional) - at) // 8)
    return tuple(struct.unpack_from("<II", optional, at + 8 * i) for i in range(count))


def _sections(read: ReadBytes, at: int, count: int) -> tuple[Section, ...]:
    table = read(at, 40 * count) if count else b""
    if table is None:
        return ()
    found = []
    for i in range(count):
        raw_name, vsize, rva = struct.unpack_from("<8sII", table, 40 * i)
        flags = struct.unpack_from("<I", table, 40 * i + 36)[0]
        name = raw_name.rstrip(b"\0").decode("ascii", "replace")
        executable = bool(flags & (_SCN_MEM_EXECUTE | _SCN_CNT_CODE))
        found.append(Section(name, rva, vsize, executable))
    return tuple(found)


def _codeview(read: ReadBytes, image: PeImage) -> PdbInfo | None:
    rva, size = image.directory(_DIR_DEBUG)
    if not rva or not size:
        return None
    entries = read(image.base + rva, min(size, 28 * 16))
    if entries is None:
        return None
    for i in range(len(entries) // 28):
        dtype, data_size, data_rva = struct.unpack_from("<III", entries, 28 * i + 12)
        if dtype == _DEBUG_TYPE_CODEVIEW and data_rva and 24 < data_size <= 0x1000:
            record = read(image.base + data_rva, data_size)
            if record is not None and record[:4] == b"RSDS":
                return _rsds(record)
    return None


def _rsds(record: bytes) -> PdbInfo:
    d1, d2, d3 = struct.unpack_from("<IHH", record, 4)
    guid = f"{d1:08X}{d2:04X}{d3:04X}" + record[12:20].hex().upper()
    age = struct.unpack_from("<I", record, 20)[0]
    name = record[24:].split(b"\0", 1)[0].decode("utf-8", "replace")
    return PdbInfo(name=name, guid=guid, age=age)


# -- exports --------------------------------------------------------------------------


def exports(read: ReadBytes, image: PeImage) -> list[tuple[int, str]]:
    """Named exports as (rva, name), sorted by RVA; [] when the directory is missing."""
    if image._exports is None:
        image._exports = _read_exports(read, image)
    return image._exports


def nearest_export(read: ReadBytes, image: PeImage, rva: int) -> tuple[str, int] | None:
    """The named export at or below ``rva`` and the distance to it."""
    table = exports(read, image)
    i = bisect.bisect_right(table, (rva, "\U0010ffff")) - 1
    if i < 0:
        return None
    start, name = table[i]
    return name, rva - start


def _read_exports(read: ReadBytes, image: PeImage) -> list[tuple[int, str]]:
    rva, size = image.directory(_DIR_EXPORT)
    head = read(image.base + rva, 40) if rva and size >= 40 else None
    if head is None:
        return []
    nfuncs, nnames, funcs_rva, names_rva, ords_rva = struct.unpack_from("<IIIII", head, 0x14)
    nnames = min(nnames, _MAX_EXPORTS)
    if nfuncs > _MAX_EXPORTS or nnames == 0:
        return []
    funcs = read(image.base + funcs_rva, 4 * nfuncs)
    names = read(image.base + names_rva, 4 * nnames)
    ords = read(image.base + ords_rva, 2 * nnames)
    if funcs is None or names is None or ords is None:
        return []
    found = []
    for i in range(nnames):
        ordinal = struct.unpack_from("<H", ords, 2 * i)[0]
        if ordinal >= nfuncs:
            continue
        func_rva = struct.unpack_from("<I", funcs, 4 * ordinal)[0]
        if rva <= func_rva < rva + size:
            continue  # a forwarder string, not code
        name = _cstring(read, image.base + struct.unpack_from("<I", names, 4 * i)[0])
        if name:
            found.append((func_rva, name))
    found.sort()
    return found


def _cstring(read: ReadBytes, va: int) -> str | None:
    # Names may end near a page boundary: read what the page holds, up to the limit.
    blob = read(va, _MAX_NAME) or read(va, 0x1000 - (va & 0xFFF))
    if blob is None:
        return None
    return blob.split(b"\0", 1)[0].decode("ascii", "replace") or None


# -- version resource -----------------------------------------------------------------


class VersionInfo(Record):
    file_version: str
    company: str | None


def version_info(read: ReadBytes, image: PeImage) -> VersionInfo | None:
    """FileVersion and CompanyName from the RT_VERSION resource, when its pages are present."""
    rva, size = image.directory(_DIR_RESOURCE)
    if not rva or not size:
        return None
    root = image.base + rva
    leaf = _resource_leaf(read, root, (_RT_VERSION, None, None))
    if leaf is None:
        return None
    data = read(root + leaf, 16)
    if data is None:
        return None
    data_rva, data_size = struct.unpack_from("<II", data, 0)
    blob = read(image.base + data_rva, min(data_size, 0x2000))
    return _parse_version(blob) if blob else None


def _resource_leaf(read: ReadBytes, root: int, path: tuple[int | None, ...]) -> int | None:
    """Follow resource directories by id (None = first entry); offset of the data entry."""
    offset = 0
    for wanted in path:
        head = read(root + offset, 16)
        if head is None:
            return None
        named, ids = struct.unpack_from("<HH", head, 12)
        count = min(named + ids, 256)
        entries = read(root + offset + 16, 8 * count) if count else None
        if entries is None:
            return None
        target = _pick_entry(entries, count, wanted)
        if target is None:
            return None
        offset = target
    return offset


def _pick_entry(entries: bytes, count: int, wanted: int | None) -> int | None:
    for i in range(count):
        name, target = struct.unpack_from("<II", entries, 8 * i)
        if wanted is None or (not name & 0x8000_0000 and name == wanted):
            return int(target) & 0x7FFF_FFFF
    return None


def _parse_version(blob: bytes) -> VersionInfo | None:
    at = blob.find(struct.pack("<I", 0xFEEF04BD))
    if at < 0 or at + 16 > len(blob):
        return None
    ms, ls = struct.unpack_from("<II", blob, at + 8)
    version = f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
    return VersionInfo(file_version=version, company=_string_value(blob, "CompanyName"))


def _string_value(blob: bytes, key: str) -> str | None:
    """A value of the StringFileInfo table: key, NUL, padding to 4 bytes, value, NUL."""
    marker = (key + "\0").encode("utf-16-le")
    at = blob.find(marker)
    if at < 0:
        return None
    start = at + len(marker)
    start += (-start) % 4
    end = start
    while end + 1 < len(blob) and blob[end : end + 2] != b"\0\0":
        end += 2
    text = blob[start:end].decode("utf-16-le", "replace").strip()
    return text or None
