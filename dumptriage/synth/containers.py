"""What follows the dump header for each DumpType, and the streaming page writer."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from construct import Int64ul

from dumptriage.synth import layout as L
from dumptriage.synth.physmem import PAGE, PhysicalMemory

ZERO_CHUNK = bytes(1 << 20)


def align_up(value: int, align: int = PAGE) -> int:
    return (value + align - 1) // align * align


def runs_of(pfns: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Sorted pfns -> (first pfn, count) runs."""
    out: list[list[int]] = []
    for pfn in sorted(pfns):
        if out and out[-1][0] + out[-1][1] == pfn:
            out[-1][1] += 1
        else:
            out.append([pfn, 1])
    return tuple((s, c) for s, c in out)


def bitmap(runs: tuple[tuple[int, int], ...], nbits: int, pad_to: int = 8) -> bytes:
    """Bit i of byte j is pfn j*8+i (LSB first), padded to a multiple of `pad_to` bytes."""
    buf = bytearray(align_up((nbits + 7) // 8, pad_to))
    for start, count in runs:
        end = start + count
        first_full, last_full = (start + 7) // 8, end // 8
        if first_full < last_full:
            buf[first_full:last_full] = b"\xff" * (last_full - first_full)
            edges = [*range(start, first_full * 8), *range(last_full * 8, end)]
        else:
            edges = list(range(start, end))
        for pfn in edges:
            buf[pfn // 8] |= 1 << (pfn % 8)
    return bytes(buf)


@dataclass(frozen=True)
class Container:
    """The bytes between the header and the first page, and where pages go."""

    meta: bytes  # written at file offset header_size
    first_page: int | None  # file offset of the first stored page
    present: tuple[tuple[int, int], ...]  # stored pages, in file order
    bitmap_bits: int | None
    tail: bytes = b""  # written after the pages (triage marker area)


def summary_container(is64: bool, hsize: int, present: tuple[tuple[int, int], ...],
                      nbits: int) -> Container:
    """DumpType 2: SUMMARY_DUMP32/64 (§2.3). Bitmap as u32 words at +0x20 / +0x28."""
    bits_at = L.SUMMARY_BITS64 if is64 else L.SUMMARY_BITS32
    bm = bitmap(present, nbits)
    first = align_up(hsize + bits_at + len(bm))
    buf = bytearray(bits_at)
    t = L.SUMMARY
    L.put_field(buf, t, "Signature", b"SDMP")
    L.put_field(buf, t, "ValidDump", b"DUMP")
    L.put_field(buf, t, "DumpOptions", 1)  # DUMP_SUMMARY_VALID_KERNEL_VA
    L.put_field(buf, t, "HeaderSize", first)
    L.put_field(buf, t, "BitmapSize", nbits)
    L.put_field(buf, t, "Pages", sum(c for _, c in present))
    L.put_field(buf, t, "SizeOfBitMap", nbits)
    return Container(bytes(buf) + bm, first, present, nbits)


def bitmap_container(full: bool, hsize: int, present: tuple[tuple[int, int], ...],
                     nbits: int) -> Container:
    """DumpTypes 5/6: the BMP header (§2.3); same layout on 32-bit at 0x1000."""
    bm = bitmap(present, nbits)
    first = align_up(hsize + L.BITMAP_BITS + len(bm))
    buf = bytearray(L.BITMAP_BITS)
    t = L.BITMAP
    L.put_field(buf, t, "Signature", b"FDMP" if full else b"SDMP")
    L.put_field(buf, t, "ValidDump", b"DUMP")
    L.put_field(buf, t, "DumpOptions", 0)
    L.put_field(buf, t, "FirstPage", first)
    L.put_field(buf, t, "TotalPresentPages", sum(c for _, c in present))
    L.put_field(buf, t, "Pages", nbits)
    return Container(bytes(buf) + bm, first, present, nbits)


def rdmp_container(hsize: int, present: tuple[tuple[int, int], ...],
                   complete: bool = False) -> Container:
    """DumpTypes 8/9 and 0xA: RDMP_HEADER64, 0x10 bytes, the range table (§2.4, S1 only).

    S1 checks MetadataSize - 0x20 == FirstPageOffset - 0x2040: MetadataSize counts from
    0x2020 and the pages start right after it. 0xA is written packed, as the real file of
    kdmp-parser issue #27 is (MetadataSize 0x70 = 0x10 + 6 ranges, pages from 0x2090),
    with NumberOfRanges and TotalNumberOfPages. 8/9 keep S1's __Unknown1/2 zero and pad
    the table with zero ranges to a page boundary: S1 walks MetadataSize bytes from 0x2030
    (0x10 past the metadata) and stops only at a PFN 0, so the padding ends its walk.
    """
    if any(start == 0 for start, _ in present):
        raise ValueError("an RDMP range cannot start at PFN 0: S1 ends the table there")
    table = b"".join(Int64ul.build(s) + Int64ul.build(c) for s, c in present)
    end = hsize + L.RDMP_RANGES + len(table)
    first = end if complete else align_up(end + 0x10)  # room for one zero range
    buf = bytearray(L.RDMP_RANGES)
    t = L.RDMP
    L.put_field(buf, t, "Marker", 0x40)
    L.put_field(buf, t, "Signature", b"RDMP")
    L.put_field(buf, t, "ValidDump", b"DUMP")
    L.put_field(buf, t, "MetadataSize", first - (hsize + L.RDMP_METADATA))
    L.put_field(buf, t, "FirstPageOffset", first)
    if complete:
        L.put_field(buf, t, "NumberOfRanges", len(present))
        L.put_field(buf, t, "TotalNumberOfPages", sum(c for _, c in present))
    return Container(bytes(buf) + table, first, present, None)


def triage_container(is64: bool, hsize: int, build: int, top_of_stack: int) -> Container:
    """DumpType 4, minimal: TRIAGE_DUMP32/64 + the "TRGD" marker (§3.2-§3.4).

    Context and exception point at the header's own slots, as in the real Win10 file
    (§12.1). Used when DumpSpec.triage is None; triage.py writes the full content.
    """
    t = L.TRIAGE64 if is64 else L.TRIAGE32
    size = L.TRIAGE64_SIZE if is64 else L.TRIAGE32_SIZE
    buf = bytearray(size)
    valid = hsize + size
    L.put_field(buf, t, "ServicePackBuild", 0x100 if build == 7601 else 0)  # CSD: SP1
    L.put_field(buf, t, "SizeOfDump", valid + 4)
    L.put_field(buf, t, "ValidOffset", valid)
    L.put_field(buf, t, "ContextOffset", 0x348 if is64 else 0x320)  # §1.2/§1.3 slots
    L.put_field(buf, t, "ExceptionOffset", 0xF00 if is64 else 0x7D0)
    L.put_field(buf, t, "TopOfStack", top_of_stack)
    return Container(bytes(buf) + L.TRIAGE_VALID, None, (), None)


def container_size(hsize: int, c: Container) -> int:
    if c.first_page is None:
        return hsize + len(c.meta) + len(c.tail)
    return c.first_page + sum(n for _, n in c.present) * PAGE + len(c.tail)


def stream(out: BinaryIO, header: bytes, c: Container, mem: PhysicalMemory,
           sparse: bool) -> None:
    """Write header, container metadata and every stored page in file order.

    Pages without content are zero: with `sparse` they are skipped with a seek (a file
    hole once the caller truncates to the final size), otherwise written as zeros.
    """
    out.write(header)
    out.write(c.meta)
    if c.first_page is None:
        out.write(c.tail)
        return
    out.write(bytes(c.first_page - len(header) - len(c.meta)))
    content = sorted(mem.pages)
    for start, count in c.present:
        _stream_run(out, start, start + count, content, mem, sparse)
    out.write(c.tail)


def _stream_run(out: BinaryIO, start: int, end: int, content: list[int],
                mem: PhysicalMemory, sparse: bool) -> None:
    pfn = start
    i = bisect.bisect_left(content, start)
    while pfn < end:
        nxt = content[i] if i < len(content) and content[i] < end else end
        _skip(out, (nxt - pfn) * PAGE, sparse)
        if nxt < end:
            page = mem.pages[nxt]
            if sparse and not any(page):
                _skip(out, PAGE, sparse)
            else:
                out.write(page)
            i += 1
            nxt += 1
        pfn = nxt


def _skip(out: BinaryIO, nbytes: int, sparse: bool) -> None:
    if sparse:
        out.seek(nbytes, 1)
        return
    while nbytes > 0:
        n = min(nbytes, len(ZERO_CHUNK))
        out.write(ZERO_CHUNK[:n])
        nbytes -= n



