"""A tiny TRIAGE_DUMP reader for the synth tests: struct + literal offsets only.

Offsets: dump-format.md §3.2/§3.3 (TRIAGE_DUMP64 at 0x2000, TRIAGE_DUMP32 at 0x1000),
§3.6 and §12.1 (sections, driver entries, DUMP_STRING, data blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.synth._rawread import u32, u64

# field -> (x64 offset, x86 offset) inside the triage header; None: not on that arch
FIELDS: dict[str, tuple[int, int]] = {
    "SizeOfDump": (0x04, 0x04), "ValidOffset": (0x08, 0x08), "ContextOffset": (0x0C, 0x0C),
    "ExceptionOffset": (0x10, 0x10), "MmOffset": (0x14, 0x14),
    "UnloadedDriversOffset": (0x18, 0x18), "PrcbOffset": (0x1C, 0x1C),
    "ProcessOffset": (0x20, 0x20), "ThreadOffset": (0x24, 0x24),
    "CallStackOffset": (0x28, 0x28), "SizeOfCallStack": (0x2C, 0x2C),
    "DriverListOffset": (0x30, 0x30), "DriverCount": (0x34, 0x34),
    "StringPoolOffset": (0x38, 0x38), "StringPoolSize": (0x3C, 0x3C),
    "BrokenDriverOffset": (0x40, 0x40), "TriageOptions": (0x44, 0x44),
    "DebuggerDataOffset": (0x70, 0x58), "DebuggerDataSize": (0x74, 0x5C),
    "DataBlocksOffset": (0x78, 0x60), "DataBlocksCount": (0x7C, 0x64),
}


@dataclass
class Triage:
    data: bytes

    @property
    def is64(self) -> bool:
        return self.data[:8] == b"PAGEDU64"

    @property
    def base(self) -> int:
        return 0x2000 if self.is64 else 0x1000

    def __getitem__(self, name: str) -> int:
        if name == "TopOfStack":  # u64 on x64, u32 on x86, both at +0x48
            return (u64 if self.is64 else u32)(self.data, self.base + 0x48)
        return u32(self.data, self.base + FIELDS[name][0 if self.is64 else 1])

    def ptr(self, off: int) -> int:
        return u64(self.data, off) if self.is64 else u32(self.data, off)

    def blocks(self) -> list[tuple[int, int, int]]:
        """(VA, file offset, size) per TRIAGE_DATA_BLOCK (16 bytes x64, 12 bytes x86)."""
        at, n = self["DataBlocksOffset"], self["DataBlocksCount"]
        esz = 16 if self.is64 else 12
        out = []
        for i in range(n):
            e = at + i * esz
            va = u64(self.data, e) if self.is64 else u32(self.data, e)
            k = 8 if self.is64 else 4
            out.append((va, u32(self.data, e + k), u32(self.data, e + k + 4)))
        return out

    def read_va(self, va: int, size: int) -> bytes | None:
        """Bytes at a VA from the data blocks or the captured stack."""
        top, ssize = self["TopOfStack"], self["SizeOfCallStack"]
        ranges = [*self.blocks(), (top, self["CallStackOffset"], ssize)]
        for start, off, n in ranges:
            if start <= va and va + size <= start + n:
                return self.data[off + va - start : off + va - start + size]
        return None

    def string(self, off: int) -> str:
        """DUMP_STRING: u32 length in characters, UTF-16 text, NUL (§12.1)."""
        n = u32(self.data, off)
        text = self.data[off + 4 : off + 4 + 2 * n]
        assert self.data[off + 4 + 2 * n : off + 6 + 2 * n] == b"\0\0"
        return text.decode("utf-16-le")
