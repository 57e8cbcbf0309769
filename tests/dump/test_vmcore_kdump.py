"""QEMU kdump-compressed vmcores, raw and makedumpfile-flattened: reader against writer.

Offsets patched here are include/sysemu/dump.h's and hung-guest-dumps.md section 1.2's:
DiskDumpHeader64 block_size 0x1AC, bitmap_blocks 0x1B4; KdumpSubHeader64 (at 0x1000)
offset_note +0x30, note_size +0x38; PageDescriptor offset +0, size +8, flags +0xC; a
flattened record is a big-endian (offset, size) pair.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest

from dumptriage import open_dump
from dumptriage.dump.containers import open_container
from dumptriage.dump.containers.vmcore import VmcoreContainer
from dumptriage.errors import DumpFormatError, PageNotPresent
from dumptriage.synth.vmcore import write_elf, write_kdump
from tests.dump.vmcore_util import ROM_BASE, ROM_MARK, World, world


def _open(path: Path) -> VmcoreContainer:
    container = open_container(str(path))
    assert isinstance(container, VmcoreContainer)
    return container


def _patch(path: Path, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def x64() -> World:
    return world("x64")


@pytest.mark.parametrize("flattened", [True, False], ids=["flattened", "raw"])
@pytest.mark.parametrize("header_64", [True, False], ids=["hdr64", "hdr32"])
def test_same_facts_and_pages_as_the_elf_core(tmp_path: Path, x64: World, flattened: bool,
                                              header_64: bool) -> None:
    kdump, elf = tmp_path / "vm.kdump", tmp_path / "vm.core"
    write_kdump(kdump, x64.runs, x64.vcpus, pages=x64.pages, flattened=flattened,
                header_64=header_64)
    write_elf(elf, x64.runs, x64.vcpus, pages=x64.pages)
    assert kdump.read_bytes().startswith(b"makedumpfile" if flattened else b"KDUMP   ")
    k, e = _open(kdump), _open(elf)
    try:
        assert k.kind == "vmcore" and k.info.dump_type == "vmcore_kdump"
        assert k.info.signature == ("makedumpfile" if flattened else "KDUMP")
        assert (k.info.arch, k.info.processors) == ("x64", 3)
        assert k.vcpus == e.vcpus
        assert k.opening_anomalies() == []
        assert k.physical is not None and e.physical is not None
        assert k.physical.index.page_count == e.physical.index.page_count
        for pfn in [*range(0, 0xA0, 7), *range(0x100, 0x800, 13), ROM_BASE >> 12]:
            assert k.physical.read(pfn << 12, 0x1000) == e.physical.read(pfn << 12, 0x1000)
        assert k.physical.read(ROM_BASE + 0x1000, len(ROM_MARK)) == ROM_MARK
        assert k.physical.read_u64(x64.dtb) == e.physical.read_u64(x64.dtb)
        for pa in (0xA0000, 8 << 20, 1 << 32):
            with pytest.raises(PageNotPresent, match="not in the dump"):
                k.physical.read(pa, 1)
        memory = k.kernel_offer().memory
        assert memory is not None
        for va, (pa, text) in x64.marks.items():
            assert memory.translate(va) == pa and memory.read(va, len(text)) == text
    finally:
        k.close()
        e.close()


@pytest.mark.parametrize("mode", ["pae", "x86"])
def test_32_bit_guest(tmp_path: Path, mode: str) -> None:
    w = world(mode)
    path = tmp_path / "vm.kdump"
    write_kdump(path, w.runs, w.vcpus, pages=w.pages)
    with open_dump(path) as dump:
        # The i386 NT_PRSTATUS size (0x90) says vCPU 0 ran without LMA.
        assert (dump.info.arch, dump.info.pae) == ("x86", mode == "pae")
        for va, (pa, text) in w.marks.items():
            assert dump.translate(va) == pa and dump.read_virtual(va, len(text)) == text


def test_zero_pages_share_one_descriptor_and_raw_pages(tmp_path: Path, x64: World) -> None:
    path = tmp_path / "vm.kdump"
    incompressible = random.Random(14).randbytes(0x1000)
    pages = {**x64.pages, 0x50000: incompressible}
    written = write_kdump(path, x64.runs, x64.vcpus, pages=pages, flattened=False)
    data = path.read_bytes()

    def desc(pfn: int) -> tuple[int, int, int]:
        at = written.desc_offset(pfn)
        return struct.unpack_from("<QII", data, at)

    assert desc(0x90) == desc(0x91) == (written.data_offset, 0x1000, 0)  # zero pages
    assert desc(0x50)[1:] == (0x1000, 0)  # stored raw: compression did not shrink it
    assert desc(x64.dtb >> 12)[2] == 1  # zlib
    dump = _open(path)
    try:
        assert dump.physical is not None
        assert dump.physical.read(0x50000, 0x1000) == incompressible
        assert dump.physical.read(0x90000, 0x1000) == bytes(0x1000)
    finally:
        dump.close()


# -- damaged files ----------------------------------------------------------------------

def _raw(tmp_path: Path, w: World, **options: object) -> tuple[Path, object]:
    path = tmp_path / "vm.kdump"
    return path, write_kdump(path, w.runs, w.vcpus, pages=w.pages, flattened=False,
                             **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("stored", "needle"), [
    ((1, zlib.compress(bytes(1 << 20), 9)), "not one page"),  # a bomb: 1 MiB of zeros
    ((1, b"\x78\x9c not zlib at all"), "does not decompress"),
    ((1, bytes(0x2000)), "not 1 to 4096 bytes"),
    ((0, bytes(0x800)), "an uncompressed page of 0x800 bytes"),
    ((0x10, bytes(0x100)), "name no known compression"),
    ((2, bytes(0x100)), "lzo (python-lzo) is not installed"),
])
def test_bad_pages_read_as_absent_with_the_reason(tmp_path: Path, x64: World,
                                                  stored: tuple[int, bytes], needle: str) -> None:
    pfn = 0x123
    path, _ = _raw(tmp_path, x64, stored={pfn: stored})
    dump = _open(path)
    try:
        assert dump.physical is not None
        with pytest.raises(PageNotPresent) as caught:
            dump.physical.read(pfn << 12, 8)
        assert needle in str(caught.value)
        assert dump.physical.read((pfn + 1) << 12, 8) == bytes(8)  # its neighbours still read
    finally:
        dump.close()


def test_missing_codec_is_named_at_open(tmp_path: Path, x64: World) -> None:
    path, _ = _raw(tmp_path, x64, status=4)  # DUMP_DH_COMPRESSED_SNAPPY
    dump = _open(path)
    try:
        (problem,) = dump.opening_anomalies()
        assert problem.code == "dump_type_not_supported"
        assert "snappy (python-snappy)" in problem.detail
    finally:
        dump.close()


def test_page_descriptor_offset_past_the_end(tmp_path: Path, x64: World) -> None:
    path, written = _raw(tmp_path, x64)
    pfn = x64.dtb >> 12
    _patch(path, written.desc_offset(pfn), struct.pack("<Q", 1 << 40))  # type: ignore[attr-defined]
    dump = _open(path)
    try:
        assert dump.physical is not None
        with pytest.raises(PageNotPresent, match="beyond the end of the image"):
            dump.physical.read(pfn << 12, 8)
    finally:
        dump.close()


def test_truncated_file(tmp_path: Path, x64: World) -> None:
    path, written = _raw(tmp_path, x64)
    data = path.read_bytes()
    # Cut inside the page data: descriptors all there, the last pages' data missing.
    path.write_bytes(data[: len(data) - 0x100])
    dump = _open(path)
    try:
        (problem,) = dump.opening_anomalies()
        assert problem.code == "dump_truncated" and problem.where == "kdump page data"
        assert dump.physical is not None
        assert dump.physical.read(0x90000, 8) == bytes(8)  # the shared zero page is first
    finally:
        dump.close()
    # Cut inside the descriptor table: the notes and early descriptors still read.
    cut = written.desc_offset(0x400)  # type: ignore[attr-defined]
    path.write_bytes(data[:cut])
    dump = _open(path)
    try:
        assert [a.code for a in dump.opening_anomalies()] == ["dump_truncated"]
        assert dump.physical is not None and len(dump.vcpus) == 3
        with pytest.raises(PageNotPresent, match=r"page descriptor at .* lies beyond"):
            dump.physical.read(0x400 << 12, 4)
        with pytest.raises(PageNotPresent, match=r"data at .* lies beyond"):
            dump.physical.read(0x1000, 4)
    finally:
        dump.close()


@pytest.mark.parametrize(("offset", "value", "needle"), [
    (0x1AC, struct.pack("<I", 0x2000), "block_size is not 4096"),
    (0x1B4, struct.pack("<I", 1 << 30), "run past the end of the image"),  # bitmap_blocks
    (0x1000 + 0x38, struct.pack("<Q", 1 << 40), "lie outside the image"),  # note_size
    (0x1000 + 0x60, struct.pack("<Q", 1 << 50), "more pages than any machine has"),
])
def test_bad_headers_are_one_line_errors(tmp_path: Path, x64: World, offset: int,
                                         value: bytes, needle: str) -> None:
    path, _ = _raw(tmp_path, x64)
    _patch(path, offset, value)
    with pytest.raises(DumpFormatError) as caught:
        open_container(str(path))
    assert needle in str(caught.value) and "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_flattened_stream_damage(tmp_path: Path, x64: World) -> None:
    path = tmp_path / "vm.kdump"
    write_kdump(path, x64.runs, x64.vcpus, pages=x64.pages)
    data = path.read_bytes()
    # Cut inside the last records: read what is there, say the stream was cut.
    path.write_bytes(data[: len(data) - 100])
    dump = _open(path)
    try:
        (cut,) = dump.opening_anomalies()
        assert cut.code == "dump_truncated" and "run past the end of the file" in cut.detail
    finally:
        dump.close()
    # A record that claims a negative offset, and a bad header type.
    for at, value, needle in ((0x1000, struct.pack(">q", -5), "are not a place"),
                              (0x10, struct.pack(">q", 2), "is not the flattened format")):
        bad = bytearray(data)
        bad[at : at + 8] = value
        path.write_bytes(bytes(bad))
        with pytest.raises(DumpFormatError, match=needle):
            open_container(str(path))
    # Two records writing the same image bytes.
    first_len = struct.unpack_from(">q", data, 0x1008)[0]
    second = 0x1000 + 16 + first_len
    bad = bytearray(data)
    bad[second : second + 8] = struct.pack(">q", 0)
    path.write_bytes(bytes(bad))
    with pytest.raises(DumpFormatError, match="rewrites image bytes"):
        open_container(str(path))
