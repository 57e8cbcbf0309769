"""Open a Windows kernel crash dump: the library's view of one dump, whatever its container.

``open_dump(path)`` picks the container once (``dump/containers``) and returns a
``CrashDump``: header facts, physical and virtual memory, and the kernel state the
container offers (``dump/kernel``). Memory use does not grow with the dump: the file is
mmap'd and nothing but the header and small indexes is copied out of it.
"""

from __future__ import annotations

import os
from functools import cached_property
from types import TracebackType

from dumptriage.dump.containers import open_container
from dumptriage.errors import PageNotPresent, UnsupportedDump

# Loaded when first used: opening a dump for its header stays cheap (model/record.py
# says why `typing` itself is kept off this path).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from dumptriage.dump.containers.protocol import Container
    from dumptriage.dump.kernel.kdbg import Kdbg
    from dumptriage.dump.kernel.registers import Registers
    from dumptriage.dump.kernel.state import KernelState
    from dumptriage.dump.memory.physical import PhysicalMemory
    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.dump import Frame, Module, Processor, UnloadedModule
    from dumptriage.model.header import BugCheck, DumpInfo
    from dumptriage.model.vcpu import Vcpu


def open_dump(path: str | os.PathLike[str]) -> CrashDump:
    """Open a kernel dump (PAGEDUMP / PAGEDU64). Raises DumpFormatError on a bad header."""
    return CrashDump(open_container(os.fspath(path)))


class CrashDump:
    """One opened kernel dump. Use as a context manager, or call ``close()``."""

    def __init__(self, container: Container):
        self.container = container
        # None for a hung guest's host-side memory dump (a QEMU vmcore): no bugcheck.
        self.bugcheck: BugCheck | None = container.bugcheck

    @property
    def has_bugcheck(self) -> bool:
        """False when the dump records no stop code: a QEMU vmcore of a live or hung guest
        gives ``bugcheck`` code 0 with zero arguments then (containers/vmcore.py)."""
        return bool(getattr(self.container, "has_bugcheck", True))

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.container.path)

    @property
    def info(self) -> DumpInfo:
        """The header's banner facts (built on first use)."""
        return self.container.info

    # -- kernel facts --------------------------------------------------------------------

    @property
    def anomalies(self) -> list[Anomaly]:
        """What was odd about the container itself (header, page index)."""
        return self.container.opening_anomalies()

    @property
    def physical(self) -> PhysicalMemory | None:
        return self.container.physical

    @property
    def has_memory(self) -> bool:
        """False for header-only, range and encrypted dumps: nothing to read."""
        return self.container.kernel_offer().memory is not None

    @property
    def kdbg(self) -> Kdbg | None:
        """KDDEBUGGER_DATA64, looked up once; None (and an anomaly) when unavailable."""
        return self.container.kernel_offer().kdbg

    @property
    def header_registers(self) -> Registers | None:
        """The header's ContextRecord: the CPU that wrote the dump (None when empty)."""
        return self.container.kernel_offer().header_registers

    @cached_property
    def kernel(self) -> KernelState:
        """Modules, processors and stack, each computed on first use."""
        from dumptriage.dump.kernel.state import KernelState

        return KernelState(self.container.kernel_offer(), self.info, self.container.physical,
                           bugcheck=self.bugcheck)

    @property
    def modules(self) -> list[Module]:
        return self.kernel.modules

    @property
    def unloaded_modules(self) -> list[UnloadedModule]:
        return self.kernel.unloaded_modules

    @property
    def processors(self) -> list[Processor]:
        return self.kernel.processors

    @property
    def is_vmcore(self) -> bool:
        """A host-side memory dump: the container offers vCPU registers (a QEMU vmcore)."""
        return bool(self.container.kernel_offer().vcpus)

    @property
    def vcpus(self) -> tuple[Vcpu, ...]:
        """What each vCPU was doing (a vmcore only)."""
        return self.kernel.vcpus

    def stack(self) -> list[Frame]:
        """The crashing thread's stack: context frame, EBP chain (x86), raw scan."""
        return self.kernel.stack

    def all_anomalies(self) -> list[Anomaly]:
        """Every anomaly of the container and of the kernel state, in one fixed order:
        the same dump always gives the same list, whatever was read before."""
        offer = self.container.kernel_offer()
        return [*self.container.opening_anomalies(), *offer.anomalies, *self.kernel.anomalies()]

    # -- memory access -------------------------------------------------------------------

    def read_physical(self, pa: int, size: int) -> bytes:
        """Bytes at a guest-physical address; PageNotPresent if any page is missing."""
        physical = self.container.physical
        if physical is None:
            raise PageNotPresent(pa, f"a {self.info.dump_type} dump holds no physical pages")
        return physical.read(pa, size)

    def read_physical_or_none(self, pa: int, size: int) -> bytes | None:
        try:
            return self.read_physical(pa, size)
        except PageNotPresent:
            return None

    def translate(self, va: int) -> int:
        """Guest-physical address of a kernel virtual address (PageNotPresent if unmapped).

        A triage dump has no page tables: its virtual memory is read through
        ``read_virtual`` from the copies it carries, and ``translate`` raises.
        """
        memory = self.container.kernel_offer().memory
        if memory is None:
            raise PageNotPresent(va, "this dump has no page tables to walk", virtual=True)
        return memory.translate(va)

    def read_virtual(self, va: int, size: int) -> bytes:
        """Kernel virtual memory: page tables, or a triage dump's stack and data blocks."""
        memory = self.container.kernel_offer().memory
        if memory is None:
            raise PageNotPresent(va, f"a {self.info.dump_type} dump holds no memory",
                                 virtual=True)
        return memory.read(va, size)

    def read_virtual_or_none(self, va: int, size: int) -> bytes | None:
        try:
            return self.read_virtual(va, size)
        except PageNotPresent:
            return None

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> CrashDump:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["CrashDump", "UnsupportedDump", "open_dump"]
