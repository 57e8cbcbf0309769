"""Export, CodeView and version directories in module images, parsed by pefile.

pefile reads the image bytes taken from the dump through our own page walk (the first
pages of the image, where the builder puts .rdata: file layout = memory layout).
"""

from __future__ import annotations

import pefile
import pytest

from dumptriage.synth import story
from dumptriage.synth.manifest import BuiltModule
from tests.synth._rawread import RawDump, read_virt
from tests.synth.conftest import built


def image(name: str, mod: BuiltModule) -> pefile.PE:
    b = built(name)
    raw = RawDump(b.data or b"")
    return pefile.PE(data=read_virt(raw, mod.base, mod.header_pages * 0x1000))


def rich_modules(name: str) -> list[BuiltModule]:
    return [m for m in built(name).modules if m.exports or m.pdb or m.version]


@pytest.mark.parametrize("name", ["win7_x86_pae_summary"])
def test_rich_modules_parse_with_pefile(name: str) -> None:
    mods = rich_modules(name)
    assert {m.name for m in mods} >= {"ntkrpamp.exe", "FLTMGR.SYS", "Ntfs.sys", "qutmdrv.sys"}
    for mod in mods:
        pe = image(name, mod)
        assert pe.FILE_HEADER.TimeDateStamp == mod.timestamp
        assert pe.OPTIONAL_HEADER.SizeOfImage == mod.size
        if mod.exports:
            got = {e.name.decode(): e.address for e in pe.DIRECTORY_ENTRY_EXPORT.symbols}
            assert got == dict(mod.exports)
            assert pe.DIRECTORY_ENTRY_EXPORT.name.decode() == mod.name
        else:
            assert not hasattr(pe, "DIRECTORY_ENTRY_EXPORT")
        if mod.pdb:
            cv = pe.DIRECTORY_ENTRY_DEBUG[0].entry
            assert cv.CvSignature == b"RSDS"
            assert cv.PdbFileName.rstrip(b"\0").decode() == mod.pdb[0]
            # pefile's Signature_String is the symbol-server key: GUID digits + age in hex
            assert cv.Signature_String == mod.pdb[1].replace("-", "") + f"{mod.pdb[2]:X}"
            assert cv.Age == mod.pdb[2]
        if mod.version:
            check_version(pe, mod.version)


def check_version(pe: pefile.PE, version: str) -> None:
    fixed = pe.VS_FIXEDFILEINFO[0]
    parts = [int(x) for x in version.split(".")]
    assert (fixed.FileVersionMS >> 16, fixed.FileVersionMS & 0xFFFF,
            fixed.FileVersionLS >> 16, fixed.FileVersionLS & 0xFFFF) == tuple(parts)
    tables = [st for fi in pe.FileInfo[0] if fi.Key == b"StringFileInfo"
              for st in fi.StringTable]
    assert tables[0].entries[b"FileVersion"] == version.encode()


def test_story_exports_resolve_windbg_symbols() -> None:
    b = built("win7_x86_pae_summary")
    nt = b.modules[0]
    pe = image("win7_x86_pae_summary", nt)
    exports = sorted((e.address + nt.base, e.name.decode())
                     for e in pe.DIRECTORY_ENTRY_EXPORT.symbols)

    def nearest(va: int) -> str:
        addr, name = max(x for x in exports if x[0] <= va)
        return f"nt!{name}+{va - addr:#x}"

    # Oracle: windbg-analyze.txt STACK_TEXT (the symbol of a row = the RetAddr above it)
    assert nearest(b.context_ip) == "nt!KeBugCheckEx+0x1e"
    assert nearest(0x83C49C1E) == "nt!IofCallDriver+0x63"
    assert nearest(0x83E1C4BB) == "nt!NtFlushBuffersFile+0x1d7"
    assert nearest(0x83C4E7AD) == "nt!ZwFlushBuffersFile+0x11"
    assert nearest(0x83C9ACDB) == "nt!CcFlushCache+0x294"
    assert nearest(0x83C8D763) == "nt!KeUpdateRunTime+0x145"
    assert nearest(0x83C8D610) == "nt!KeUpdateSystemTime+0x613"
    assert b.context_ip == story.STORY_EIP


def test_plain_modules_keep_the_bare_header() -> None:
    b = built("win7_x86_pae_summary")
    hal = next(m for m in b.modules if m.name == "hal.dll")
    pe = image("win7_x86_pae_summary", hal)
    assert pe.FILE_HEADER.NumberOfSections == 1
    assert not any(d.VirtualAddress for d in pe.OPTIONAL_HEADER.DATA_DIRECTORY)
