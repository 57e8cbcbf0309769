"""Zip and CAB archives: members read by content, bounded expansion, hostile names."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from cabarchive import CabArchive, CabFile

from dumptriage.batch.archives import ArchiveLimits, Extracted, Refused, members, unsafe_name
from dumptriage.batch.errors import ArchiveRefused
from dumptriage.batch.hashing import hash_file
from tests.batch.helpers import small_dump

MIB = 1 << 20


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _all(path: Path, kind: str, limits: ArchiveLimits | None = None
         ) -> list[tuple[str, str, str | None]]:
    """(kind or 'refused', name, hash) of every member, read while iterating."""
    out: list[tuple[str, str, str | None]] = []
    for m in members(path, kind, limits or ArchiveLimits()):
        if isinstance(m, Extracted):
            assert Path(m.temp).is_file()  # there while the caller looks at it
            out.append((m.kind, m.name, m.hash))
        else:
            out.append(("refused", m.name, m.reason))
    return out


def test_wer_style_zip_gives_its_dump_and_skips_the_rest(tmp_path: Path) -> None:
    dump = small_dump(tmp_path / "d.dmp")
    archive = _zip(tmp_path / "wer.zip", {"Report.wer": b"Version=1\r\n",
                                          "nested/MEMORY.DMP": dump.read_bytes(),
                                          "notes.txt": b"nothing to see"})
    got = _all(archive, "zip")
    assert got == [("dump", "nested/MEMORY.DMP", hash_file(dump))]


def test_member_temp_files_are_removed(tmp_path: Path) -> None:
    dump = small_dump(tmp_path / "d.dmp")
    archive = _zip(tmp_path / "a.zip", {"a.dmp": dump.read_bytes()})
    temps = [m.temp for m in members(archive, "zip", ArchiveLimits(), str(tmp_path))
             if isinstance(m, Extracted)]
    assert temps and not any(Path(t).exists() for t in temps)


@pytest.mark.parametrize("name", ["../../etc/evil.dmp", "/abs/evil.dmp", "C:\\x\\evil.dmp",
                                  "a/../../evil.dmp", "..\\evil.dmp"])
def test_traversal_names_are_refused(tmp_path: Path, name: str) -> None:
    assert unsafe_name(name) is not None
    archive = _zip(tmp_path / "t.zip", {name: b"PAGEDU64" + bytes(100)})
    [(kind, _, reason)] = _all(archive, "zip")
    assert kind == "refused" and reason
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb_is_refused_by_ratio(tmp_path: Path) -> None:
    # 64 MiB of zeros deflate to ~64 KiB: a 1000x ratio.
    archive = _zip(tmp_path / "bomb.zip", {"a.dmp": bytes(64 * MIB)})
    limits = ArchiveLimits(ratio_floor=4 * MIB, max_ratio=100)
    with pytest.raises(ArchiveRefused, match="expands more than 100x"):
        _all(archive, "zip", limits)


def test_a_bomb_refused_part_way_leaves_no_member_file_behind(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"a.dmp": b"PAGEDU64" + bytes(64 * MIB)})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    limits = ArchiveLimits(ratio_floor=4 * MIB, max_ratio=100)
    with pytest.raises(ArchiveRefused, match="expands more than 100x"):
        list(members(archive, "zip", limits, str(scratch)))
    assert list(scratch.iterdir()) == []


def test_zip_total_size_is_counted_on_real_bytes(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "big.zip", {f"{i}.dmp": bytes(3 * MIB) for i in range(4)})
    limits = ArchiveLimits(max_total=8 * MIB, max_ratio=10**6)
    with pytest.raises(ArchiveRefused, match="more than 8 MiB expanded"):
        _all(archive, "zip", limits)


def test_too_many_members_is_refused_before_reading(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", {f"{i}.txt": b"x" for i in range(30)})
    with pytest.raises(ArchiveRefused, match="30 members, more than 10"):
        _all(archive, "zip", ArchiveLimits(max_members=10))


def test_member_size_limit_refuses_that_member_only(tmp_path: Path) -> None:
    small = small_dump(tmp_path / "s.dmp").read_bytes()
    archive = _zip(tmp_path / "m.zip", {"a.dmp": small, "huge.dmp": b"PAGEDU64" + bytes(
        20 * MIB)})
    got = _all(archive, "zip", ArchiveLimits(max_member_size=18 * MIB, max_ratio=10**6))
    assert [g[0] for g in got] == ["dump", "refused"]


def test_corrupt_zip_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ArchiveRefused, match="not a readable zip"):
        _all(bad, "zip")


def _cab(path: Path, entries: dict[str, bytes]) -> Path:
    arc = CabArchive()
    for name, data in entries.items():
        arc[name] = CabFile(data)
    path.write_bytes(arc.save(compress=True))
    return path


def test_cab_gives_its_dump(tmp_path: Path) -> None:
    dump = small_dump(tmp_path / "d.dmp")
    cab = _cab(tmp_path / "wer.cab", {"Report.wer": b"V=1", "MEMORY.DMP": dump.read_bytes()})
    assert _all(cab, "cab") == [("dump", "MEMORY.DMP", hash_file(dump))]


def test_cab_expansion_bounded_before_cabarchive_runs(tmp_path: Path) -> None:
    cab = _cab(tmp_path / "z.cab", {"a.dmp": bytes(8 * MIB)})
    with pytest.raises(ArchiveRefused, match="more than 4 MiB expanded"):
        _all(cab, "cab", ArchiveLimits(cab_max_total=4 * MIB))


def test_cab_traversal_name_refused(tmp_path: Path) -> None:
    cab = _cab(tmp_path / "t.cab", {"..\\..\\evil.dmp": b"PAGEDU64" + bytes(64)})
    [(kind, _, _)] = _all(cab, "cab")
    assert kind == "refused"


def test_truncated_cab_is_one_error(tmp_path: Path) -> None:
    dump = small_dump(tmp_path / "d.dmp")
    cab = _cab(tmp_path / "c.cab", {"MEMORY.DMP": dump.read_bytes()})
    cut = tmp_path / "cut.cab"
    cut.write_bytes(cab.read_bytes()[:200])
    with pytest.raises(ArchiveRefused, match="CAB"):
        _all(cut, "cab")


def test_refused_type_is_plain_data() -> None:
    assert Refused("x", "why") == Refused("x", "why")
