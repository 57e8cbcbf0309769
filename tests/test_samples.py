"""The committed samples are exactly what the builder makes today (deterministic bytes)."""

from __future__ import annotations

from pathlib import Path

from dumptriage.synth.samples import SAMPLES, build_samples

REPO = Path(__file__).resolve().parent.parent


def test_samples_are_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    build_samples(tmp_path)
    for relative in SAMPLES:
        fresh = (tmp_path / relative).read_bytes()
        committed = (REPO / "samples" / relative).read_bytes()
        assert fresh == committed, (
            f"samples/{relative} is stale: run python -m dumptriage.synth.samples")


def test_samples_stay_small() -> None:
    for relative in SAMPLES:
        assert (REPO / "samples" / relative).stat().st_size < 2 * 1024 * 1024, relative
