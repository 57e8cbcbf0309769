"""Decorated public-symbol names as WinDbg prints them.

Oracle for the C++ cases: `llvm-undname` (Debian's llvm) on the same names prints the full
declaration, e.g. "public: int __thiscall Net::Queue::Pop(int)"; WinDbg's frames show the
qualified name alone. The x86 C cases are Microsoft's documented decorations.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dumptriage.symbols.undecorate import undecorate

CASES = [
    ("_KeBugCheckEx@20", "x86", "KeBugCheckEx"),
    ("@KfAcquireSpinLock@4", "x86", "KfAcquireSpinLock"),
    ("_memcpy", "x86", "memcpy"),
    ("__SEH_prolog4", "x86", "_SEH_prolog4"),
    ("KeBugCheckEx", "x64", "KeBugCheckEx"),
    ("__C_specific_handler", "x64", "__C_specific_handler"),
    ("_memcpy", "x64", "_memcpy"),
    ("?Pop@Queue@Net@@QAEHH@Z", "x86", "Net::Queue::Pop"),
    ("?Make@Queue@Net@@SAHXZ", "x64", "Net::Queue::Make"),
    ("??0Queue@Net@@QEAA@XZ", "x64", "Net::Queue::Queue"),
    ("??1Queue@Net@@QEAA@XZ", "x64", "Net::Queue::~Queue"),
    ("??_GCAdapter@@UEAAPEAXI@Z", "x64", "CAdapter::`scalar deleting destructor'"),
    ("??2@YAPEAX_K@Z", "x64", "operator new"),
    ("?Run@?A0x1b2c@@YAXXZ", "x64", "`anonymous namespace'::Run"),
    # "1" is the second name read (Get is the first): Inner.
    ("?Get@Inner@Outer@1@QEAAHXZ", "x64", "Inner::Outer::Inner::Get"),
]


@pytest.mark.parametrize(("raw", "arch", "expected"), CASES)
def test_undecorate(raw: str, arch: str, expected: str) -> None:
    assert undecorate(raw, arch) == expected


@pytest.mark.parametrize("raw", ["??$Max@H@@YAHHH@Z", "?$Vec@H@@", "??Z@x", "?", "?@@",
                                 "?Bad@5@@", "??0@@"])
def test_forms_not_covered_keep_the_raw_name(raw: str) -> None:
    assert undecorate(raw, "x64") == raw


@pytest.mark.skipif(shutil.which("llvm-undname") is None, reason="llvm-undname (Debian llvm)")
@pytest.mark.parametrize(("raw", "arch", "expected"), [c for c in CASES if c[0][0] == "?"])
def test_qualified_names_agree_with_llvm_undname(raw: str, arch: str, expected: str) -> None:
    out = subprocess.run(["llvm-undname", raw], capture_output=True, text=True, check=True)
    # llvm-undname echoes the name, then the declaration; it says "dtor" where
    # UnDecorateSymbolName and WinDbg say "destructor".
    declaration = out.stdout.splitlines()[1].replace("deleting dtor'", "deleting destructor'")
    assert expected in declaration


CPP = """
namespace Net { class Queue { public: int Pop(int x); static int Make(); }; }
int Net::Queue::Pop(int x) { return x + 1; }
int Net::Queue::Make() { return 7; }
extern "C" int __stdcall Entry(int a) { Net::Queue q; return q.Pop(a) + Net::Queue::Make(); }
"""


def test_names_read_from_a_real_x86_pdb(tmp_path: Path) -> None:
    """An x86 C++ image built by Debian's clang + lld-link: symbolic returns the decorated
    `?Pop@Queue@Net@@QAEHH@Z` (checked with llvm-pdbutil dump -publics); the lookup names it
    as WinDbg does."""
    import os

    from dumptriage.symbols.pdb import open_lookup
    from dumptriage.symbols.pe_file import read_image_file

    missing = [t for t in ("clang", "lld-link") if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {missing} (scripts/install.sh --test)")
        pytest.skip(f"{missing} not installed: apt-get install clang lld")
    (tmp_path / "q.cpp").write_text(CPP)
    subprocess.run(["clang", "--target=i686-pc-windows-msvc", "-O1", "-fno-inline", "-c",
                    "q.cpp", "-o", "q.obj"], cwd=tmp_path, check=True, timeout=120)
    subprocess.run(["lld-link", "/dll", "/noentry", "/debug", "/out:q.sys", "/pdb:q.pdb",
                    "q.obj"], cwd=tmp_path, check=True, timeout=120)
    pdb = read_image_file(str(tmp_path / "q.sys")).pdb
    assert pdb is not None
    lookup = open_lookup(str(tmp_path / "q.pdb"), pdb.guid, pdb.age, str(tmp_path / "cache"))
    assert lookup.arch == "x86"
    names = {found[0] for rva in range(0x1000, 0x1040) if (found := lookup.lookup(rva))}
    assert {"Net::Queue::Pop", "Net::Queue::Make"} <= names
    assert not any(name.startswith("?") for name in names)
