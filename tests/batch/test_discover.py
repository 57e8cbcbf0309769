"""Discovery: by content, in a stable order, paired with host files, hostile trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dumptriage.batch.contextmap import glob_regex, load_context_map
from dumptriage.batch.discover import Discovery, Ignored, Input, Known
from dumptriage.batch.errors import ContextMapError
from tests.batch.helpers import STORY, small_dump, story_folder


def _inputs(*roots: Path, **kw: object) -> list[Input]:
    return [f for f in Discovery(tuple(str(r) for r in roots), **kw)  # type: ignore[arg-type]
            if isinstance(f, Input)]


def test_found_by_content_not_name(tmp_path: Path) -> None:
    small_dump(tmp_path / "a" / "crash.bin")  # a dump with any name
    (tmp_path / "a" / "analysis.txt").write_bytes((STORY / "windbg-analyze.txt").read_bytes())
    (tmp_path / "a" / "readme.txt").write_text("just notes\n")
    (tmp_path / "a" / "MEMORY.DMP").write_bytes(b"\0" * 100)  # damaged, named like a dump
    (tmp_path / "a" / "user.dmp").write_bytes(b"MDMP" + bytes(60))  # user-mode minidump
    got = {Path(i.path).name: i.kind for i in _inputs(tmp_path)}
    assert got == {"crash.bin": "dump", "analysis.txt": "text", "MEMORY.DMP": "dump"}


def test_order_is_by_name_folder_by_folder(tmp_path: Path) -> None:
    for name in ("b/2.dmp", "a/1.dmp", "c.dmp", "a/z/3.dmp"):
        small_dump(tmp_path / name)
    rel = [os.path.relpath(i.path, tmp_path) for i in _inputs(tmp_path)]
    assert rel == ["c.dmp", "a/1.dmp", "a/z/3.dmp", "b/2.dmp"]


def test_folder_host_files_pair_with_every_dump_of_it(tmp_path: Path) -> None:
    folder = story_folder(tmp_path / "vm113")
    (folder / "notes.txt").write_text("the admin's notes\n")  # not a host file
    [item] = _inputs(tmp_path)
    assert sorted(Path(c).name for c in item.context) == ["qemu-vm113.log", "vm113.xml"]


def test_context_map_wins_over_the_folder(tmp_path: Path) -> None:
    small_dump(tmp_path / "dumps" / "node1" / "vm113" / "a.dmp")
    small_dump(tmp_path / "dumps" / "other" / "b.dmp")
    mapping = tmp_path / "map.toml"
    mapping.write_text(f'[[context]]\nmatch = "node1/**"\nfiles = ["{STORY}/vm113.xml"]\n'
                       'vm = "vm113"\n')
    items = _inputs(tmp_path / "dumps", context_map=load_context_map(mapping))
    by_name = {Path(i.path).name: (i.context, i.vm) for i in items}
    assert by_name["a.dmp"] == ((f"{STORY}/vm113.xml",), "vm113")
    assert by_name["b.dmp"] == ((), None)


@pytest.mark.parametrize(("text", "why"), [
    ("[[context]]\nmatch = 1\nfiles = ['x']\n", "'match' must be"),
    ("[[context]]\nmatch = '*'\nfiles = ['does-not-exist.xml']\n", "no such file"),
    ("not toml = = =", "not valid TOML"),
])
def test_bad_context_maps_are_one_line_errors(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ContextMapError, match=why):
        load_context_map(path)


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("node1/**", "node1/vm/a.dmp", True),
    ("node1/*", "node1/vm/a.dmp", False),
    ("**/MEMORY.DMP", "MEMORY.DMP", True),
    ("**/MEMORY.DMP", "x/y/MEMORY.DMP", True),
    ("vm?/*.dmp", "vm1/a.dmp", True),
    ("vm?/*.dmp", "vm10/a.dmp", False),
])
def test_glob(pattern: str, path: str, hit: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is hit


def test_fifo_and_symlinked_folder_are_not_entered(tmp_path: Path) -> None:
    small_dump(tmp_path / "real" / "a.dmp")
    os.mkfifo(tmp_path / "pipe.dmp")  # opening it would block
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = list(Discovery((str(tmp_path),)))
    assert [Path(f.path).name for f in found if isinstance(f, Input)] == ["a.dmp"]
    reasons = {Path(f.path).name: f.reason for f in found if isinstance(f, Ignored)}
    assert reasons["pipe.dmp"] == "not a regular file"
    assert "symlinked folder" in reasons["loop"]


def test_known_files_are_not_opened(tmp_path: Path) -> None:
    small_dump(tmp_path / "a.dmp")
    found = list(Discovery((str(tmp_path),), known=lambda path, st: True))
    assert [type(f) for f in found] == [Known]


def test_since_skips_old_files_unopened(tmp_path: Path) -> None:
    old = small_dump(tmp_path / "old.dmp")
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001
    small_dump(tmp_path / "new.dmp")
    items = _inputs(tmp_path, since_ns=1_500_000_000 * 10**9)
    assert [Path(i.path).name for i in items] == ["new.dmp"]


def test_vmcores_are_dumps(tmp_path: Path) -> None:
    """QEMU vmcores by content (ELF ET_CORE, "KDUMP   ", "makedumpfile"), a damaged one by
    name (*.core, *.vmcore, vmcore); an ELF program is no dump."""
    from dumptriage.synth.vmcore import write_elf, write_kdump

    folder = tmp_path / "host"
    folder.mkdir()
    vcpus = [{"rip": 0x7C00, "bits": 32}]
    write_elf(folder / "guest.bin", [(0, 0x10000)], vcpus)
    write_kdump(folder / "guest.flat", [(0, 0x10000)], vcpus)
    write_kdump(folder / "guest.raw", [(0, 0x10000)], vcpus, flattened=False)
    (folder / "cut.core").write_bytes(b"\0" * 64)
    (folder / "vmcore").write_bytes(b"\0" * 64)
    # An ELF executable (e_type 2, ET_EXEC) is not a memory dump.
    (folder / "tool").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00" + bytes(64))
    got = {Path(i.path).name: i.kind for i in _inputs(tmp_path)}
    assert got == {"guest.bin": "dump", "guest.flat": "dump", "guest.raw": "dump",
                   "cut.core": "dump", "vmcore": "dump"}
