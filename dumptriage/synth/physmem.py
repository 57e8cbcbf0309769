"""Guest physical memory: RAM runs, a page allocator and the pages that hold content.

Only pages something was written to are kept (dict pfn -> bytearray), so a 16 GiB
guest costs nothing until the file writer streams it out.
"""

from __future__ import annotations

import bisect

PAGE = 0x1000


class PhysicalMemory:
    """Sparse guest RAM described by runs of (base pfn, page count)."""

    def __init__(self, runs: tuple[tuple[int, int], ...], alloc_start_pfn: int) -> None:
        self.runs = tuple(sorted(runs))
        self._check_runs()
        self.pages: dict[int, bytearray] = {}
        self._reserved: list[tuple[int, int]] = []  # [start, end) pfn ranges (large pages)
        self._cursor = alloc_start_pfn

    def _check_runs(self) -> None:
        end = -1
        for base, count in self.runs:
            if count <= 0 or base < end:
                raise ValueError(f"bad or overlapping RAM run ({base:#x}, {count:#x})")
            end = base + count

    @property
    def highest_pfn(self) -> int:
        """The last RAM pfn + 1 (the bitmap length of bitmap/summary dumps)."""
        base, count = self.runs[-1]
        return base + count

    @property
    def total_pages(self) -> int:
        return sum(count for _, count in self.runs)

    def is_ram(self, pfn: int) -> bool:
        i = bisect.bisect_right(self.runs, (pfn, 1 << 62)) - 1
        return i >= 0 and self.runs[i][0] <= pfn < self.runs[i][0] + self.runs[i][1]

    def _is_reserved(self, pfn: int) -> bool:
        return any(start <= pfn < end for start, end in self._reserved)

    def alloc(self) -> int:
        """Hand out the next free RAM page (zero-filled) and return its pfn."""
        pfn = self._cursor
        while not self.is_ram(pfn) or self._is_reserved(pfn) or pfn in self.pages:
            pfn += 1
            if pfn >= self.highest_pfn:
                raise ValueError("guest RAM exhausted: raise memory_mib")
        self._cursor = pfn + 1
        self.pages[pfn] = bytearray(PAGE)
        return pfn

    def reserve(self, pa: int | None, size: int) -> int:
        """Reserve a naturally aligned RAM range for a large page; returns its PA.

        With `pa` None the highest aligned range that is all RAM and untouched is used,
        so large pages stay away from the small-page allocator working upward.
        """
        npages = size // PAGE
        if pa is None:
            pa = self._find_aligned(size)
        if pa % size:
            raise ValueError(f"large page PA {pa:#x} not aligned to {size:#x}")
        start = pa // PAGE
        for pfn in range(start, start + npages):
            if not self.is_ram(pfn) or pfn in self.pages or self._is_reserved(pfn):
                raise ValueError(f"large page PA range {pa:#x}+{size:#x} not free RAM")
        self._reserved.append((start, start + npages))
        return pa

    def _find_aligned(self, size: int) -> int:
        npages = size // PAGE
        candidate = (self.highest_pfn // npages) * npages - npages
        while candidate >= 0:
            if self._run_covers(candidate, npages) and self._untouched(candidate, npages):
                return candidate * PAGE
            candidate -= npages
        raise ValueError(f"no free aligned RAM range of {size:#x} bytes")

    def _untouched(self, start: int, npages: int) -> bool:
        return not any(
            p in self.pages or self._is_reserved(p) for p in range(start, start + npages)
        )

    def _run_covers(self, start: int, npages: int) -> bool:
        return any(b <= start and start + npages <= b + c for b, c in self.runs)

    def page(self, pfn: int) -> bytearray:
        """The content buffer of `pfn`, created zero-filled on first use."""
        if not self.is_ram(pfn):
            raise ValueError(f"pfn {pfn:#x} is not RAM")
        buf = self.pages.get(pfn)
        if buf is None:
            buf = self.pages[pfn] = bytearray(PAGE)
        return buf

    def write(self, pa: int, data: bytes) -> None:
        """Write `data` at physical address `pa` (may cross pages)."""
        done = 0
        while done < len(data):
            cur = pa + done
            off = cur % PAGE
            n = min(PAGE - off, len(data) - done)
            self.page(cur // PAGE)[off : off + n] = data[done : done + n]
            done += n

    def read(self, pa: int, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            cur = pa + len(out)
            off = cur % PAGE
            n = min(PAGE - off, size - len(out))
            buf = self.pages.get(cur // PAGE)
            out += buf[off : off + n] if buf is not None else bytes(n)
        return bytes(out)
