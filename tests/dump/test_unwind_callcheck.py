"""The CALL check on real x86/x64 encodings (Intel SDM vol. 2A "CALL") and on non-calls."""

from __future__ import annotations

import pytest

from dumptriage.dump.kernel.callcheck import CallChecker

END = 0xFFFFF80000001000 + 0x200

# Encodings assembled by hand from the SDM's opcode table; each comment is the
# instruction as `llvm-mc --disassemble` / capstone prints it.
CALLS_64 = [
    bytes.fromhex("e8 10 20 30 00"),           # call rel32
    bytes.fromhex("ff 15 f2 1f 00 00"),        # call qword ptr [rip + 0x1ff2]
    bytes.fromhex("ff d0"),                    # call rax
    bytes.fromhex("41 ff d3"),                 # call r11
    bytes.fromhex("ff 54 24 08"),              # call qword ptr [rsp + 8]
    bytes.fromhex("ff 10"),                    # call qword ptr [rax]
    bytes.fromhex("ff 50 18"),                 # call qword ptr [rax + 0x18]
    bytes.fromhex("ff 90 00 01 00 00"),        # call qword ptr [rax + 0x100]
    bytes.fromhex("41 ff 94 24 80 00 00 00"),  # call qword ptr [r12 + 0x80]
    bytes.fromhex("ff 14 c5 00 10 00 00"),     # call qword ptr [rax*8 + 0x1000]
    bytes.fromhex("48 ff 15 00 00 00 00"),     # call qword ptr [rip] (REX.W form)
]
NOT_CALLS_64 = [
    bytes.fromhex("48 89 44 24 08"),           # mov qword ptr [rsp + 8], rax
    bytes.fromhex("ff e0"),                    # jmp rax (FF /4)
    bytes.fromhex("e9 00 00 00 00"),           # jmp rel32
    bytes.fromhex("c3"),                       # ret
    bytes.fromhex("ff c0"),                    # inc eax (FF /0)
    bytes.fromhex("e8 00 00 00 00 90"),        # call, then a nop: the call ends 1 byte early
    bytes(8),                                  # add byte ptr [rax], al ...
]


def _checker(code: bytes, bits: int = 64) -> CallChecker:
    def read(va: int, size: int) -> bytes | None:
        start = END - len(code)
        if va < start - 0x40 or va + size > END:
            return None
        return (b"\xcc" * 0x40 + code)[va - start + 0x40 : va - start + 0x40 + size]
    return CallChecker(read, bits)


@pytest.mark.parametrize("code", CALLS_64, ids=lambda c: c.hex())
def test_calls_are_recognised(code: bytes) -> None:
    assert _checker(code).after_call(END) is True


@pytest.mark.parametrize("code", NOT_CALLS_64, ids=lambda c: c.hex())
def test_other_bytes_are_not_calls(code: bytes) -> None:
    assert _checker(code).after_call(END) is False


def test_x86_mode() -> None:
    # 32-bit: FF 15 disp32 is call dword ptr [abs]; 41 is `inc ecx`, not a REX prefix.
    assert _checker(bytes.fromhex("ff 15 00 10 40 00"), 32).after_call(END) is True
    assert _checker(bytes.fromhex("e8 fb ff ff ff"), 32).after_call(END) is True
    assert _checker(bytes.fromhex("ff d0"), 32).after_call(END) is True
    assert _checker(bytes.fromhex("8b 45 08"), 32).after_call(END) is False  # mov eax,[ebp+8]


def test_missing_code_page_is_unknown_and_answers_are_cached() -> None:
    calls: list[int] = []

    def read(va: int, size: int) -> bytes | None:
        calls.append(va)
        return None
    checker = CallChecker(read, 64)
    assert checker.after_call(END) is None
    n = len(calls)
    assert checker.after_call(END) is None and len(calls) == n
