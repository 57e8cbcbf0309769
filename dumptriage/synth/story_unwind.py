"""An x64 stack that only unwinding explains: .pdata + UNWIND_INFO in nt and a driver.

Every address, function and register value is synthetic. The functions use every kind of
unwind code the reader handles, and the stack below is laid out by hand from their
prologs (offsets are written out, not computed by the reader's rules):

    frame  function (image+RVA)                 prolog (unwind codes)
    0      nt KeBugCheckEx     +0x20000 ctx    push rbp; push rbx; sub rsp,28h   (ALLOC_SMALL)
    1      nt child fragment   +0x21000        mov [rsp+40h],rsi (SAVE_NONVOL), CHAININFO ->
           nt KiBugCheckDispatch +0x20800      push rdi; sub rsp,30h
    2      nt KiPageFault      +0x22000        machine frame with error code; push rbp;
                                                sub rsp,158h (ALLOC_LARGE/0);
                                                lea rbp,[rsp+80h] (SET_FPREG rbp, 0x80)
    3      qvdrv leaf          +0x3000         no RUNTIME_FUNCTION: interrupted at +0x3010
    4      qvdrv DrvDispatch   +0x4000         push rsi; push rdi; sub rsp,88h (ALLOC_LARGE/1);
                                                mov [rsp+0A8h],rbx; movaps [rsp+70h],xmm6
    5      nt IopCallDriverStub +0x23000 (v2)  push r12; push r13; sub rsp,20h;
                                                mov [rsp+38h],r14 (SAVE_NONVOL_FAR); EPILOG
    6      nt PspSystemThreadStartup +0x24000  sub rsp,28h; its return address is 0

Each return address follows a real CALL encoding (E8, FF 15, 41 FF D3) in the image's code
bytes, and the rest of each function is INT3 fill, so the CALL check can be shown too.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from dumptriage.synth import pe_unwind as U
from dumptriage.synth.pe_unwind import FunctionSpec, UnwindModuleSpec
from dumptriage.synth.spec import DumpSpec, StackSpec

NT = 0xFFFFF8047BA00000
DRV = 0xFFFFF80480C00000

KE_BUGCHECK_EX, DISPATCH, CHILD, PAGE_FAULT, CALL_STUB, THREAD_START = (
    0x20000, 0x20800, 0x21000, 0x22000, 0x23000, 0x24000)
LEAF, DRV_DISPATCH = 0x3000, 0x4000

# Return addresses (RVAs) and the CALL that ends at each.
R1, R2, R5, R6 = CHILD + 0x20, PAGE_FAULT + 0x100, CALL_STUB + 0x80, THREAD_START + 0x50
R4 = DRV_DISPATCH + 0x100
INTERRUPTED = LEAF + 0x10  # the machine frame's RIP
CONTEXT_RIP = KE_BUGCHECK_EX + 0x40
STALE = DRV_DISPATCH + 0x40  # a code pointer left on the stack, not after a CALL

STACK_BASE = 0xFFFF850429893000
S0 = STACK_BASE - 0x1000  # context RSP (in KeBugCheckEx's body)
S1 = S0 + 0x40  # after KeBugCheckEx: 0x28 alloc + rbx + rbp + return
S2 = S1 + 0x40  # after the chained fragment: 0x30 alloc + rdi + return (rsi at S1+0x40)
RBP_PAGE_FAULT = S2 + 0x80  # KiPageFault's frame pointer (lea rbp,[rsp+80h])
MACHINE = S2 + 0x160  # 0x158 alloc + rbp: the error code, then RIP CS EFLAGS RSP SS
S3 = MACHINE + 0x30  # the interrupted RSP
S4 = S3 + 8  # after the leaf: its return address only
S5 = S4 + 0xA0  # after DrvDispatch: 0x88 alloc + rdi + rsi + return (rbx home at S4+0xA8)
S6 = S5 + 0x38  # after IopCallDriverStub: 0x20 alloc + r13 + r12 + return (r14 at +0x38)
END = S6 + 0x28  # PspSystemThreadStartup's return slot: 0

# Saved register values (not code, so a scan never takes them).
RBX, RSI, RDI, OLD_RBP, R12, R13, R14 = (0xFFFFC08B00000300 + 0x10 * i for i in range(7))
CONTEXT_RBP = 0x1111  # KeBugCheckEx used rbp as scratch: only the stack knows the value


def _e8(at: int, target: int) -> bytes:
    return b"\xe8" + struct.pack("<i", target - (at + 5))


def _body(begin: int, end: int, prolog: bytes, calls: dict[int, bytes]) -> tuple[int, bytes]:
    """The function's bytes: prolog, INT3 fill, and each CALL placed to end at its key."""
    code = bytearray(prolog + b"\xcc" * (end - begin - len(prolog)))
    for ret, call in calls.items():
        code[ret - begin - len(call) : ret - begin] = call
    return begin, bytes(code)


def nt_functions() -> tuple[FunctionSpec, ...]:
    return (
        FunctionSpec(KE_BUGCHECK_EX, KE_BUGCHECK_EX + 0x100, prolog=6, codes=(
            U.alloc(6, 0x28), U.push(2, U.RBX), U.push(1, U.RBP))),
        FunctionSpec(DISPATCH, DISPATCH + 0x100, prolog=5, codes=(
            U.alloc(5, 0x30), U.push(1, U.RDI))),
        FunctionSpec(CHILD, CHILD + 0x80, prolog=5, codes=(U.save_nonvol(5, U.RSI, 0x40),),
                     chain_to=DISPATCH),
        FunctionSpec(PAGE_FAULT, PAGE_FAULT + 0x400, prolog=16, codes=(
            U.set_fpreg(16), U.alloc(8, 0x158), U.push(1, U.RBP),
            U.machframe(0, error_code=True)), frame_register=U.RBP, frame_offset=0x80),
        FunctionSpec(CALL_STUB, CALL_STUB + 0x100, prolog=13, version=2, codes=(
            U.epilog(5), U.save_nonvol(13, U.R14, 0x38, far=True), U.alloc(8, 0x20),
            U.push(4, U.R13), U.push(2, U.R12))),
        FunctionSpec(THREAD_START, THREAD_START + 0x80, prolog=4, codes=(U.alloc(4, 0x28),)),
    )


def drv_functions() -> tuple[FunctionSpec, ...]:
    return (FunctionSpec(DRV_DISPATCH, DRV_DISPATCH + 0x200, prolog=22, codes=(
        U.save_xmm128(22, 6, 0x70), U.save_nonvol(17, U.RBX, 0xA8),
        U.alloc(9, 0x88, far=True), U.push(2, U.RDI), U.push(1, U.RSI))),)


def nt_code() -> tuple[tuple[int, bytes], ...]:
    return (
        _body(KE_BUGCHECK_EX, KE_BUGCHECK_EX + 0x100, bytes.fromhex("55 53 4883ec28"), {}),
        _body(DISPATCH, DISPATCH + 0x100, bytes.fromhex("57 4883ec30"), {}),
        _body(CHILD, CHILD + 0x80, bytes.fromhex("4889742440"),
              {R1: _e8(R1 - 5, KE_BUGCHECK_EX)}),
        _body(PAGE_FAULT, PAGE_FAULT + 0x400,
              bytes.fromhex("55 4881ec58010000 488dac2480000000"), {R2: _e8(R2 - 5, DISPATCH)}),
        _body(CALL_STUB, CALL_STUB + 0x100, bytes.fromhex("4154 4155 4883ec20 4c89742438"),
              {R5: bytes.fromhex("41ffd3")}),  # call r11
        _body(THREAD_START, THREAD_START + 0x80, bytes.fromhex("4883ec28"),
              {R6: _e8(R6 - 5, CALL_STUB)}),
    )


def drv_code() -> tuple[tuple[int, bytes], ...]:
    return (
        _body(LEAF, LEAF + 0x20, b"", {INTERRUPTED + 2: bytes.fromhex("8b01")}),  # mov eax,[rcx]
        _body(DRV_DISPATCH, DRV_DISPATCH + 0x200,
              bytes.fromhex("56 57 4881ec88000000 48899c24a8000000 0f29742470"),
              {R4: bytes.fromhex("ff15fa0f0000")}),  # call [rip+0xffa]
    )


def modules(*, drv_pdata: bool = True) -> tuple[UnwindModuleSpec, ...]:
    nt = UnwindModuleSpec(
        name="ntoskrnl.exe", path="\\SystemRoot\\system32\\ntoskrnl.exe", base=NT,
        size=0x1046000, timestamp=0x5F8A6A7E, checksum=0x00A4E6C5,
        exports=(("KeBugCheckEx", KE_BUGCHECK_EX), ("KiBugCheckDispatch", DISPATCH),
                 ("KiPageFault", PAGE_FAULT), ("IopCallDriverStub", CALL_STUB),
                 ("PspSystemThreadStartup", THREAD_START)),
        functions=nt_functions(), code=nt_code())
    drv = UnwindModuleSpec(
        name="qvdrv.sys", path="\\SystemRoot\\system32\\drivers\\qvdrv.sys", base=DRV,
        size=0x20000, timestamp=0x61A0B2C3, checksum=0x2A3B1,
        functions=drv_functions() if drv_pdata else (), code=drv_code())
    return nt, drv


def stack() -> StackSpec:
    slots = {
        S0 + 0x28: RBX, S0 + 0x30: RBP_PAGE_FAULT, S0 + 0x38: NT + R1,
        S1 + 0x30: RDI, S1 + 0x38: NT + R2, S1 + 0x40: RSI,
        S2 + 0x158: OLD_RBP,
        MACHINE: 2, MACHINE + 8: DRV + INTERRUPTED, MACHINE + 0x10: 0x10,
        MACHINE + 0x18: 0x10282, MACHINE + 0x20: S3, MACHINE + 0x28: 0x18,
        S3: DRV + R4,
        S4 + 0x10: DRV + STALE, S4 + 0x88: RDI, S4 + 0x90: RSI, S4 + 0x98: NT + R5,
        S4 + 0xA8: RBX,
        S5 + 0x20: R13, S5 + 0x28: R12, S5 + 0x30: NT + R6, S5 + 0x38: R14,
        END: 0,
    }
    values = tuple(slots.get(va, 0) for va in range(S0, END + 8, 8))
    return StackSpec(low=STACK_BASE - 0x6000, high=STACK_BASE, sp=S0, ip=NT + CONTEXT_RIP,
                     bp=CONTEXT_RBP, values=values)


def expected_frames() -> tuple[tuple[str, int, int | None], ...]:
    """(method, address, stack slot) the walker must report, innermost first."""
    return (
        ("context", NT + CONTEXT_RIP, None),
        ("unwind", NT + R1, S0 + 0x38),
        ("unwind", NT + R2, S1 + 0x38),
        ("unwind", DRV + INTERRUPTED, MACHINE + 8),
        ("unwind", DRV + R4, S3),
        ("unwind", NT + R5, S4 + 0x98),
        ("unwind", NT + R6, S5 + 0x30),
    )


def unwind_x64(*, drv_pdata: bool = True) -> DumpSpec:
    """A Win10 19041 x64 full dump whose crashing stack unwinds through both images.
    ``drv_pdata`` False leaves the driver without .pdata: unwinding stops at its leaf and
    the scan takes over from the interrupted RSP."""
    return replace(DumpSpec(arch="x64", build=19041), modules=modules(drv_pdata=drv_pdata),
                   kernel_base=NT, stack=stack(),
                   bugcheck=(0x50, (0xFFFFC08B00000000, 0, DRV + INTERRUPTED, 2)))
