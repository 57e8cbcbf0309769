"""Our PE reader against pefile, on real Microsoft drivers from the corpus symbol store."""

from __future__ import annotations

from pathlib import Path

import pefile
import pytest

from dumptriage.dump.kernel.pe_image import exports, nearest_export, read_pe, version_info

DRIVERS = ["amdppm.sys/c9c030003b000/amdppm.sys", "Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys"]
BASE = 0xFFFFF800_10000000


def _loaded(corpus: Path, relative: str) -> tuple[pefile.PE, bytes]:
    pe = pefile.PE(str(corpus / "symbols" / relative))
    return pe, bytes(pe.get_memory_mapped_image())  # the RVA layout the kernel loads


def _reader(image: bytes):  # type: ignore[no-untyped-def]
    def read(va: int, size: int) -> bytes | None:
        offset = va - BASE
        return image[offset : offset + size] if offset >= 0 and offset + size <= len(image) \
            else None
    return read


@pytest.mark.parametrize("relative", DRIVERS)
def test_headers_codeview_and_version_agree_with_pefile(corpus: Path, relative: str) -> None:
    pe, image = _loaded(corpus, relative)
    ours = read_pe(_reader(image), BASE)
    assert ours is not None
    assert ours.timestamp == pe.FILE_HEADER.TimeDateStamp
    assert ours.size_of_image == pe.OPTIONAL_HEADER.SizeOfImage
    assert ours.checksum == pe.OPTIONAL_HEADER.CheckSum
    assert ours.machine == pe.FILE_HEADER.Machine == 0x8664
    codeview = pe.DIRECTORY_ENTRY_DEBUG[0].entry
    assert ours.pdb is not None
    assert ours.pdb.name == codeview.PdbFileName.rstrip(b"\0").decode()
    assert ours.pdb.age == codeview.Age
    # The symbol store folder name is <GUID><age> (corpus/symbols has amdppm.pdb that way).
    store = corpus / "symbols" / ours.pdb.name
    if store.is_dir():
        assert ours.pdb.symbol_key == next(store.iterdir()).name
    assert ours.pdb.symbol_key == f"{codeview.Signature_String}"
    fixed = pe.VS_FIXEDFILEINFO[0]
    version = version_info(_reader(image), ours)
    assert version is not None
    assert version.file_version == (f"{fixed.FileVersionMS >> 16}.{fixed.FileVersionMS & 0xFFFF}."
                                    f"{fixed.FileVersionLS >> 16}.{fixed.FileVersionLS & 0xFFFF}")
    assert version.company == "Microsoft Corporation"
    executable = {s.Name.rstrip(b"\0").decode() for s in pe.sections
                  if s.Characteristics & 0x2000_0000}
    assert {s.name for s in ours.sections if s.executable} >= executable


def test_exports_agree_with_pefile(corpus: Path) -> None:
    pe, image = _loaded(corpus, DRIVERS[0])
    ours = read_pe(_reader(image), BASE)
    assert ours is not None
    theirs = sorted((s.address, s.name.decode()) for s in
                    getattr(pe, "DIRECTORY_ENTRY_EXPORT", None).symbols if s.name) \
        if hasattr(pe, "DIRECTORY_ENTRY_EXPORT") else []
    assert exports(_reader(image), ours) == theirs
    if theirs:
        rva, name = theirs[0]
        assert nearest_export(_reader(image), ours, rva + 5) == (name, 5)


def test_missing_pages_give_none_not_errors(corpus: Path) -> None:
    _, image = _loaded(corpus, DRIVERS[0])
    header_only = image[:0x1000]
    read = _reader(header_only)
    parsed = read_pe(read, BASE)
    assert parsed is not None and parsed.pdb is None  # the debug directory is not "in the dump"
    assert version_info(read, parsed) is None and exports(read, parsed) == []
    assert read_pe(_reader(b"\0" * 0x1000), BASE) is None
