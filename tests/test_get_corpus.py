"""scripts/get-corpus.sh: its sources list and checksum file, and its verify step."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, require_shared

SCRIPT = REPO / "scripts" / "get-corpus.sh"


def _lines(name: str) -> list[list[str]]:
    text = (REPO / "scripts" / name).read_text()
    return [line.split() for line in text.splitlines() if line and not line.startswith("#")]


def test_every_source_has_a_checksum_and_a_pinned_url() -> None:
    sums = {path for _sum, path in _lines("corpus.sha256")}
    sources = _lines("corpus-sources.txt")
    assert len(sources) == 100
    for path, url in sources:
        assert path in sums, path
        # Pinned to a commit (40 hex digits) or a release tag, never a branch.
        pin = url.removeprefix("https://raw.githubusercontent.com/").split("/")[2]
        assert len(pin) == 40 or pin == "v0.8.1", url
    # What cannot be fetched is only what is not published as a file (sources list header).
    unfetched = sums - {path for path, _url in sources}
    assert {p for p in unfetched if not p.endswith(("MANIFEST.md", "README.md"))
            and not p.startswith(("reference/", "story/"))} == {
        "corpus/dumps/triage_arm64.expected.json", "corpus/dumps/triage_x64.expected.json"}


def _verify(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), "--verify", str(folder)], capture_output=True,
                          text=True, check=False, timeout=60)


def test_verify_accepts_the_shared_corpus() -> None:
    shared = require_shared("corpus").parent
    proc = _verify(shared)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("get-corpus: 120 files verified in ")


def test_verify_names_a_changed_file(tmp_path: Path) -> None:
    story = tmp_path / "story"
    story.mkdir()
    sample = REPO / "samples" / "win7-x86-clock-watchdog"
    shutil.copy(sample / "qemu-vm113.log", story)
    (story / "libvirtd.log").write_text("not the real log\n")
    proc = _verify(tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"get-corpus: 2 files verified in {tmp_path}; 118 not there")
    assert proc.stderr.startswith("get-corpus: checksum mismatch: story/libvirtd.log (got ")


@pytest.mark.parametrize("args", [[], ["a", "b"]])
def test_usage(args: list[str]) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "usage: bash scripts/get-corpus.sh [--verify] DIR\n"
