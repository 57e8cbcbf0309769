"""Loaded kernel modules: PsLoadedModuleList walked from memory, enriched from each PE image.

PsLoadedModuleList is a LIST_ENTRY head; each Flink points at InLoadOrderLinks (offset 0)
of a KLDR_DATA_TABLE_ENTRY (dump-format.md section 5.2). The walk is bounded and
cycle-checked: a list read from a dump is never trusted to end.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterable

from dumptriage.dump.kernel.layouts import LdrLayout
from dumptriage.dump.kernel.pe_image import PeImage, read_pe, version_info
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.dump import Module
from dumptriage.model.record import Record, replace

ReadBytes = Callable[[int, int], bytes | None]

# Windows caps nothing explicitly, but no real system loads more than a few hundred
# kernel modules; 4096 bounds a corrupt list without cutting a real one.
MAX_MODULES = 4096
_MAX_NAME_BYTES = 1024  # UNICODE_STRING.Length is a u16 of bytes; paths stay far below


class LoadedEntry(Record):
    """One KLDR_DATA_TABLE_ENTRY, Microsoft's fields in snake_case."""

    entry_va: int
    dll_base: int
    size_of_image: int
    base_dll_name: str | None
    full_dll_name: str | None
    checksum: int
    timestamp: int


def read_pointer(read: ReadBytes, va: int, pointer_bits: int) -> int | None:
    size = pointer_bits // 8
    blob = read(va, size)
    return None if blob is None else int.from_bytes(blob, "little")


def read_unicode_string(read: ReadBytes, va: int, pointer_bits: int) -> str | None:
    """A UNICODE_STRING {u16 Length (bytes), u16 MaximumLength, Buffer} at ``va``."""
    head = read(va, 16 if pointer_bits == 64 else 8)
    if head is None:
        return None
    length = struct.unpack_from("<H", head, 0)[0] & ~1
    buffer = int.from_bytes(head[8:16] if pointer_bits == 64 else head[4:8], "little")
    if length == 0 or buffer == 0:
        return None
    text = read(buffer, min(length, _MAX_NAME_BYTES))
    return None if text is None else text.decode("utf-16-le", "replace")


def walk_loaded_modules(read: ReadBytes, head: int, pointer_bits: int,
                        ldr: LdrLayout) -> tuple[list[LoadedEntry], list[Anomaly]]:
    """Entries of the list at ``head`` in load order, with anomalies for a broken list."""
    found: list[LoadedEntry] = []
    seen = {head}
    link = read_pointer(read, head, pointer_bits)
    where = f"PsLoadedModuleList {head:#x}"
    while link is not None and link != head:
        if link in seen:
            return found, [anomaly(AnomalyCode.LIST_CORRUPT, where,
                                   f"the list loops back to {link:#x} after {len(found)} entries")]
        if len(found) >= MAX_MODULES:
            return found, [anomaly(AnomalyCode.LIST_CORRUPT, where,
                                   f"more than {MAX_MODULES} entries: stopped")]
        seen.add(link)
        entry = _read_entry(read, link - ldr.in_load_order_links, pointer_bits, ldr)
        if entry is None:
            return found, [anomaly(AnomalyCode.PAGE_NOT_PRESENT, where,
                                   f"entry at {link:#x} is not in the dump: the list is cut "
                                   f"after {len(found)} modules")]
        found.append(entry)
        link = read_pointer(read, link, pointer_bits)
    if link is None:
        return found, [anomaly(AnomalyCode.PAGE_NOT_PRESENT, where,
                               "a list link is not in the dump")]
    return found, []


def _read_entry(read: ReadBytes, va: int, bits: int, ldr: LdrLayout) -> LoadedEntry | None:
    blob = read(va, ldr.timestamp + 4)
    if blob is None:
        return None
    fmt = "<Q" if bits == 64 else "<I"
    return LoadedEntry(
        entry_va=va,
        dll_base=struct.unpack_from(fmt, blob, ldr.dll_base)[0],
        size_of_image=struct.unpack_from("<I", blob, ldr.size_of_image)[0],
        base_dll_name=read_unicode_string(read, va + ldr.base_dll_name, bits),
        full_dll_name=read_unicode_string(read, va + ldr.full_dll_name, bits),
        checksum=struct.unpack_from("<I", blob, ldr.checksum)[0],
        timestamp=struct.unpack_from("<I", blob, ldr.timestamp)[0],
    )


def module_from_entry(entry: LoadedEntry) -> Module:
    path = entry.full_dll_name
    name = entry.base_dll_name or (path.rsplit("\\", 1)[-1] if path else None)
    return Module(name=name or f"<unnamed {entry.dll_base:#x}>", base=entry.dll_base,
                  size=entry.size_of_image, timestamp=entry.timestamp or None,
                  checksum=entry.checksum, path=path)


def enrich(read: ReadBytes, module: Module) -> tuple[Module, PeImage | None]:
    """Add the PE facts (PDB, version, company); the image is kept for symbols."""
    image = read_pe(read, module.base)
    version = version_info(read, image) if image is not None else None
    return replace(
        module,
        pdb=image.pdb if image is not None else None,
        version=version.file_version if version else None,
        company=version.company if version else None,
        timestamp=module.timestamp or (image.timestamp if image else None),
    ), image


class ModuleMap:
    """Address -> module lookups over a module list (bisect on sorted bases)."""

    def __init__(self, modules: Iterable[Module], images: dict[int, PeImage] | None = None):
        self.modules = sorted(modules, key=lambda m: m.base)
        self._bases = [m.base for m in self.modules]
        self.images = images or {}

    def find(self, address: int) -> Module | None:
        i = bisect.bisect_right(self._bases, address) - 1
        if i >= 0 and self.modules[i].contains(address):
            return self.modules[i]
        return None

    def is_code(self, address: int) -> Module | None:
        """The module whose executable sections hold ``address`` (whole image if unknown)."""
        module = self.find(address)
        if module is None:
            return None
        image = self.images.get(module.base)
        if image is not None and not image.is_code(address - module.base):
            return None
        return module
