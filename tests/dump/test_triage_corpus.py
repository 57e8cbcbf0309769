"""The triage readers on the real Windows minidumps in ../shared/corpus/dumps.

Oracles: ``triage_*.expected.json`` (rizin's test suite: `iH`, `dr`, `dbt` output, see
MANIFEST.md) and dump-format.md section 12.1 (facts read from triage_x64.dmp by byte
comparisons). Each expected value below names which one it comes from.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from dumptriage import open_dump
from dumptriage.dump.containers.triage.container import TriageDump
from dumptriage.dump.containers.triage.drivers import kernel_base_anomalies, read_drivers
from dumptriage.dump.containers.triage.memory import TriageMemory, build_triage_memory
from dumptriage.dump.containers.triage.unloaded import read_unloaded_drivers
from dumptriage.dump.crash_dump import CrashDump

# CONTEXT (x64) register offsets, dump-format.md section 6.4: Rax 0x78 ... R15 0xF0, Rip 0xF8.
_GPR = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"]
_CONTEXT_GPR_AT = 0x78


def _num(value: str | int) -> int:
    return value if isinstance(value, int) else int(value, 16)


def _expected(corpus: Path, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((corpus / "dumps" / f"{name}.expected.json").read_text())
    return found


@pytest.fixture
def x64(corpus: Path) -> Iterator[CrashDump]:
    with open_dump(corpus / "dumps" / "triage_x64.dmp") as dump:
        yield dump


@pytest.fixture
def arm64(corpus: Path) -> Iterator[CrashDump]:
    with open_dump(corpus / "dumps" / "triage_arm64.dmp") as dump:
        yield dump


def _memory(dump: CrashDump) -> TriageMemory:
    assert isinstance(dump.container, TriageDump)
    memory, found = build_triage_memory(dump.container.header, dump.container.data,
                                        pointer_bits=dump.info.pointer_bits,
                                        kdbg_va=dump.info.kd_debugger_data_block)
    assert found == []
    return memory


def test_x64_drivers(x64: CrashDump) -> None:
    assert isinstance(x64.container, TriageDump) and x64.kdbg is not None
    modules, found = read_drivers(x64.container.header, x64.container.data, 64)
    assert found == []
    # Oracle: rizin `iH` DriverCount 0x97 (triage_x64.expected.json "triage").
    assert len(modules) == 151
    # Oracle: section 12.1 ("Driver names": \SystemRoot\system32\ntoskrnl.exe first) and
    # the KDBG copy's KernBase 0xfffff8047ba00000 (section 12.1, "KDBG copy").
    assert modules[0].name == "ntoskrnl.exe"
    assert modules[0].path == r"\SystemRoot\system32\ntoskrnl.exe"
    assert modules[0].base == 0xFFFFF8047BA00000 == x64.kdbg.kern_base
    assert kernel_base_anomalies(modules, x64.kdbg.kern_base) == []
    # Oracle: rizin `dbt` attributes frames to amdppm and Wdf01000 (expected "stack").
    names = {m.name.lower() for m in modules}
    assert {"amdppm.sys", "wdf01000.sys"} <= names


def test_x64_stack_modules_hold_their_return_addresses(x64: CrashDump, corpus: Path) -> None:
    assert isinstance(x64.container, TriageDump)
    modules, _ = read_drivers(x64.container.header, x64.container.data, 64)
    by_name = {m.name.lower().rsplit(".", 1)[0]: m for m in modules}
    by_name["ntkrnlmp"] = by_name["ntoskrnl"]  # rizin names nt by its PDB, ntkrnlmp.pdb
    # Oracle: rizin `dbt` (expected "stack"): [return address, sp, module, symbol].
    for address, _sp, module, _symbol in _expected(corpus, "triage_x64")["stack"]:
        assert by_name[module.lower()].contains(_num(address)), (address, module)


def test_x64_unloaded_drivers(x64: CrashDump) -> None:
    assert isinstance(x64.container, TriageDump)
    unloaded, found = read_unloaded_drivers(x64.container.header, x64.container.data, 64)
    assert found == []
    # Oracle: section 12.1 "Unloaded drivers" (u64 count 4, these names in this order).
    assert [u.name for u in unloaded] == ["dam.sys", "WdBoot.sys", "hwpolicy.sys",
                                          "mcupdate.dll"]
    # Oracle: section 12.1 "Section order": 8 + 4 x 0x38 = 0xE8 ends at PrcbOffset.
    header = x64.container.header
    assert header.unloaded_drivers_offset + 8 + 4 * 0x38 == header.prcb_offset


def test_x64_memory_holds_the_kebugcheckex_context(x64: CrashDump, corpus: Path) -> None:
    assert isinstance(x64.container, TriageDump) and x64.kdbg is not None
    memory = _memory(x64)
    # Oracle: section 12.1 "The registers rizin shows": OffsetPrcbContext 0x85C0, and the
    # PRCB copy's pointer there is 0xffff9b00021ff340 (a data block holds its target).
    assert x64.kdbg.offset_prcb_context == 0x85C0
    at = x64.container.header.prcb_offset + 0x85C0
    (pointer,) = struct.unpack_from("<Q", x64.container.data, at)
    assert pointer == 0xFFFF9B00021FF340
    context = memory.read(pointer, 0x4D0)
    # Oracle: rizin `dr` (expected "registers"); every general register matches.
    want = _expected(corpus, "triage_x64")["registers"]
    got = struct.unpack_from(f"<{len(_GPR)}Q", context, _CONTEXT_GPR_AT)
    assert dict(zip(_GPR, got, strict=True)) == {r: _num(want[r]) for r in _GPR}


def test_x64_return_addresses_sit_below_each_frame_sp(x64: CrashDump, corpus: Path) -> None:
    memory = _memory(x64)
    # Oracle: rizin `dbt` (expected "stack"); frame 0 is the context's Rip, not a return.
    frames = _expected(corpus, "triage_x64")["stack"][1:]
    assert len(frames) == 35
    misses = [address for address, sp, _m, _s in frames
              if memory.read_pointer(_num(sp) - 8, 64) != _num(address)]
    # Oracle: section 12.1 "Stack return addresses": 34 of 35 are at sp - 8; the faulting
    # IP in amdppm is not a pushed return address.
    assert misses == ["0xfffff8048b58334c"]


def test_x64_faulting_ip_is_in_the_exception_context_on_the_stack(x64: CrashDump) -> None:
    memory = _memory(x64)
    # Oracle: rizin `iH` BugCheckParameters: P4 0xffff850429891720 is the CONTEXT of
    # bugcheck 0x1000007E and P2 0xfffff8048b58334c the exception address (section 12.1).
    assert memory.read_pointer(0xFFFF850429891720 + 0xF8, 64) == 0xFFFF_F804_8B58_334C


def test_x64_memory_ranges(x64: CrashDump) -> None:
    memory = _memory(x64)
    assert x64.info.kd_debugger_data_block is not None
    # Oracle: section 12.1 "KDBG copy": decoded, tag KDBG at +0x10, at KdDebuggerDataBlock.
    assert memory.read(x64.info.kd_debugger_data_block + 0x10, 4) == b"KDBG"
    # Oracle: section 12.1 "TopOfStack": [0xffff850429890ee8, 0xffff850429893000).
    stack = [r for r in memory.ranges() if r.source == "call stack"]
    assert [(r.va, r.end) for r in stack] == [(0xFFFF850429890EE8, 0xFFFF850429893000)]
    pieces = memory.ranges()
    assert all(a.end <= b.va for a, b in pairwise(pieces))


def test_arm64_drivers_and_unloaded(arm64: CrashDump) -> None:
    assert isinstance(arm64.container, TriageDump) and arm64.kdbg is not None
    modules, found = read_drivers(arm64.container.header, arm64.container.data, 64)
    assert found == []
    # Oracle: rizin `iH` DriverCount 0xf5 (triage_arm64.expected.json "triage").
    assert len(modules) == 245
    assert modules[0].name == "ntoskrnl.exe" and modules[0].base == arm64.kdbg.kern_base
    unloaded, found = read_unloaded_drivers(arm64.container.header, arm64.container.data, 64)
    assert found == []
    # Oracle: section-extent check, as section 12.1 did for x64: the u64 count and 0x38
    # entries end exactly where the PRCB copy starts (0x20D0 + 8 + 11 x 0x38 = 0x2340).
    assert arm64.container.header.unloaded_drivers_offset + 8 + len(unloaded) * 0x38 == \
        arm64.container.header.prcb_offset
    assert len(unloaded) == 11
