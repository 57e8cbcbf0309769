"""x64 virtual unwinding from an image's exception directory (.pdata) and its UNWIND_INFO.

Every layout and rule here is from Microsoft's "x64 exception handling" page
(learn.microsoft.com/cpp/build/exceptionhandling-x64), quoted as [x64eh]:

* The exception directory (PE data directory 3, IMAGE_DIRECTORY_ENTRY_EXCEPTION) is an
  array of RUNTIME_FUNCTION {BeginAddress, EndAddress, UnwindInfoAddress}, three RVAs,
  12 bytes each, "sorted" by address [x64eh "struct RUNTIME_FUNCTION"], so a lookup is a
  binary search.
* UNWIND_INFO: byte 0 = Version (3 bits, 1 or 2) | Flags (5 bits); byte 1 SizeOfProlog;
  byte 2 CountOfCodes; byte 3 FrameRegister (4 bits) | FrameOffset (4 bits, scaled by
  16); then CountOfCodes 2-byte UNWIND_CODE slots, padded to an even count; then, with
  UNW_FLAG_CHAININFO (4), a RUNTIME_FUNCTION of the function whose unwind continues
  [x64eh "struct UNWIND_INFO", "Chained unwind info structures"].
* UNWIND_CODE: CodeOffset (byte: offset of the end of the prolog instruction, i.e. "the
  offset of the start of the next instruction"), UnwindOp (4 bits), OpInfo (4 bits). The
  array is "sorted in descending order of offset in the prolog", so applying it in order
  undoes the prolog from its end [x64eh "struct UNWIND_CODE"].
* A function without a RUNTIME_FUNCTION is a leaf: it neither changes RSP nor saves
  registers, so "[RSP] is the return address" [x64eh "Unwind procedure"].
* When the IP is inside a prolog, only the codes whose CodeOffset is at most the IP's
  offset from the function start have run [x64eh "Unwind procedure", item 2].

Register numbers (OpInfo) are RAX 0, RCX 1, RDX 2, RBX 3, RSP 4, RBP 5, RSI 6, RDI 7,
R8..R15 8..15 [x64eh "Operation info"].

Not done: when the IP of the *first* frame sits in an epilog, [x64eh] says to simulate
the rest of the epilog instead of applying the codes; a return address is never in an
epilog, so only a crash exactly in an epilog unwinds wrong (and the scan takes over).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dumptriage.dump.kernel.pe_image import PeImage
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]

DIR_EXCEPTION = 3  # IMAGE_DIRECTORY_ENTRY_EXCEPTION (PE Format, "Optional Header Data Directories")
RSP, RBP = 4, 5
UNW_FLAG_CHAININFO = 4
# UnwindOp values [x64eh "Unwind operation code"]; 6 and 7 are not described there:
# version 2 uses 6 as UWOP_EPILOG (2 slots) and 7 as a spare code (3 slots), the slot
# counts the .NET runtime's unwinder (UnwindOpExtraSlotTable) also uses.
(UWOP_PUSH_NONVOL, UWOP_ALLOC_LARGE, UWOP_ALLOC_SMALL, UWOP_SET_FPREG, UWOP_SAVE_NONVOL,
 UWOP_SAVE_NONVOL_FAR, UWOP_EPILOG, UWOP_SPARE_CODE, UWOP_SAVE_XMM128,
 UWOP_SAVE_XMM128_FAR, UWOP_PUSH_MACHFRAME) = range(11)
_SLOTS = (1, 2, 1, 1, 2, 3, 2, 3, 2, 3, 1)  # ALLOC_LARGE with OpInfo 1 takes 3

MAX_CHAIN = 32  # chained UNWIND_INFO links followed per frame; real images use one or two
MAX_FUNCTIONS = 0x40000  # ntoskrnl has ~35000 RUNTIME_FUNCTIONs; bounds a corrupt size
_ENTRY = 12  # sizeof(RUNTIME_FUNCTION)
LEAF = (0, 0, 0)  # FunctionTable.lookup: no RUNTIME_FUNCTION holds the address


class Step(Record):
    """The caller's state after undoing one frame."""

    rip: int
    rsp: int
    slot: int  # stack address the new RIP was read from
    exact: bool  # True: RIP from a machine frame (the interrupted instruction itself)
    regs: tuple[int | None, ...]  # the 16 integer registers as far as known


class FunctionTable:
    """The sorted RUNTIME_FUNCTION array of one image, searched in place in dump memory."""

    def __init__(self, read: ReadBytes, image: PeImage):
        self._read = read
        self.base = image.base
        rva, size = image.directory(DIR_EXCEPTION)
        count = min(size // _ENTRY, MAX_FUNCTIONS)
        if rva == 0 or rva + count * _ENTRY > image.size_of_image:
            count = 0
        self._at = image.base + rva
        self.count = count
        self._entries: dict[int, tuple[int, int, int]] = {}

    def entry(self, index: int) -> tuple[int, int, int] | None:
        found = self._entries.get(index)
        if found is None:
            blob = self._read(self._at + _ENTRY * index, _ENTRY)
            if blob is None:
                return None
            found = self._entries[index] = struct.unpack("<III", blob)
        return found

    def lookup(self, rva: int) -> tuple[int, int, int] | None:
        """The RUNTIME_FUNCTION holding ``rva``; LEAF when there is none, None when a page
        of the table is not in the dump."""
        low, high = 0, self.count
        while low < high:
            mid = (low + high) // 2
            entry = self.entry(mid)
            if entry is None:
                return None
            begin, end, _ = entry
            if rva < begin:
                high = mid
            elif rva >= end:
                low = mid + 1
            else:
                return entry
        return LEAF


class _Frame:
    """Mutable state while one frame's codes are applied."""

    __slots__ = ("machine", "regs", "rsp", "slot")

    def __init__(self, rsp: int, regs: list[int | None]):
        self.rsp = rsp
        self.regs = regs
        self.machine: tuple[int, int, int] | None = None  # (rip, rsp, slot)
        self.slot = 0


def unwind_step(read: ReadBytes, table: FunctionTable, rip: int, rsp: int,
                regs: tuple[int | None, ...], exact: bool) -> Step | None:
    """Undo the frame of the function holding ``rip``; None when bytes are missing or the
    unwind data is not valid. ``exact`` False means ``rip`` is a return address: the call
    may be a function's last instruction, so the function is looked up at ``rip - 1``."""
    rva = rip - table.base
    entry = table.lookup(rva if exact else rva - 1)
    if entry is None:
        return None
    state = _Frame(rsp, list(regs))
    if entry is not LEAF and not _apply(read, table.base, entry, rva, state):
        return None
    if state.machine is not None:
        new_rip, new_rsp, slot = state.machine
        return Step(new_rip, new_rsp, slot, True, tuple(state.regs))
    ret = _u64(read, state.rsp)  # leaf, or a frame whose prolog is undone: [RSP]
    if ret is None:
        return None
    state.regs[RSP] = state.rsp + 8
    return Step(ret, state.rsp + 8, state.rsp, False, tuple(state.regs))


def _apply(read: ReadBytes, base: int, entry: tuple[int, int, int], rva: int,
           state: _Frame) -> bool:
    begin, _, info_rva = entry
    offset: int | None = rva - begin  # only the function's own prolog can be partial
    for _ in range(MAX_CHAIN):
        head = read(base + info_rva, 4)
        if head is None:
            return False
        version, flags = head[0] & 7, head[0] >> 3
        if version not in (1, 2):
            return False
        count = head[2]
        codes = read(base + info_rva + 4, 2 * count) if count else b""
        if codes is None:
            return False
        in_prolog = offset is not None and offset < head[1]
        if not _codes(read, codes, head[3], offset if in_prolog else None, state):
            return False
        if state.machine is not None or not flags & UNW_FLAG_CHAININFO:
            return True
        # The chained RUNTIME_FUNCTION follows the even-padded code array.
        chained = read(base + info_rva + 4 + 2 * (count + (count & 1)), _ENTRY)
        if chained is None:
            return False
        info_rva = struct.unpack_from("<III", chained)[2]
        offset = None  # the parent's prolog ran completely
    return False  # a chain longer than any real image: corrupt


def _codes(read: ReadBytes, codes: bytes, frame_byte: int, offset: int | None,
           state: _Frame) -> bool:
    frame_reg, frame_offset = frame_byte & 0xF, (frame_byte >> 4) * 16
    frame = _establisher(codes, frame_reg, frame_offset, offset, state)
    if frame is None:
        return False
    i, n = 0, len(codes) // 2
    while i < n:
        code_offset, op_byte = codes[2 * i], codes[2 * i + 1]
        op, info = op_byte & 0xF, op_byte >> 4
        if op > UWOP_PUSH_MACHFRAME:
            return False
        slots = 3 if op == UWOP_ALLOC_LARGE and info == 1 else _SLOTS[op]
        if i + slots > n:
            return False
        applies = offset is None or code_offset <= offset
        if applies and not _one(read, codes, i, op, info, frame_reg, frame_offset, frame,
                                state):
            return False
        if state.machine is not None:
            return True  # the machine frame is the first thing the prolog did
        i += slots
    return True


def _establisher(codes: bytes, frame_reg: int, frame_offset: int, offset: int | None,
                 state: _Frame) -> int | None:
    """The frame base SAVE_NONVOL offsets count from: the frame register minus FrameOffset
    once UWOP_SET_FPREG has run, else RSP [x64eh "UWOP_SAVE_NONVOL", "UWOP_SET_FPREG"]."""
    for i in range(0, len(codes), 2):
        if codes[i + 1] & 0xF == UWOP_SET_FPREG and (offset is None or codes[i] <= offset):
            value = state.regs[frame_reg] if frame_reg else None
            return None if value is None else value - frame_offset
    return state.rsp


def _one(read: ReadBytes, codes: bytes, i: int, op: int, info: int, frame_reg: int,
         frame_offset: int, frame: int, state: _Frame) -> bool:
    """Undo one prolog operation [x64eh "Unwind operation code"]."""
    if op == UWOP_PUSH_NONVOL:  # pop the register pushed: value at [RSP], RSP += 8
        value = _u64(read, state.rsp)
        if value is None:
            return False
        state.regs[info] = value
        state.rsp += 8
    elif op == UWOP_ALLOC_LARGE:  # OpInfo 0: next slot * 8; OpInfo 1: next two slots, u32
        if info == 0:
            state.rsp += struct.unpack_from("<H", codes, 2 * i + 2)[0] * 8
        elif info == 1:
            state.rsp += struct.unpack_from("<I", codes, 2 * i + 2)[0]
        else:
            return False
    elif op == UWOP_ALLOC_SMALL:  # OpInfo * 8 + 8 bytes
        state.rsp += info * 8 + 8
    elif op == UWOP_SET_FPREG:  # RSP = frame register - FrameOffset * 16
        value = state.regs[frame_reg] if frame_reg else None
        if value is None:
            return False
        state.rsp = value - frame_offset
    elif op in (UWOP_SAVE_NONVOL, UWOP_SAVE_NONVOL_FAR):  # MOV to [frame + offset]
        far = op == UWOP_SAVE_NONVOL_FAR
        at = frame + (struct.unpack_from("<I", codes, 2 * i + 2)[0] if far
                      else struct.unpack_from("<H", codes, 2 * i + 2)[0] * 8)
        state.regs[info] = _u64(read, at)  # unknown if that slot is not in the dump
    elif op == UWOP_PUSH_MACHFRAME:
        return _machine_frame(read, info, state)
    # UWOP_SAVE_XMM128(_FAR) restore no integer register; UWOP_EPILOG (version 2)
    # describes epilogs, not the prolog: both are skipped.
    return True


def _machine_frame(read: ReadBytes, info: int, state: _Frame) -> bool:
    """UWOP_PUSH_MACHFRAME: the hardware pushed SS, RSP, EFLAGS, CS, RIP (and with OpInfo 1
    an error code below them); RIP is at [RSP] (+8) and the old RSP at [RSP + 0x18] (+8)."""
    if info > 1:
        return False
    at = state.rsp + 8 * info
    rip, old_rsp = _u64(read, at), _u64(read, at + 0x18)
    if rip is None or old_rsp is None:
        return False
    state.regs[RSP] = old_rsp
    state.machine = (rip, old_rsp, at)
    return True


def _u64(read: ReadBytes, va: int) -> int | None:
    blob = read(va, 8)
    return None if blob is None else int(struct.unpack("<Q", blob)[0])
