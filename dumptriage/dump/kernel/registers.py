"""Saved CPU registers: the CONTEXT records of the header, the KPRCBs and triage dumps."""

from __future__ import annotations

import struct

from dumptriage.dump.containers.flat import read_flat
from dumptriage.formats.windows_context_flat import CONTEXT_AMD64, CONTEXT_X86
from dumptriage.model.record import Record

CONTEXT_SIZE = {"x86": 0x2CC, "x64": 0x4D0}

# The architecture bit of ContextFlags (winnt.h CONTEXT_i386 / CONTEXT_AMD64).
_ARCH_FLAG = {"x86": 0x0001_0000, "x64": 0x0010_0000}


class Registers(Record):
    """The three registers a stack walk starts from, plus the raw ContextFlags."""

    ip: int
    sp: int
    fp: int
    flags: int


def parse_context(blob: bytes | None, arch: str) -> Registers | None:
    """Registers from a CONTEXT; None when the record is empty, PAGE fill or not a CONTEXT.

    elf2dmp and Bin2Dmp leave the header's ContextRecord zero, and a KPRCB whose CPU
    never saved state has a zero record (dump-format.md section 6.3): both give None.
    """
    size = CONTEXT_SIZE.get(arch)
    if blob is None or size is None or len(blob) < 0xD0:
        return None
    if blob[:4] == b"PAGE" or blob[0x30:0x34] == b"PAGE":
        return None
    try:
        regs = _read(blob, arch)
    except struct.error:  # shorter than the CONTEXT's fixed part
        return None
    if regs.ip == 0 and regs.sp == 0:
        return None
    if regs.flags and not regs.flags & _ARCH_FLAG[arch]:
        # A non-zero ContextFlags without this architecture's bit is not this CONTEXT.
        return None
    return regs


def _read(blob: bytes, arch: str) -> Registers:
    # The CONTEXT of formats/windows_context.ksy, through its flattened struct format.
    if arch == "x86":
        x86 = read_flat(CONTEXT_X86, blob, 0)
        return Registers(ip=x86.eip, sp=x86.esp, fp=x86.ebp, flags=x86.context_flags)
    amd64 = read_flat(CONTEXT_AMD64, blob, 0)
    return Registers(ip=amd64.rip, sp=amd64.rsp, fp=amd64.rbp, flags=amd64.context_flags)
