"""Local symbol stores: one- and two-tier trees, case, compressed files, file.ptr, flat."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from cabarchive import CabArchive, CabFile

from dumptriage.symbols.cab import CabError, expand
from dumptriage.symbols.keys import StoreKey, pdb_key
from dumptriage.symbols.store import find, other_keys, probes

KEY = pdb_key("x.pdb", "493D7552588C63594C4C44205044422E", 1)


def put(root: Path, relative: str, data: bytes = b"data") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cab(name: str, data: bytes) -> bytes:
    archive = CabArchive()
    archive[name] = CabFile(data)
    return bytes(archive.save(compress=True))


def test_one_tier(tmp_path: Path) -> None:
    put(tmp_path, KEY.path)
    hit, notes = find(str(tmp_path), KEY, flat=False)
    assert hit is not None and hit.via == "store" and not hit.compressed and not notes


def test_two_tier_with_index2(tmp_path: Path) -> None:
    put(tmp_path, "index2.txt", b"")
    put(tmp_path, KEY.two_tier_path())
    hit, _ = find(str(tmp_path), KEY, flat=False)
    assert hit is not None and hit.via == "two-tier"


def test_directory_names_match_case_insensitively(tmp_path: Path) -> None:
    # rizin's store spells image keys in lower case (corpus/symbols/amdppm.sys/c9c03...).
    key = StoreKey("amdppm.sys", "C9C030003b000", "image")
    put(tmp_path, "amdppm.sys/c9c030003b000/amdppm.sys")
    hit, _ = find(str(tmp_path), key, flat=False)
    assert hit is not None and hit.path.endswith("c9c030003b000/amdppm.sys")


def test_compressed_file(tmp_path: Path) -> None:
    put(tmp_path, f"x.pdb/{KEY.key}/x.pd_", cab("x.pdb", b"pdb bytes"))
    hit, _ = find(str(tmp_path), KEY, flat=False)
    assert hit is not None and hit.compressed
    out = expand(hit.path, "x.pdb", str(tmp_path / "out" / "x.pdb"))
    assert Path(out).read_bytes() == b"pdb bytes"


def test_file_ptr_path_and_msg(tmp_path: Path) -> None:
    real = put(tmp_path, "elsewhere/x.pdb")
    put(tmp_path, f"x.pdb/{KEY.key}/file.ptr", f"PATH:{real}".encode())
    hit, _ = find(str(tmp_path), KEY, flat=False)
    assert hit is not None and hit.via == "file.ptr" and hit.path == str(real)
    put(tmp_path, f"x.pdb/{KEY.key}/file.ptr", b"MSG: withdrawn by the publisher")
    hit, notes = find(str(tmp_path), KEY, flat=False)
    assert hit is None and "withdrawn" in notes[0]


def test_flat_folder_only_when_asked(tmp_path: Path) -> None:
    put(tmp_path, "X.PDB")
    assert find(str(tmp_path), KEY, flat=False)[0] is None
    hit, _ = find(str(tmp_path), KEY, flat=True)
    assert hit is not None and hit.via == "flat"


def test_other_ages_are_reported(tmp_path: Path) -> None:
    put(tmp_path, f"x.pdb/{KEY.key[:32]}2/x.pdb")
    assert other_keys(str(tmp_path), KEY) == [f"{KEY.key[:32]}2"]


def test_probes_name_every_place(tmp_path: Path) -> None:
    put(tmp_path, f"x.pdb/{KEY.key}/x.pd_", b"MSCF")
    got = probes(str(tmp_path), KEY)
    assert [p.present for p in got] == [False, True, False]


def test_bad_cabinets_are_cab_errors(tmp_path: Path) -> None:
    good = cab("x.pdb", b"A" * 5000)
    for data in (b"", b"MSCF", b"MSCF" + b"\0" * 60, good[:40], good[:-20],
                 good[:0x30] + b"\xff" * 8 + good[0x38:]):
        path = put(tmp_path, "bad.pd_", data)
        with contextlib.suppress(CabError):  # expanded or refused: nothing else escapes
            expand(str(path), "x.pdb", str(tmp_path / "o.pdb"))


def test_cab_roundtrip_in_memory() -> None:
    assert CabArchive(cab("a.pdb", b"z" * 100))["a.pdb"].buf == b"z" * 100
    assert io.BytesIO(cab("a", b"")).read(4) == b"MSCF"
