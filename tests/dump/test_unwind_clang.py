"""The .pdata/UNWIND_INFO reader on a real PE built by clang + lld-link, against llvm-readobj.

Oracle: `llvm-readobj --unwind u.dll` (LLVM's own COFF unwind dumper) on a DLL built here
with `clang --target=x86_64-pc-windows-msvc -c` and `lld-link /dll /noentry /debug`.
Without the tools the test skips on a developer machine and fails in CI (CI=1), where
scripts/install.sh --test installs them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pefile
import pytest

from dumptriage.dump.kernel.pe_image import read_pe
from dumptriage.dump.kernel.unwind import RBP, RSP, FunctionTable, unwind_step

SOURCE = r"""
void leaf(int *p);
int helper(int *p, int n) {
    volatile int big[300];
    for (int i = 0; i < n; i++) big[i % 300] = p[i];
    leaf(p);
    return big[n % 300];
}
int framed(int *p, int n) {  /* alloca: a frame pointer, UWOP_SET_FPREG */
    volatile int *v = __builtin_alloca(n * 4);
    v[0] = helper(p, n);
    leaf(p);
    return v[0];
}
__declspec(dllexport) int deep(int *p, int n) { int r = helper(p, n); leaf(p);
                                                 return r + framed(p, n + 1); }
void leaf(int *p) { *p += 1; }
void __chkstk(void) {}  /* never run: only satisfies the link (alloca probes the stack) */
"""
TOOLS = ("clang", "lld-link", "llvm-readobj")


@pytest.fixture(scope="module")
def dll(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {missing} (scripts/install.sh --test)")
        pytest.skip(f"{missing} not installed: apt-get install clang lld llvm")
    work = tmp_path_factory.mktemp("clangpe")
    (work / "u.c").write_text(SOURCE)
    subprocess.run(["clang", "--target=x86_64-pc-windows-msvc", "-O1", "-fno-inline", "-c",
                    "u.c", "-o", "u.obj"], cwd=work, check=True, timeout=120)
    subprocess.run(["lld-link", "/dll", "/noentry", "/debug", "/out:u.dll", "u.obj"],
                   cwd=work, check=True, timeout=120)
    return work / "u.dll"


def _readobj(dll: Path) -> list[dict[str, object]]:
    text = subprocess.run(["llvm-readobj", "--unwind", str(dll)], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    found: list[dict[str, object]] = []
    for block in text.split("RuntimeFunction {")[1:]:
        def field(name: str, text: str = block) -> str:
            match = re.search(rf"{name}: (\S+)", text)
            assert match is not None, name
            return match.group(1)
        codes = re.findall(r"0x[0-9A-F]+: (\w+)(?: (?:size|reg|offset)=(\w+))?", block)
        found.append({
            "start": int(field("StartAddress").strip("()"), 16),
            "end": int(field("EndAddress").strip("()"), 16),
            "info": int(field("UnwindInfoAddress").strip("()"), 16),
            "version": int(field("Version")), "prolog": int(field("PrologSize")),
            "frame": field("FrameRegister"), "codes": codes,
        })
    return found


def _loaded(dll: Path) -> tuple[int, bytes]:
    pe = pefile.PE(str(dll))
    return int(pe.OPTIONAL_HEADER.ImageBase), bytes(pe.get_memory_mapped_image())


def test_pdata_matches_llvm_readobj(dll: Path) -> None:
    base, image_bytes = _loaded(dll)
    oracle = _readobj(dll)
    assert len(oracle) >= 3

    def read(va: int, size: int) -> bytes | None:
        at = va - base
        return image_bytes[at : at + size] if at >= 0 and at + size <= len(image_bytes) \
            else None
    image = read_pe(read, base)
    assert image is not None
    table = FunctionTable(read, image)
    assert table.count == len(oracle)
    for i, fn in enumerate(oracle):
        begin, end, info = table.entry(i) or (0, 0, 0)
        assert (base + begin, base + end, base + info) == (fn["start"], fn["end"], fn["info"])
        head = read(base + info, 4) or b""
        assert (head[0] & 7, head[1]) == (fn["version"], fn["prolog"])
        assert ("RBP" if head[3] & 0xF == RBP else "-") == fn["frame"]
        # The same lookup from inside the function body.
        assert table.lookup(begin + (end - begin) // 2) == (begin, end, info)
    assert any(fn["frame"] == "RBP" for fn in oracle)  # `framed` has UWOP_SET_FPREG


def test_unwinding_each_function_pops_what_readobj_lists(dll: Path) -> None:
    base, image_bytes = _loaded(dll)
    stack_va, frame_value = 0xFFFF800000100000, 0xFFFF800000100400
    stack = struct.pack("<512Q", *range(0x5000, 0x5000 + 512))

    def read(va: int, size: int) -> bytes | None:
        for start, blob in ((base, image_bytes), (stack_va, stack)):
            if start <= va and va + size <= start + len(blob):
                return blob[va - start : va - start + size]
        return None
    image = read_pe(read, base)
    assert image is not None
    table = FunctionTable(read, image)
    for fn in _readobj(dll):
        codes = fn["codes"]
        assert isinstance(codes, list)
        popped = 0
        for op, value in codes:
            if op == "PUSH_NONVOL":
                popped += 8
            elif op in ("ALLOC_SMALL", "ALLOC_LARGE"):
                popped += int(value, 0)
        regs: list[int | None] = [None] * 16
        regs[RSP], regs[RBP] = stack_va, frame_value
        start, end = fn["start"], fn["end"]
        assert isinstance(start, int) and isinstance(end, int)
        step = unwind_step(read, table, end - 1, stack_va, tuple(regs), True)
        assert step is not None
        # With a frame register, RSP is first reset to it minus FrameOffset * 16.
        origin = stack_va
        if fn["frame"] == "RBP":
            info = table.lookup(start - base)
            assert info is not None
            offset = ((read(base + info[2] + 3, 1) or b"\0")[0] >> 4) * 16
            origin = frame_value - offset
        assert step.slot == origin + popped
        assert step.rsp == origin + popped + 8
        assert step.rip == 0x5000 + (step.slot - stack_va) // 8
