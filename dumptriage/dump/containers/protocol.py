"""The one small protocol every dump container implements.

A container is one on-disk kind of dump (full, summary/bitmap, triage minidump, RDMP, and
later the QEMU vmcores). It states the header facts, looks up physical pages, and offers
whatever kernel state it can (``KernelOffer``). Kernel-state code (``dump/kernel/``) talks
to this protocol only: it never asks which container it has. A new container is a new
file under ``dump/containers/`` and one line in ``containers/__init__.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dumptriage.dump.containers.offer import KernelOffer as KernelOffer
from dumptriage.dump.containers.offer import PrcbCopy as PrcbCopy

if TYPE_CHECKING:
    from dumptriage.dump.memory.physical import PhysicalMemory
    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.dump import BugCheck, DumpInfo


class VirtualMemory(Protocol):
    """Kernel virtual memory as a container can offer it (page tables, or saved copies)."""

    def read(self, va: int, size: int) -> bytes:
        """The bytes at ``va``; raises PageNotPresent when any of them is not in the dump."""
        ...

    def translate(self, va: int) -> int:
        """The guest-physical address of ``va``; raises PageNotPresent without page tables."""
        ...


class Container(Protocol):
    """One opened dump file of one container kind."""

    kind: str  # "full", "bitmap", "triage", "header_only", "rdmp", ...
    path: str  # the file name as given

    @property
    def bugcheck(self) -> BugCheck | None:
        """The stop code; None for a hung guest's host-side memory dump (no bugcheck)."""
        ...

    @property
    def info(self) -> DumpInfo:
        """The header's banner facts."""
        ...

    @property
    def physical(self) -> PhysicalMemory | None:
        """Physical page lookup; None when the container holds no physical pages."""
        ...

    def opening_anomalies(self) -> list[Anomaly]:
        """What was odd about the container itself, complete and in a fixed order."""
        ...

    def kernel_offer(self) -> KernelOffer:
        """The kernel state the container can offer (computed once, then cached)."""
        ...

    def close(self) -> None: ...
