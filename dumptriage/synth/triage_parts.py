"""Encoders for the variable triage sections: MM info, unloaded drivers, driver list,
string pool and data blocks (dump-format.md §3.6 and the §12.1 corrections)."""

from __future__ import annotations

from construct import Int16ul, Int32ul, Int64ul

from dumptriage.synth import kernel_tables as K
from dumptriage.synth.manifest import BuiltModule, BuiltUnloaded


def mm_storage(is64: bool) -> bytes:
    """DUMP_MM_STORAGE32/64: six u32 (Version, Size, ...) then seven pointer-sized values;
    Version 1, Size = the struct size, the rest zero, as in the real file (§12.1: 0x50)."""
    size = 6 * 4 + 7 * (8 if is64 else 4)  # x64 0x50, x86 0x34
    head: bytes = Int32ul.build(1) + Int32ul.build(size)
    return head + bytes(size - 8)


def unloaded_section(is64: bool, drivers: tuple[BuiltUnloaded, ...]) -> bytes:
    """Count then DUMP_UNLOADED_DRIVERS entries (§3.6, verified on x64 in §12.1).

    x64: u64 count, 0x38-byte entries. x86: the count width is [open] in the sheet; we
    write a u32 (ULONG_PTR, pointer-sized, consistent with the x64 u64), 0x28-byte entries.
    Name: UNICODE_STRING with Length = MaximumLength = name bytes and Buffer 0 (§12.1),
    then WCHAR[12] holding the first 12 characters (no NUL when 12 long), start, end.
    """
    ptr = Int64ul if is64 else Int32ul
    out = bytearray(ptr.build(len(drivers)))
    for d in drivers:
        nbytes = 2 * len(d.name)
        out += Int16ul.build(nbytes) + Int16ul.build(nbytes) + bytes(4 if is64 else 0)
        out += ptr.build(0)  # Buffer: not copied
        out += d.name[:12].encode("utf-16-le").ljust(24, b"\0")
        out += ptr.build(d.start) + ptr.build(d.end)
    return bytes(out)


def string_pool(start: int, names: list[str]) -> tuple[bytes, list[int]]:
    """DUMP_STRINGs: u32 length in UTF-16 characters, the text, a NUL, 8-byte aligned
    (§12.1: length 0x21 for \\SystemRoot\\system32\\ntoskrnl.exe). Returns the pool and each
    string's absolute file offset; the size includes the last string's padding."""
    pool = bytearray()
    offsets = []
    for name in names:
        offsets.append(start + len(pool))
        pool += Int32ul.build(len(name)) + name.encode("utf-16-le") + b"\0\0"
        pool += bytes(-len(pool) % 8)
    return bytes(pool), offsets


def driver_list(is64: bool, modules: tuple[BuiltModule, ...],
                name_offsets: list[int]) -> tuple[bytes, int]:
    """DUMP_DRIVER_ENTRY32/64: u32 DriverNameOffset, (x64: 4 pad bytes), a KLDR copy with
    only DllBase, SizeOfImage, CheckSum and TimeDateStamp set (§12.1 census). Strides:
    x64 0x90 (§12.1 verified), x86 0x4C = 4 + KLDR32 0x48 (§3.6, S6/S9)."""
    ldr = K.LDR64 if is64 else K.LDR32
    at = 8 if is64 else 4
    stride = at + ldr.size
    ptr = Int64ul if is64 else Int32ul
    out = bytearray()
    for m, name_off in zip(modules, name_offsets, strict=True):
        entry = bytearray(stride)
        entry[0:4] = Int32ul.build(name_off)
        for off, data in ((ldr.dll_base, ptr.build(m.base)),
                          (ldr.size_of_image, Int32ul.build(m.size)),
                          (ldr.checksum, Int32ul.build(m.checksum)),
                          (ldr.timestamp, Int32ul.build(m.timestamp))):
            entry[at + off : at + off + len(data)] = data
        out += entry
    return bytes(out), stride


def data_block_table(is64: bool, table_at: int, blocks: list[tuple[int, bytes, str]]
                     ) -> tuple[bytes, bytes, tuple[tuple[int, int, int, str], ...]]:
    """TRIAGE_DATA_BLOCK table (x64 {VA u64, offset u32, size u32} = 16 bytes; x86 three
    u32 = 12 bytes, §3.6) followed by the contents packed back to back (§12.1)."""
    entry_size = 16 if is64 else 12
    ptr = Int64ul if is64 else Int32ul
    data_at = table_at + entry_size * len(blocks)
    table, data = bytearray(), bytearray()
    placed = []
    for va, content, label in blocks:
        off = data_at + len(data)
        table += ptr.build(va) + Int32ul.build(off) + Int32ul.build(len(content))
        data += content
        placed.append((va, off, len(content), label))
    return bytes(table), bytes(data), tuple(placed)
