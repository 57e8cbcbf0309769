"""The story case end to end: the dump and its VM's host files give the known cause first."""

from __future__ import annotations

from pathlib import Path

import pytest

from dumptriage import analyze
from dumptriage.cli import main
from dumptriage.knowledge.facts import build_facts
from dumptriage.knowledge.rulebook import fact_catalogue

STORY = Path(__file__).resolve().parents[2] / "samples" / "win7-x86-clock-watchdog"
DUMP = STORY / "MEMORY.DMP"
FILES = [STORY / "vm113.xml", STORY / "qemu-vm113.log"]


@pytest.mark.parametrize("context", [FILES, [STORY]], ids=["xml+log", "folder"])
def test_story_first_finding_is_the_missing_enlightenments(context: list[Path]) -> None:
    report = analyze(DUMP, context=context)
    first = report.findings[0]
    assert first.rule == "KVM-0101-RELAXED" and first.confidence == "established"
    evidence = {e.fact: e.value for e in first.evidence}
    assert evidence == {"host.vcpus": "2", "host.hyperv.relaxed": "false"}
    fixes = dict(first.fixes)
    # libvirt 1.3.1 / QEMU 2.5 (qemu-vm113.log line 1): no synic or stimer in the fix.
    assert "<relaxed state='on'/>" in fixes["libvirt"]
    assert "<spinlocks state='on' retries='8191'/>" in fixes["libvirt"]
    assert "hypervclock" in fixes["libvirt"] and "<stimer" not in fixes["libvirt"]
    assert any("topology" in note for note in first.does_not_help)
    rules = [f.rule for f in report.findings]
    assert "KVM-CPU-FEATURES-DROPPED" in rules and "GEN-THIRD-PARTY-ON-STACK" in rules
    ruled_out = {r.rule for r in report.ruled_out}
    assert "KVM-0101-PROXMOX-OSTYPE" in ruled_out


def test_the_dump_alone_says_which_input_would_decide() -> None:
    report = analyze(DUMP)
    assert [f.rule for f in report.findings] == ["GEN-THIRD-PARTY-ON-STACK"]
    waiting = {n.rule: n.needs for n in report.not_evaluated}
    assert waiting["KVM-0101-RELAXED"][0].startswith("host.vcpus: the VM's configuration")


def test_facts_of_the_story_are_documented_and_typed() -> None:
    report = analyze(DUMP, context=FILES)
    facts = build_facts(report.to_dict())
    documented = set(fact_catalogue()["facts"])
    assert set(facts.names()) <= documented, set(facts.names()) - documented
    values = facts.as_dict()
    assert values["bugcheck.code"] == 0x101 and values["bugcheck.arg4"] == 1
    assert values["cpus.hung"] == 1 and values["os.build"] == 7601
    assert values["host.qemu_version"] == "2.5.0" and values["host.libvirt_version"] == "1.3.1"
    assert values["host.hyperv.mode"] == "none" and values["host.kvm_hidden"] is False
    assert values["culprit.module"] == "qutmdrv.sys"


def test_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["analyze", str(DUMP), *[f"--context={f}" for f in FILES]]
    assert main([*args, "--fail-on", "established"]) == 1
    assert main(["analyze", str(DUMP), "--fail-on", "established"]) == 0
    assert main(["analyze", str(DUMP), "--fail-on", "anecdotal"]) == 1
    out = capsys.readouterr().out
    assert "Findings (most likely first)" in out and "Not evaluated" in out
