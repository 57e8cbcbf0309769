"""Key recovery from KdCopyDataBlock's code and the Win8+ KDBG decoding (kdbg_decode.py).

The encoder below is the inverse of the sheet's decoding steps (hung-guest-dumps.md 3.2),
written out here, so that a mistake in the reader's order cannot hide on both sides.
"""

from __future__ import annotations

import struct

from dumptriage.dump.kernel.kdbg_decode import KdbgKeys, decode_kdbg, decode_qword, find_keys
from dumptriage.dump.kernel.pe_image import PeImage, Section

BASE = 0xFFFFF8047BA00000
TEXT = BASE + 0x1000
FLAG, NEVER, ALWAYS, BLOCK = BASE + 0x9000, BASE + 0x9008, BASE + 0x9010, BASE + 0xA000
KEY_NEVER, KEY_ALWAYS = 0x0123456789ABCD3F, 0x0F1E2D3C4B5A6978  # rotate count 0x3F
SIZE = 0x380


def _encode(plain: int) -> int:
    x = int.from_bytes((plain ^ KEY_ALWAYS).to_bytes(8, "little"), "big")
    x ^= FLAG | 0xFFFF000000000000
    shift = KEY_NEVER & 0x3F
    x = ((x >> shift) | (x << (64 - shift))) & ((1 << 64) - 1)
    return x ^ KEY_NEVER


def _rip(prefix: bytes, at: int, target: int, tail: bytes = b"") -> bytes:
    return prefix + struct.pack("<i", target - (at + len(prefix) + 4 + len(tail))) + tail


def _memory() -> dict[int, bytes]:
    decoy = b"\x80\x3d\x10\x00\x00\x00\x00" + b"\x90" * 40  # cmp [rip+x],0 with no sizes
    code = bytearray(decoy)
    at = TEXT + len(code)
    code += _rip(b"\x80\x3d", at, FLAG, b"\x00") + b"\x74\x20"
    code += _rip(b"\x48\x8d\x0d", TEXT + len(code), BLOCK)
    code += b"\xba" + struct.pack("<I", SIZE) + b"\x41\xb8" + struct.pack("<I", SIZE // 8)
    code += _rip(b"\x48\x8b\x05", TEXT + len(code), NEVER)
    code += _rip(b"\x4c\x33\x0d", TEXT + len(code), ALWAYS) + b"\xc3"  # xor r9 (Win 8.1)
    plain = bytearray(SIZE)
    plain[0x10:0x18] = b"KDBG" + struct.pack("<I", SIZE)
    plain[0x18:0x20] = struct.pack("<Q", BASE)
    plain[0x48:0x50] = struct.pack("<Q", BASE + 0x2126D0)
    plain[0x2B2:0x2B4] = struct.pack("<H", 0x33BA)
    encoded = b"".join(struct.pack("<Q", _encode(q)) for (q,) in struct.iter_unpack("<Q", plain))
    return {TEXT: bytes(code).ljust(0x1000, b"\xcc"),
            FLAG: b"\x01" + bytes(7) + struct.pack("<QQ", KEY_NEVER, KEY_ALWAYS),
            BLOCK: encoded}


def _reader(memory: dict[int, bytes]):  # type: ignore[no-untyped-def]
    def read(va: int, size: int) -> bytes | None:
        for start, blob in memory.items():
            if start <= va and va + size <= start + len(blob):
                return blob[va - start : va - start + size]
        return None
    return read


KERNEL = PeImage(base=BASE, size_of_image=0x100000, timestamp=0, checksum=0, machine=0x8664,
                 sections=(Section(".text", 0x1000, 0x1000, True),), directories=())


def test_keys_from_the_code_past_a_decoy_and_the_block_decodes() -> None:
    read = _reader(_memory())
    keys = find_keys(read, KERNEL)
    assert keys == KdbgKeys(FLAG, BLOCK, KEY_NEVER, KEY_ALWAYS)
    kdbg = decode_kdbg(read, keys)
    assert kdbg is not None and kdbg.size == SIZE
    assert (kdbg.kern_base, kdbg.ps_loaded_module_list) == (BASE, BASE + 0x2126D0)
    assert kdbg.offset_prcb_dpc_routine == 0x33BA


def test_decode_undoes_the_encoding_for_any_rotate() -> None:
    for never in (0x40, 0x41, 0x7F, KEY_NEVER):  # counts 0, 1, 63 after the 6-bit mask
        keys = KdbgKeys(FLAG, BLOCK, never, KEY_ALWAYS)
        for plain in (0, 1, 0x4742444B00000380, (1 << 64) - 1):
            x = int.from_bytes((plain ^ KEY_ALWAYS).to_bytes(8, "little"), "big")
            x ^= FLAG | 0xFFFF000000000000
            shift = never & 0x3F
            x = ((x >> shift) | (x << (64 - shift))) & ((1 << 64) - 1) if shift else x
            assert decode_qword(x ^ never, keys) == plain


def test_wrong_keys_give_no_block() -> None:
    read = _reader(_memory())
    assert decode_kdbg(read, KdbgKeys(FLAG, BLOCK, KEY_NEVER ^ 1, KEY_ALWAYS)) is None


def test_no_code_no_keys() -> None:
    memory = _memory()
    memory[TEXT] = b"\xcc" * 0x1000
    assert find_keys(_reader(memory), KERNEL) is None
