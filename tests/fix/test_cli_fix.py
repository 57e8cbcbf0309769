"""`dumptriage fix` on the command line: goldens for text and JSON, -o, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dumptriage.cli import main
from tests.golden_util import check_golden

REPO = Path(__file__).resolve().parents[2]
STORY = "samples/win7-x86-clock-watchdog"
SCHEMA = json.loads((REPO / "schema" / "fix-v1.schema.json").read_text())
PROXMOX = "boot: order=scsi0\ncores: 4\nmemory: 8192\nname: w10\nostype: other\nsockets: 1\n"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # paths in the output stay relative


def _run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> tuple[str, str]:
    assert main(["fix", *args]) == code
    out, err = capsys.readouterr()
    return out, err


def test_story_text(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _run(capsys, f"{STORY}/vm113.xml", "--context", f"{STORY}/qemu-vm113.log")
    assert err == ""
    check_golden("fix/story.txt", out)


def test_story_json(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(capsys, f"{STORY}/vm113.xml", "--context", f"{STORY}/qemu-vm113.log",
                  "--json")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    check_golden("fix/story.json", out)
    assert document["changed"] and document["written"] is None


def test_output_file_gets_the_patched_xml(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    target = tmp_path / "vm113-fixed.xml"
    out, _ = _run(capsys, f"{STORY}/vm113.xml", "--qemu-version", "2.5.0",
                  "--libvirt-version", "1.3.1", "-o", str(target))
    assert out.rstrip().endswith(f"written to {target}")
    patched = target.read_text()
    assert "<relaxed state='on'/>" in patched and "<synic" not in patched
    original = (REPO / STORY / "vm113.xml").read_text()
    assert patched.count("\n") == original.count("\n") + 7  # hyperv block + opened <clock>


def test_proxmox_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "105.conf"
    conf.write_text(PROXMOX)
    out, err = _run(capsys, str(conf), "--windows", "win10")
    assert err == ""
    check_golden("fix/proxmox.txt", out.replace(str(tmp_path), "TMP"))


def test_refusal_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = _run(capsys, f"{STORY}/vm113.xml", "--context", f"{STORY}/qemu-vm113.log",
                    "--add", "stimer", code=2)
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"dumptriage: error: {STORY}/vm113.xml: cannot switch on stimer: "
                          "needs QEMU 2.6; the VM's QEMU is 2.5.0")


def test_unknown_feature_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = _run(capsys, f"{STORY}/vm113.xml", "--add", "turbo", code=2)
    assert "unknown enlightenment turbo" in err and err.count("\n") == 1
    _, err = _run(capsys, "no-such.xml", code=2)
    assert "no-such.xml" in err and err.count("\n") == 1


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(capsys, "--help")
    check_golden("help/fix-help.txt", out)


def test_proxmox_ostype_from_the_dump(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    conf = tmp_path / "113.conf"
    conf.write_text(PROXMOX)
    out, _ = _run(capsys, str(conf), "--dump", f"{STORY}/MEMORY.DMP", "--json")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    # The story dump is Windows 7 SP1 (build 7601): Proxmox's ostype win7.
    assert document["changes"] == [{"feature": "ostype", "action": "set",
                                    "detail": "ostype: win7"}]
    assert document["commands"][0] == "qm set 113 --ostype win7"
