"""The crashing thread's stack, without symbols: a context frame, an EBP chain, a raw scan.

* ``context``: the instruction pointer of the saved registers.
* ``frame_pointer`` (x86): 32-bit Windows kernels keep EBP frames; [ebp] is the caller's
  EBP and [ebp+4] the return address. The chain is followed while it climbs the stack
  and lands in module code; it stops at the first inconsistent link.
* ``scan``: every pointer-sized value from the stack pointer up to the stack's end that
  points into a loaded module's code. Heuristic, like WinDbg's "Following frames may be
  wrong": a raw scan also finds stale return addresses of earlier calls.

x64 kernels do not keep frame pointers (unwinding needs .pdata unwind codes), so x64
stacks get the context frame and the scan.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.dump.kernel.pe_image import nearest_export
from dumptriage.dump.kernel.registers import Registers
from dumptriage.model.dump import Frame, Module

ReadBytes = Callable[[int, int], bytes | None]

MAX_FRAMES = 256
# Kernel stacks are 12 KiB (x86) / 24 KiB (x64), 72 KiB for large GUI stacks: never scan
# more than this much whatever the thread's bounds claim.
MAX_SCAN_BYTES = 0x12000

# WinDbg calls the kernel "nt" whatever its file name (uniprocessor/PAE variants).
_KERNEL_FILES = {"ntoskrnl.exe", "ntkrnlpa.exe", "ntkrnlmp.exe", "ntkrpamp.exe"}


@dataclass(frozen=True)
class StackBounds:
    low: int  # the stack pointer
    high: int  # exclusive end of the scan


def display_name(module: Module) -> str:
    """WinDbg's module name: the file name without extension, the kernel as 'nt'."""
    if module.name.lower() in _KERNEL_FILES:
        return "nt"
    return module.name.rsplit(".", 1)[0]


class StackWalker:
    def __init__(self, read: ReadBytes, modules: ModuleMap, pointer_bits: int):
        self._read = read
        self._modules = modules
        self._bits = pointer_bits
        self._fmt = "<I" if pointer_bits == 32 else "<Q"
        self._step = pointer_bits // 8

    def frame(self, address: int, slot: int | None, method: str) -> Frame:
        module = self._modules.find(address)
        if module is None:
            return Frame(address, slot, None, None, None, method)
        offset = address - module.base
        return Frame(address, slot, module.name, offset, self._symbol(module, offset), method)

    def _symbol(self, module: Module, offset: int) -> str:
        name = display_name(module)
        image = self._modules.images.get(module.base)
        export = nearest_export(self._read, image, offset) if image is not None else None
        if export is None:
            return f"{name}+{offset:#x}"
        function, distance = export
        return f"{name}!{function}+{distance:#x}" if distance else f"{name}!{function}"

    def walk(self, regs: Registers, bounds: StackBounds) -> list[Frame]:
        frames = [self.frame(regs.ip, None, "context")]
        chained = self._frame_pointer_chain(regs.fp, bounds) if self._bits == 32 else []
        taken = {f.stack_address for f in chained}
        scanned = [f for f in self._scan(bounds) if f.stack_address not in taken]
        rest = sorted(chained + scanned, key=lambda f: f.stack_address or 0)
        return (frames + rest)[:MAX_FRAMES]

    def _frame_pointer_chain(self, fp: int, bounds: StackBounds) -> list[Frame]:
        found: list[Frame] = []
        while bounds.low <= fp < bounds.high - 2 * self._step and len(found) < MAX_FRAMES:
            pair = self._read(fp, 2 * self._step)
            if pair is None:
                break
            next_fp, ret = struct.unpack_from(self._fmt + self._fmt[1], pair)
            if self._modules.is_code(ret) is None:
                break
            found.append(self.frame(ret, fp + self._step, "frame_pointer"))
            if next_fp <= fp:
                break  # frames must climb the stack; anything else ends the chain
            fp = next_fp
        return found

    def _scan(self, bounds: StackBounds) -> list[Frame]:
        found: list[Frame] = []
        at = bounds.low - bounds.low % self._step
        end = min(bounds.high, at + MAX_SCAN_BYTES)
        end -= (end - at) % self._step  # whole slots only
        while at < end:
            chunk_end = min(end, (at | 0xFFF) + 1)
            blob = self._read(at, chunk_end - at)
            if blob is None:
                break  # the rest of the stack is not in the dump
            for i, (value,) in enumerate(struct.iter_unpack(self._fmt, blob)):
                if self._modules.is_code(value) is not None:
                    found.append(self.frame(value, at + i * self._step, "scan"))
            at = chunk_end
        return found
