"""The crashing thread's stack, without symbols: context, unwinding (x64), EBP chain, scan.

* ``context``: the instruction pointer of the saved registers.
* ``frame_pointer`` (x86): 32-bit Windows kernels keep EBP frames; [ebp] is the caller's
  EBP and [ebp+4] the return address. The chain is followed while it climbs the stack
  and lands in module code; it stops at the first inconsistent link.
* ``unwind`` (x64): x64 kernels keep no frame pointers; each frame is undone with the
  .pdata/UNWIND_INFO of the image holding its RIP (unwind.py), as long as that image's
  exception directory and the stack are in the dump. Where that fails (image not in the
  dump, a page missing, a RIP outside module code) the scan takes over from that RSP.
* ``scan``: every pointer-sized value from the stack pointer (x64: from where unwinding
  stopped) up to the stack's end that points into a loaded module's code and is not
  refuted by its code bytes: a value whose preceding bytes are in the dump and decode as
  no CALL ending at it is dropped (callcheck.py); one whose code page is missing is kept,
  and so is the IP of another saved register set (the exception context).
  Heuristic, like WinDbg's "Following frames may be wrong": a raw scan also finds stale
  return addresses of earlier calls.
* ``exception_context``: the instruction pointer of the CONTEXT record a bugcheck argument
  names (exception_context.py, WinDbg's ``.cxr``); the walk from the crash registers is
  kept up to that record's stack pointer and continues from the record's registers.

A minidump holds no module images, so x64 unwinding stops at the first frame. With an
``ImageSource`` (the image files of a symbol store, matched by TimeDateStamp and
SizeOfImage) the walker reads .pdata, UNWIND_INFO and code bytes the dump lacks from the
file, by RVA: the sections the unwinder reads are not relocated (their contents are RVAs).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dumptriage.dump.kernel.callcheck import CallChecker
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.dump.kernel.pe_image import PeImage, nearest_export, read_pe
from dumptriage.dump.kernel.registers import Registers
from dumptriage.dump.kernel.unwind import RBP, RSP, FunctionTable, unwind_step
from dumptriage.model.dump import Frame, Module
from dumptriage.model.record import Record, replace

ReadBytes = Callable[[int, int], bytes | None]
# An image file lent for one module: bytes by RVA, None where the file has none.
RvaReader = Callable[[int, int], bytes | None]
ImageSource = Callable[[Module], RvaReader | None]

MAX_FRAMES = 256
# Kernel stacks are 12 KiB (x86) / 24 KiB (x64), 72 KiB for large GUI stacks: never scan
# more than this much whatever the thread's bounds claim.
MAX_SCAN_BYTES = 0x12000

# WinDbg calls the kernel "nt" whatever its file name (uniprocessor/PAE variants).
_KERNEL_FILES = {"ntoskrnl.exe", "ntkrnlpa.exe", "ntkrnlmp.exe", "ntkrpamp.exe"}


class StackBounds(Record):
    low: int  # the stack pointer
    high: int  # exclusive end of the scan


def display_name(module: Module) -> str:
    """WinDbg's module name: the file name without extension, the kernel as 'nt'."""
    if module.name.lower() in _KERNEL_FILES:
        return "nt"
    return module.name.rsplit(".", 1)[0]


class StackWalker:
    def __init__(self, read: ReadBytes, modules: ModuleMap, pointer_bits: int,
                 interrupted: tuple[int, ...] = (), image_source: ImageSource | None = None):
        """``interrupted``: instruction pointers of the dump's other saved register sets
        (the header's exception context of a 0x7E triage dump): where execution stopped,
        not return addresses, so the scan keeps them without the CALL check.
        ``image_source``: image files for modules the dump holds no image of."""
        self._dump_read = read
        self._source = image_source
        self._lent: dict[int, tuple[int, RvaReader, PeImage] | None] = {}
        self._read = self._read_lent if image_source is not None else read
        self._interrupted = frozenset(interrupted)
        self._modules = modules
        self._bits = pointer_bits
        self._fmt = "<I" if pointer_bits == 32 else "<Q"
        self._step = pointer_bits // 8
        self._calls = CallChecker(read, pointer_bits)
        self._tables: dict[int, FunctionTable] = {}

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
        if self._bits == 64:
            unwound, resume = self._unwind(regs, bounds)
            if resume is None:
                return (frames + unwound)[:MAX_FRAMES]
            scan_bounds = StackBounds(max(resume, bounds.low), bounds.high)
            return (frames + unwound + self._scan(scan_bounds))[:MAX_FRAMES]
        chained = self._frame_pointer_chain(regs.fp, bounds) if self._bits == 32 else []
        taken = {f.stack_address for f in chained}
        scanned = [f for f in self._scan(bounds) if f.stack_address not in taken]
        rest = sorted(chained + scanned, key=lambda f: f.stack_address or 0)
        return (frames + rest)[:MAX_FRAMES]

    def walk_with_exception(self, regs: Registers, cxr: Registers,
                            bounds: StackBounds) -> list[Frame]:
        """The crash registers' walk up to the exception CONTEXT's stack pointer, then the
        walk from the CONTEXT (its first frame marked ``exception_context``)."""
        outer = self.walk(regs, bounds)
        inner = self.walk(cxr, StackBounds(cxr.sp, bounds.high))
        # A full unwind reaches the faulting IP itself through the trap's machine frame
        # (UWOP_PUSH_MACHFRAME): that frame is the CONTEXT's and is not listed twice.
        before = [f for f in outer[1:] if f.stack_address is not None
                  and f.stack_address < cxr.sp and f.address != cxr.ip]
        marked = replace(inner[0], method="exception_context")
        return (outer[:1] + before + [marked] + inner[1:])[:MAX_FRAMES]

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

    def _unwind(self, regs: Registers, bounds: StackBounds) -> tuple[list[Frame], int | None]:
        """Frames undone with unwind data, and the RSP to scan from (None: the stack ended,
        RIP 0 or RSP at the stack's end)."""
        found: list[Frame] = []
        known: list[int | None] = [None] * 16
        known[RSP], known[RBP] = regs.sp, regs.fp
        rip, rsp, exact, state = regs.ip, regs.sp, True, tuple(known)
        while len(found) < MAX_FRAMES:
            table = self._table(rip)
            step = unwind_step(self._read, table, rip, rsp, state, exact) \
                if table is not None else None
            if step is None:
                return found, rsp
            if step.rip == 0 or step.rsp >= bounds.high:
                return found, None  # the thread's first frame (or the stack's end)
            if not bounds.low <= step.slot < bounds.high or step.rsp <= rsp:
                return found, rsp  # RSP must climb within the stack
            if self._modules.is_code(step.rip) is None:
                return found, step.slot
            found.append(self.frame(step.rip, step.slot, "unwind"))
            rip, rsp, exact, state = step.rip, step.rsp, step.exact, step.regs
        return found, None

    def _table(self, rip: int) -> FunctionTable | None:
        module = self._modules.find(rip)
        if module is None:
            return None
        image = self._modules.images.get(module.base) or self._lend(module)
        if image is None:
            return None
        table = self._tables.get(image.base)
        if table is None:
            table = self._tables[image.base] = FunctionTable(self._read, image)
        return table if table.count else None

    def _lend(self, module: Module) -> PeImage | None:
        """The image file the source has for ``module`` (asked once per module)."""
        if self._source is None:
            return None
        if module.base not in self._lent:
            self._lent[module.base] = None
            reader = self._source(module)
            if reader is not None:
                base = module.base
                image = read_pe(lambda va, size: reader(va - base, size), base)
                if image is not None and image.size_of_image == module.size:
                    self._lent[base] = (base + module.size, reader, image)
        lent = self._lent[module.base]
        return lent[2] if lent is not None else None

    def _read_lent(self, va: int, size: int) -> bytes | None:
        """Dump memory first; bytes it lacks from a lent image file."""
        data = self._dump_read(va, size)
        if data is not None:
            return data
        for base, lent in self._lent.items():
            if lent is not None and base <= va and va + size <= lent[0]:
                return lent[1](va - base, size)
        return None

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
                if self._modules.is_code(value) is not None and (
                        value in self._interrupted or self._calls.after_call(value) is not False):
                    found.append(self.frame(value, at + i * self._step, "scan"))
            at = chunk_end
        return found
