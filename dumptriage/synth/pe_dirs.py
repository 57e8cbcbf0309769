"""PE data directories a kernel module's image carries: exports, CodeView debug, version.

Layouts from the Microsoft PE/COFF specification ("PE Format", learn.microsoft.com:
".edata Section", "Debug Directory", ".rsrc Section") and "VS_VERSIONINFO structure",
"VS_FIXEDFILEINFO structure" (learn.microsoft.com, Win32 menurc docs). CodeView RSDS
record (CV_INFO_PDB70): "RSDS", GUID, Age, NUL-terminated PDB path (the format
symbol servers key on; pefile's CV_INFO_PDB70 reads the same fields).

Everything goes in one `.rdata` blob placed at RVA 0x1000 whose file offset equals its
RVA (PointerToRawData = VirtualAddress), so the image's first pages are also a valid PE
file for pefile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from construct import Int16ul, Int32ul

from dumptriage.synth.pe_unwind import UnwindModuleSpec, exception_data
from dumptriage.synth.spec import ModuleSpec

RDATA_RVA = 0x1000
DIR_EXPORT, DIR_RESOURCE, DIR_EXCEPTION, DIR_DEBUG = 0, 2, 3, 6  # IMAGE_DIRECTORY_ENTRY_*
RT_VERSION, LANG_EN_US = 16, 0x409


@dataclass(frozen=True)
class RData:
    data: bytes  # content at RDATA_RVA
    directories: dict[int, tuple[int, int]]  # directory index -> (RVA, size)

    @property
    def pages(self) -> int:
        return max(1, (len(self.data) + 0xFFF) // 0x1000)

    @property
    def text_rva(self) -> int:
        return RDATA_RVA + self.pages * 0x1000


def _align(buf: bytearray, n: int) -> None:
    buf += bytes(-len(buf) % n)


def _u32s(*values: int) -> bytes:
    return b"".join(Int32ul.build(v) for v in values)


def _u16s(*values: int) -> bytes:
    return b"".join(Int16ul.build(v) for v in values)


def rdata(mod: ModuleSpec) -> RData:
    buf = bytearray()
    dirs: dict[int, tuple[int, int]] = {}
    if mod.exports:
        start = len(buf)
        buf += export_directory(mod, RDATA_RVA + start)
        dirs[DIR_EXPORT] = (RDATA_RVA + start, len(buf) - start)
        _align(buf, 8)
    if mod.pdb is not None:
        start = len(buf)
        buf += debug_directory(mod, RDATA_RVA + start)
        dirs[DIR_DEBUG] = (RDATA_RVA + start, 28)  # one IMAGE_DEBUG_DIRECTORY
        _align(buf, 8)
    if mod.version is not None:
        start = len(buf)
        buf += resource_directory(mod, RDATA_RVA + start)
        dirs[DIR_RESOURCE] = (RDATA_RVA + start, len(buf) - start)
        _align(buf, 8)
    if isinstance(mod, UnwindModuleSpec) and mod.functions:
        # .pdata kept in .rdata: the directory's Size covers the RUNTIME_FUNCTION array
        # only; the UNWIND_INFOs follow it (link.exe puts them in .xdata/.rdata).
        start = len(buf)
        blob, table_size = exception_data(mod.functions, RDATA_RVA + start)
        buf += blob
        dirs[DIR_EXCEPTION] = (RDATA_RVA + start, table_size)
        _align(buf, 8)
    return RData(bytes(buf), dirs)


def export_directory(mod: ModuleSpec, rva: int) -> bytes:
    """IMAGE_EXPORT_DIRECTORY (40 bytes) + EAT + name pointers + ordinals + strings.

    Ordinal i (Base 1) is the i-th export as given; the name table is sorted (the loader
    binary-searches it), each name pointing back to its ordinal index.
    """
    n = len(mod.exports)
    eat = rva + 40
    names_ptr = eat + 4 * n
    ords = names_ptr + 4 * n
    strings = ords + 2 * n
    blob = bytearray(mod.name.encode("ascii") + b"\0")
    order = sorted(range(n), key=lambda i: mod.exports[i][0].encode("ascii"))
    name_rvas = {}
    for i in order:
        name_rvas[i] = strings + len(blob)
        blob += mod.exports[i][0].encode("ascii") + b"\0"
    head = _u32s(0, mod.timestamp) + _u16s(0, 0) + _u32s(
        strings, 1, n, n, eat, names_ptr, ords)
    return (head + _u32s(*(r for _, r in mod.exports)) + _u32s(*(name_rvas[i] for i in order))
            + _u16s(*order) + bytes(blob))


def debug_directory(mod: ModuleSpec, rva: int) -> bytes:
    """IMAGE_DEBUG_DIRECTORY (Type 2 = CODEVIEW) followed by its CV_INFO_PDB70 record."""
    assert mod.pdb is not None
    name, guid, age = mod.pdb
    cv = b"RSDS" + uuid.UUID(guid).bytes_le + _u32s(age) + name.encode() + b"\0"
    cv_rva = rva + 28
    # Characteristics, TimeDateStamp, Major/MinorVersion, Type, SizeOfData,
    # AddressOfRawData (RVA), PointerToRawData (file offset = RVA in this layout)
    return _u32s(0, mod.timestamp, 0, 2, len(cv), cv_rva, cv_rva) + cv


def resource_directory(mod: ModuleSpec, rva: int) -> bytes:
    """RT_VERSION / 1 / 0x409 -> IMAGE_RESOURCE_DATA_ENTRY -> VS_VERSIONINFO.

    Directory entry offsets are relative to the resource root; subdirectory offsets have
    the high bit set. The data entry holds an RVA.
    """
    def table(entry_id: int, target: int) -> bytes:  # one ID entry per level
        return _u32s(0, 0, 0) + _u16s(0, 1) + _u32s(entry_id, target)

    level = 24  # each level: 16-byte IMAGE_RESOURCE_DIRECTORY + one 8-byte entry
    info = version_info(mod)
    data_rva = rva + 3 * level + 16
    return (table(RT_VERSION, 0x80000000 | level) + table(1, 0x80000000 | 2 * level)
            + table(LANG_EN_US, 3 * level) + _u32s(data_rva, len(info), 0, 0) + info)


def _version_dwords(text: str) -> tuple[int, int]:
    a, b, c, d = (int(x) for x in (text.split(".") + ["0"] * 4)[:4])
    return a << 16 | b, c << 16 | d


def _block(key: str, value: bytes, wtype: int, children: bytes = b"",
           value_len: int | None = None) -> bytes:
    """One version-resource node: wLength, wValueLength, wType, szKey, pad, Value, pad."""
    head = bytearray(6) + key.encode("utf-16-le") + b"\0\0"
    _align(head, 4)
    body = bytearray(head + value)
    _align(body, 4)
    body += children
    vlen = len(value) if value_len is None else value_len
    body[0:6] = _u16s(len(body), vlen, wtype)
    _align(body, 4)
    return bytes(body)


def version_info(mod: ModuleSpec) -> bytes:
    assert mod.version is not None
    ms, ls = _version_dwords(mod.version)
    # VS_FIXEDFILEINFO: signature, struct version 1.0, file/product versions, flags mask
    # 0x3F, flags 0, OS VOS_NT_WINDOWS32, type VFT_DRV, subtype VFT2_DRV_SYSTEM, date 0.
    fixed = _u32s(0xFEEF04BD, 0x00010000, ms, ls, ms, ls, 0x3F, 0, 0x40004, 3, 7, 0, 0)
    strings = {"CompanyName": "Microsoft Corporation", "FileVersion": mod.version,
               "InternalName": mod.name, "OriginalFilename": mod.name,
               "ProductName": "Microsoft Windows Operating System",
               "ProductVersion": mod.version}
    entries = b"".join(
        _block(k, v.encode("utf-16-le") + b"\0\0", 1, value_len=len(v) + 1)
        for k, v in strings.items())
    sfi = _block("StringFileInfo", b"", 1, _block("040904B0", b"", 1, entries))
    vfi = _block("VarFileInfo", b"", 1,
                 _block("Translation", _u16s(LANG_EN_US, 0x4B0), 0))
    return _block("VS_VERSION_INFO", fixed, 0, sfi + vfi)
