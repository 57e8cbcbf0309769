"""Golden files of `dumptriage symbols` (text and JSON), run in-process via main().

Run in the shared folder with relative paths, so the output names no machine's folders.
Oracle for the keys: corpus/symbols/MANIFEST.md (amdppm.pdb/1C19FDDB...F31, the images'
TIMESTAMP+SIZE folders) and the RSDS record of the store's Wdf01000.sys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dumptriage.cli import main
from tests.conftest import SHARED, shared
from tests.golden_util import check_golden

DUMP = "corpus/dumps/triage_x64.dmp"
_NEEDED = shared(DUMP)
_STORE = shared("corpus/symbols")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not _NEEDED.exists():
        pytest.skip(f"shared data not found: {_NEEDED}")
    monkeypatch.chdir(SHARED)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("_NT_SYMBOL_PATH", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return out


def test_text(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "symbols", DUMP, "--symbols", "corpus/symbols")
    check_golden("symbols/triage_x64.txt", out)
    assert "amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF31/amdppm.pdb  here:" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "symbols", DUMP, "--symbols", "corpus/symbols", "--json")
    check_golden("symbols/triage_x64.json", out)
    data = json.loads(out)
    wdf = next(m for m in data["modules"] if m["module"] == "Wdf01000.sys")
    assert [n["present"] for n in wdf["needs"]] == [True, False]
    assert wdf["needs"][1]["urls"][0] == (
        "https://msdl.microsoft.com/download/symbols/Wdf01000.pdb/"
        "6D6E9C327875C47856AC7DA750AB1C5E1/Wdf01000.pdb")


def test_text_without_a_path_from_the_environment(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # No --symbols: _NT_SYMBOL_PATH; its server gives the URLs and is never contacted.
    monkeypatch.setenv("_NT_SYMBOL_PATH", "srv*corpus/symbols*http://127.0.0.1:9/symbols")
    out = _run(capsys, "symbols", DUMP)
    check_golden("symbols/triage_x64-env.txt", out)
    assert "http://127.0.0.1:9/symbols/Wdf01000.pdb/" in out


def test_all_modules_json_lists_every_module(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_run(capsys, "symbols", DUMP, "--all", "--json"))
    assert len(data["modules"]) > 100 and data["search_path"] is None
    assert not any(n["present"] for m in data["modules"] for n in m["needs"])


def test_unusable_dump_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.dmp"
    bad.write_bytes(b"PAGEDU64")
    assert main(["symbols", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("dumptriage: error:")
