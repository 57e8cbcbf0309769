"""The walk from a bugcheck argument's CONTEXT record (WinDbg's .cxr), on hand-made memory.

x64 CONTEXT offsets (winnt.h, as formats/windows_context.ksy has them): ContextFlags
+0x30, Rsp +0x98, Rbp +0xA0, Rip +0xF8; CONTEXT_AMD64 = 0x00100000.
"""

from __future__ import annotations

import struct

from dumptriage.dump.kernel.exception_context import exception_context
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker
from dumptriage.model.dump import Module

NT = Module("ntoskrnl.exe", 0xFFFFF80000000000, 0x800000, None, None, None)
DRV = Module("netkvm.sys", 0xFFFFF80010000000, 0x40000, None, None, None)
SP = 0xFFFF800000010000
CONTEXT_AT = SP + 0x400


def _context(rip: int, rsp: int, rbp: int = 0) -> bytes:
    blob = bytearray(0x4D0)
    struct.pack_into("<I", blob, 0x30, 0x0010001F)  # CONTEXT_AMD64 | CONTROL | INTEGER...
    struct.pack_into("<QQ", blob, 0x98, rsp, rbp)
    struct.pack_into("<Q", blob, 0xF8, rip)
    return bytes(blob)


def _memory(words: dict[int, int], blobs: dict[int, bytes]) -> dict[int, int]:
    """Byte map of the stack page: pointer-sized words and whole records."""
    data: dict[int, int] = {}
    for at, value in words.items():
        for i, b in enumerate(struct.pack("<Q", value)):
            data[at + i] = b
    for at, blob in blobs.items():
        for i, b in enumerate(blob):
            data[at + i] = b
    return data


def _reader(data: dict[int, int]):  # type: ignore[no-untyped-def]
    def read(va: int, size: int) -> bytes | None:
        if va >= SP and va + size <= SP + 0x2000:
            return bytes(data.get(va + i, 0) for i in range(size))
        return None  # module code is not in this "dump": the CALL check keeps the value
    return read


def test_context_argument_of_0x7e_is_read() -> None:
    read = _reader(_memory({}, {CONTEXT_AT: _context(DRV.base + 0x1234, SP + 0x900)}))
    found = exception_context(read, 0x1000007E, (0xC0000005, DRV.base + 0x1234, 0, CONTEXT_AT),
                              "x64")
    assert found is not None and found.argument == 4
    assert (found.registers.ip, found.registers.sp) == (DRV.base + 0x1234, SP + 0x900)


def test_codes_without_a_context_argument_and_bad_records_give_none() -> None:
    read = _reader(_memory({}, {CONTEXT_AT: _context(DRV.base + 0x1234, SP + 0x900)}))
    assert exception_context(read, 0xD1, (0, 2, 0, CONTEXT_AT), "x64") is None
    assert exception_context(read, 0x7E, (0, 0, 0, 0), "x64") is None
    assert exception_context(read, 0x7E, (0, 0, 0, SP + 0x1000), "x64") is None  # zeros
    assert exception_context(read, 0x7E, (0, 0, 0, 0xFFFF900000000000), "x64") is None


def test_walk_keeps_the_dispatch_below_the_record_then_walks_from_it() -> None:
    cxr_sp = SP + 0x900
    words = {SP + 0x10: NT.base + 0x5000,       # exception dispatch, below the record
             SP + 0x980: DRV.base + 0x2000,     # the faulting driver's caller
             SP + 0x500: DRV.base + 0x1234}     # a stale copy of the faulting IP
    read = _reader(_memory(words, {CONTEXT_AT: _context(DRV.base + 0x1234, cxr_sp)}))
    walker = StackWalker(read, ModuleMap([NT, DRV]), 64)
    crash = Registers(ip=NT.base + 0x100, sp=SP, fp=0, flags=0)
    cxr = Registers(ip=DRV.base + 0x1234, sp=cxr_sp, fp=0, flags=0)
    frames = walker.walk_with_exception(crash, cxr, StackBounds(SP, SP + 0x2000))
    assert [(f.method, f.address, f.stack_address) for f in frames] == [
        ("context", NT.base + 0x100, None),
        ("scan", NT.base + 0x5000, SP + 0x10),
        ("exception_context", DRV.base + 0x1234, None),
        ("scan", DRV.base + 0x2000, SP + 0x980),
    ]


def _trap_x64(rip: int, rsp: int, cs: int = 0x10) -> bytes:
    blob = bytearray(0x190)
    struct.pack_into("<Q", blob, 0x168, rip)  # ntdiff _KTRAP_FRAME (x64): Rip +0x168
    struct.pack_into("<H", blob, 0x170, cs)   # SegCs +0x170
    struct.pack_into("<Q", blob, 0x180, rsp)  # Rsp +0x180
    return bytes(blob)


def test_0x8e_trap_frame_gives_the_interrupted_registers() -> None:
    read = _reader(_memory({}, {CONTEXT_AT: _trap_x64(DRV.base + 0x40, SP + 0x800)}))
    found = exception_context(read, 0x1000008E, (0xC0000005, DRV.base + 0x40, CONTEXT_AT, 0),
                              "x64")
    assert found is not None and found.record == "KTRAP_FRAME" and found.argument == 3
    assert (found.registers.ip, found.registers.sp) == (DRV.base + 0x40, SP + 0x800)


def test_a_trap_from_user_mode_is_not_walked() -> None:
    read = _reader(_memory({}, {CONTEXT_AT: _trap_x64(0x7FF600001000, 0x1000, cs=0x33)}))
    assert exception_context(read, 0x8E, (0, 0, CONTEXT_AT, 0), "x64") is None


def test_x86_kernel_trap_esp_is_the_frames_hardware_esp_slot() -> None:
    blob = bytearray(0x78)
    struct.pack_into("<III", blob, 0x60, 0x8000F000, 0, 0x93768123)  # Ebp, ErrCode, Eip
    struct.pack_into("<I", blob, 0x6C, 0x8)  # SegCs: kernel code
    base = 0x8A000000

    def read(va: int, size: int) -> bytes | None:
        return bytes(blob[va - base : va - base + size]) if va == base else None

    found = exception_context(read, 0x8E, (0, 0, base, 0), "x86")
    assert found is not None
    assert (found.registers.ip, found.registers.sp, found.registers.fp) == (
        0x93768123, base + 0x74, 0x8000F000)
