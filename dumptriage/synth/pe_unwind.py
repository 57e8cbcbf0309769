"""x64 exception data for synthetic images: RUNTIME_FUNCTION, UNWIND_INFO, UNWIND_CODE.

Layouts written with construct and literal values from Microsoft's "x64 exception
handling" page (learn.microsoft.com/cpp/build/exceptionhandling-x64), independently of
the reader (dumptriage/dump/kernel/unwind.py):

* RUNTIME_FUNCTION: BeginAddress, EndAddress, UnwindInfoAddress (u32 RVAs); the table is
  sorted by BeginAddress and is PE data directory 3.
* UNWIND_INFO (DWORD aligned): Version:3 Flags:5 | SizeOfProlog | CountOfCodes |
  FrameRegister:4 FrameOffset:4 (scaled by 16); codes padded to an even count; with
  UNW_FLAG_CHAININFO (4) a RUNTIME_FUNCTION follows them.
* UNWIND_CODE: CodeOffset, UnwindOp:4 | OpInfo:4 (op in the low nibble).
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import BitsInteger, BitStruct, Int8ul, Int16ul, Int32ul, Struct

from dumptriage.synth.spec import ModuleSpec

RUNTIME_FUNCTION = Struct(
    "BeginAddress" / Int32ul, "EndAddress" / Int32ul, "UnwindInfoAddress" / Int32ul)
UNWIND_INFO_HEAD = Struct(
    # construct's BitStruct reads bits most significant first: Flags is the high 5 bits.
    "VersionAndFlags" / BitStruct("Flags" / BitsInteger(5), "Version" / BitsInteger(3)),
    "SizeOfProlog" / Int8ul,
    "CountOfCodes" / Int8ul,
    "Frame" / BitStruct("FrameOffset" / BitsInteger(4), "FrameRegister" / BitsInteger(4)),
)
UNWIND_CODE = Struct(
    "CodeOffset" / Int8ul, "Op" / BitStruct("OpInfo" / BitsInteger(4), "UnwindOp" / BitsInteger(4)))

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
UNW_FLAG_CHAININFO = 4


def _code(offset: int, op: int, info: int) -> bytes:
    out: bytes = UNWIND_CODE.build({"CodeOffset": offset, "Op": {"OpInfo": info, "UnwindOp": op}})
    return out


def _u16(value: int) -> bytes:
    out: bytes = Int16ul.build(value)
    return out


def _u32(value: int) -> bytes:
    out: bytes = Int32ul.build(value)
    return out


# One helper per operation; each returns the operation's slots (2 bytes each).
def push(offset: int, reg: int) -> bytes:  # UWOP_PUSH_NONVOL (0)
    return _code(offset, 0, reg)


def alloc(offset: int, size: int, *, far: bool = False) -> bytes:
    """UWOP_ALLOC_SMALL (2) for 8..128 bytes, else UWOP_ALLOC_LARGE (1): OpInfo 0 with
    size/8 in one slot, or (far, or above 512K - 8) OpInfo 1 with the size in two."""
    if size % 8:
        raise ValueError("allocations are multiples of 8")
    if not far and size <= 128:
        return _code(offset, 2, size // 8 - 1)
    if not far and size <= 0x7FFF8:
        return _code(offset, 1, 0) + _u16(size // 8)
    return _code(offset, 1, 1) + _u32(size)


def set_fpreg(offset: int) -> bytes:  # UWOP_SET_FPREG (3)
    return _code(offset, 3, 0)


def save_nonvol(offset: int, reg: int, at: int, *, far: bool = False) -> bytes:
    """UWOP_SAVE_NONVOL (4, offset/8 in one slot) or UWOP_SAVE_NONVOL_FAR (5, u32)."""
    if far:
        return _code(offset, 5, reg) + _u32(at)
    return _code(offset, 4, reg) + _u16(at // 8)


def save_xmm128(offset: int, reg: int, at: int) -> bytes:  # UWOP_SAVE_XMM128 (8), /16
    return _code(offset, 8, reg) + _u16(at // 16)


def machframe(offset: int, *, error_code: bool) -> bytes:  # UWOP_PUSH_MACHFRAME (10)
    return _code(offset, 10, 1 if error_code else 0)


def epilog(size: int, at_end: bool = True) -> bytes:
    """Version 2 UWOP_EPILOG (6) pair: epilog size, flag 1 = "at the function's end"."""
    return _code(size, 6, 1 if at_end else 0) + _code(0, 6, 0)


@dataclass(frozen=True)
class FunctionSpec:
    """One RUNTIME_FUNCTION and its UNWIND_INFO; ``codes`` in array order (descending
    CodeOffset, version-2 epilog codes first), each item one operation's slots."""

    begin: int
    end: int
    prolog: int = 0
    codes: tuple[bytes, ...] = ()
    frame_register: int = 0
    frame_offset: int = 0  # in bytes, a multiple of 16
    version: int = 1
    chain_to: int | None = None  # BeginAddress of the function this one chains to


@dataclass(frozen=True)
class UnwindModuleSpec(ModuleSpec):
    """A module with .pdata (``functions``) and code bytes (``code``: (RVA, bytes))."""

    functions: tuple[FunctionSpec, ...] = ()
    code: tuple[tuple[int, bytes], ...] = ()

    @property
    def rich(self) -> bool:
        return super().rich or bool(self.functions)


def _unwind_info(fn: FunctionSpec, chained: bytes | None) -> bytes:
    codes = b"".join(fn.codes)
    count = len(codes) // 2
    head: bytes = UNWIND_INFO_HEAD.build({
        "VersionAndFlags": {"Flags": UNW_FLAG_CHAININFO if chained else 0,
                            "Version": fn.version},
        "SizeOfProlog": fn.prolog, "CountOfCodes": count,
        "Frame": {"FrameOffset": fn.frame_offset // 16, "FrameRegister": fn.frame_register},
    })
    body = head + codes + (b"\0\0" if count % 2 else b"")
    return body + (chained or b"")


def exception_data(functions: tuple[FunctionSpec, ...], rva: int) -> tuple[bytes, int]:
    """(blob placed at ``rva``, size of the RUNTIME_FUNCTION table in it)."""
    ordered = sorted(functions, key=lambda f: f.begin)
    table_size = 12 * len(ordered)
    info_rva: dict[int, int] = {}
    infos = bytearray()
    # Parents first, so a chained entry can name its parent's UnwindInfoAddress.
    for fn in sorted(ordered, key=lambda f: f.chain_to is not None):
        infos += bytes(-len(infos) % 4)
        info_rva[fn.begin] = rva + table_size + len(infos)
        # (a function chained to itself is allowed: tests use it as a corrupt loop)
        parent = next((p for p in ordered if p.begin == fn.chain_to), None)
        chained = None if parent is None else RUNTIME_FUNCTION.build({
            "BeginAddress": parent.begin, "EndAddress": parent.end,
            "UnwindInfoAddress": info_rva[parent.begin]})
        infos += _unwind_info(fn, chained)
    table = b"".join(RUNTIME_FUNCTION.build({
        "BeginAddress": f.begin, "EndAddress": f.end, "UnwindInfoAddress": info_rva[f.begin]})
        for f in ordered)
    return table + bytes(infos), table_size
