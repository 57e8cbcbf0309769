"""Our own PDBs: a DLL built by Debian's clang + lld-link, named through a store we lay out.

Oracle: ``llvm-pdbutil dump -publics -section-headers`` on the PDB lld wrote (segment:offset
of each function public and the section VAs), and ``llvm-readobj --coff-debug-directory``'s
view is implied by the key: the RSDS GUID/age read from the DLL must name the PDB's folder.
Without the tools the test skips on a developer machine and fails in CI (CI=1).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dumptriage.model.dump import Frame, Module, PdbInfo
from dumptriage.model.report import Report, Source
from dumptriage.symbols import symbolize
from dumptriage.symbols.keys import pdb_key
from dumptriage.symbols.pdb import open_lookup, pdb_debug_id
from dumptriage.symbols.pe_file import read_image_file

SOURCE = r"""
__declspec(dllexport) int alpha(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * x;
                                         return s; }
__declspec(dllexport) int beta(int *p, int n) { int s = 0; for (int i = 0; i < n; i++)
                                                s ^= p[i] + alpha(i); return s; }
__declspec(dllexport) long long gamma_fn(long long a, long long b) { return a * b + beta(0, 0); }
int shared_data = 42;
"""
TOOLS = ("clang", "lld-link", "llvm-pdbutil")
BASE = 0xFFFFF80000100000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {missing} (scripts/install.sh --test)")
        pytest.skip(f"{missing} not installed: apt-get install clang lld llvm")
    work = tmp_path_factory.mktemp("lldpdb")
    (work / "t.c").write_text(SOURCE)
    subprocess.run(["clang", "--target=x86_64-pc-windows-msvc", "-O1", "-fno-inline", "-g",
                    "-gcodeview", "-c", "t.c", "-o", "t.obj"], cwd=work, check=True,
                   timeout=120)
    subprocess.run(["lld-link", "/dll", "/noentry", "/debug", "/pdbaltpath:%_PDB%",
                    "/out:t.dll", "/pdb:t.pdb", "t.obj"], cwd=work, check=True, timeout=120)
    return work / "t.dll", work / "t.pdb"


def _publics(pdb: Path) -> dict[str, int]:
    text = subprocess.run(["llvm-pdbutil", "dump", "-publics", "-section-headers", str(pdb)],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    vas = [int(v, 16) for v in re.findall(r"(\w+) virtual address", text)]
    return {name: vas[int(seg) - 1] + int(off) for name, seg, off in re.findall(
        r"`([^`]+)`\n\s+flags = function, addr = (\d+):(\d+)", text)}


def test_lookup_matches_llvm_pdbutil(built: tuple[Path, Path], tmp_path: Path) -> None:
    dll, pdb = built
    image = read_image_file(str(dll))
    assert image.pdb is not None and image.pdb.name == "t.pdb"
    # lld's GUIDs end in "LLD PDB." (sheet 2.5); the key is what symbolic reads from the PDB.
    assert image.pdb.guid.endswith("4C4C44205044422E")
    assert pdb_debug_id(str(pdb)).replace("-", "").upper() == image.pdb.symbol_key
    functions = _publics(pdb)
    assert {"alpha", "beta", "gamma_fn"} <= set(functions)
    lookup = open_lookup(str(pdb), image.pdb.guid, image.pdb.age, str(tmp_path))
    for name, rva in functions.items():
        assert lookup.lookup(rva) == (name, rva)
        assert lookup.lookup(rva + 3) == (name, rva)


def _report(dll: Path, pdb_info: PdbInfo | None, offsets: list[int]) -> Report:
    image = read_image_file(str(dll))
    module = Module("t.dll", BASE, image.size_of_image, image.timestamp, None, None,
                    pdb=pdb_info)
    frames = tuple(Frame(BASE + off, None, "t.dll", off, f"t+{off:#x}", "unwind")
                   for off in offsets)
    return Report(source=Source("x", "kernel_dump"), dump=None, bugcheck=None,
                  modules=(module,), stack=frames)


def test_store_flat_folder_and_age_mismatch(built: tuple[Path, Path], tmp_path: Path) -> None:
    dll, pdb = built
    info = read_image_file(str(dll)).pdb
    assert info is not None
    functions = _publics(pdb)
    report = _report(dll, info, [functions["beta"] + 5, functions["alpha"]])
    # A store tree laid out from the key.
    key = pdb_key(info.name, info.guid, info.age)
    (tmp_path / "store" / key.path).parent.mkdir(parents=True)
    shutil.copy(pdb, tmp_path / "store" / key.path)
    named, notes = symbolize(report, str(tmp_path / "store"), allow_network=False,
                             cache_root=str(tmp_path / "c"))
    assert [f.symbol for f in named.stack] == ["t!beta+0x5", "t!alpha"]
    assert notes == []
    # A plain folder of PDBs, with the right file: named too.
    (tmp_path / "flat").mkdir()
    shutil.copy(pdb, tmp_path / "flat" / "t.pdb")
    named, _ = symbolize(report, str(tmp_path / "flat"), allow_network=False,
                         cache_root=str(tmp_path / "c"))
    assert named.stack[0].symbol == "t!beta+0x5"
    # The module wants another age of the same PDB: the flat file is refused, with the reason.
    older = _report(dll, PdbInfo(info.name, info.guid, info.age + 1), [functions["alpha"]])
    named, notes = symbolize(older, str(tmp_path / "flat"), allow_network=False,
                             cache_root=str(tmp_path / "c"))
    assert named.stack[0].symbol == f"t+{functions['alpha']:#x}"
    reason = named.stack[0].unsymbolized_reason
    assert reason is not None and reason.startswith("age mismatch")
    # In a store, another age is another folder: named as such.
    named, _ = symbolize(older, str(tmp_path / "store"), allow_network=False,
                         cache_root=str(tmp_path / "c"))
    reason = named.stack[0].unsymbolized_reason
    assert reason is not None and reason.startswith("age mismatch: the store has t.pdb with")


def test_no_pdb_id(built: tuple[Path, Path], tmp_path: Path) -> None:
    dll, _ = built
    report = _report(dll, None, [0x1000])
    named, notes = symbolize(report, str(tmp_path), allow_network=False,
                             cache_root=str(tmp_path / "c"))
    reason = named.stack[0].unsymbolized_reason
    assert reason is not None and reason.startswith("no PDB id: image t.dll/")
    assert [n.code for n in notes] == ["symbols_missing"]


@pytest.mark.parametrize(("printed", "name"), [
    ("beta(int*, int)", "beta"), ("alpha", "alpha"), ("Foo::operator()(int)", "Foo::operator()"),
    ("f<void (*)(int)>(int)", "f<void (*)(int)>"), ("odd)", "odd)"), ("()", "()")])
def test_argument_lists_are_cut(printed: str, name: str) -> None:
    from dumptriage.symbols.pdb import strip_arguments

    assert strip_arguments(printed) == name
