"""The builder's OWN literal offsets, one table per structure, encoded with construct.

These are written down independently of the reader (DESIGN.md convention 2). Each
table cites the section of /work/shared/reference/dump-format.md and its sources.
A field is (offset, construct type); `put` writes one field into a buffer.
"""

from __future__ import annotations

from typing import Any

from construct import Bytes, Int8ul, Int16ul, Int32ul, Int64ul

Field = tuple[int, Any]

PAGE_FILL = b"PAGE"  # dword 0x45474150; unwritten header fields keep it (§1.4, S1/S7/S8/S9)


def put(buf: bytearray, offset: int, con: Any, value: object) -> None:
    """Encode `value` with construct type `con` and store it at `offset`."""
    data: bytes = con.build(value)
    buf[offset : offset + len(data)] = data


def put_field(buf: bytearray, table: dict[str, Field], name: str, value: object) -> None:
    offset, con = table[name]
    put(buf, offset, con, value)


def page_filled(size: int) -> bytearray:
    """A buffer pre-filled with the "PAGE" dword, as Windows fills its dump header."""
    return bytearray(PAGE_FILL * (size // 4))


# DUMP_HEADER32, 0x1000 bytes: dump-format.md §1.2 (S5 layout; S2, S3, S6, S11 agree).
HEADER32_SIZE = 0x1000
HEADER32: dict[str, Field] = {
    "Signature": (0x000, Bytes(4)),
    "ValidDump": (0x004, Bytes(4)),
    "MajorVersion": (0x008, Int32ul),
    "MinorVersion": (0x00C, Int32ul),
    "DirectoryTableBase": (0x010, Int32ul),
    "PfnDataBase": (0x014, Int32ul),
    "PsLoadedModuleList": (0x018, Int32ul),
    "PsActiveProcessHead": (0x01C, Int32ul),
    "MachineImageType": (0x020, Int32ul),
    "NumberProcessors": (0x024, Int32ul),
    "BugCheckCode": (0x028, Int32ul),
    "BugCheckParameter1": (0x02C, Int32ul),
    "PaeEnabled": (0x05C, Int8ul),
    "KdDebuggerDataBlock": (0x060, Int32ul),
    "PhysicalMemoryBlockBuffer": (0x064, None),  # 700 bytes, at most 86 runs
    "ContextRecord": (0x320, None),  # 1200-byte slot, x86 CONTEXT at its start
    "Exception": (0x7D0, None),  # EXCEPTION_RECORD32, 0x50 bytes
    "Comment": (0x820, Bytes(128)),
    "Attributes": (0x8A0, Int32ul),
    "DumpType": (0xF88, Int32ul),
    "MiniDumpFields": (0xF8C, Int32ul),
    "ProductType": (0xF94, Int32ul),
    "SuiteMask": (0xF98, Int32ul),
    "WriterStatus": (0xF9C, Int32ul),
    "RequiredDumpSpace": (0xFA0, Int64ul),  # LARGE_INTEGER per S5 (QEMU: u32, §10.10)
    "SystemUpTime": (0xFB8, Int64ul),
    "SystemTime": (0xFC0, Int64ul),
}
RUNS32_MAX = 86  # (700 - 8) // 8

# DUMP_HEADER64, 0x2000 bytes: dump-format.md §1.3 (S1 static_asserts 0x348/0xF00/0xFB0).
HEADER64_SIZE = 0x2000
HEADER64: dict[str, Field] = {
    "Signature": (0x000, Bytes(4)),
    "ValidDump": (0x004, Bytes(4)),
    "MajorVersion": (0x008, Int32ul),
    "MinorVersion": (0x00C, Int32ul),
    "DirectoryTableBase": (0x010, Int64ul),
    "PfnDataBase": (0x018, Int64ul),
    "PsLoadedModuleList": (0x020, Int64ul),
    "PsActiveProcessHead": (0x028, Int64ul),
    "MachineImageType": (0x030, Int32ul),
    "NumberProcessors": (0x034, Int32ul),
    "BugCheckCode": (0x038, Int32ul),
    "BugCheckParameter1": (0x040, Int64ul),
    "KdDebuggerDataBlock": (0x080, Int64ul),
    "PhysicalMemoryBlockBuffer": (0x088, None),  # 700 bytes, at most 42 runs
    "ContextRecord": (0x348, None),  # 3000-byte slot, AMD64 CONTEXT at its start
    "Exception": (0xF00, None),  # EXCEPTION_RECORD64, 0x98 bytes
    "DumpType": (0xF98, Int32ul),
    "RequiredDumpSpace": (0xFA0, Int64ul),
    "SystemTime": (0xFA8, Int64ul),  # before Comment on 64-bit, unlike 32-bit
    "Comment": (0xFB0, Bytes(128)),
    "SystemUpTime": (0x1030, Int64ul),
    "MiniDumpFields": (0x1038, Int32ul),
    "ProductType": (0x1040, Int32ul),
    "SuiteMask": (0x1044, Int32ul),
    "WriterStatus": (0x1048, Int32ul),
    "KdSecondaryVersion": (0x104D, Int8ul),
    "Attributes": (0x1050, Int32ul),
}
RUNS64_MAX = 42  # (700 - 16) // 16; KB2510168 quotes 42 (§1.3)

# x86 CONTEXT, 0x2CC bytes: dump-format.md §6.4 (S4 WinContext32, ntdiff PDB dump).
CONTEXT32_SIZE = 0x2CC
CONTEXT32: dict[str, Field] = {
    "ContextFlags": (0x00, Int32ul),
    "SegGs": (0x8C, Int32ul),
    "SegFs": (0x90, Int32ul),
    "SegEs": (0x94, Int32ul),
    "SegDs": (0x98, Int32ul),
    "Ebp": (0xB4, Int32ul),
    "Eip": (0xB8, Int32ul),
    "SegCs": (0xBC, Int32ul),
    "EFlags": (0xC0, Int32ul),
    "Esp": (0xC4, Int32ul),
    "SegSs": (0xC8, Int32ul),
}
# x64 CONTEXT, 0x4D0 bytes: dump-format.md §6.4 (S4 WinContext64, S1 asserts Xmm0 at 0x1A0).
CONTEXT64_SIZE = 0x4D0
CONTEXT64: dict[str, Field] = {
    "ContextFlags": (0x30, Int32ul),
    "MxCsr": (0x34, Int32ul),
    "SegCs": (0x38, Int16ul),
    "SegDs": (0x3A, Int16ul),
    "SegEs": (0x3C, Int16ul),
    "SegFs": (0x3E, Int16ul),
    "SegGs": (0x40, Int16ul),
    "SegSs": (0x42, Int16ul),
    "EFlags": (0x44, Int32ul),
    "Rsp": (0x98, Int64ul),
    "Rbp": (0xA0, Int64ul),
    "Rip": (0xF8, Int64ul),
    "FltSaveMxCsr": (0x118, Int32ul),  # FltSave (0x100) + 0x18; S1 checks it == MxCsr
}

# SUMMARY_DUMP32/64 at the header end: dump-format.md §2.3 (S6/S7 headers, S18 offsets).
SUMMARY: dict[str, Field] = {
    "Signature": (0x00, Bytes(4)),
    "ValidDump": (0x04, Bytes(4)),
    "DumpOptions": (0x08, Int32ul),
    "HeaderSize": (0x0C, Int32ul),  # file offset of the first page
    "BitmapSize": (0x10, Int32ul),  # bits
    "Pages": (0x14, Int32ul),  # set bits
    "SizeOfBitMap": (0x18, Int32ul),  # RTL_BITMAP.SizeOfBitMap
}
SUMMARY_BITS32, SUMMARY_BITS64 = 0x20, 0x28  # bitmap words start (RTL_BITMAP buffer)

# BMP header (types 5 and 6): dump-format.md §2.3 (S1, S2, S3, S8, S9, S10, S18 agree).
BITMAP: dict[str, Field] = {
    "Signature": (0x00, Bytes(4)),  # "FDMP" full, "SDMP" kernel
    "ValidDump": (0x04, Bytes(4)),
    "DumpOptions": (0x08, Int32ul),  # u32 per S2/S18 (S8 reads u64, §10.2)
    "FirstPage": (0x20, Int64ul),  # page-aligned file offset of the first page
    "TotalPresentPages": (0x28, Int64ul),  # popcount
    "Pages": (0x30, Int64ul),  # bitmap length in bits
}
BITMAP_BITS = 0x38

# TRIAGE_DUMP32 (0x68) / TRIAGE_DUMP64 (0x80): dump-format.md §3.2/§3.3 (S6, S7, S9, S18).
TRIAGE_COMMON: dict[str, Field] = {
    "ServicePackBuild": (0x00, Int32ul),
    "SizeOfDump": (0x04, Int32ul),
    "ValidOffset": (0x08, Int32ul),
    "ContextOffset": (0x0C, Int32ul),
    "ExceptionOffset": (0x10, Int32ul),
    "MmOffset": (0x14, Int32ul),
    "UnloadedDriversOffset": (0x18, Int32ul),
    "PrcbOffset": (0x1C, Int32ul),
    "ProcessOffset": (0x20, Int32ul),
    "ThreadOffset": (0x24, Int32ul),
    "CallStackOffset": (0x28, Int32ul),
    "SizeOfCallStack": (0x2C, Int32ul),
    "DriverListOffset": (0x30, Int32ul),
    "DriverCount": (0x34, Int32ul),
    "StringPoolOffset": (0x38, Int32ul),
    "StringPoolSize": (0x3C, Int32ul),
    "BrokenDriverOffset": (0x40, Int32ul),
    "TriageOptions": (0x44, Int32ul),
}
TRIAGE32: dict[str, Field] = {
    **TRIAGE_COMMON,
    "TopOfStack": (0x48, Int32ul),
    "DebuggerDataOffset": (0x58, Int32ul),
    "DebuggerDataSize": (0x5C, Int32ul),
    "DataBlocksOffset": (0x60, Int32ul),
    "DataBlocksCount": (0x64, Int32ul),
}
TRIAGE64: dict[str, Field] = {
    **TRIAGE_COMMON,
    "TopOfStack": (0x48, Int64ul),
    "DebuggerDataOffset": (0x70, Int32ul),
    "DebuggerDataSize": (0x74, Int32ul),
    "DataBlocksOffset": (0x78, Int32ul),
    "DataBlocksCount": (0x7C, Int32ul),
}
TRIAGE32_SIZE, TRIAGE64_SIZE = 0x68, 0x80
TRIAGE_VALID = b"TRGD"  # 'DGRT' read as a dword (§3.4, S6/S7/S18; verified §12.1)

# RDMP_HEADER64 at 0x2000 for DumpTypes 8, 9 and 0xA: dump-format.md §2.4 (S1 only,
# [single]; kdmp-parser-structs.h RDMP_HEADER64 / KERNEL_ / FULL_RDMP_HEADER64).
RDMP: dict[str, Field] = {
    "Marker": (0x00, Int32ul),  # 0x40
    "Signature": (0x04, Bytes(4)),  # "RDMP"
    "ValidDump": (0x08, Bytes(4)),  # "DUMP"
    "MetadataSize": (0x10, Int64ul),
    "FirstPageOffset": (0x18, Int64ul),
    # DumpType 8/9 (KERNEL_RDMP_HEADER64): two u64 S1 calls __Unknown1/2 at 0x20/0x28.
    "Unknown1": (0x20, Int64ul),
    "Unknown2": (0x28, Int64ul),
    # DumpType 0xA (FULL_RDMP_HEADER64): the same 0x10 bytes read differently.
    "NumberOfRanges": (0x20, Int32ul),
    "TotalNumberOfPages": (0x28, Int64ul),
}
RDMP_METADATA = 0x20  # MetadataSize counts from here (S1: FirstPageOffset - 0x2040 ==
# MetadataSize - 0x20; kdmp-parser issue #27's real 0xA file: MetadataSize 0x70, 6 ranges)
RDMP_RANGES = 0x30  # {PageFileNumber u64, NumberOfPages u64} table
