"""Bounds checks shared by the triage-dump section readers.

A minidump's counts, sizes and offsets are file fields: every one is checked against the
file length (and a documented cap) before it is used, so a corrupt field can make us skip
data but never read past the file or allocate memory it chose.
"""

from __future__ import annotations

from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

# The code every triage-section problem is reported under: a header count/offset that
# disagrees with the data it describes. (A dedicated code may replace it; see the report.)
TRIAGE_SECTION_CODE = AnomalyCode.TRIAGE_SECTION_INVALID

PAGE_MASK = 0xFFF
# The largest SizeOfImage we believe: ntoskrnl is ~16 MB, big display drivers ~100 MB.
MAX_IMAGE_SIZE = 0x2000_0000


def fits(file_len: int, offset: int, size: int) -> bool:
    """True when the file range [offset, offset + size) lies inside the file."""
    return offset >= 0 and size >= 0 and offset + size <= file_len


def entries_that_fit(file_len: int, offset: int, entry_size: int, count: int, cap: int) -> int:
    """How many of ``count`` table entries of ``entry_size`` at ``offset`` can be read."""
    if offset <= 0 or offset >= file_len or entry_size <= 0:
        return 0
    return max(0, min(count, cap, (file_len - offset) // entry_size))


def is_kernel_image_base(va: int, pointer_bits: int) -> bool:
    """A plausible image base: non-zero, page-aligned and, on 64-bit, canonical.

    x64 and ARM64 Windows both use 48-bit virtual addresses, so bits 63..47 are all equal
    (kernel images are in the upper half, 0xFFFF8...).
    """
    if va == 0 or va & PAGE_MASK or va >> pointer_bits:
        return False
    if pointer_bits == 64:
        return (va >> 47) in (0, 0x1FFFF)
    return True


def is_image_range(start: int, size: int, pointer_bits: int) -> bool:
    return (is_kernel_image_base(start, pointer_bits) and 0 < size <= MAX_IMAGE_SIZE
            and start + size <= 1 << pointer_bits)


def section_anomaly(where: str, detail: str) -> Anomaly:
    return anomaly(TRIAGE_SECTION_CODE, where, detail)
