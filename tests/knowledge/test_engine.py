"""The generic engine: unknown is never false, ruled out says why, fixes follow versions."""

from __future__ import annotations

from typing import Any

from dumptriage.knowledge.conditions import describe, evaluate
from dumptriage.knowledge.engine import evaluate_rules
from dumptriage.knowledge.facts import Facts
from dumptriage.knowledge.rulebook import compile_rules, fact_catalogue

RULES = {r["id"]: r for r in compile_rules()}


def _run(rule_id: str, facts: dict[str, Any]) -> Any:
    return evaluate_rules([RULES[rule_id]], Facts.from_values(facts), fact_catalogue()["inputs"])


def test_a_missing_fact_leaves_the_rule_not_evaluated_with_the_input_that_decides_it() -> None:
    found = _run("KVM-0101-RELAXED", {"bugcheck.code": 0x101})
    assert not found.findings and not found.ruled_out
    [waiting] = found.not_evaluated
    assert waiting.needs[0].startswith("host.vcpus: the VM's configuration: the domain XML")
    assert "virsh dumpxml DOMAIN" in waiting.needs[0]


def test_ruled_out_names_the_fact_and_its_value() -> None:
    found = _run("KVM-0101-RELAXED", {"bugcheck.code": 0x101, "host.vcpus": 1,
                                      "host.hyperv.relaxed": False})
    [out] = found.ruled_out
    assert out.because == "needs host.vcpus ge 2, but it is 1 (fixture)"


def test_rules_for_other_bugchecks_stay_silent() -> None:
    found = _run("KVM-0101-RELAXED", {"bugcheck.code": 0x7B, "host.vcpus": 2,
                                      "host.hyperv.relaxed": False})
    assert found.findings == found.not_evaluated == found.ruled_out == ()


def test_fix_follows_the_vms_versions_and_platform() -> None:
    base = {"bugcheck.code": 0x101, "host.vcpus": 2, "host.hyperv.relaxed": False,
            "host.stack": "libvirt"}
    old = dict(_run("KVM-0101-RELAXED", {**base, "host.qemu_version": "2.5.0",
                                         "host.libvirt_version": "1.3.1"}).findings[0].fixes)
    new = dict(_run("KVM-0101-RELAXED", {**base, "host.qemu_version": "2.6.0",
                                         "host.libvirt_version": "1.3.3"}).findings[0].fixes)
    # QEMU 2.5 has no synic/stimer (kvm-causes.md section 0): the old fix leaves them out.
    assert "<relaxed state='on'/>" in old["libvirt"] and "retries='8191'" in old["libvirt"]
    assert "<synic" not in old["libvirt"] and "<stimer" not in old["libvirt"]
    assert "<synic state='on'/>" in new["libvirt"] and "<stimer state='on'/>" in new["libvirt"]
    # Only the inputs' platform (and the host-side advice) is shown.
    assert set(old) == {"libvirt", "host"}
    unknown = dict(_run("KVM-0101-RELAXED", {**base, "host.stack": "qemu"}).findings[0].fixes)
    assert "hv_synic" not in unknown["qemu"]  # no version known: the safe variant


def test_conditions() -> None:
    assert evaluate({"fact": "x", "version_ge": "2.6"}, "2.5.0 (Debian 1:2.5+dfsg-5ubuntu10)") \
        is False
    assert evaluate({"fact": "x", "version_ge": "2.6"}, "8.2.2") is True
    assert evaluate({"fact": "x", "matches": "^win"}, "win10") is True
    assert evaluate({"fact": "x", "any_of": ["a", "b"]}, ["c", "b"]) is True
    assert evaluate({"fact": "x", "none_of": ["a"]}, ["c"]) is True
    assert evaluate({"fact": "x", "equals": False}, None) is None
    assert evaluate({"fact": "x", "exists": False}, None) is True
    spec = {"module": "viostor.sys", "build_ge": 17400}
    assert evaluate({"fact": "m", "version_of": spec}, {"viostor.sys": "61.77.104.18500"})
    assert not evaluate({"fact": "m", "version_of": spec}, {"viostor.sys": "61.77.104.17300"})
    assert not evaluate({"fact": "m", "version_of": spec}, {"netkvm.sys": "61.77.104.18500"})
    assert describe({"fact": "bugcheck.arg1", "equals": 0x91}) == "bugcheck.arg1 equals 0x91"
    assert describe({"fact": "os.build", "ge": 26100}) == "os.build ge 26100"
