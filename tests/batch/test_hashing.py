"""The content hash: chunked, sparse-aware, and a function of the content only."""

from __future__ import annotations

from pathlib import Path

from dumptriage.batch.hashing import BLOCK, Hasher, hash_file
from tests.batch.helpers import small_dump


def test_sparse_and_plain_copies_hash_alike(tmp_path: Path) -> None:
    sparse = small_dump(tmp_path / "a.dmp")
    plain = tmp_path / "b.dmp"
    plain.write_bytes(sparse.read_bytes())  # written out: no holes
    assert hash_file(sparse) == hash_file(plain)


def test_any_byte_changes_the_hash(tmp_path: Path) -> None:
    a = small_dump(tmp_path / "a.dmp")
    b = tmp_path / "b.dmp"
    data = bytearray(a.read_bytes())
    data[len(data) // 2] ^= 1  # inside a hole of the sparse file
    b.write_bytes(data)
    assert hash_file(a) != hash_file(b)


def test_length_is_part_of_the_key(tmp_path: Path) -> None:
    # Two files of zeros differing only in length fold to the same blocks but differ.
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(bytes(BLOCK))
    two.write_bytes(bytes(BLOCK + 1))
    assert hash_file(one) != hash_file(two)


def test_streamed_chunks_match_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"abc" * 50_000 + bytes(3 * BLOCK) + b"tail")
    h = Hasher()
    data = path.read_bytes()
    for i in range(0, len(data), 7777):  # uneven chunks, as an archive stream gives them
        h.update(data[i:i + 7777])
    assert h.hexdigest() == hash_file(path)
