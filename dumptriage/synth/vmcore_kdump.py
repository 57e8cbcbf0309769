"""The kdump-compressed writer (QEMU ``dump-guest-memory`` formats kdump-zlib, and the
plain image of QEMU 8.2's kdump-raw-*): synth/vmcore.py documents the API."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dumptriage.synth import vmcore_layout as V
from dumptriage.synth.layout import put, put_field
from dumptriage.synth.vmcore_notes import SynthVcpu, all_notes
from dumptriage.synth.vmcore_ram import PAGE, GuestRam, Run, VcpuInput

ZLIB_FLAG = 1  # DUMP_DH_COMPRESSED_ZLIB


@dataclass(frozen=True)
class KdumpWritten:
    """Where the kdump writer put things. Offsets are in the image (= the file when not
    flattened)."""

    path: Path
    file_size: int
    flattened: bool
    header_64: bool
    notes_offset: int
    notes_size: int
    bitmap_offset: int  # the first bitmap; the second follows at + bitmap_size
    bitmap_size: int
    descs_offset: int
    data_offset: int
    present: tuple[int, ...]  # PFNs with a descriptor, in order

    def desc_offset(self, pfn: int) -> int:
        return self.descs_offset + self.present.index(pfn) * V.PAGE_DESC_SIZE


def write_kdump(path: str | Path, memory_runs: Sequence[Run], vcpus: Sequence[VcpuInput],
                guest_header: bytes | None = None, *, pages: Mapping[int, bytes] | None = None,
                flattened: bool = True, header_64: bool | None = None,
                compress: bool = True, stored: Mapping[int, tuple[int, bytes]] | None = None,
                status: int = ZLIB_FLAG, state_size: int = V.QEMU_STATE_SIZE,
                x86_64_prstatus: bool | None = None) -> KdumpWritten:
    """A QEMU kdump-compressed file (flattened, as QEMU streams it, or the plain image).
    ``stored`` forces a page's descriptor (pfn -> (flags, bytes)); ``compress`` False
    stores every non-zero page raw (flags 0)."""
    ram = GuestRam.of(memory_runs, pages)
    cpus = [SynthVcpu.of(v) for v in vcpus]
    is64 = header_64 if header_64 is not None else ram.highest_end >= 1 << 32
    wide = x86_64_prstatus if x86_64_prstatus is not None else bool(cpus and cpus[0].bits == 64)
    notes = all_notes(cpus, wide, guest_header, state_size)
    image, at = _kdump_image(ram, cpus, notes, is64, compress, dict(stored or {}), status)
    target = Path(path)
    with target.open("wb") as f:
        if flattened:
            _write_flattened(f, image, at.descs, at.data)
        else:
            f.write(image)
        size = f.tell()
    return KdumpWritten(target, size, flattened, is64, at.notes, len(notes), at.bitmap,
                        at.bitmap_size, at.descs, at.data, at.present)


@dataclass(frozen=True)
class _Placed:
    notes: int
    bitmap: int
    bitmap_size: int
    descs: int
    data: int
    present: tuple[int, ...]


def _kdump_image(ram: GuestRam, cpus: Sequence[SynthVcpu], notes: bytes, is64: bool,
                 compress: bool, stored: dict[int, tuple[int, bytes]], status: int,
                 ) -> tuple[bytes, _Placed]:
    sub_size = V.SUB64_SIZE if is64 else V.SUB32_SIZE
    sub_blocks = (sub_size + len(notes) + PAGE - 1) // PAGE
    max_mapnr = (ram.highest_end + PAGE - 1) // PAGE
    bitmap_size = ((max_mapnr + 7) // 8 + PAGE - 1) // PAGE * PAGE
    bitmap_at = (1 + sub_blocks) * PAGE
    present = list(ram.pfns())
    descs_at = bitmap_at + 2 * bitmap_size
    data_at = descs_at + len(present) * V.PAGE_DESC_SIZE
    # QEMU writes one zero page first; every zero page's descriptor points at it.
    data = bytearray(PAGE)
    descs = bytearray()
    zero = _desc(data_at, PAGE, 0)
    for pfn in present:
        if pfn in stored:
            flags, blob = stored[pfn]
            descs += _desc(data_at + len(data), len(blob), flags)
            data += blob
            continue
        if ram.is_hole(pfn):  # sized runs: most of a big guest, zero without a look
            descs += zero
            continue
        content = ram.page(pfn)
        if not any(content):
            descs += zero
            continue
        packed = zlib.compress(content) if compress else content
        flags = ZLIB_FLAG if compress and len(packed) < PAGE else 0
        blob = packed if flags else content  # QEMU stores raw when compression does not help
        descs += _desc(data_at + len(data), len(blob), flags)
        data += blob
    head = _disk_dump_header(is64, len(cpus), sub_blocks, 2 * bitmap_size // PAGE, max_mapnr,
                             status)
    sub = _sub_header(is64, PAGE + sub_size, len(notes), max_mapnr)
    bitmap = _bitmap(present, bitmap_size)
    image = bytearray(descs_at)
    image[: len(head)] = head
    image[PAGE : PAGE + sub_size] = sub
    image[PAGE + sub_size : PAGE + sub_size + len(notes)] = notes
    image[bitmap_at : bitmap_at + bitmap_size] = bitmap  # 1st bitmap
    image[bitmap_at + bitmap_size : descs_at] = bitmap  # 2nd: identical at dump level 1
    image += descs + data
    return bytes(image), _Placed(PAGE + sub_size, bitmap_at, bitmap_size, descs_at, data_at,
                                 tuple(present))


def _desc(offset: int, size: int, flags: int) -> bytes:
    buf = bytearray(V.PAGE_DESC_SIZE)
    put_field(buf, V.PAGE_DESC, "offset", offset)
    put_field(buf, V.PAGE_DESC, "size", size)
    put_field(buf, V.PAGE_DESC, "flags", flags)
    return bytes(buf)


def _disk_dump_header(is64: bool, nr_cpus: int, sub_blocks: int, bitmap_blocks: int,
                      max_mapnr: int, status: int) -> bytes:
    table = V.DISK_DUMP64 if is64 else V.DISK_DUMP32
    buf = bytearray(V.DISK_DUMP64_SIZE if is64 else V.DISK_DUMP32_SIZE)
    buf[V.DISK_DUMP_MACHINE : V.DISK_DUMP_MACHINE + 6] = b"x86_64"  # QEMU's binary, always
    for name, value in (("signature", b"KDUMP   "), ("header_version", 6), ("status", status),
                        ("block_size", PAGE), ("sub_hdr_size", sub_blocks),
                        ("bitmap_blocks", bitmap_blocks),
                        ("max_mapnr", min(max_mapnr, 0xFFFFFFFF)), ("nr_cpus", nr_cpus)):
        put_field(buf, table, name, value)
    return bytes(buf)


def _sub_header(is64: bool, notes_at: int, notes_size: int, max_mapnr: int) -> bytes:
    table = V.SUB64 if is64 else V.SUB32
    buf = bytearray(V.SUB64_SIZE if is64 else V.SUB32_SIZE)
    for name, value in (("dump_level", 1), ("offset_note", notes_at),
                        ("note_size", notes_size), ("max_mapnr_64", max_mapnr)):
        put_field(buf, table, name, value)
    return bytes(buf)


def _bitmap(present: Sequence[int], size: int) -> bytes:
    buf = bytearray(size)
    for pfn in present:
        buf[pfn // 8] |= 1 << (pfn % 8)  # bit n, LSB first, is PFN n
    return bytes(buf)


def _write_flattened(f: BinaryIO, image: bytes, descs_at: int, data_at: int) -> None:
    """makedumpfile's flattened stream: header, (offset, size, bytes) records, (-1, -1).
    Descriptor and page-data records alternate, as QEMU's two 16 KiB caches flush."""
    head = bytearray(V.FLAT_HEADER_SIZE)
    head[:12] = b"makedumpfile"
    put(head, *V.FLAT_TYPE, 1)
    put(head, *V.FLAT_VERSION, 1)
    f.write(head)
    chunk = 4 * PAGE
    records = [(at, min(chunk, descs_at - at)) for at in range(0, descs_at, chunk)]
    descs = [(at, min(chunk, data_at - at)) for at in range(descs_at, data_at, chunk)]
    data = [(at, min(chunk, len(image) - at)) for at in range(data_at, len(image), chunk)]
    for i in range(max(len(descs), len(data))):
        records += descs[i : i + 1] + data[i : i + 1]
    for at, size in records:
        f.write(V.FLAT_RECORD.build(at) + V.FLAT_RECORD.build(size) + image[at : at + size])
    f.write(V.FLAT_RECORD.build(-1) + V.FLAT_RECORD.build(-1))
