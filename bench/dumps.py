"""The benchmark's inputs, written with dumptriage.synth and cached in a work directory.

(a) N small x64 dumps (16 MiB guests, sparse) with distinct bugcheck args, of DumpType 5
    (bitmap) and of DumpType 1 (full: runs).
(b) A sparse x64 DumpType 5 dump of `gib` GiB (presets.sparse_x64_bitmap) plus one 1 GiB
    large page per GiB above the first, so that random VAs in those pages land on
    physical pages spread over the whole guest; 1000 VAs chosen with a seeded RNG.
A stamp file beside each input records the spec; a matching stamp means "reuse".
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from dumptriage.synth import DumpSpec, LargePageSpec, presets, write

SEED = 20170315
LARGE_VA = 0xFFFFC00000000000  # where the 1 GiB pages start (one per GiB of guest RAM)
GIB = 0x40000000


def small_spec(i: int, dump_type: int = 5) -> DumpSpec:
    args = (0x1000 + i, 0xFFFFF80400000000 + i * 0x1000, 0xFFFF850400000000 + i, i * 7)
    return DumpSpec(arch="x64", dump_type=dump_type, build=19041, memory_mib=16, sparse=True,
                    bugcheck=(0x1000007E if i % 2 else 0x133, args))


def small_dumps(root: Path, count: int, dump_type: int = 5
                ) -> list[tuple[Path, tuple[int, tuple[int, ...]]]]:
    """The (a) dumps and the bugcheck each must report."""
    folder = root / ("small" if dump_type == 5 else f"small-type{dump_type}")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        spec = small_spec(i, dump_type)
        path = folder / f"dump{i:04d}.dmp"
        if not _fresh(path, spec):
            write(spec, path)
            _stamp(path, spec, {})
        out.append((path, (spec.bugcheck[0], tuple(spec.bugcheck[1]))))
    return out


def big_spec(gib: int) -> DumpSpec:
    base = presets.sparse_x64_bitmap(gib)
    pages = tuple(LargePageSpec(va=LARGE_VA + i * GIB, size=GIB) for i in range(gib - 1))
    return dataclasses.replace(base, large_pages=pages)


def big_dump(root: Path, gib: int, reads: int) -> tuple[Path, list[int], dict[str, int]]:
    """(b): the dump, `reads` page VAs, and how many distinct PAs / GiB they touch."""
    spec = big_spec(gib)
    path = root / f"sparse_{gib}gib.dmp"
    if _fresh(path, spec):
        meta = json.loads(path.with_suffix(".json").read_text())["meta"]
    else:
        built = write(spec, path)
        content = [m.va for m in built.mappings if m.kind == "4k"]  # kernel pages
        large = [(m.va, m.pa) for m in built.mappings if m.kind == "large-1g"]
        meta = {"content": content, "large": large}
        _stamp(path, spec, meta)
    rng = random.Random(SEED)
    content_vas: list[int] = meta["content"]
    large_pages: list[list[int]] = meta["large"]
    vas = rng.sample(content_vas, min(len(content_vas), reads // 20))
    pas: set[int] = set()
    while len(vas) < reads:
        va, pa = rng.choice(large_pages)
        off = rng.randrange(GIB // 0x1000) * 0x1000
        vas.append(va + off)
        pas.add(pa + off)
    rng.shuffle(vas)
    spread = {"distinct_large_pas": len(pas), "gib_touched": len({p // GIB for p in pas})}
    return path, vas, spread


def _stamp(path: Path, spec: DumpSpec, meta: object) -> None:
    path.with_suffix(".json").write_text(json.dumps({"spec": repr(spec), "meta": meta}))


def _fresh(path: Path, spec: DumpSpec) -> bool:
    stamp = path.with_suffix(".json")
    if not (path.is_file() and stamp.is_file()):
        return False
    return bool(json.loads(stamp.read_text())["spec"] == repr(spec))
