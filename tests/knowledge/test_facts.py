"""Facts the builder derives from the report's JSON form and real host files.

Host files are the shared corpus's libvirt test pairs (domain XML + the QEMU argv libvirt
generates): both sides must give the same facts.
"""

from __future__ import annotations

from typing import Any

import pytest

from dumptriage.context.host_facts import parse_cpuinfo, parse_facts
from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.context.merge import merge
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_log import parse_qemu_log
from dumptriage.context.qemu_opts import split_command
from dumptriage.knowledge.facts import build_facts
from tests.conftest import shared

LIBVIRT = shared("corpus/libvirt")


def _facts(host: Any, **report: Any) -> dict[str, Any]:
    return build_facts({**report, "host": host.to_dict()}).as_dict()


@pytest.mark.parametrize("side", ["xml", "args"])
def test_tsc_frequency_and_invtsc_from_both_sides_of_a_libvirt_pair(side: str) -> None:
    # corpus cpu-tsc-frequency: <feature policy='require' name='invtsc'/> and
    # <timer name='tsc' frequency='4567890000'/>; libvirt's argv: invtsc=on,tsc-frequency=...
    if side == "xml":
        config = parse_domain_xml((LIBVIRT / "cpu-tsc-frequency.xml").read_bytes(), "a.xml")
    else:
        text = (LIBVIRT / "cpu-tsc-frequency.x86_64-latest.args").read_text()
        config = parse_argv(split_command(text), "a.args")
    facts = _facts(config)
    assert facts["host.tsc_frequency"] == 4567890000
    assert "invtsc" in facts["host.cpu.enabled"]


def test_no_tsc_frequency_is_zero_once_a_cpu_was_read() -> None:
    config = parse_domain_xml((LIBVIRT / "cpu-host-passthrough.x86_64-latest.xml").read_bytes(),
                              "b.xml")
    assert _facts(config)["host.tsc_frequency"] == 0
    assert "host.tsc_frequency" not in _facts(parse_facts("hostname: kvm01\n", "facts.txt"))


def test_vcpu_hotplug_from_current_below_the_maximum() -> None:
    # corpus cpu-hotplug-startup: <vcpu placement='static' current='3'>6</vcpu>.
    config = parse_domain_xml((LIBVIRT / "cpu-hotplug-startup.xml").read_bytes(), "c.xml")
    facts = _facts(config)
    assert (facts["host.vcpus"], facts["host.max_vcpus"], facts["host.vcpu_hotplug"]) == \
        (3, 6, True)
    plain = parse_domain_xml((LIBVIRT / "cpu-host-passthrough.x86_64-latest.xml").read_bytes(),
                             "d.xml")
    assert _facts(plain).get("host.vcpu_hotplug") in (False, None)


def test_host_facts_reach_the_rules() -> None:
    # VmConfig.to_dict() calls them "host_facts"; pcpus/vendor were lost before.
    cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nprocessor\t: 1\n" \
              "vendor_id\t: AuthenticAMD\n"
    bundle = merge([("cpuinfo", parse_cpuinfo(cpuinfo, "cpuinfo.txt")),
                    ("host-facts", parse_facts("hostname: kvm01\nkernel: 6.8.0-45-generic\n"
                                               "running_vcpus: 5\n", "facts.txt"))])
    facts = _facts(bundle)
    assert facts["host.pcpus"] == 2
    assert facts["host.cpu.vendor"] == "amd"
    assert facts["host.kernel"] == "6.8.0-45-generic"
    assert facts["host.vcpu_ratio"] == 2.5


LOG = """2024-07-09 20:00:01.000+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4 (x), qemu version: 8.2.2, kernel: 6.1.0-18-amd64, hostname: kvm04
2024-07-09 21:04:11.552+0000: panic hyper-v: arg1='0x133', arg2='0x1', arg3='0x1e00', arg4='0xfffff8034c4fb320', arg5='0x0'
2024-07-09 21:04:11.560+0000: shutting down, reason=crashed
2024-07-10 08:00:02.000+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4 (x), qemu version: 8.2.2, kernel: 6.1.0-18-amd64, hostname: kvm04
2024-07-10 09:14:52.101+0000: panic hyper-v: arg1='0x101', arg2='0xc', arg3='0x0', arg4='0xffff9b0002100180', arg5='0x1'
"""  # noqa: E501 - real log lines are this long


def test_panic_records_and_whether_the_dump_is_one_of_them() -> None:
    config = parse_qemu_log(LOG, "app07.log")
    other = _facts(config, bugcheck={"code": 0x7E, "args": []})
    assert other["host.panic.codes"] == [0x133, 0x101]
    assert other["host.panic.matches_dump"] is False
    same = _facts(config, bugcheck={"code": 0x101, "args": []})
    assert same["host.panic.matches_dump"] is True
    assert "host.panic.matches_dump" not in _facts(config)  # no dump: unknown


def test_known_bad_driver_versions_by_build_os_and_stop_code() -> None:
    def known(code: int, build: int, version: str) -> list[str]:
        report = {"bugcheck": {"code": code, "args": []},
                  "dump": {"os": {"build": build}, "arch": "x64"},
                  "modules": [{"name": "balloon.sys", "version": version}]}
        facts = build_facts(report).as_dict()
        bad: list[str] = facts["modules.known_bad"]
        return bad

    # virtio-win #39: balloon 0.1.96 (build 9600) gives 0x7E on every boot of 2008 R2.
    [line] = known(0x7E, 7601, "61.61.101.9600")
    assert line.startswith("balloon.sys 61.61.101.9600: 0x7E on every boot")
    assert "issues/39" in line
    assert known(0x1000007E, 7601, "61.61.101.10400")  # the _M variant, last bad build
    assert known(0x7E, 7601, "61.61.101.10500") == []  # fixed in 0.1.105
    assert known(0x7E, 9600, "61.61.101.9600") == []  # another Windows
    assert known(0x50, 7601, "61.61.101.9600") == []  # another stop code
