"""A minimal valid PE header (MZ + PE32/PE32+ optional header + one section) with construct.

Layout from the Microsoft PE/COFF specification ("PE Format", learn.microsoft.com,
sections "MS-DOS Stub", "COFF File Header", "Optional Header", "Section Table").
"""

from __future__ import annotations

from construct import (
    Array,
    Bytes,
    Const,
    Int16ul,
    Int32ul,
    Int64ul,
    Padding,
    Struct,
    this,
)

from dumptriage.synth.pe_dirs import RData

E_LFANEW = 0x80  # the NT headers follow a 0x40-byte DOS header and a 0x40-byte stub area

DOS_HEADER = Struct(
    "e_magic" / Const(b"MZ"),
    Padding(0x3A),  # e_cblp .. e_res2: unused by the Windows loader
    "e_lfanew" / Int32ul,  # at 0x3C
)

COFF_HEADER = Struct(
    "Signature" / Const(b"PE\0\0"),
    "Machine" / Int16ul,
    "NumberOfSections" / Int16ul,
    "TimeDateStamp" / Int32ul,
    "PointerToSymbolTable" / Int32ul,
    "NumberOfSymbols" / Int32ul,
    "SizeOfOptionalHeader" / Int16ul,
    "Characteristics" / Int16ul,
)


def _optional_header(pe32plus: bool) -> Struct:
    ptr = Int64ul if pe32plus else Int32ul
    base_fields = [
        "Magic" / Int16ul,  # 0x10B PE32, 0x20B PE32+
        "LinkerVersion" / Int16ul,
        "SizeOfCode" / Int32ul,
        "SizeOfInitializedData" / Int32ul,
        "SizeOfUninitializedData" / Int32ul,
        "AddressOfEntryPoint" / Int32ul,
        "BaseOfCode" / Int32ul,
    ]
    if not pe32plus:
        base_fields.append("BaseOfData" / Int32ul)  # PE32 only
    return Struct(
        *base_fields,
        "ImageBase" / ptr,
        "SectionAlignment" / Int32ul,
        "FileAlignment" / Int32ul,
        "OsVersion" / Int32ul,
        "ImageVersion" / Int32ul,
        "SubsystemVersion" / Int32ul,
        "Win32VersionValue" / Int32ul,
        "SizeOfImage" / Int32ul,
        "SizeOfHeaders" / Int32ul,
        "CheckSum" / Int32ul,
        "Subsystem" / Int16ul,
        "DllCharacteristics" / Int16ul,
        "SizeOfStackReserve" / ptr,
        "SizeOfStackCommit" / ptr,
        "SizeOfHeapReserve" / ptr,
        "SizeOfHeapCommit" / ptr,
        "LoaderFlags" / Int32ul,
        "NumberOfRvaAndSizes" / Int32ul,
        "DataDirectory" / Array(this.NumberOfRvaAndSizes, Int64ul),
    )


SECTION_HEADER = Struct(
    "Name" / Bytes(8),
    "VirtualSize" / Int32ul,
    "VirtualAddress" / Int32ul,
    "SizeOfRawData" / Int32ul,
    "PointerToRawData" / Int32ul,
    "PointerToRelocations" / Int32ul,
    "PointerToLinenumbers" / Int32ul,
    "NumberOfRelocations" / Int16ul,
    "NumberOfLinenumbers" / Int16ul,
    "Characteristics" / Int32ul,
)


def _section(name: bytes, va: int, vsize: int, raw: int, raw_size: int, flags: int) -> bytes:
    out: bytes = SECTION_HEADER.build({
        "Name": name.ljust(8, b"\0"), "VirtualSize": vsize, "VirtualAddress": va,
        "SizeOfRawData": raw_size, "PointerToRawData": raw, "PointerToRelocations": 0,
        "PointerToLinenumbers": 0, "NumberOfRelocations": 0, "NumberOfLinenumbers": 0,
        "Characteristics": flags,
    })
    return out


TEXT_FLAGS = 0x60000020  # CODE | EXECUTE | READ
RDATA_FLAGS = 0x40000040  # INITIALIZED_DATA | READ


def _sections(size: int, rd: RData | None, low_code: int | None = None) -> list[bytes]:
    low = [] if low_code is None else [
        # Code in the first page, right after the headers (small section alignment).
        _section(b".text", low_code, 0x1000 - low_code, low_code, 0x1000 - low_code,
                 TEXT_FLAGS)]
    main_code = b"PAGE" if low else b".text"
    if rd is None:  # one code section from 0x1000, nothing stored in the file
        return [*low, _section(main_code, 0x1000, max(size - 0x1000, 0), 0, 0, TEXT_FLAGS)]
    # Rich image: file layout = memory layout (PointerToRawData = VirtualAddress), so the
    # image bytes read from memory are also a PE file pefile can parse.
    rsize, tsize = rd.text_rva - 0x1000, size - rd.text_rva
    return [*low, _section(b".rdata", 0x1000, rsize, 0x1000, rsize, RDATA_FLAGS),
            _section(main_code, rd.text_rva, tsize, rd.text_rva, tsize, TEXT_FLAGS)]


def pe_header(*, is64: bool, base: int, size: int, timestamp: int, checksum: int,
              rd: RData | None = None, low_code: int | None = None) -> bytes:
    """Headers of a native kernel image as they sit at its DllBase."""
    opt = _optional_header(is64)
    code = rd.text_rva if rd is not None else 0x1000
    dirs = [0] * 16
    for index, (rva, dsize) in (rd.directories.items() if rd is not None else ()):
        dirs[index] = rva | dsize << 32  # IMAGE_DATA_DIRECTORY {VirtualAddress, Size}
    common = {
        "Magic": 0x20B if is64 else 0x10B, "LinkerVersion": 0x0009,
        "SizeOfCode": max(size - code, 0), "SizeOfInitializedData": code - 0x1000,
        "SizeOfUninitializedData": 0, "AddressOfEntryPoint": code, "BaseOfCode": code,
        "ImageBase": base, "SectionAlignment": 0x80 if low_code else 0x1000,
        "FileAlignment": 0x80 if low_code else 0x200,
        "OsVersion": 0x00010006, "ImageVersion": 0x00010006, "SubsystemVersion": 0x00010006,
        "Win32VersionValue": 0, "SizeOfImage": size, "SizeOfHeaders": 0x400,
        "CheckSum": checksum, "Subsystem": 1,  # IMAGE_SUBSYSTEM_NATIVE
        "DllCharacteristics": 0x0040,  # DYNAMIC_BASE
        "SizeOfStackReserve": 0x40000, "SizeOfStackCommit": 0x1000,
        "SizeOfHeapReserve": 0x100000, "SizeOfHeapCommit": 0x1000,
        "LoaderFlags": 0, "NumberOfRvaAndSizes": 16, "DataDirectory": dirs,
    }
    if not is64:
        common["BaseOfData"] = 0
    opt_bytes: bytes = opt.build(common)
    sections = _sections(size, rd, low_code)
    coff: bytes = COFF_HEADER.build({
        "Machine": 0x8664 if is64 else 0x14C, "NumberOfSections": len(sections),
        "TimeDateStamp": timestamp, "PointerToSymbolTable": 0, "NumberOfSymbols": 0,
        "SizeOfOptionalHeader": len(opt_bytes),
        # EXECUTABLE_IMAGE | (x86: 32BIT_MACHINE; x64: LARGE_ADDRESS_AWARE)
        "Characteristics": 0x0022 if is64 else 0x0102,
    })
    dos: bytes = DOS_HEADER.build({"e_lfanew": E_LFANEW}).ljust(E_LFANEW, b"\0")
    return dos + coff + opt_bytes + b"".join(sections)
