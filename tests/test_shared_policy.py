"""The shared-corpus policy of tests/conftest.py, run on a tiny project in a temporary folder.

A checkout with nothing beside it skips the tests that need the corpus, one line each naming
the missing path and how to get it, and runs the rest; ``DUMPTRIAGE_SHARED`` set to a missing
folder stops the run, set to a folder without the files fails those tests; ``.ci/run`` stops
before installing anything when its shared folder is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PROJECT_TESTS = '''
from tests.conftest import require_shared, shared

DUMPS = shared("corpus/dumps")
NAMES = sorted(p.name for p in DUMPS.glob("*.dmp"))


def test_reads_a_corpus_file() -> None:
    assert require_shared("corpus/dumps/triage_x64.dmp").stat().st_size > 0


def test_module_level_path() -> None:
    assert (DUMPS / "triage_x64.dmp").read_bytes()[:4] == b"PAGE"


def test_needs_nothing() -> None:
    assert 1 + 1 == 2
'''


def _project(tmp_path: Path) -> Path:
    """tmp/clone/tests with the real conftest; nothing named shared beside clone."""
    clone = tmp_path / "clone"
    (clone / "tests").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", clone / "tests" / "conftest.py")
    (clone / "tests" / "__init__.py").write_text("")
    (clone / "tests" / "test_needs_corpus.py").write_text(PROJECT_TESTS)
    return clone


def _pytest(clone: Path, shared: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DUMPTRIAGE_SHARED"}
    if shared is not None:
        env["DUMPTRIAGE_SHARED"] = shared
    env["PYTHONPATH"] = str(clone)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-o", "addopts=",
         "tests"], cwd=clone, env=env, capture_output=True, text=True, check=False, timeout=120)


def test_nothing_beside_the_checkout_skips_with_one_line(tmp_path: Path) -> None:
    clone = _project(tmp_path)
    proc = _pytest(clone, None)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("1 passed, 2 skipped")
    skips = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 2
    missing = tmp_path / "shared" / "corpus" / "dumps"
    for line in skips:
        assert f"shared data not found: {missing}" in line
        assert "bash scripts/get-corpus.sh DIR" in line and "DUMPTRIAGE_SHARED=DIR" in line


def test_explicit_missing_folder_stops_the_run(tmp_path: Path) -> None:
    clone = _project(tmp_path)
    proc = _pytest(clone, str(tmp_path / "nowhere"))
    assert proc.returncode == 4  # pytest's usage error: no test ran
    assert f"DUMPTRIAGE_SHARED={tmp_path / 'nowhere'} is set but that folder does not exist" \
        in proc.stderr


def test_explicit_folder_without_the_files_fails(tmp_path: Path) -> None:
    clone = _project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    proc = _pytest(clone, str(tmp_path / "elsewhere"))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].startswith("2 failed, 1 passed")
    assert "SKIPPED" not in proc.stdout


def test_ci_stops_before_installing_without_shared(tmp_path: Path) -> None:
    env = {**os.environ, "DUMPTRIAGE_SHARED": str(tmp_path / "nowhere")}
    proc = subprocess.run(["bash", str(REPO / ".ci" / "run")], env=env, capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (f"ci: shared corpus not found at {tmp_path / 'nowhere'} "
                           "(corpus/, story/); fetch it with: bash scripts/get-corpus.sh DIR\n")
