"""Same spec, same bytes: build() twice, build() vs write(), sparse vs dense."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dumptriage.synth import CpuSpec, DumpSpec, ModuleSpec, build, presets, write
from dumptriage.synth.builder import MAX_IN_MEMORY


@pytest.mark.parametrize("factory", [presets.win7_x86_pae_summary,
                                     presets.win10_x64_bitmap_kernel, presets.rdmp_x64,
                                     presets.triage_x64_story, presets.triage_x86_story,
                                     presets.win10_x64_cpus])
def test_two_builds_are_byte_identical(factory: object) -> None:
    assert callable(factory)
    a, b = build(factory()), build(factory())
    assert a.data == b.data
    assert a.samples == b.samples and a.mappings == b.mappings
    assert a.triage == b.triage and a.cpus == b.cpus


def test_write_equals_build(tmp_path: Path) -> None:
    spec = presets.win7_x86_pae_summary()
    written = write(spec, tmp_path / "story.dmp")
    assert written.path is not None
    assert written.path.read_bytes() == build(spec).data


def test_sparse_file_reads_like_dense(tmp_path: Path) -> None:
    spec = presets.x86_pae_bitmap_full()
    dense = build(spec).data
    sparse = write(dataclasses.replace(spec, sparse=True), tmp_path / "s.dmp")
    assert sparse.path is not None and sparse.path.read_bytes() == dense


def test_required_dump_space_override() -> None:
    b = build(DumpSpec(dump_type=3, required_dump_space=0x197915))
    assert b.data is not None
    assert int.from_bytes(b.data[0xFA0:0xFA8], "little") == 0x197915


def test_build_refuses_huge_dumps() -> None:
    with pytest.raises(ValueError, match="write"):
        build(presets.sparse_x64_bitmap(1 + MAX_IN_MEMORY // (1 << 30)))


def test_rejects_unknown_dump_type() -> None:
    with pytest.raises(ValueError):
        build(DumpSpec(dump_type=7))


def test_spec_errors_are_explicit() -> None:
    with pytest.raises(ValueError, match="one CpuSpec per processor"):
        build(DumpSpec(processors=2, cpus=(CpuSpec(),)))
    bad = ModuleSpec(name="x.sys", path="x.sys", base=0xFFFFF80000000000, size=0x3000,
                     exports=(("InHeader", 0x10),))
    with pytest.raises(ValueError, match=r"exports outside \.text"):
        build(DumpSpec(modules=(bad,)))
