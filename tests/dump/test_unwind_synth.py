"""x64 unwinding against the builder's own .pdata/UNWIND_INFO (synth/story_unwind.py).

The expected frames are the builder's hand-laid stack (story_unwind.expected_frames), not
anything the reader computed; the unit tests below use synth/pe_unwind.py encodings.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from dumptriage import open_dump
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.dump.kernel.pe_image import PeImage, read_pe
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.stack import StackBounds, StackWalker
from dumptriage.dump.kernel.unwind import RBP, RSP, FunctionTable, Step, unwind_step
from dumptriage.model.dump import Module
from dumptriage.synth import build
from dumptriage.synth import pe_unwind as U
from dumptriage.synth import story_unwind as S
from dumptriage.synth.pe_unwind import FunctionSpec

Read = Callable[[int, int], bytes | None]


def _open(tmp_path: Path, drv_pdata: bool = True) -> Read:
    path = tmp_path / "unwind.dmp"
    path.write_bytes(build(S.unwind_x64(drv_pdata=drv_pdata)).data or b"")
    return open_dump(path).read_virtual_or_none


def _stack(tmp_path: Path, drv_pdata: bool) -> list[tuple[str, int, int | None]]:
    path = tmp_path / "unwind.dmp"
    path.write_bytes(build(S.unwind_x64(drv_pdata=drv_pdata)).data or b"")
    return [(f.method, f.address, f.stack_address) for f in open_dump(path).stack()]


def test_every_frame_is_unwound_exactly(tmp_path: Path) -> None:
    assert _stack(tmp_path, True) == list(S.expected_frames())


def test_a_driver_without_pdata_hands_over_to_the_scan(tmp_path: Path) -> None:
    # Unwinding reaches the driver's interrupted leaf through nt's machine frame; the
    # driver has no exception directory, so the scan runs from the interrupted RSP. The
    # stale pointer to DrvDispatch+0x40 (INT3 fill before it) is refuted by the CALL check.
    expected = [f if i < 4 else ("scan", f[1], f[2])
                for i, f in enumerate(S.expected_frames())]
    frames = _stack(tmp_path, False)
    assert frames == expected
    assert S.DRV + S.STALE not in [address for _, address, _ in frames]


def _steps(read: Read) -> list[Step]:
    images = {base: read_pe(read, base) for base in (S.NT, S.DRV)}
    tables = {b: FunctionTable(read, i) for b, i in images.items() if i is not None}
    regs: list[int | None] = [None] * 16
    regs[RSP], regs[RBP] = S.S0, S.CONTEXT_RBP
    rip, rsp, exact, state = S.NT + S.CONTEXT_RIP, S.S0, True, tuple(regs)
    steps = []
    for _ in range(7):
        step = unwind_step(read, tables[S.DRV if rip >= S.DRV else S.NT], rip, rsp, state,
                           exact)
        assert step is not None
        steps.append(step)
        rip, rsp, exact, state = step.rip, step.rsp, step.exact, step.regs
    return steps


def test_registers_restored_by_each_code(tmp_path: Path) -> None:
    steps = _steps(_open(tmp_path))
    rbx, rsi, rdi, r12, r13, r14 = 3, 6, 7, 12, 13, 14
    # KeBugCheckEx: PUSH_NONVOL rbx/rbp give the caller's values (rbp = KiPageFault's
    # frame pointer, not the context's scratch value).
    assert steps[0].regs[rbx] == S.RBX and steps[0].regs[RBP] == S.RBP_PAGE_FAULT
    # Chained fragment: SAVE_NONVOL rsi from [frame+0x40], then the parent's PUSH rdi.
    assert (steps[1].regs[rsi], steps[1].regs[rdi]) == (S.RSI, S.RDI)
    # KiPageFault: SET_FPREG (rbp - 0x80), ALLOC_LARGE/0, pop rbp, machine frame.
    assert (steps[2].rip, steps[2].rsp, steps[2].exact) == (S.DRV + S.INTERRUPTED, S.S3, True)
    assert steps[2].regs[RBP] == S.OLD_RBP
    assert (steps[3].rip, steps[3].rsp, steps[3].exact) == (S.DRV + S.R4, S.S4, False)  # leaf
    assert steps[4].regs[rbx] == S.RBX and steps[4].rsp == S.S5  # SAVE_NONVOL, ALLOC_LARGE/1
    assert (steps[5].regs[r12], steps[5].regs[r13], steps[5].regs[r14]) == (S.R12, S.R13, S.R14)
    assert (steps[6].rip, steps[6].rsp) == (0, S.END + 8)


# -- unit cases on a tiny image in a dict-backed memory ---------------------------------

BASE = 0xFFFFF80000000000
SP = 0xFFFF800000010000


def _image(functions: tuple[FunctionSpec, ...],
           memory: dict[int, bytes]) -> tuple[Read, FunctionTable]:
    blob, table_size = U.exception_data(functions, 0x1000)
    memory[BASE + 0x1000] = blob

    def read(va: int, size: int) -> bytes | None:
        for start, data in memory.items():
            if start <= va and va + size <= start + len(data):
                return data[va - start : va - start + size]
        return None
    image = PeImage(base=BASE, size_of_image=0x10000, timestamp=0, checksum=0, machine=0x8664,
                    sections=(), directories=((0, 0), (0, 0), (0, 0), (0x1000, table_size)))
    return read, FunctionTable(read, image)


def _words(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


F1 = FunctionSpec(0x2000, 0x2100, prolog=6, codes=(
    U.alloc(6, 0x28), U.push(2, 3), U.push(1, RBP)))


@pytest.mark.parametrize(("offset", "expected_rsp", "ret_slot"), [
    (0, SP + 8, SP),            # nothing has run yet: a leaf-like frame
    (1, SP + 0x10, SP + 8),     # push rbp ran
    (3, SP + 0x18, SP + 0x10),  # push rbp, push rbx ran; sub rsp,28h not yet
    (6, SP + 0x40, SP + 0x38),  # the whole prolog ran
    (0x50, SP + 0x40, SP + 0x38),
])
def test_prolog_offset_limits_the_codes_applied(offset: int, expected_rsp: int,
                                                ret_slot: int) -> None:
    memory = {SP: _words(*range(0x100, 0x110))}
    read, table = _image((F1,), memory)
    step = unwind_step(read, table, BASE + 0x2000 + offset, SP, (None,) * 16, True)
    assert step is not None
    assert (step.rsp, step.slot, step.rip) == (expected_rsp, ret_slot,
                                               0x100 + (ret_slot - SP) // 8)


def test_return_address_just_past_a_function_end_belongs_to_it() -> None:
    memory = {SP: _words(*range(0x100, 0x110))}
    read, table = _image((F1,), memory)
    # 0x2100 is EndAddress (exclusive): a CALL as the last instruction returns there.
    step = unwind_step(read, table, BASE + 0x2100, SP, (None,) * 16, False)
    assert step is not None and step.rsp == SP + 0x40
    leaf = unwind_step(read, table, BASE + 0x2100, SP, (None,) * 16, True)
    assert leaf is not None and leaf.rsp == SP + 8  # exact: no function there, a leaf


def test_machine_frame_without_error_code() -> None:
    fn = FunctionSpec(0x2000, 0x2100, codes=(U.machframe(0, error_code=False),))
    memory = {SP: _words(0xAAAA, 0x10, 0x202, SP + 0x800, 0x18)}
    read, table = _image((fn,), memory)
    step = unwind_step(read, table, BASE + 0x2010, SP, (None,) * 16, False)
    assert step is not None and (step.rip, step.rsp, step.slot, step.exact) == (
        0xAAAA, SP + 0x800, SP, True)


def test_corrupt_unwind_data_fails_instead_of_guessing() -> None:
    memory = {SP: _words(*range(0x100, 0x110))}
    # A chain to itself: followed at most MAX_CHAIN times, then given up.
    loop = FunctionSpec(0x2000, 0x2100, codes=(U.push(1, 3),), chain_to=0x2000)
    read, table = _image((loop,), dict(memory))
    assert unwind_step(read, table, BASE + 0x2010, SP, (None,) * 16, False) is None
    # Version 3 does not exist.
    read, table = _image((FunctionSpec(0x2000, 0x2100, version=3),), dict(memory))
    assert unwind_step(read, table, BASE + 0x2010, SP, (None,) * 16, False) is None
    # SET_FPREG with the frame register's value unknown.
    fp = FunctionSpec(0x2000, 0x2100, codes=(U.set_fpreg(4),), frame_register=RBP)
    read, table = _image((fp,), dict(memory))
    assert unwind_step(read, table, BASE + 0x2010, SP, (None,) * 16, False) is None
    # The stack slot is not in the dump.
    read, table = _image((F1,), {})
    assert unwind_step(read, table, BASE + 0x2010, SP, (None,) * 16, False) is None


def test_table_size_is_bounded_by_the_image() -> None:
    image = PeImage(base=BASE, size_of_image=0x3000, timestamp=0, checksum=0, machine=0x8664,
                    sections=(), directories=((0, 0),) * 3 + ((0x1000, 0xFFFFFFF0),))
    assert FunctionTable(lambda va, size: None, image).count == 0


def test_walker_stops_when_rsp_does_not_climb() -> None:
    # A frame whose "return address" slot points back into the same function and whose
    # unwind leaves RSP where it was: a machine frame giving the same RSP.
    fn = FunctionSpec(0x2000, 0x2100, codes=(U.machframe(0, error_code=False),))
    memory = {SP: _words(BASE + 0x2010, 0x10, 0x202, SP, 0x18) + bytes(0x100)}
    read, _ = _image((fn,), memory)
    image = PeImage(base=BASE, size_of_image=0x10000, timestamp=0, checksum=0, machine=0x8664,
                    sections=(), directories=((0, 0), (0, 0), (0, 0), (0x1000, 12)))
    module = Module("loop.sys", BASE, 0x10000, None, None, None)
    walker = StackWalker(read, ModuleMap([module], {BASE: image}), 64)
    frames = walker.walk(Registers(ip=BASE + 0x2010, sp=SP, fp=0, flags=0),
                         StackBounds(SP, SP + 0x128))
    # No unwound frame; the scan from SP finds the value at [SP] (its code bytes are not
    # in memory, so it is kept), nothing else.
    assert [(f.method, f.stack_address) for f in frames] == [("context", None), ("scan", SP)]
