"""Golden files for `dumptriage analyze` on a hung guest's vmcore (text and JSON).

The vmcore is a synth world (synth/hung.py) read through the test-only container of
tests/vmcore_world.py until the QEMU ELF container lands; the output is what the CLI
prints for any vmcore container.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from dumptriage.cli import main
from dumptriage.synth import DumpSpec, hung
from tests.golden_util import check_golden
from tests.vmcore_world import vmcore_opener

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schema" /
                     "report-v1.schema.json").read_text())
WORLDS: dict[str, Callable[[], DumpSpec]] = {
    "vmcore-x64": hung.hung_x64, "vmcore-x64-win7": hung.hung_x64_win7,
    "vmcore-x86-pae": hung.hung_x86_pae}


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_vmcore_text_and_json(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the report names the file as given: keep it relative
    with vmcore_opener(monkeypatch) as make:
        make(WORLDS[name](), Path("vm.core"))
        assert main(["analyze", "vm.core"]) == 0
        text, err = capsys.readouterr()
        assert err == ""
        check_golden(f"analyze/{name}.txt", text)
        assert main(["analyze", "--json", "vm.core"]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        jsonschema.validate(json.loads(out), SCHEMA)
        check_golden(f"analyze/{name}.json", out)
        assert main(["analyze", "--format", "markdown", "vm.core"]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "## vCPUs" in out
        check_golden(f"analyze/{name}.md", out)
