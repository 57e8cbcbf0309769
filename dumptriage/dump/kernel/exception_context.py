"""Where a bugcheck's own arguments say the faulting thread's registers were saved.

For some stop codes Windows passes the address of the CONTEXT record the exception
dispatcher captured at the fault (Microsoft's bug check reference, "Bug Check 0x7E
SYSTEM_THREAD_EXCEPTION_NOT_HANDLED": Arg4 "The address of the context record";
"Bug Check 0x3B SYSTEM_SERVICE_EXCEPTION": Arg3 "The address of the context record for the
exception that caused the bug check"; "Bug Check 0x3D INTERRUPT_EXCEPTION_NOT_HANDLED":
Arg2 "Context record address"). WinDbg's ``.cxr`` on that address shows the stack from the
faulting instruction instead of from KeBugCheckEx; the crashing thread's own stack passes
through the exception dispatcher (KiExceptionDispatch, RtlDispatchException) to get there.
The 0x1000007E (``_M``) variant carries the same arguments (bugcheck 0x7E, "Remarks").

0x8E KERNEL_MODE_EXCEPTION_NOT_HANDLED passes a KTRAP_FRAME instead (Arg3 "The address of
the trap frame for the exception"; WinDbg's ``.trap``). Its offsets, the same from Windows 7
to 11 (ntdiff/headers ``_KTRAP_FRAME.h``): x64 Rbp +0x158, Rip +0x168, SegCs +0x170, Rsp
+0x180; x86 Ebp +0x60, Eip +0x68, SegCs +0x6C, HardwareEsp +0x74. An x86 trap taken in
kernel mode pushes no ESP (no privilege change, Intel SDM vol. 3 6.12.1), so the
interrupted ESP is the address where HardwareEsp would be: the frame's address + 0x74.

Either record lives on the crashing thread's stack, which every kernel dump kind keeps.
"""

from __future__ import annotations

import struct

from dumptriage.dump.kernel.registers import CONTEXT_SIZE, Registers, parse_context
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Callable

    ReadBytes = Callable[[int, int], bytes | None]

# Stop code -> index (0-based) of the argument holding the CONTEXT record's address.
CONTEXT_ARGUMENT = {0x7E: 3, 0x1000007E: 3, 0x3B: 2, 0x3D: 1}
# Stop code -> index of the argument holding a KTRAP_FRAME's address.
TRAP_FRAME_ARGUMENT = {0x8E: 2, 0x1000008E: 2}
# arch -> (bytes read, Rbp/Ebp, Rip/Eip, SegCs, Rsp/HardwareEsp offsets, pointer format)
_TRAP = {"x64": (0x190, 0x158, 0x168, 0x170, 0x180, "<Q"),
         "x86": (0x78, 0x60, 0x68, 0x6C, 0x74, "<I")}


class ExceptionContext(Record):
    """The faulting thread's registers, from a bugcheck argument."""

    address: int  # where the CONTEXT record (or KTRAP_FRAME) is
    argument: int  # 1-based, as Microsoft numbers them
    registers: Registers
    record: str = "CONTEXT"  # or "KTRAP_FRAME"


def exception_context(read: ReadBytes, code: int, args: tuple[int, ...] | list[int],
                      arch: str) -> ExceptionContext | None:
    """The CONTEXT a bugcheck argument points at; None when the code has none, the record is
    not in the dump, or its bytes are not a CONTEXT of this architecture."""
    if code in TRAP_FRAME_ARGUMENT:
        return _trap_frame(read, TRAP_FRAME_ARGUMENT[code], args, arch)
    index = CONTEXT_ARGUMENT.get(code)
    size = CONTEXT_SIZE.get(arch)
    if index is None or size is None or index >= len(args) or not args[index]:
        return None
    address = args[index]
    registers = parse_context(read(address, size), arch)
    if registers is None:
        return None
    return ExceptionContext(address, index + 1, registers)


def _trap_frame(read: ReadBytes, index: int, args: tuple[int, ...] | list[int],
                arch: str) -> ExceptionContext | None:
    """The kernel-mode registers a KTRAP_FRAME saved; None for a trap from user mode (its
    stack is not the kernel stack) or a frame not in the dump."""
    layout = _TRAP.get(arch)
    if layout is None or index >= len(args) or not args[index]:
        return None
    size, bp, ip, cs, sp, fmt = layout
    address = args[index]
    blob = read(address, size)
    if blob is None:
        return None
    (segcs,) = struct.unpack_from("<H", blob, cs)
    if segcs & 3 or not segcs:  # CPL 3 (user mode), or no selector saved at all
        return None
    (rip,), (rbp,) = struct.unpack_from(fmt, blob, ip), struct.unpack_from(fmt, blob, bp)
    rsp = address + sp if arch == "x86" else struct.unpack_from(fmt, blob, sp)[0]
    if not rip or not rsp:
        return None
    return ExceptionContext(address, index + 1, Registers(ip=rip, sp=rsp, fp=rbp, flags=0),
                            "KTRAP_FRAME")
