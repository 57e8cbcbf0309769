"""Issue 13's target: symbolising a 200-frame report with 30 PDBs in the cache, warm, < 0.3 s.

    python bench/symbols.py [--repeats 10] [--store DIR]

Builds a store of 30 modules from the corpus's real Microsoft amdppm.sys + amdppm.pdb
(copied under 30 names, so 30 distinct store entries, images and lookup caches), a report
of 200 frames spread over them at function RVAs + offsets, as a triage minidump gives it
(no PDB id in the dump: each module's image is found by timestamp+size and its RSDS read),
then times ``symbolize`` once cold (PDBs read, SymCaches written) and warm (median of the
repeats; each run is a new Resolver, as a new `dumptriage analyze` would be, without the
one-off ``import symbolic``, which is timed apart). Figures go to stdout.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dumptriage.model.dump import Frame, Module
from dumptriage.model.report import Report, Source
from dumptriage.symbols import symbolize

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("DUMPTRIAGE_SHARED") or ROOT.parent / "shared")
STORE = SHARED / "corpus" / "symbols"
KEY = "1C19FDDB27BB3399D9B45973EFEAFCF31"
MODULES, FRAMES = 30, 200
TARGET_S = 0.3
# .text and PAGE of amdppm.sys (llvm-pdbutil -section-headers): where its functions are.
CODE = ((0x1000, 0xDE69), (0x1C000, 0x19848))


def build(work: Path) -> Report:
    """30 store entries named drvNN.sys / drvNN.pdb with the real files' bytes."""
    image = (STORE / "amdppm.sys" / "c9c030003b000" / "amdppm.sys").read_bytes()
    pdb = STORE / "amdppm.pdb" / KEY / "amdppm.pdb"
    modules = []
    for i in range(MODULES):
        name = f"drv{i:02d}"
        # The RSDS path names the PDB: patch "amdppm.pdb" to "drvNN.pdb" (same length + 0).
        patched = image.replace(b"amdppm.pdb\0", f"{name}.pdb\0".encode().ljust(11, b"\0"))
        img_dir = work / "store" / f"{name}.sys" / "C9C030003b000"
        img_dir.mkdir(parents=True)
        (img_dir / f"{name}.sys").write_bytes(patched)
        pdb_dir = work / "store" / f"{name}.pdb" / KEY
        pdb_dir.mkdir(parents=True)
        shutil.copy(pdb, pdb_dir / f"{name}.pdb")
        modules.append(Module(f"{name}.sys", 0xFFFFF80000000000 + i * 0x100000, 0x3B000,
                              0xC9C03000, None, None))
    rng = random.Random(13)
    frames = []
    for n in range(FRAMES):
        module = modules[n % MODULES]
        start, size = rng.choice(CODE)
        offset = start + rng.randrange(size)
        frames.append(Frame(module.base + offset, 0xFFFF0000 + 8 * n, module.name, offset,
                            f"{module.name[:-4]}+{offset:#x}", "scan"))
    return Report(source=Source("bench", "kernel_dump"), dump=None, bugcheck=None,
                  modules=tuple(modules), stack=tuple(frames))


def import_cost() -> float:
    code = ("import time; t = time.perf_counter(); import symbolic.debuginfo, "
            "symbolic.symcache; print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return float(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if not STORE.is_dir():
        sys.exit(f"needs {STORE} (DUMPTRIAGE_SHARED)")
    with tempfile.TemporaryDirectory(prefix="bench-symbols-") as tmp:
        work = Path(tmp)
        report = build(work)
        cache = str(work / "cache")
        start = time.perf_counter()
        named, notes = symbolize(report, str(work / "store"), allow_network=False,
                                 cache_root=cache)
        cold = time.perf_counter() - start
        pdb_named = sum(1 for f in named.stack if f.symbol_source == "pdb")
        samples = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            symbolize(report, str(work / "store"), allow_network=False, cache_root=cache)
            samples.append(time.perf_counter() - start)
        warm = statistics.median(samples)
        caches = len(list(work.rglob("*.symcache")))
    imported = import_cost()
    verdict = "met" if warm + imported < TARGET_S else "NOT met"
    print(f"{FRAMES} frames over {MODULES} modules ({caches} SymCaches on disk): "
          f"{pdb_named} named by a PDB, {len(notes)} notes\n"
          f"cold (PDBs read, caches written): {cold:.3f} s\n"
          f"warm (median of {args.repeats}): {warm:.3f} s\n"
          f"import symbolic (once per process, fresh interpreter): {imported:.3f} s\n"
          f"warm + import: {warm + imported:.3f} s: target < {TARGET_S} s {verdict}")


if __name__ == "__main__":
    main()
