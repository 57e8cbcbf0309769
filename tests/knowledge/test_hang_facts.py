"""Facts of a hung guest's vCPUs (report.vcpus) and the hang rules they decide."""

from __future__ import annotations

from typing import Any

from dumptriage.knowledge.engine import evaluate_rules
from dumptriage.knowledge.facts import build_facts
from dumptriage.knowledge.rulebook import builtin_rules, fact_catalogue

MODULES = [{"name": "ntoskrnl.exe", "class": "inbox"}, {"name": "netkvm.sys", "class": "virtio"}]


def _vcpu(index: int, state: str, if_on: bool, module: str = "ntoskrnl.exe") -> dict[str, Any]:
    return {"index": index, "state": state, "if": if_on, "module": module, "offset": "0x1a2b",
            "rip": "0xfffff80000001a2b"}


def _report(vcpus: list[dict[str, Any]], host: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"source": {"path": "vm.core", "kind": "vmcore"}, "bugcheck": None,
            "dump": None, "modules": MODULES, "stack": [], "vcpus": vcpus, "host": host}


def _found(report: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    done = evaluate_rules(list(builtin_rules()), build_facts(report),
                          fact_catalogue()["inputs"])
    return ([f.rule for f in done.findings], [n.rule for n in done.not_evaluated],
            [r.rule for r in done.ruled_out])


def test_a_driver_spinning_with_interrupts_off_while_the_kernel_waits() -> None:
    report = _report([_vcpu(0, "spinning", True), _vcpu(1, "spinning", False, "netkvm.sys"),
                      _vcpu(2, "spinning", True)])
    facts = build_facts(report)
    assert facts.get("vcpus.count").value == 3  # type: ignore[union-attr]
    assert facts.get("vcpus.stuck_third_party").value == ["netkvm.sys"]  # type: ignore[union-attr]
    assert "vCPU 1 (spinning, IF=0, RIP netkvm.sys+0x1a2b)" in facts.get(  # type: ignore[union-attr]
        "vcpus.stuck_third_party").source
    assert facts.get("vcpus.waiting").value == [0, 2]  # type: ignore[union-attr]
    findings, waiting, excluded = _found(report)
    assert findings == ["KVM-HANG-DRIVER-IF-OFF"]
    # Without host files, the host-side hang rules say what would decide them.
    assert {"KVM-HANG-SPIN-NO-HV-SPINLOCKS", "KVM-HANG-SPIN-OVERCOMMIT",
            "KVM-HANG-STORAGE-PAUSED"} <= set(waiting) | set(excluded)
    assert "KVM-HANG-ALL-IDLE" in excluded
    # No crash-dump rule speaks about a hang snapshot.
    assert not any(rule.startswith(("KVM-0101", "GEN-")) for rule in findings + waiting)


def test_all_idle_guest_and_a_paused_disk() -> None:
    idle = [_vcpu(0, "idle", True), _vcpu(1, "idle", True)]
    findings, _, _ = _found(_report(idle))
    assert findings == ["KVM-HANG-ALL-IDLE"]
    host = {"source": ["vm.log"], "events": [{"kind": "io-error", "detail": "block I/O error",
                                              "source": "vm.log", "line": 12}]}
    findings, _, _ = _found(_report(idle, host))
    assert findings == ["KVM-HANG-STORAGE-PAUSED", "KVM-HANG-ALL-IDLE"]


def test_a_dead_vcpu_and_a_spinning_inbox_kernel_are_not_blamed_on_a_driver() -> None:
    report = _report([_vcpu(0, "idle", False), _vcpu(1, "spinning", False)])
    facts = build_facts(report)
    assert facts.get("vcpus.halted_if_off").value == 1  # type: ignore[union-attr]
    assert facts.get("vcpus.stuck_third_party").value == []  # type: ignore[union-attr]
    findings, _, _ = _found(report)
    assert "KVM-HANG-DEAD-VCPU" in findings and "KVM-HANG-DRIVER-IF-OFF" not in findings


def test_a_crash_dump_has_no_vcpu_facts_and_no_hang_rule_applies() -> None:
    report = _report([])
    report["bugcheck"] = {"code": 0x101, "name": "CLOCK_WATCHDOG_TIMEOUT", "args": []}
    assert build_facts(report).get("vcpus.count") is None
    findings, waiting, excluded = _found(report)
    assert not any("HANG" in rule for rule in findings + waiting + excluded)
