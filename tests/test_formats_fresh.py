"""The committed parsers in dumptriage/formats are what formats/*.ksy compile to today."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_generated_parsers_are_not_stale() -> None:
    node = shutil.which("node")
    compiler = REPO / "formats" / "node_modules" / "kaitai-struct-compiler"
    if node is None or not compiler.is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI must install node and `npm ci --prefix formats`")
        pytest.skip("node or formats/node_modules missing: run `npm ci --prefix formats`")
    done = subprocess.run([node, str(REPO / "formats" / "compile.js"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_ksy_has_a_generated_module() -> None:
    for ksy in (REPO / "formats").glob("*.ksy"):
        assert (REPO / "dumptriage" / "formats" / f"{ksy.stem}.py").is_file(), ksy.name
