"""A corrupt or hostile PDB is a note, never a crash: truncated and mutated real PDBs.

The PDB is Microsoft's amdppm.pdb from the corpus; whatever the bytes, ``open_lookup``
either gives a working lookup or raises PdbError, and ``symbolize`` turns that into a
``symbol_file_unreadable`` note with the frames left unnamed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dumptriage
from dumptriage.symbols import symbolize
from dumptriage.symbols.pdb import PdbError, open_lookup
from tests.conftest import shared

KEY = "1C19FDDB27BB3399D9B45973EFEAFCF31"
PDB = shared(f"corpus/symbols/amdppm.pdb/{KEY}/amdppm.pdb")
IMAGE = shared("corpus/symbols/amdppm.sys/c9c030003b000/amdppm.sys")
DUMP = shared("corpus/dumps/triage_x64.dmp")


@pytest.fixture(scope="module")
def original() -> bytes:
    return PDB.read_bytes()


def _try(data: bytes, work: Path) -> None:
    path = work / "f.pdb"
    path.write_bytes(data)
    for stale in work.rglob("*.symcache"):
        stale.unlink()
    try:
        lookup = open_lookup(str(path), KEY[:32], 1, str(work / "cache"))
    except PdbError as err:
        assert err.kind in ("corrupt", "unsupported", "mismatch", "age_mismatch")
        return
    for rva in (0, 0x334C, 0x20E8F, 0xFFFFFFFF):
        got = lookup.lookup(rva)
        assert got is None or isinstance(got[0], str)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=674816))
def test_truncated(original: bytes, tmp_path: Path, cut: int) -> None:
    _try(original[:cut], tmp_path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 674815), st.integers(0, 255)), min_size=1,
                      max_size=40),
       header=st.booleans())
def test_mutated(original: bytes, tmp_path: Path, edits: list[tuple[int, int]],
                 header: bool) -> None:
    data = bytearray(original)
    for at, value in edits:
        # Half the cases hit the superblock and the first blocks (block size, directory).
        data[at % 0x1000 if header else at] = value
    _try(bytes(data), tmp_path)


def test_not_pdbs(tmp_path: Path) -> None:
    for data in (b"", b"MZ" + b"\0" * 100, b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0",
                 b"Microsoft C/C++ program database 2.00\r\n\x1aJG\0\0" + b"\0" * 64):
        with pytest.raises(PdbError):
            (tmp_path / "x.pdb").write_bytes(data)
            open_lookup(str(tmp_path / "x.pdb"), KEY[:32], 1, str(tmp_path))


def test_symbolize_turns_a_corrupt_pdb_into_a_note(original: bytes, tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / f"amdppm.pdb/{KEY}").mkdir(parents=True)
    (store / f"amdppm.pdb/{KEY}/amdppm.pdb").write_bytes(original[:5000])
    (store / "amdppm.sys/c9c030003b000").mkdir(parents=True)
    shutil.copy(IMAGE, store / "amdppm.sys/c9c030003b000/amdppm.sys")
    report = dumptriage.analyze(DUMP)
    named, notes = symbolize(report, str(store), allow_network=False,
                             cache_root=str(tmp_path / "cache"))
    frame = next(f for f in named.stack if f.offset == 0x334C)
    assert frame.symbol == "amdppm+0x334c" and frame.symbol_source is None
    assert frame.unsymbolized_reason is not None
    assert frame.unsymbolized_reason.startswith("PDB unreadable")
    assert any(n.code == "symbol_file_unreadable" for n in notes)
