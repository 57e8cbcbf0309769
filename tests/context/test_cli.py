"""Golden outputs of `dumptriage context` / `collect` (text, JSON, --help, bad input).

Run through click's CliRunner on a throwaway group (the real group lives in cli.py).
Regenerate with DUMPTRIAGE_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from dumptriage.cli_context import collect_command, context_command
from tests.conftest import cwd_for, shared

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "context"
SHARED = shared()
UPDATE = os.environ.get("DUMPTRIAGE_UPDATE_GOLDEN") == "1"


def run(*args: str) -> Result:
    group = click.Group("dumptriage")
    group.add_command(context_command)
    group.add_command(collect_command)
    return CliRunner().invoke(group, list(args), prog_name="dumptriage")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with DUMPTRIAGE_UPDATE_GOLDEN=1"
    assert text == path.read_text()


CASES = {
    "story-log.txt": ["context", "story/qemu-vm113.log", "story/libvirtd.log"],
    "story-ps.json": ["context", "--json", "story/ps-vm84-after-fix.txt"],
    "libvirt-hyperv.txt": ["context", "corpus/libvirt/hyperv.xml"],
    "libvirt-hyperv.json": ["context", "--json", "corpus/libvirt/hyperv.xml"],
    "proxmox-spice-win.txt": ["context", "corpus/proxmox/spice-win.conf"],
    "context-help.txt": ["context", "--help"],
    "collect-help.txt": ["collect", "--help"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(cwd_for(CASES[name]))
    result = run(*CASES[name])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    check_golden(name, result.stdout)


@pytest.mark.parametrize(("args", "message"), [
    (["context", "/nonexistent/domain.xml"],
     "dumptriage: error: /nonexistent/domain.xml: no such file or directory\n"),
    (["context", "story/windbg-analyze.txt"],
     "dumptriage: error: story/windbg-analyze.txt: not a recognised host-side file "
     "(domain XML, QEMU command line or log, libvirtd log, Proxmox config, KubeVirt YAML, "
     "host facts)\n"),
    (["context", "corpus/kubevirt/windows10.tpl.yaml"], None),
])
def test_bad_input(args: list[str], message: str | None,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(cwd_for(args))
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    if message is not None:
        assert result.stderr == message
    else:
        # An unrendered Jinja template is not YAML: the error names file and line.
        assert result.stderr.startswith(
            "dumptriage: error: corpus/kubevirt/windows10.tpl.yaml:")


def test_hostile_xml_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "evil.xml"
    f.write_text('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain>&x;</domain>')
    result = run("context", str(f))
    assert result.exit_code == 2
    assert result.stderr == (f"dumptriage: error: {f}:1: DOCTYPE declaration refused "
                             "(DTDs and entities are not allowed)\n")


def test_no_files_is_usage_error() -> None:
    result = run("context")
    assert result.exit_code == 2


def test_main_group_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    # Through the real group (dumptriage.cli.main, standalone_mode=False) as well.
    from dumptriage.cli import main

    assert main(["context", "/nonexistent/domain.xml"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "dumptriage: error: /nonexistent/domain.xml: no such file or directory\n"
    assert main(["context", str(SHARED / "corpus/libvirt/hyperv.xml")]) == 0
