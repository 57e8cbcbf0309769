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

The record lives on the crashing thread's stack, which every kernel dump kind keeps.
"""

from __future__ import annotations

from dumptriage.dump.kernel.registers import CONTEXT_SIZE, Registers, parse_context
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Callable

    ReadBytes = Callable[[int, int], bytes | None]

# Stop code -> index (0-based) of the argument holding the CONTEXT record's address.
CONTEXT_ARGUMENT = {0x7E: 3, 0x1000007E: 3, 0x3B: 2, 0x3D: 1}


class ExceptionContext(Record):
    """The faulting thread's registers, from a bugcheck argument."""

    address: int  # where the CONTEXT record is
    argument: int  # 1-based, as Microsoft numbers them
    registers: Registers


def exception_context(read: ReadBytes, code: int, args: tuple[int, ...] | list[int],
                      arch: str) -> ExceptionContext | None:
    """The CONTEXT a bugcheck argument points at; None when the code has none, the record is
    not in the dump, or its bytes are not a CONTEXT of this architecture."""
    index = CONTEXT_ARGUMENT.get(code)
    size = CONTEXT_SIZE.get(arch)
    if index is None or size is None or index >= len(args) or not args[index]:
        return None
    address = args[index]
    registers = parse_context(read(address, size), arch)
    if registers is None:
        return None
    return ExceptionContext(address, index + 1, registers)
