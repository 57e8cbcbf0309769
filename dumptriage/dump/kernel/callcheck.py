"""Is a scanned stack value a return address? Only if a CALL ends exactly at it.

A return address is the address after a CALL instruction, so the bytes before it decode
as a CALL whose end is that address. x86/x64 CALL encodings (Intel SDM vol. 2A, "CALL"):
E8 rel32 (5 bytes), FF /2 with a ModRM (register: FF D0; memory: [reg], [reg+disp8],
[reg+disp32], SIB forms, [rip+disp32] in 64-bit mode), optionally after a REX prefix
(41 FF D3 = call r11) or legacy prefixes (segment, 66, F2 "bnd"); the longest real form
is about 9 bytes. Decoding is left to capstone, trying each start 2..MAX_CALL bytes back
and keeping a start whose single decoded instruction is a CALL of exactly that length.

Three answers: True (a CALL ends here), False (the code bytes are in the dump and none
does: a stale pointer into code, a function pointer, data), None (the code page is not in
the dump: cannot tell). The stack walker drops False and keeps the other two.
capstone is imported on first use only (it costs a few ms) and answers are cached per
address, missing code pages per page.
"""

from __future__ import annotations

from collections.abc import Callable

ReadBytes = Callable[[int, int], bytes | None]

MAX_CALL = 9  # the longest CALL with prefixes kept short of x86's 15-byte limit
# Bytes a CALL encoding can start with: E8, FF, REX (64-bit), and legacy prefixes
# (CS/SS/DS/ES/FS/GS overrides, operand size, F2 for MPX "bnd call").
_FIRST = frozenset({0xE8, 0xFF, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0xF2})
_REX = frozenset(range(0x40, 0x50))


class CallChecker:
    """Caches, per address, whether the instruction before it is a CALL."""

    def __init__(self, read: ReadBytes, pointer_bits: int):
        self._read = read
        self._bits = pointer_bits
        self._cache: dict[int, bool | None] = {}
        self._absent: set[int] = set()
        self._cs: object | None = None

    def after_call(self, address: int) -> bool | None:
        if address in self._cache:
            return self._cache[address]
        blob = self._before(address)
        answer = None if blob is None else self.ends_with_call(blob, address)
        self._cache[address] = answer
        return answer

    def _before(self, address: int) -> bytes | None:
        """Up to MAX_CALL bytes before ``address``. A read that fails costs a page-table
        walk, so a code page found missing is remembered and not asked for again."""
        page = (address - 1) & ~0xFFF
        if page in self._absent:
            return None
        blob = self._read(address - MAX_CALL, MAX_CALL)
        if blob is None and address - MAX_CALL < page:  # the window starts a page lower
            blob = self._read(page, address - page)
        if blob is None:
            self._absent.add(page)
        return blob

    def ends_with_call(self, code: bytes, end: int) -> bool:
        """True when some suffix of ``code`` (the bytes just before ``end``) is one CALL."""
        first = _FIRST | _REX if self._bits == 64 else _FIRST
        for length in range(2, min(len(code), MAX_CALL) + 1):
            start = len(code) - length
            if code[start] not in first:
                continue
            insn = next(self._disassembler().disasm(code[start:], end - length, 1), None)
            if insn is not None and insn.size == length and insn.mnemonic.split()[-1] == "call":
                return True
        return False

    def _disassembler(self) -> _Cs:
        if self._cs is None:
            import capstone  # lazily: most dumps never check a candidate

            mode = capstone.CS_MODE_64 if self._bits == 64 else capstone.CS_MODE_32
            self._cs = capstone.Cs(capstone.CS_ARCH_X86, mode)
        return self._cs  # type: ignore[return-value]


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    class _Insn(Protocol):
        size: int
        mnemonic: str

    class _Cs(Protocol):
        def disasm(self, code: bytes, offset: int, count: int = 0) -> Iterator[_Insn]: ...
