"""Every libvirt test pair in shared/corpus/libvirt: the domain XML and the QEMU argv
libvirt generated for it must give the same VmConfig on the fields a rule reads.

A difference is a failure. The few places where libvirt's XML and its argv legitimately
differ are documented facts (corpus MANIFEST.md "Caveats"), each handled below with the
reason beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_opts import split_command
from dumptriage.model.host import VmConfig
from tests.conftest import shared
from tests.context import shape

CORPUS = shared("corpus/libvirt")


def _pairs() -> list[tuple[str, Path, Path]]:
    pairs = []
    for args in sorted(CORPUS.rglob("*.x86_64-latest.args")):
        name = args.name.removesuffix(".x86_64-latest.args")
        xml = next((p for p in (args.with_name(f"{name}.xml"),
                                args.with_name(f"{name}.x86_64-latest.xml")) if p.exists()),
                   None)
        if xml is None and name == "kvm-features-off":
            # Upstream input XML is not in the corpus; the fork's kvm-features-off.xml is
            # the same test input (MANIFEST: "semantic match").
            xml = CORPUS / "fork-aharivel" / "kvm-features-off.xml"
        if xml is None:
            # kvm-features.x86_64-latest.args (upstream, no rapl) has no input XML here:
            # the MANIFEST lists it as UNPAIRED; its fork twin is tested instead.
            assert name == "kvm-features" and args.parent == CORPUS, args
            continue
        pairs.append((str(args.relative_to(CORPUS)), xml, args))
    return pairs


PAIRS = _pairs()


def load(xml: Path, args: Path) -> tuple[VmConfig, VmConfig]:
    from_xml = parse_domain_xml(xml.read_bytes(), xml.name)
    from_args = parse_argv(split_command(args.read_text()), args.name)
    return from_xml, from_args


def test_corpus_has_all_pairs() -> None:
    # MANIFEST.md: "Pairs (XML -> args), 25 in all" (24 upstream + the fork's
    # kvm-features); kvm-features-off is the 26th, paired with the fork's input XML.
    assert len(PAIRS) == 26


@pytest.mark.parametrize(("name", "xml", "args"), PAIRS, ids=[p[0] for p in PAIRS])
def test_pair_agrees(name: str, xml: Path, args: Path) -> None:
    x, a = load(xml, args)
    assert x.cpu is not None and a.cpu is not None
    host_model = x.cpu.mode == "host-model"
    if host_model:
        # libvirt expands host-model into a named model at start-up; the model comes from
        # the argv only (MANIFEST caveat: EPYC-Turin vs Haswell depending on the commit).
        assert a.cpu.mode == "custom" and a.cpu.model
        xf = shape.cpu_features(x)
        af = shape.cpu_features(a)
        assert {k: af.get(k) for k in xf} == xf
    else:
        assert (x.cpu.mode, x.cpu.model) == (a.cpu.mode, a.cpu.model)
        xf = {k: v for k, v in x.cpu.features.items() if v != "optional"}
        assert shape.cpu_features(x) == {k: v for k, v in shape.cpu_features(a).items()
                                         if k in xf}
        assert set(x.cpu.features) == set(a.cpu.features)
    assert shape.topology(x) == shape.topology(a)
    assert x.max_vcpus == a.max_vcpus
    if name != "cpu-hotplug-startup.x86_64-latest.args":
        assert x.vcpus == a.vcpus
    else:
        # libvirt puts only the non-hotpluggable vCPUs in -smp and adds the other enabled
        # ones over QMP after start (MANIFEST caveat): current=3, -smp 1.
        assert (x.vcpus, a.vcpus) == (3, 1)
    _hyperv_agrees(x, a)
    _timers_agree(name, x, a)
    assert shape.kvm(x) == shape.kvm(a)
    assert shape.devices(x) == shape.devices(a)
    assert x.hypervisor == a.hypervisor
    assert x.machine == a.machine
    assert x.uuid == a.uuid


def _hyperv_agrees(x: VmConfig, a: VmConfig) -> None:
    xon, aon = shape.hyperv_on(x), shape.hyperv_on(a)
    if shape.hyperv_mode(x) == "host-model":
        # <hyperv mode='host-model'> lists only overrides; libvirt expands it to every
        # feature the host supports (hyperv-host-model pair). Listed 'on' features keep
        # their values, listed 'off' ones stay off.
        assert x.hyperv is not None
        assert {k: aon.get(k) for k in xon} == xon
        off = [k for k, f in x.hyperv.features.items() if f.state == "off"]
        assert not [k for k in off if k in aon]
        return
    assert shape.hyperv_mode(x) == shape.hyperv_mode(a)
    assert xon == aon


def _timers_agree(name: str, x: VmConfig, a: VmConfig) -> None:
    xt = shape.timers(x)
    if name.startswith("clock-catchup"):
        # pit/hpet tickpolicy='catchup' produce no argv (MANIFEST caveat); only the rtc's
        # driftfix=slew shows.
        xt = {k: v for k, v in xt.items() if k == "rtc"}
    at = shape.timers(a)
    if shape.hyperv_mode(x) == "host-model":
        # the host-model expansion includes hv-time (hyperv-host-model argv), which is
        # the hypervclock timer although the XML has no <timer>.
        assert at.pop("hypervclock") == (True, None, None)
    assert xt == at
    offset_x = None if x.clock is None else x.clock.offset
    offset_a = None if a.clock is None else a.clock.offset
    assert offset_x == offset_a


def test_hyperv_pair_values() -> None:
    # Oracle: corpus hyperv.x86_64-latest.args, "-cpu 'qemu64,hv-relaxed=on,...,
    # hv-spinlocks=0x2fff,...,hv-vendor-id=KVM Hv,...'" and hyperv.xml retries='12287'.
    x, a = load(CORPUS / "hyperv.xml", CORPUS / "hyperv.x86_64-latest.args")
    assert shape.hyperv_on(a)["spinlocks"] == 0x2FFF == 12287
    assert shape.hyperv_on(x)["vendor-id"] == "KVM Hv"
    assert sorted(shape.hyperv_on(a)) == sorted([
        "relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset",
        "vendor-id", "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic",
        "emsr-bitmap"])


def test_panic_hyperv_is_hv_crash() -> None:
    # Oracle: hyperv-panic pair: <panic model='hyperv'/> -> "-cpu qemu64,hv-crash".
    x, a = load(CORPUS / "hyperv-panic.x86_64-latest.xml",
                CORPUS / "hyperv-panic.x86_64-latest.args")
    assert shape.hyperv_on(x) == shape.hyperv_on(a) == {"crash": None}
    assert x.devices is not None and x.devices.panic == ("hyperv",)


def test_passthrough_mode() -> None:
    x, a = load(CORPUS / "hyperv-passthrough.x86_64-latest.xml",
                CORPUS / "hyperv-passthrough.x86_64-latest.args")
    assert x.hyperv is not None and a.hyperv is not None
    assert x.hyperv.mode == a.hyperv.mode == "passthrough"


def test_cpu_exact2_policies() -> None:
    # cpu-exact2.xml: require/optional/force/disable/forbid; argv core2duo,ds=on,...,wdt=off
    x, a = load(CORPUS / "cpu-exact2.xml", CORPUS / "cpu-exact2.x86_64-latest.args")
    assert x.cpu is not None and a.cpu is not None
    assert x.cpu.features["ds-cpl"] == "require"
    assert x.cpu.features["wdt"] == "forbid"
    assert x.cpu.features["tm"] == "optional"
    assert a.cpu.features["lahf-lm"] == "on"
    assert a.cpu.features["nx"] == "off"


def test_topology_values() -> None:
    # Oracle: cpu-topology2 argv "-smp 6,sockets=1,dies=1,clusters=1,cores=2,threads=3".
    x, a = load(CORPUS / "cpu-topology2.xml", CORPUS / "cpu-topology2.x86_64-latest.args")
    assert a.topology is not None and (a.topology.sockets, a.topology.cores,
                                       a.topology.threads) == (1, 2, 3)
    assert x.topology == a.topology


def test_tsc_frequency() -> None:
    # Oracle: cpu-tsc-frequency argv "...,invtsc=on,tsc-frequency=4567890000".
    x, a = load(CORPUS / "cpu-tsc-frequency.xml",
                CORPUS / "cpu-tsc-frequency.x86_64-latest.args")
    assert shape.timers(x)["tsc"] == shape.timers(a)["tsc"] == (None, None, 4567890000)


def test_tuning_elements() -> None:
    # Examples of libvirt's formatdomain.rst ("CPU Tuning", "NUMA Node Tuning",
    # "IOThreads Allocation").
    from dumptriage.context.libvirt_xml import parse_domain_xml
    from dumptriage.render.host_text import render_text

    xml = """<domain type='kvm'><name>t</name><vcpu>4</vcpu><iothreads>4</iothreads>
  <cputune><vcpupin vcpu="0" cpuset="1-4,^2"/><emulatorpin cpuset="1-3"/></cputune>
  <numatune><memory mode="interleave" nodeset="1-4,^3"/></numatune></domain>"""
    c = parse_domain_xml(xml, "t.xml")
    assert (c.iothreads, c.emulator_pinning) == (4, "1-3")
    assert c.numatune is not None
    assert (c.numatune.mode, c.numatune.nodeset) == ("interleave", "1-4,^3")
    assert dict(c.vcpu_pinning) == {0: "1-4,^2"}
    assert c.to_dict()["numatune"] == {"mode": "interleave", "nodeset": "1-4,^3",
                                       "placement": None}
    assert ("Tuning      iothreads 4; emulator pinned to 1-3; memory interleave on NUMA "
            "nodes 1-4,^3") in render_text(c)
    # <memory> without mode: libvirt's default is strict.
    auto = parse_domain_xml("<domain type='kvm'><numatune><memory placement='auto'/>"
                            "</numatune></domain>", "a.xml")
    assert auto.numatune is not None and (auto.numatune.mode, auto.numatune.placement) == (
        "strict", "auto")
    bare = parse_domain_xml("<domain type='kvm'/>", "b.xml")
    assert (bare.iothreads, bare.emulator_pinning, bare.numatune) == (None, None, None)
