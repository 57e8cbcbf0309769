"""Real Microsoft symbols: the triage minidump's amdppm frames, and user32.pdb's OMAP.

Oracles:
* ``corpus/dumps/triage_x64.expected.json`` ("stack", from rizin's test suite: `dbt` with
  the PDBs of rizinorg/test-pdb-repository) names the amdppm frames WriteIoMemRawEx+112,
  WriteGenAddrEx+107, WriteGenAddrMaybeHiddenEx+24, InitAcpiCpc+791, ProcLibDeviceStart+2182,
  EvtDevicePrepareHardware+210 (decimal).
* user32.pdb: ``llvm-pdbutil dump -publics -section-headers`` (segment:offset of each public,
  the original section headers) and ``llvm-pdbutil bytes -stream-data=<OMAP from src>``:
  the RVA each public must be found at, computed here independently of symbolic.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import dumptriage
from dumptriage.symbols import symbolize
from dumptriage.symbols.pdb import open_lookup
from tests.conftest import shared

STORE = shared("corpus/symbols")
DUMP = shared("corpus/dumps/triage_x64.dmp")
EXPECTED = shared("corpus/dumps/triage_x64.expected.json")
USER32 = shared("corpus/symbols/user32.pdb/15F778B3671D4EFDBDCDE79905308B792/user32.pdb")


@pytest.fixture(scope="module")
def report() -> dumptriage.Report:
    return dumptriage.analyze(DUMP)


def _rizin_amdppm() -> dict[int, str]:
    stack = json.loads(EXPECTED.read_text())["stack"]
    out = {}
    for address, _slot, module, name in stack:
        if module == "amdppm" and name:
            function, _, decimal = name.partition("+")
            out[int(address, 16)] = f"amdppm!{function}+{int(decimal):#x}"
    return out


def test_minidump_amdppm_frames_match_rizin(report: dumptriage.Report, tmp_path: Path) -> None:
    named, notes = symbolize(report, str(STORE), allow_network=False, cache_root=str(tmp_path))
    expected = _rizin_amdppm()
    assert sorted(expected.values()) == sorted([
        "amdppm!WriteIoMemRawEx+0x70", "amdppm!WriteGenAddrEx+0x6b",
        "amdppm!WriteGenAddrMaybeHiddenEx+0x18", "amdppm!InitAcpiCpc+0x317",
        "amdppm!ProcLibDeviceStart+0x886", "amdppm!EvtDevicePrepareHardware+0xd2"])
    by_address = {f.address: f for f in named.stack}
    for address, symbol in expected.items():
        frame = by_address[address]
        assert (frame.symbol, frame.symbol_source) == (symbol, "pdb")
    # The PDB id came from the store's image (the minidump holds none): filled in.
    amdppm = next(m for m in named.modules if m.name == "amdppm.sys")
    assert amdppm.pdb is not None and amdppm.pdb.symbol_key == "1C19FDDB27BB3399D9B45973EFEAFCF31"
    # Wdf01000's image is in the store but its PDB is not; nt's image is not there at all.
    reasons = {n.where: n.detail for n in notes if n.code == "symbols_missing"}
    assert reasons["Wdf01000.sys"].startswith("PDB not in the store: Wdf01000.pdb/6D6E9C32")
    assert reasons["ntoskrnl.exe"].startswith("no PDB id: image ntoskrnl.exe/0D8333E6")
    wdf = next(f for f in named.stack if f.module == "Wdf01000.sys")
    assert wdf.symbol_source is None and wdf.unsymbolized_reason == reasons["Wdf01000.sys"]


def test_scanned_values_in_data_sections_get_no_name(report: dumptriage.Report,
                                                     tmp_path: Path) -> None:
    # amdppm+0x10b01 is in .rdata (llvm-pdbutil -section-headers: .rdata F000..12D58); the
    # nearest function public below it, memset at 0xed80, is in .text and does not hold it.
    named, _ = symbolize(report, str(STORE), allow_network=False, cache_root=str(tmp_path))
    frame = next(f for f in named.stack if f.offset == 0x10B01)
    assert frame.symbol == "amdppm+0x10b01"
    assert frame.unsymbolized_reason == "not in code: +0x10b01 is in .rdata"


def test_signature_uses_function_names(report: dumptriage.Report, tmp_path: Path) -> None:
    from dumptriage.signature.frames import builtin_skip_list, frame_name

    named, _ = symbolize(report, str(STORE), allow_network=False, cache_root=str(tmp_path))
    frame = next(f for f in named.stack if f.offset == 0x334C)
    got = frame_name(frame.to_dict(), builtin_skip_list())
    assert got is not None and got.key == "amdppm!WriteIoMemRawEx"


def test_warm_run_uses_the_cache_not_the_pdb(report: dumptriage.Report, tmp_path: Path) -> None:
    symbolize(report, str(STORE), allow_network=False, cache_root=str(tmp_path))
    caches = list(tmp_path.rglob("*.symcache"))
    assert len(caches) == 1  # under the cache root: the corpus store is read-only
    pdb = STORE / "amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF31/amdppm.pdb"
    lookup = open_lookup(str(pdb), "1C19FDDB27BB3399D9B45973EFEAFCF3", 1, str(tmp_path))
    assert lookup.source == "symcache"
    assert lookup.lookup(0x334C) == ("WriteIoMemRawEx", 0x32DC)


def test_function_wins_over_data_at_the_same_address(tmp_path: Path) -> None:
    # llvm-pdbutil dump -publics amdppm.pdb: `??_C@_07NFANNNEC@UNKNOWN@` flags = none at
    # 0002:6512 (.rdata VA 0xF000 -> RVA 0x10970). It never names an address.
    pdb = STORE / "amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF31/amdppm.pdb"
    lookup = open_lookup(str(pdb), "1C19FDDB27BB3399D9B45973EFEAFCF3", 1, str(tmp_path))
    found = lookup.lookup(0x10970)
    assert found is None or not found[0].startswith("??_C@")
    # `IsValidAcpiGenericAddress` flags = function at 0006:54480 (PAGE VA 0x1C000).
    assert lookup.lookup(0x1C000 + 54480) == ("IsValidAcpiGenericAddress", 0x1C000 + 54480)


# -- OMAP: user32.pdb ----------------------------------------------------------------------

def _pdbutil(*args: str) -> str:
    if shutil.which("llvm-pdbutil") is None:
        pytest.skip("llvm-pdbutil not installed: apt-get install llvm")
    return subprocess.run(["llvm-pdbutil", *args], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def _omap_oracle() -> tuple[list[tuple[int, str, bool]], list[tuple[int, int]]]:
    text = _pdbutil("dump", "-publics", "-section-headers", "-streams", str(USER32))
    original = text.split("Original Section Headers", 1)[1]
    vas = [int(v, 16) for v in re.findall(r"(\w+) virtual address", original)]
    publics = [(int(seg), int(off), name, flags) for name, flags, seg, off in re.findall(
        r"`([^`]+)`\n\s+flags = ([^,]+), addr = (\d+):(\d+)", text)]
    stream = re.search(r"Stream\s+(\d+) \(\s*\d+ bytes\): \[Omap From Source Data\]", text)
    assert stream is not None
    data = _pdbutil("bytes", f"-stream-data={stream.group(1)}", str(USER32))
    raw = b"".join(bytes.fromhex(w) for line in data.splitlines() if re.match(r"\s+\w+: ", line)
                   for w in line.split("|")[0].split(":", 1)[1].split())
    pairs = [struct.unpack_from("<II", raw, i) for i in range(0, len(raw) - 7, 8)]
    internal = [(vas[seg - 1] + off, name, "function" in flags)
                for seg, off, name, flags in publics if 0 < seg <= len(vas)]
    return internal, pairs


def _translate(rva: int, pairs: list[tuple[int, int]]) -> int | None:
    import bisect

    i = bisect.bisect_right(pairs, (rva, 0xFFFFFFFF)) - 1
    if i < 0 or pairs[i][1] == 0:
        return None
    return pairs[i][1] + rva - pairs[i][0]


def test_user32_omap(tmp_path: Path) -> None:
    internal, pairs = _omap_oracle()
    assert len(internal) > 1000 and len(pairs) > 10000
    lookup = open_lookup(str(USER32), "15F778B3671D4EFDBDCDE79905308B79", 2, str(tmp_path))
    by_rva: dict[int, set[str]] = {}  # every public's name (aliases may be flagged none)
    functions = set()
    for rva, name, function in internal:
        target = _translate(rva, pairs)
        if target is not None:
            by_rva.setdefault(target, set()).add(name)
            if function:
                functions.add(target)
    moved = sum(1 for rva, _, _ in internal if _translate(rva, pairs) != rva)
    assert moved > len(internal) // 2  # OMAP really rearranged the code
    checked = 0
    for rva in sorted(functions)[::20]:
        found = lookup.lookup(rva)
        assert found is not None and found[1] == rva, hex(rva)
        # Identical-code folding gives several names at one RVA: any of them (sheet 4.4).
        assert found[0] in by_rva[rva] or found[0].lstrip("_") in {
            n.lstrip("_") for n in by_rva[rva]}, (hex(rva), found, by_rva[rva])
        checked += 1
    assert checked > 50
