"""Guest-physical memory as the vmcore writers take it: runs plus page overlays."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from dumptriage.synth.vmcore_notes import SynthVcpu

PAGE = 0x1000
# A run is (guest-physical address, bytes) or (address, size): zeros, written as a hole.
Run = tuple[int, bytes | int]
VcpuInput = SynthVcpu | Mapping[str, object]


@dataclass(frozen=True)
class GuestRam:
    """Guest-physical memory: runs of (address, size, bytes or None) plus page overlays."""

    runs: tuple[tuple[int, int, bytes | None], ...]
    pages: Mapping[int, bytes]
    by_pfn: Mapping[int, tuple[int, ...]]  # pfn -> addresses in ``pages`` that touch it

    @classmethod
    def of(cls, runs: Sequence[Run], pages: Mapping[int, bytes] | None) -> GuestRam:
        norm: list[tuple[int, int, bytes | None]] = []
        for pa, data in sorted(runs, key=lambda r: r[0]):
            if isinstance(data, int):
                norm.append((pa, data, None))
            else:
                norm.append((pa, len(data), bytes(data)))
        overlays = dict(pages or {})
        by_pfn: dict[int, list[int]] = {}
        for at, blob in overlays.items():
            for pfn in range(at // PAGE, (at + max(len(blob), 1) - 1) // PAGE + 1):
                by_pfn.setdefault(pfn, []).append(at)
        ram = cls(tuple(norm), overlays, {k: tuple(v) for k, v in by_pfn.items()})
        for pa, blob in ram.pages.items():
            if ram.run_of(pa) is None or ram.run_of(pa + len(blob) - 1) != ram.run_of(pa):
                raise ValueError(f"page content at {pa:#x} is not inside one run")
        return ram

    def run_of(self, pa: int) -> int | None:
        for i, (base, size, _) in enumerate(self.runs):
            if base <= pa < base + size:
                return i
        return None

    def page(self, pfn: int) -> bytes:
        """The 4 KiB at ``pfn`` (run bytes, then overlays laid over them)."""
        pa = pfn * PAGE
        i = self.run_of(pa)
        out = bytearray(PAGE)
        if i is not None:
            base, _, data = self.runs[i]
            if data is not None:
                chunk = data[pa - base : pa - base + PAGE]
                out[: len(chunk)] = chunk
        for at in self.by_pfn.get(pfn, ()):
            blob = self.pages[at]
            if at < pa + PAGE and at + len(blob) > pa:
                lo, hi = max(at, pa), min(at + len(blob), pa + PAGE)
                out[lo - pa : hi - pa] = blob[lo - at : hi - at]
        return bytes(out)

    def is_hole(self, pfn: int) -> bool:
        """True when nothing was given for ``pfn``: a sized run's page with no overlay."""
        if pfn in self.by_pfn:
            return False
        i = self.run_of(pfn * PAGE)
        return i is not None and self.runs[i][2] is None

    def pfns(self) -> Iterator[int]:
        for base, size, _ in self.runs:
            yield from range(base // PAGE, (base + size + PAGE - 1) // PAGE)

    @property
    def highest_end(self) -> int:
        return max((b + s for b, s, _ in self.runs), default=0)
