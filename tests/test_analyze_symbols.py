"""`analyze --symbols`: frames named from a real symbol store, and no cost without it.

Oracle: rizin's symbolised frames of the real minidump (shared/corpus/dumps/
triage_x64.expected.json, amdppm frames, offsets there in decimal) and Microsoft's
amdppm.pdb in shared/corpus/symbols.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dumptriage import analyze
from dumptriage.cli import main
from tests.conftest import shared

DUMP = shared("corpus/dumps/triage_x64.dmp")
STORE = shared("corpus/symbols")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lookup caches go to $XDG_CACHE_HOME/dumptriage/sym: never the user's, never the corpus.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_cli_symbols_names_the_real_minidump_frames(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--json", str(DUMP), "--symbols", str(STORE)]) == 0
    report = json.loads(capsys.readouterr().out)
    named = [f["symbol"] for f in report["stack"] if f.get("symbol_source") == "pdb"]
    assert "amdppm!WriteIoMemRawEx+0x70" in named
    assert "amdppm!InitAcpiCpc+0x317" in named


def test_environment_symbol_path_is_honoured(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_NT_SYMBOL_PATH", str(STORE))
    assert main(["analyze", "--json", str(DUMP)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any(f.get("symbol_source") == "pdb" for f in report["stack"])


def test_without_symbols_nothing_is_named_from_pdbs_and_symbolic_is_not_imported() -> None:
    report = analyze(DUMP).to_dict()
    assert not any("symbol_source" in f for f in report["stack"])
    code = ("import sys; from dumptriage import analyze; "
            f"analyze({str(DUMP)!r}); "
            "print('symbolic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_a_server_only_in_the_environment_is_not_contacted(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    # Port 9 on loopback: nothing listens, so a request fails at once (no internet used).
    path = f"srv*{tmp_path / 'sym'}*http://127.0.0.1:9/symbols"
    monkeypatch.setenv("_NT_SYMBOL_PATH", path)
    assert main(["analyze", "--json", str(DUMP)]) == 0
    from_env = json.loads(capsys.readouterr().out)
    assert "symbol_download_failed" not in {a["code"] for a in from_env["anomalies"]}
    monkeypatch.delenv("_NT_SYMBOL_PATH")
    assert main(["analyze", "--json", str(DUMP), "--symbols", path]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert "symbol_download_failed" in {a["code"] for a in asked["anomalies"]}
