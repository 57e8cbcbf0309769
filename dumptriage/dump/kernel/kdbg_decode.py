"""The Windows 8+ x64 KDBG of a live or hung guest, decoded when its keys can be had offline.

Booted without a debugger, x64 Windows 8 and later keep KdDebuggerDataBlock encoded in
place while KdpDataBlockEncoded is set (``../shared/reference/hung-guest-dumps.md``
section 3.2; a vmcore holds the encoded form). The three keys are found without a PDB the
way Volatility 2's ``win8_kdbg.py`` does, by reading KdCopyDataBlock's code: a
``cmp byte [rip+x], 0`` (80 3D) names &KdpDataBlockEncoded; within the next 300 bytes the
block size and size/8 appear as immediates, the first ``lea r64, [rip+x]`` names
&KdDebuggerDataBlock, the first ``mov r64, [rip+x]`` &KiWaitNever and the next ``mov`` or
``xor r64, [rip+x]`` &KiWaitAlways. Each qword then decodes as (Q4, V2; same order):

    x = encoded ^ KiWaitNever;  x = rotl64(x, KiWaitNever & 0xFF);
    x ^= &KdpDataBlockEncoded | 0xFFFF000000000000;  x = bswap64(x);  x ^= KiWaitAlways

Keys are accepted only when they decode the block's header to the ``KDBG`` tag (a
neighbouring ``cmp`` sees the same instructions with the wrong flag address). Nothing else
depends on this: it adds the KDBG's own offsets (OffsetPrcbDpcRoutine...) and lists when
it works. The instruction shape on Windows 10 1809+ and 11 is unverified (sheet, open
question 4); the scan is bounded by the kernel's executable sections, 16 MiB at most.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dumptriage.dump.kernel.kdbg import MAX_KDBG_LEN, Kdbg, parse_kdbg
from dumptriage.dump.kernel.pe_image import PeImage
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]

KDBG_SIZES = (0x340, 0x360, 0x368, 0x380, 0x3A0)  # Header.Size per release (dump-format 4.1)
_WINDOW = 300
_MAX_CODE = 16 << 20
# `80 3D` is common in real code (any cmp of a global byte): every site gets a cheap test
# (imm8 0, a block size among the next 300 bytes) before it is decoded; this bounds them.
_MAX_CANDIDATES = 20_000
_MASK = (1 << 64) - 1
_CMP_RIP_BYTE = b"\x80\x3d"  # cmp byte ptr [rip+disp32], imm8
_REX_W = (0x48, 0x4C)  # REX.W, with REX.R for r8-r15
_LEA, _MOV, _XOR = 0x8D, 0x8B, 0x33


class KdbgKeys(Record):
    encoded_flag: int  # &KdpDataBlockEncoded
    data_block: int  # &KdDebuggerDataBlock
    wait_never: int  # KiWaitNever's value
    wait_always: int  # KiWaitAlways's value


def decode_qword(value: int, keys: KdbgKeys) -> int:
    x = (value ^ keys.wait_never) & _MASK
    shift = keys.wait_never & 0x3F  # the CPU masks a 64-bit rotate count to 6 bits
    x = ((x << shift) | (x >> (64 - shift))) & _MASK if shift else x
    x ^= keys.encoded_flag | 0xFFFF_0000_0000_0000
    x = int.from_bytes(x.to_bytes(8, "little"), "big")  # byte swap
    return x ^ keys.wait_always


def find_keys(read: ReadBytes, kernel: PeImage) -> KdbgKeys | None:
    """The keys from KdCopyDataBlock's code in the kernel's executable sections."""
    examined, scanned = 0, 0
    for section in kernel.sections:
        if not section.executable:
            continue
        start = kernel.base + section.rva
        for page in range(start & ~0xFFF, start + section.size, 0x1000):
            scanned += 0x1000
            if scanned > _MAX_CODE or examined >= _MAX_CANDIDATES:
                return None
            blob = read(page, 0x1000 + _WINDOW) or read(page, 0x1000)
            if blob is None:
                continue
            at = blob.find(_CMP_RIP_BYTE)
            while 0 <= at < 0x1000 and examined < _MAX_CANDIDATES:
                examined += 1
                keys = _keys_at(read, page + at, blob[at : at + _WINDOW])
                # Another `cmp [rip+x], 0` just before KdCopyDataBlock sees the same
                # instructions in its window, with the wrong flag address: only keys
                # that decode the block's header are the keys.
                if keys is not None and _header_decodes(read, keys):
                    return keys
                at = blob.find(_CMP_RIP_BYTE, at + 1)
    return None


def _rip_target(window: bytes, j: int, va: int) -> int:
    """The address a 7-byte REX.W op modrm disp32 instruction at window[j] refers to."""
    return int(va + j + 7 + struct.unpack_from("<i", window, j + 3)[0]) & _MASK


_SIZE_IMMEDIATES = tuple((struct.pack("<I", size), struct.pack("<I", size // 8))
                         for size in KDBG_SIZES)


def _keys_at(read: ReadBytes, va: int, window: bytes) -> KdbgKeys | None:
    if len(window) < 7 + 21 or window[6] != 0:
        return None
    if not any(size in window and eighth in window for size, eighth in _SIZE_IMMEDIATES):
        return None
    flag = (va + 7 + struct.unpack_from("<i", window, 2)[0]) & _MASK
    lea = never = always = None
    for j in range(7, len(window) - 7):
        if window[j] not in _REX_W or window[j + 2] & 0xC7 != 0x05:  # mod 00, rm 101: rip
            continue
        op, target = window[j + 1], _rip_target(window, j, va)
        if op == _LEA and lea is None:
            lea = target
        elif op == _MOV and never is None:
            never = target
        elif op in (_MOV, _XOR) and never is not None and always is None:
            always = target
    if lea is None or never is None or always is None:
        return None
    values = [read(address, 8) for address in (never, always)]
    if values[0] is None or values[1] is None:
        return None
    return KdbgKeys(flag, lea, int.from_bytes(values[0], "little"),
                    int.from_bytes(values[1], "little"))


def _header_decodes(read: ReadBytes, keys: KdbgKeys) -> bool:
    """The first 0x20 bytes read as a KDBG header: the tag, a Size no smaller than
    Windows 7's, and KernBase in the x64 kernel half. A wrong flag address only changes
    the top bytes of each decoded qword (it is XORed in before the byte swap), which leaves
    the tag whole: Size and KernBase catch it."""
    for head in (_decoded(read, keys, keys.data_block, 0x20), read(keys.data_block, 0x20)):
        if head is None or head[0x10:0x14] != b"KDBG":
            continue
        size, base = struct.unpack_from("<IQ", head, 0x14)
        if KDBG_SIZES[0] <= size <= MAX_KDBG_LEN and base >> 47 == 0x1FFFF:
            return True
    return False


def decode_kdbg(read: ReadBytes, keys: KdbgKeys) -> Kdbg | None:
    """The block at &KdDebuggerDataBlock, decoded; None unless its tag reads ``KDBG``."""
    head = _decoded(read, keys, keys.data_block, 0x18)
    if head is None or head[0x10:0x14] != b"KDBG" or not _header_decodes(read, keys):
        # Not encoded after all (a debugger was attached at boot): it is plain.
        plain = read(keys.data_block, 0x18)
        if plain is None or plain[0x10:0x14] != b"KDBG":
            return None
        size = min(max(struct.unpack_from("<I", plain, 0x14)[0], 0x18), MAX_KDBG_LEN)
        blob = read(keys.data_block, size)
        return parse_kdbg(blob, keys.data_block, 64, "KdDebuggerDataBlock") if blob else None
    size = min(max(struct.unpack_from("<I", head, 0x14)[0], 0x18), MAX_KDBG_LEN)
    blob = _decoded(read, keys, keys.data_block, size)
    if blob is None:
        return None
    return parse_kdbg(blob, keys.data_block, 64, "KdDebuggerDataBlock (decoded)")


def _decoded(read: ReadBytes, keys: KdbgKeys, va: int, size: int) -> bytes | None:
    count = (size + 7) // 8
    raw = read(va, count * 8)
    if raw is None:
        return None
    return b"".join(decode_qword(q, keys).to_bytes(8, "little")
                    for (q,) in struct.iter_unpack("<Q", raw))[:size]
