"""Our PE reader (dumptriage.dump.kernel.pe_image) against pefile, on the same images.

    python bench/pe_reader.py [--modules 250] [--repeats 7]

Decides issue 9's "dependencies that are declared are used" with a measurement: is pefile
fast enough to replace our own reader on the analyze path? Both extract the facts the
report needs from each image: the PE header (timestamp, size, checksum), the section
table, the CodeView RSDS record (PDB name, GUID, age) and the version resource (file
version, CompanyName).

Images:
- the N modules of the kernel-state bench's dump (bench/kernel_state.py: Windows 10 x64,
  every module with a CodeView record and a version resource), their first pages read
  out of the dump once, so both parsers work from the same bytes in memory;
- the real drivers corpus/symbols/amdppm.sys and Wdf01000.sys (ours on the image as the
  kernel maps it, pefile on the file, as pefile is meant to be used).

"ours, in the dump" is what the analyze path really does: read_pe + version_info through
the dump's virtual reads (page walk, cache), on a freshly opened dump each repeat.
pefile is given fast_load=True and then only the debug and resource directories, its
fastest way to the same facts. Not a test: figures go to stdout (and into
bench/results.md by hand). Medians of the repeats.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pefile

from bench.kernel_state import spec_with_modules
from dumptriage import open_dump
from dumptriage.dump.kernel.pe_image import read_pe, version_info
from dumptriage.synth import write

PAGE = 0x1000
SHARED = Path(os.environ.get("DUMPTRIAGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REAL = ["amdppm.sys", "Wdf01000.sys"]
Read = Callable[[int, int], bytes | None]
_DIRECTORIES = [pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"],
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]


def reader_over(image: bytes, base: int) -> Read:
    def read(va: int, size: int) -> bytes | None:
        at = va - base
        return image[at : at + size] if at >= 0 and at + size <= len(image) else None
    return read


def ours(read: Read, base: int) -> tuple[object, ...]:
    image = read_pe(read, base)
    assert image is not None
    version = version_info(read, image)
    assert image.pdb is not None and version is not None
    # pefile's Signature_String is the symbol-server key: GUID digits, then the age in hex.
    return (image.timestamp, image.size_of_image, len(image.sections), image.pdb.name,
            f"{image.pdb.guid}{image.pdb.age:X}", image.pdb.age, version.file_version,
            version.company)


def theirs(data: bytes) -> tuple[object, ...]:
    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(directories=_DIRECTORIES)
    codeview = pe.DIRECTORY_ENTRY_DEBUG[0].entry
    fixed = pe.VS_FIXEDFILEINFO[0]
    strings = {k: v for info in pe.FileInfo[0] if info.Key == b"StringFileInfo"
               for table in info.StringTable for k, v in table.entries.items()}
    return (pe.FILE_HEADER.TimeDateStamp, pe.OPTIONAL_HEADER.SizeOfImage, len(pe.sections),
            codeview.PdbFileName.rstrip(b"\0").decode(), codeview.Signature_String,
            codeview.Age, f"{fixed.FileVersionMS >> 16}.{fixed.FileVersionMS & 0xFFFF}."
            f"{fixed.FileVersionLS >> 16}.{fixed.FileVersionLS & 0xFFFF}",
            strings.get(b"CompanyName", b"").decode() or None)


def present_pages(read: Read, base: int, size: int) -> bytes:
    """The image's leading run of pages that the dump holds (headers, .rdata)."""
    pages = []
    for at in range(base, base + size, PAGE):
        page = read(at, PAGE)
        if page is None:
            break
        pages.append(page)
    return b"".join(pages)


def median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def in_dump(path: Path, bases: list[int], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        with open_dump(path) as dump:
            read = dump.read_virtual_or_none
            start = time.perf_counter()
            for base in bases:
                ours(read, base)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_dump(count: int, repeats: int) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pe_reader.dmp"
        write(spec_with_modules(count), path)
        with open_dump(path) as dump:
            read = dump.read_virtual_or_none
            modules = [m for m in dump.modules if m.pdb is not None and m.version]
            images = [(m.base, present_pages(read, m.base, m.size)) for m in modules]
        for base, blob in images:  # the same facts either way, or the race is not fair
            mine, other = ours(reader_over(blob, base), base), theirs(blob)
            assert mine == other, (mine, other)
        n = len(images)
        ours_ms = median_ms(lambda: [ours(reader_over(b, a), a) for a, b in images], repeats)
        pefile_ms = median_ms(lambda: [theirs(b) for _, b in images], repeats)
        dump_ms = in_dump(path, [a for a, _ in images], repeats)
    kib = sum(len(b) for _, b in images) / n / 1024
    return [
        f"synthetic dump: {n} modules ({kib:.0f} KiB of present pages each)",
        f"  ours, from bytes : {ours_ms:8.2f} ms total, {1000 * ours_ms / n:7.1f} us/module",
        f"  ours, in the dump: {dump_ms:8.2f} ms total, {1000 * dump_ms / n:7.1f} us/module",
        f"  pefile, from bytes: {pefile_ms:7.2f} ms total, {1000 * pefile_ms / n:7.1f} us/module"
        f"  ({pefile_ms / ours_ms:.0f}x ours)",
    ]


def bench_real(repeats: int) -> list[str]:
    lines = []
    for name in REAL:
        folder = SHARED / "corpus" / "symbols" / name
        file = next(p for p in folder.rglob(name) if p.is_file())
        data = file.read_bytes()
        mapped = bytes(pefile.PE(data=data).get_memory_mapped_image())
        base = 0xFFFFF80010000000
        read = reader_over(mapped, base)
        ours_ms = median_ms(functools.partial(ours, read, base), repeats)
        pefile_ms = median_ms(functools.partial(theirs, data), repeats)
        lines.append(f"{name} ({len(data) // 1024} KiB): ours {1000 * ours_ms:7.1f} us, "
                     f"pefile {1000 * pefile_ms:8.1f} us ({pefile_ms / ours_ms:.0f}x ours)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"pefile {pefile.__version__}, median of {args.repeats}")
    for line in bench_dump(args.modules, args.repeats) + bench_real(args.repeats):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
