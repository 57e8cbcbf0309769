"""Every PE fact we read, against pefile (the oracle) on real and synthetic images.

pefile is a test dependency only: bench/pe_reader.py measured it 13-23x slower than our
reader for the same facts (figures in bench/results.md), so the analyze path keeps its
own reader and this test keeps it honest. Compared: machine, timestamp, SizeOfImage,
CheckSum, every section (name, RVA, virtual size, executable), the CodeView RSDS record
(PDB name, GUID, age), the version resource (FileVersion, CompanyName) and the named
exports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pefile
import pytest

from dumptriage import open_dump
from dumptriage.dump.kernel.pe_image import exports, read_pe, version_info
from dumptriage.synth import DumpSpec, ModuleSpec, build, presets
from tests.synth.conftest import built

Read = Callable[[int, int], bytes | None]
REAL = ["amdppm.sys/c9c030003b000/amdppm.sys", "Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys"]
BASE = 0xFFFFF800_10000000
_EXECUTABLE = 0x2000_0000 | 0x0000_0020  # IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE
PAGE = 0x1000


def ours(read: Read, base: int) -> dict[str, Any]:
    image = read_pe(read, base)
    assert image is not None
    version = version_info(read, image)
    return {
        "machine": image.machine, "timestamp": image.timestamp,
        "size_of_image": image.size_of_image, "checksum": image.checksum,
        "sections": [(s.name, s.rva, s.size, s.executable) for s in image.sections],
        "pdb": (image.pdb.name, image.pdb.guid, image.pdb.age) if image.pdb else None,
        "version": (version.file_version, version.company) if version else None,
        "exports": exports(read, image),
    }


def theirs(pe: pefile.PE) -> dict[str, Any]:
    return {
        "machine": pe.FILE_HEADER.Machine, "timestamp": pe.FILE_HEADER.TimeDateStamp,
        "size_of_image": pe.OPTIONAL_HEADER.SizeOfImage,
        "checksum": pe.OPTIONAL_HEADER.CheckSum,
        "sections": [(s.Name.rstrip(b"\0").decode(), s.VirtualAddress, s.Misc_VirtualSize,
                      bool(s.Characteristics & _EXECUTABLE)) for s in pe.sections],
        "pdb": _pdb(pe), "version": _version(pe), "exports": _exports(pe),
    }


def _pdb(pe: pefile.PE) -> tuple[str, str, int] | None:
    for entry in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []):
        cv = entry.entry
        if entry.struct.Type == 2 and cv is not None and cv.CvSignature == b"RSDS":
            # Signature_String is the symbol-server key: 32 GUID digits, then the age.
            guid = cv.Signature_String[:32]
            assert cv.Signature_String[32:] == f"{cv.Age:X}"
            return cv.PdbFileName.rstrip(b"\0").decode(), guid, cv.Age
    return None


def _version(pe: pefile.PE) -> tuple[str, str | None] | None:
    if not getattr(pe, "VS_FIXEDFILEINFO", None):
        return None
    fixed = pe.VS_FIXEDFILEINFO[0]
    version = (f"{fixed.FileVersionMS >> 16}.{fixed.FileVersionMS & 0xFFFF}."
               f"{fixed.FileVersionLS >> 16}.{fixed.FileVersionLS & 0xFFFF}")
    strings = {k: v for info in pe.FileInfo[0] if info.Key == b"StringFileInfo"
               for table in info.StringTable for k, v in table.entries.items()}
    company = strings.get(b"CompanyName")
    return version, company.decode() if company else None


def _exports(pe: pefile.PE) -> list[tuple[int, str]]:
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if directory is None:
        return []
    return sorted((s.address, s.name.decode()) for s in directory.symbols
                  if s.name and s.forwarder is None)


def _over(image: bytes, base: int) -> Read:
    def read(va: int, size: int) -> bytes | None:
        at = va - base
        return image[at : at + size] if at >= 0 and at + size <= len(image) else None
    return read


@pytest.mark.parametrize("relative", REAL, ids=["amdppm.sys", "Wdf01000.sys"])
def test_real_drivers(corpus: Path, relative: str) -> None:
    pe = pefile.PE(str(corpus / "symbols" / relative))
    mapped = bytes(pe.get_memory_mapped_image())  # the RVA layout the kernel loads
    mine, oracle = ours(_over(mapped, BASE), BASE), theirs(pe)
    assert mine == oracle
    # Oracle values (pefile on the file, and the symbol store folder names in
    # corpus/symbols/MANIFEST.md): these are real x64 Microsoft drivers with a PDB.
    assert mine["machine"] == 0x8664 and mine["pdb"] is not None
    assert mine["version"] is not None and mine["version"][1] == "Microsoft Corporation"
    assert f"{mine['timestamp']:X}{mine['size_of_image']:x}".lower() == \
        relative.split("/")[1].lower()


def _present(read: Read, base: int, size: int) -> bytes:
    pages = []
    for at in range(base, base + size, PAGE):
        page = read(at, PAGE)
        if page is None:
            break
        pages.append(page)
    return b"".join(pages)


def _rich_x64() -> DumpSpec:
    """Windows 10 x64 with modules as the kernel-state bench writes them (PDB + version)."""
    base = presets.win10_x64_cpus()
    extra = tuple(ModuleSpec(
        name=f"drv{i}.sys", path=f"\\SystemRoot\\System32\\drivers\\drv{i}.sys",
        base=0xFFFFF80480000000 + i * 0x100000, size=0x40000, timestamp=0x5F000000 + i,
        checksum=0x1000 + i, pdb=(f"drv{i}.pdb", f"{i:08X}-1111-2222-3333-444455556666", i + 1),
        version=f"10.0.19041.{i}") for i in range(4))
    return dataclasses.replace(base, modules=(*(base.modules or ()), *extra), dump_type=6)


# Which facts each build must have put in front of the comparison (so none is vacuous).
BUILDS: dict[str, tuple[Callable[[], bytes], set[str]]] = {
    "win7_x86_pae_summary": (lambda: built("win7_x86_pae_summary").data or b"",
                             {"pdb", "version", "exports"}),
    "win10_x64_rich": (lambda: build(_rich_x64()).data or b"", {"pdb", "version"}),
}


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_builder_images(tmp_path: Path, name: str) -> None:
    # The builder's images have file layout = memory layout, so pefile reads the bytes
    # taken from the dump (the image's leading present pages) as a file.
    data, kinds = BUILDS[name]
    path = tmp_path / f"{name}.dmp"
    path.write_bytes(data())
    compared, seen = 0, set()
    with open_dump(path) as dump:
        read = dump.read_virtual_or_none
        for module in dump.modules:
            if read_pe(read, module.base) is None:
                continue
            blob = _present(read, module.base, module.size)
            mine, oracle = ours(read, module.base), theirs(pefile.PE(data=blob))
            assert mine == oracle, module.name
            # ... and both agree with what the dump's module list says.
            assert (mine["timestamp"], mine["size_of_image"]) == (module.timestamp,
                                                                  module.size)
            compared += 1
            seen |= {kind for kind in ("pdb", "version", "exports") if mine[kind]}
    assert compared >= 5 and seen == kinds
