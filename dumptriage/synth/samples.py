"""The bundled samples under samples/: which spec builds each dump file.

``python -m dumptriage.synth.samples [samples/]`` rebuilds them; the build is
deterministic, and tests/test_samples.py checks that the committed files are exactly
what this module builds today.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dumptriage.synth import presets
from dumptriage.synth.builder import write
from dumptriage.synth.spec import DumpSpec


def _win10_full_small() -> DumpSpec:
    # A full dump stores every page of its runs; three short runs keep the file < 2 MiB.
    return replace(presets.win10_x64_full(), runs=((0x1, 0x9E), (0x200, 0x100), (0x380, 0x40)),
                   large_pages=())


SAMPLES: dict[str, Callable[[], DumpSpec]] = {
    "win7-x86-clock-watchdog/MEMORY.DMP": presets.win7_x86_pae_summary,
    "win10-x64-bitmap-kernel/MEMORY.DMP": presets.win10_x64_bitmap_kernel,
    "win10-x64-full/MEMORY.DMP": _win10_full_small,
}


def build_samples(root: Path) -> list[Path]:
    written = []
    for relative, factory in SAMPLES.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write(factory(), target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("samples")
    for path in build_samples(root):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
