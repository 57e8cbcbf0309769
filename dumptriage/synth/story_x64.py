"""The Win10 x64 triage story: 0x1000007E in amdppm.sys, shaped like the real minidump.

Shape (not values) from dump-format.md §12.1 and corpus/dumps/triage_x64.expected.json:
CPU 0's KeBugCheckEx context has Rsp = TopOfStack; above it nt's exception-dispatch
frames, the CONTEXT record (bugcheck Arg4) and the EXCEPTION_RECORD (Arg3) on the stack,
then the faulting amdppm frames (exception Rsp, Rip = Arg2), Wdf01000 frames, and nt's
PnP worker frames (IofCallDriver ... thread start). The header ContextRecord holds the
exception context (as in the real file). Every address and offset here is synthetic.
"""

from __future__ import annotations

import struct

from dumptriage.synth.headers import Registers, context64
from dumptriage.synth.spec import Regs, StackSpec

NT = 0xFFFFF8047BA00000  # ntoskrnl base of the real 19041 file (§12.1)
WDF = 0xFFFFF80480C00000  # presets._win10_modules (synthetic)
AMDPPM = 0xFFFFF8048B570000
NT_EXPORTS: tuple[tuple[str, int], ...] = (
    ("KeBugCheckEx", 0x3F6B40), ("IofCallDriver", 0x252E80),
    ("ExQueueWorkItem", 0x21A9C0), ("PsCreateSystemThread", 0x6C1D50),
)
KE_BUGCHECK_EX = NT + 0x3F6B40
FAULT_IP = AMDPPM + 0x1334C  # bugcheck Arg2, inside amdppm.sys

STACK_BASE = 0xFFFFD60F3C2A7000
TOP = STACK_BASE - 0x2118  # TopOfStack = the KeBugCheckEx Rsp
CONTEXT_VA = TOP + 0x838  # Arg4: CONTEXT (0x4D0 bytes)
EXCEPTION_VA = TOP + 0x1000  # Arg3: EXCEPTION_RECORD64 (0x98 bytes)
FAULT_SP = TOP + 0x1238  # Rsp of the exception context

# (offset from TOP, return address, module) from the innermost frame outward
_NT_DISPATCH = (0x8, 0x48, 0xB8, 0xE8, 0x808, 0xEC8, 0x10A8)
_NT_DISPATCH_RVAS = (0x40F5E1, 0x3CC152, 0x3FE9C2, 0x32C097, 0x32AC86, 0x407CAC, 0x4032F5)
_AMDPPM = ((0x28, 0x1313F), (0x58, 0x13234), (0x88, 0x20E8F), (0xE8, 0x183F6),
           (0x218, 0x1F852))
_WDF = ((0x258, 0x8C027), (0x2A8, 0x26F81), (0x2E8, 0x8B227), (0x338, 0x89E21),
        (0x378, 0x899DA), (0x408, 0x8B6B1), (0x478, 0x8B47A), (0x508, 0x9299E),
        (0x538, 0x1CC5F), (0x5A8, 0x1A866))
_NT_WORKER = ((0x608, 0x252E80 + 0x55), (0x648, 0x7548A6), (0x688, 0x2E0D1E),
              (0x6F8, 0x36AB7C), (0x788, 0x723760), (0x818, 0x72362F), (0x868, 0x726BDD),
              (0x938, 0x7BDF0C), (0x988, 0x36C2EC), (0xA48, 0x225975), (0xAE8, 0x317E25),
              (0xB38, 0x3FD0D8))


def frames() -> tuple[tuple[int, int, str], ...]:
    """(stack address, return address, module) for every planted return address."""
    out = [(TOP + off, NT + rva, "ntoskrnl.exe")
           for off, rva in zip(_NT_DISPATCH, _NT_DISPATCH_RVAS, strict=True)]
    out += [(FAULT_SP + off, AMDPPM + rva, "amdppm.sys") for off, rva in _AMDPPM]
    out += [(FAULT_SP + off, WDF + rva, "Wdf01000.sys") for off, rva in _WDF]
    out += [(FAULT_SP + off, NT + rva, "ntoskrnl.exe") for off, rva in _NT_WORKER]
    return tuple(out)


def exception_context() -> Regs:
    return Regs(ip=FAULT_IP, sp=FAULT_SP, bp=0)


def _exception_record() -> bytes:
    """EXCEPTION_RECORD64: code, flags, record, address, NumberParameters, pad, params."""
    return struct.pack("<IIQQII2Q", 0xC0000005, 0, 0, FAULT_IP, 2, 0, 0,
                       0xFFFFFFFFFFFFFFFF).ljust(0x98, b"\0")


def stack() -> StackSpec:
    slots: dict[int, int] = {va: ret for va, ret, _ in frames()}
    for base, blob in ((CONTEXT_VA, context64(Registers(*exception_context()))),
                       (EXCEPTION_VA, _exception_record())):
        for i in range(0, len(blob), 8):
            if base + i in slots:
                raise AssertionError(f"{base + i:#x}: record overlaps a frame")
            slots[base + i] = int.from_bytes(blob[i : i + 8], "little")
    top = max(slots) + 8
    values = tuple(slots.get(va, 0) for va in range(TOP, top, 8))
    return StackSpec(low=STACK_BASE - 0x6000, high=STACK_BASE, sp=TOP, ip=KE_BUGCHECK_EX,
                     bp=TOP + 0x1D28, values=values)
