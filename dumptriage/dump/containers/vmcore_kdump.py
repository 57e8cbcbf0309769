"""QEMU kdump-compressed vmcores (``dump-guest-memory`` formats kdump-zlib/lzo/snappy).

Image layout (formats/qemu_vmcore.ksy; dump/dump.c ``create_kdump_vmcore``;
hung-guest-dumps.md section 1.2), in blocks of ``block_size`` (4096 for x86):

* block 0: disk_dump_header ("KDUMP   "); the 64-bit variant unless QEMU's ELF class
  would be 32, when the 32-bit one (10-byte timestamp, every later field 12 bytes down)
  is used. Which one it is shows in where block_size = 4096 sits;
* block 1: kdump_sub_header, then the same ELF notes as the ELF format;
* block 1 + sub_hdr_size: two PFN bitmaps of equal size (bitmap_blocks together); the
  second says which pages were dumped (bit n, LSB first, is PFN n);
* then one page descriptor per set bit, in PFN order, then the page data. Zero pages
  share one descriptor.

Pages are decompressed when read, one at a time, into a small bounded cache, so memory
does not grow with the dump. A descriptor is never trusted: its size is at most one
block, its data must lie in the image, and decompression stops at one block of output
(a "bomb" cannot inflate past 4 KiB). A page that fails any of this reads as not present,
with the reason.
"""

from __future__ import annotations

import zlib
from types import SimpleNamespace

from dumptriage.dump.containers.dump_file import _map_file
from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.dump.containers.vmcore import VmcoreContainer, VmcoreFacts
from dumptriage.dump.containers.vmcore_image import FlatImage, RawImage
from dumptriage.dump.containers.vmcore_notes import read_notes
from dumptriage.dump.memory.physical import PAGE_SHIFT, PAGE_SIZE, BitmapMap, PhysicalMemory
from dumptriage.errors import DumpFormatError, PageNotPresent
from dumptriage.formats.qemu_vmcore_flat import (
    DISK_DUMP_HEADER32,
    DISK_DUMP_HEADER64,
    KDUMP_PAGE_DESC,
    KDUMP_SUB_HEADER32,
    KDUMP_SUB_HEADER64,
)
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from typing import BinaryIO

    from dumptriage.dump.containers.vmcore_image import Image

KDUMP_SIGNATURE = b"KDUMP   "
# DUMP_DH_COMPRESSED_* (include/sysemu/dump.h), in disk_dump_header.status and in a page
# descriptor's flags; 0 in the flags means the page is stored as it is.
ZLIB, LZO, SNAPPY = 1, 2, 4
CODEC_NAMES = {ZLIB: "zlib", LZO: "lzo", SNAPPY: "snappy"}
CODEC_MODULES = {LZO: "lzo (python-lzo)", SNAPPY: "snappy (python-snappy)"}
MAX_PFN = 1 << 40  # as page_index.py: no x86 machine has frames above 2^40
MAX_NOTES_SIZE = 64 << 20
_DESC = flat_size(KDUMP_PAGE_DESC)
_PAGE_CACHE = 256  # decompressed pages kept (1 MiB), emptied when full
BANNERS = {
    "KDUMP": "QEMU dump-guest-memory kdump-compressed file: guest-physical memory and "
             "per-vCPU registers",
    "makedumpfile": "QEMU dump-guest-memory kdump-compressed file (makedumpfile flattened "
                    "stream): guest-physical memory and per-vCPU registers",
}


class KdumpVmcore(VmcoreContainer):
    """A QEMU kdump-compressed file, raw or flattened, behind the container protocol."""

    def __init__(self, path: str, file: BinaryIO) -> None:
        mapping = _map_file(file, path)
        data = memoryview(mapping)
        try:
            flattened = bytes(data[:len(KDUMP_SIGNATURE)]) != KDUMP_SIGNATURE
            fd = file.fileno()
            image: Image = FlatImage(path, data, fd) if flattened else RawImage(data, fd)
            layout = KdumpLayout(path, image)
        except BaseException:
            data.release()
            mapping.close()
            raise
        self._data = data
        self.layout = layout
        signature = "makedumpfile" if flattened else "KDUMP"
        facts = VmcoreFacts(signature, "vmcore_kdump", BANNERS[signature], None,
                            layout.header_size)
        notes = read_notes(memoryview(layout.notes), layout.notes_at, "kdump notes")
        facts.arch_hint = {64: "x64", 32: "x86"}.get(notes.prstatus_bits or 0)
        physical = KdumpPhysical(path, image, layout)
        super().__init__(path, file, mapping, physical, notes, facts,
                         image.anomalies + layout.anomalies)

    def close(self) -> None:
        self.layout.release()
        self._data.release()
        super().close()


class KdumpLayout:
    """disk_dump_header, kdump_sub_header, the notes, the bitmap and the descriptors."""

    def __init__(self, path: str, image: Image) -> None:
        self.path = path
        self.anomalies: list[Anomaly] = []
        head = image.read(0, flat_size(DISK_DUMP_HEADER64))
        if len(head) < flat_size(DISK_DUMP_HEADER32):
            raise DumpFormatError(path, "disk_dump_header", 0,
                                  f"truncated: the image has {image.size:#x} bytes")
        h, is_64 = _disk_dump_header(path, head)
        self.is_64 = is_64
        self.header_size = flat_size(DISK_DUMP_HEADER64 if is_64 else DISK_DUMP_HEADER32)
        self.block_size = PAGE_SIZE
        self.compression = int(h.status)
        self.nr_cpus = int(h.nr_cpus)
        sub_format = KDUMP_SUB_HEADER64 if is_64 else KDUMP_SUB_HEADER32
        sub = image.read(PAGE_SIZE, flat_size(sub_format))
        if len(sub) < flat_size(sub_format):
            raise DumpFormatError(path, "kdump_sub_header", PAGE_SIZE,
                                  f"the image ends at {image.size:#x}, inside the sub header")
        s = read_flat(sub_format, sub, 0)
        self.notes_at, self.notes = self._notes(image, h, s)
        max_mapnr = int(s.max_mapnr_64) if h.header_version >= 6 else int(h.max_mapnr)
        bitmap_at = (1 + int(h.sub_hdr_size)) * PAGE_SIZE
        bitmap_len = int(h.bitmap_blocks) * PAGE_SIZE
        self.bitmap = self._bitmap(image, bitmap_at, bitmap_len, max_mapnr)
        self.descs_at = bitmap_at + bitmap_len
        self.anomalies += self._truncation(image) + _codec_anomalies(self.compression)

    def _truncation(self, image: Image) -> list[Anomaly]:
        """A cut-short file: the descriptor table, or the last page's data, past its end."""
        count = self.bitmap.page_count
        table_end = self.descs_at + count * _DESC
        if table_end > image.size:
            return [anomaly(
                AnomalyCode.DUMP_TRUNCATED, "kdump page descriptors",
                f"the table of {count} descriptors runs to {table_end:#x} but the image ends "
                f"at {image.size:#x}: pages past the cut read as absent")]
        # Page data follows the descriptors in PFN order, so a cut in it shows in the last
        # ones (zero pages all point at the first data page): look at the last 256.
        tail = min(count, 256)
        last = image.read(table_end - tail * _DESC, tail * _DESC)
        end = max((int(d.ofs_data) + min(int(d.len_data), PAGE_SIZE)
                   for d in (read_flat(KDUMP_PAGE_DESC, last, i * _DESC) for i in range(tail))),
                  default=0)
        if end > image.size:
            return [anomaly(
                AnomalyCode.DUMP_TRUNCATED, "kdump page data",
                f"the last pages' data runs to {end:#x} but the image ends at "
                f"{image.size:#x}: pages whose data is past the cut read as absent")]
        return []

    def _notes(self, image: Image, h: SimpleNamespace, s: SimpleNamespace) -> tuple[int, bytes]:
        if int(h.header_version) < 4:  # offset_note exists from header_version 4 on
            self.anomalies.append(anomaly(
                AnomalyCode.HEADER_INCONSISTENT, "disk_dump_header header_version",
                f"version {h.header_version} has no note offset: no vCPU notes"))
            return 0, b""
        at, size = int(s.ofs_note), int(s.len_note)
        if size > MAX_NOTES_SIZE or at + size > image.size:
            raise DumpFormatError(self.path, "kdump_sub_header", PAGE_SIZE,
                                  f"notes at {at:#x} of {size:#x} bytes lie outside the "
                                  f"image ({image.size:#x} bytes)")
        return at, image.read(at, size)

    def _bitmap(self, image: Image, at: int, length: int, max_mapnr: int) -> BitmapMap:
        """The second (dumpable-pages) bitmap, checked against the image."""
        if max_mapnr > MAX_PFN:
            raise DumpFormatError(self.path, "kdump_sub_header", PAGE_SIZE,
                                  f"max_mapnr {max_mapnr:#x} is more pages than any machine has")
        half = length // 2
        if at + length > image.size:
            raise DumpFormatError(self.path, "disk_dump_header", 0x1B4 if self.is_64 else 0x1A8,
                                  f"bitmaps of {length:#x} bytes at {at:#x} run past the end "
                                  f"of the image ({image.size:#x})")
        bits = min(max_mapnr, half * 8)
        if bits < max_mapnr:
            self.anomalies.append(anomaly(
                AnomalyCode.HEADER_INCONSISTENT, "disk_dump_header bitmap_blocks",
                f"the bitmap holds {half * 8:#x} bits but max_mapnr is {max_mapnr:#x}: "
                "pages above it read as absent"))
        second = at + half
        view = image.view(second, (bits + 7) // 8)
        self._view = view  # released by release()
        raw = view if view is not None else memoryview(image.read(second, (bits + 7) // 8))
        return BitmapMap(raw, bits, 0)

    def release(self) -> None:
        if self._view is not None:
            self._view.release()


def _disk_dump_header(path: str, head: bytes) -> tuple[SimpleNamespace, bool]:
    """The 64-bit variant when its block_size reads 4096, else the 32-bit one."""
    for fmt, is_64 in ((DISK_DUMP_HEADER64, True), (DISK_DUMP_HEADER32, False)):
        if len(head) >= flat_size(fmt):
            h = read_flat(fmt, head, 0)
            if h.block_size == PAGE_SIZE:
                return h, is_64
    raise DumpFormatError(path, "disk_dump_header", 0x1AC,
                          "block_size is not 4096 in either header variant: not an x86 "
                          "kdump-compressed file")


def _codec_anomalies(status: int) -> list[Anomaly]:
    missing = [name for flag, name in CODEC_MODULES.items()
               if status & flag and _codec(flag) is None]
    if not missing:
        return []
    return [anomaly(AnomalyCode.DUMP_TYPE_NOT_SUPPORTED, "disk_dump_header status",
                    f"pages are compressed with {', '.join(missing)}, which is not "
                    "installed: those pages read as absent (pip install it, or dump with "
                    "--format kdump-zlib or elf)")]


def _codec(flag: int) -> object:
    """The decompressor module for a flag, or None when it is not importable."""
    try:
        if flag == LZO:
            import lzo  # type: ignore[import-not-found]

            return lzo
        if flag == SNAPPY:
            import snappy  # type: ignore[import-not-found]

            return snappy
    except ImportError:
        return None
    return zlib


class KdumpPhysical(PhysicalMemory):
    """Guest-physical reads through the bitmap, the descriptors and the decompressor."""

    def __init__(self, path: str, image: Image, layout: KdumpLayout) -> None:
        self._path = path
        self._image = image
        self._layout = layout
        self.index = layout.bitmap
        self._bitmap = layout.bitmap
        self._pages: dict[int, bytes] = {}

    def page_offset(self, pfn: int) -> int:
        raise PageNotPresent(pfn << PAGE_SHIFT, "kdump pages have no file offset")

    def read(self, pa: int, size: int) -> bytes:
        if pa < 0 or size < 0:
            raise ValueError("negative address or size")
        parts = []
        while size > 0:
            in_page = pa & (PAGE_SIZE - 1)
            take = min(size, PAGE_SIZE - in_page)
            parts.append(self.page(pa >> PAGE_SHIFT)[in_page : in_page + take])
            pa += take
            size -= take
        return b"".join(parts)

    def read_u32(self, pa: int) -> int:
        return int.from_bytes(self.read(pa, 4), "little")

    def read_u64(self, pa: int) -> int:
        return int.from_bytes(self.read(pa, 8), "little")

    def page(self, pfn: int) -> bytes:
        """The 4 KiB of a dumped page (PageNotPresent if absent or unreadable)."""
        cached = self._pages.get(pfn)
        if cached is not None:
            return cached
        bitmap = self._bitmap
        if not bitmap.is_present(pfn):
            raise PageNotPresent(pfn << PAGE_SHIFT, "page is not in the dump")
        at = self._layout.descs_at + bitmap.rank(pfn) * _DESC
        raw = self._image.read(at, _DESC)
        if len(raw) < _DESC:
            raise PageNotPresent(pfn << PAGE_SHIFT, f"its page descriptor at {at:#x} lies "
                                 "beyond the end of the image")
        page = self._decode(pfn, read_flat(KDUMP_PAGE_DESC, raw, 0), at)
        if len(self._pages) >= _PAGE_CACHE:
            self._pages.clear()
        self._pages[pfn] = page
        return page

    def _decode(self, pfn: int, desc: SimpleNamespace, at: int) -> bytes:
        offset, length, flags = int(desc.ofs_data), int(desc.len_data), int(desc.flags)
        where = f"page descriptor at {at:#x}"
        if length > PAGE_SIZE or length == 0:
            raise PageNotPresent(pfn << PAGE_SHIFT, f"{where} gives size {length:#x}, not "
                                 "1 to 4096 bytes")
        data = self._image.read(offset, length)
        if len(data) < length:
            raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: data at {offset:#x} lies "
                                 "beyond the end of the image")
        if flags == 0:
            if length != PAGE_SIZE:
                raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: an uncompressed page of "
                                     f"{length:#x} bytes")
            return data
        return _decompress(pfn, flags, data, where)


def _decompress(pfn: int, flags: int, data: bytes, where: str) -> bytes:
    flag = flags & (ZLIB | LZO | SNAPPY)
    module = _codec(flag) if flag in CODEC_NAMES else None
    if flag not in CODEC_NAMES or flag != flags:
        raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: flags {flags:#x} name no known "
                             "compression")
    if module is None:
        raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: the page is {CODEC_NAMES[flag]}-"
                             f"compressed and {CODEC_MODULES[flag]} is not installed")
    try:
        if flag == ZLIB:
            inflater = zlib.decompressobj()
            # max_length: never more than one page, whatever the stream claims.
            page = inflater.decompress(data, PAGE_SIZE)
            complete = inflater.eof
        elif flag == LZO:
            page = module.decompress(data, False, PAGE_SIZE)  # type: ignore[attr-defined]
            complete = True
        else:
            if module.uncompressed_length(data) != PAGE_SIZE:  # type: ignore[attr-defined]
                raise ValueError("snappy length is not one page")
            page = module.uncompress(data)  # type: ignore[attr-defined]
            complete = True
    except Exception as err:  # each codec raises its own error classes
        raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: {CODEC_NAMES[flag]} data does "
                             f"not decompress ({type(err).__name__})") from err
    if len(page) != PAGE_SIZE or not complete:
        raise PageNotPresent(pfn << PAGE_SHIFT, f"{where}: {CODEC_NAMES[flag]} data gives "
                             f"{len(page):#x} bytes, not one page")
    return bytes(page)

