"""The Windows kernel image in guest memory, found without symbols or a KDBG.

``../shared/reference/hung-guest-dumps.md`` section 2.2, in its recommended order for a
QEMU vmcore:

* method K (x86): KPCR.KdVersionBlock -> DBGKD_GET_VERSION64.KernBase, checked as an image;
* method B: an IDT handler's address (the gate of vector 0 first, as elf2dmp does), walked
  back page by page to an ``MZ`` header whose PE headers make sense;
* method C: the same walk from any other address known to be in the kernel (a vCPU's
  kernel-mode RIP; MemProcFS ``FindNtosScanHint64``).

A candidate is the kernel when (section 2.3) its machine fits the guest, its CodeView RSDS
record names a kernel PDB (``ntkrnlmp.pdb``, ``ntkrpamp.pdb``, ``ntkrnlpa.pdb``,
``ntoskrnl.pdb``: volatility3 accepts all four) or its export directory names a kernel
file, and it contains the address the walk started from (a driver's ``MZ`` below the hint
is passed over). Every walk is bounded: 32 MiB back (MemProcFS's hint scan bound; real
kernels are under 16 MiB), never below the start of kernel space.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from dumptriage.dump.kernel.pe_image import PeImage, read_pe

ReadBytes = Callable[[int, int], bytes | None]

KERNEL_PDBS = frozenset({"ntkrnlmp.pdb", "ntkrpamp.pdb", "ntkrnlpa.pdb", "ntoskrnl.pdb"})
KERNEL_FILES = frozenset({"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe"})
MAX_SCAN_BACK = 32 << 20
# Kernel space starts at 0xFFFF8000'00000000 (x64 canonical upper half) / 0x80000000 (x86
# without /3GB); a walk never goes below it.
_KERNEL_SPACE = {64: 0xFFFF_8000_0000_0000, 32: 0x8000_0000}
_MACHINE = {64: 0x8664, 32: 0x14C}  # IMAGE_FILE_MACHINE_AMD64 / I386
_GATE_SIZE = {64: 16, 32: 8}
_IDT_VECTORS = 32  # the exception vectors: all point into the kernel


def idt_handlers(read: ReadBytes, idt_base: int, idt_limit: int, bits: int) -> list[int]:
    """Handler addresses of the first exception gates, vector 0 first, distinct pages.

    x64 16-byte gate: offset bits 0-15 at +0, 16-31 at +6, 32-63 at +8; x86 8-byte gate:
    bits 0-15 at +0, 16-31 at +6 (Intel SDM vol. 3, 6.14.1 and 6.11; sheet 2.2 B).
    """
    size = _GATE_SIZE[bits]
    count = min(_IDT_VECTORS, (idt_limit + 1) // size)
    table = read(idt_base, count * size) if count > 0 else None
    if table is None:
        return []
    found: list[int] = []
    for i in range(count):
        low, mid = struct.unpack_from("<H4xH", table, i * size)
        handler = low | mid << 16
        if bits == 64:
            handler |= struct.unpack_from("<I", table, i * size + 8)[0] << 32
        if handler >= _KERNEL_SPACE[bits] and all(h >> 12 != handler >> 12 for h in found):
            found.append(handler)
    return found


def find_kernel(read: ReadBytes, hints: Iterable[int], bits: int, max_walks: int = 4
                ) -> tuple[PeImage | None, int | None]:
    """The kernel image holding one of ``hints`` (tried in order), and the hint that led
    to it. At most ``max_walks`` walks, each bounded by MAX_SCAN_BACK."""
    walked = 0
    tried: list[tuple[int, int]] = []  # address ranges already walked
    for hint in hints:
        if walked >= max_walks:
            break
        if hint < _KERNEL_SPACE[bits] or any(lo <= hint < hi for lo, hi in tried):
            continue
        walked += 1
        image = scan_back(read, hint, bits)
        if image is not None:
            return image, hint
        tried.append((hint - MAX_SCAN_BACK, hint + 1))
    return None, None


def scan_back(read: ReadBytes, hint: int, bits: int) -> PeImage | None:
    """Walk down from ``hint``'s page to the kernel's ``MZ`` header; missing pages are
    stepped over (VBS maps the header page apart from the rest, MemProcFS notes)."""
    floor = max(_KERNEL_SPACE[bits], hint - MAX_SCAN_BACK)
    page = hint & ~0xFFF
    while page >= floor:
        if read(page, 2) == b"MZ":
            image = read_pe(read, page)
            if image is not None and is_kernel(read, image, bits) and \
                    page <= hint < page + image.size_of_image:
                return image
        page -= 0x1000
    return None


def check_kernel_at(read: ReadBytes, base: int, bits: int) -> PeImage | None:
    """The image at ``base`` if it is a kernel image (method K's KernBase)."""
    if base & 0xFFF:
        return None
    image = read_pe(read, base)
    return image if image is not None and is_kernel(read, image, bits) else None


def is_kernel(read: ReadBytes, image: PeImage, bits: int) -> bool:
    if image.machine != _MACHINE[bits] or not 0x1000 <= image.size_of_image <= MAX_SCAN_BACK:
        return False
    if image.pdb is not None and image.pdb.name.rsplit("\\", 1)[-1].lower() in KERNEL_PDBS:
        return True
    name = export_name(read, image)
    return name is not None and name.lower() in KERNEL_FILES


def export_name(read: ReadBytes, image: PeImage) -> str | None:
    """IMAGE_EXPORT_DIRECTORY.Name (RVA at +0x0C): the file name the image was linked as."""
    rva, size = image.directory(0)
    head = read(image.base + rva, 16) if rva and size >= 40 else None
    if head is None:
        return None
    name_rva = struct.unpack_from("<I", head, 0x0C)[0]
    blob = read(image.base + name_rva, 32) if name_rva else None
    if blob is None:
        return None
    return blob.split(b"\0", 1)[0].decode("ascii", "replace") or None


def image_key(image: PeImage) -> str:
    """The binary's symbol-store key: TimeDateStamp as %08X, then SizeOfImage as %x
    (section 2.3 item 10)."""
    return f"{image.timestamp:08X}{image.size_of_image:x}"
