"""The stack walker on a hand-made x86 stack: EBP chain, scan, and their limits."""

from __future__ import annotations

import struct

from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker, display_name
from dumptriage.model.dump import Module

NT = Module("ntkrpamp.exe", 0x83C00000, 0x400000, None, None, None)
DRV = Module("qutmdrv.sys", 0x93768000, 0x12000, None, None, None)
STACK = 0x807FC000


def _stack(words: dict[int, int]) -> bytes:
    blob = bytearray(0x1000)
    for offset, value in words.items():
        struct.pack_into("<I", blob, offset, value)
    return bytes(blob)


def _reader(blob: bytes):  # type: ignore[no-untyped-def]
    def read(va: int, size: int) -> bytes | None:
        offset = va - STACK
        return blob[offset : offset + size] if offset >= 0 and offset + size <= len(blob) \
            else None
    return read


def test_chain_then_scan_and_stale_values() -> None:
    words = {
        0x100: STACK + 0x200, 0x104: 0x83C01111,  # frame 1 -> nt
        0x200: STACK + 0x300, 0x204: 0x937684DB,  # frame 2 -> qutmdrv+0x4db
        0x300: STACK + 0x280, 0x304: 0x83C02222,  # frame 3 links *down*: chain ends after it
        0x400: 0x83C03333,                         # a stale return address: scan only
        0x404: 0x12345678,                         # not code
    }
    walker = StackWalker(_reader(_stack(words)), ModuleMap([NT, DRV]), 32)
    frames = walker.walk(Registers(ip=0x83C00500, sp=STACK + 0xF0, fp=STACK + 0x100, flags=0),
                         StackBounds(STACK + 0xF0, STACK + 0x1000))
    summary = [(f.method, f.stack_address, f.symbol) for f in frames]
    assert summary[0] == ("context", None, "nt+0x500")
    assert ("frame_pointer", STACK + 0x104, "nt+0x1111") in summary
    assert ("frame_pointer", STACK + 0x204, "qutmdrv+0x4db") in summary
    assert ("frame_pointer", STACK + 0x304, "nt+0x2222") in summary
    assert ("scan", STACK + 0x400, "nt+0x3333") in summary
    assert all(f.address != 0x12345678 for f in frames)
    # No slot is reported twice.
    slots = [f.stack_address for f in frames[1:]]
    assert len(slots) == len(set(slots))


def test_scan_stops_where_the_stack_leaves_the_dump() -> None:
    blob = _stack({0xFFC: 0x83C04444})
    walker = StackWalker(_reader(blob), ModuleMap([NT]), 32)
    frames = walker.walk(Registers(ip=0, sp=STACK + 0xFF0, fp=0, flags=0),
                         StackBounds(STACK + 0xFF0, STACK + 0x3000))
    assert [f.address for f in frames[1:]] == [0x83C04444]


def test_windbg_module_names() -> None:
    assert display_name(NT) == "nt" and display_name(DRV) == "qutmdrv"
