"""QEMU command-line details: spellings, escapes, sizes, where commands come from."""

from __future__ import annotations

import pytest

from dumptriage.context.qemu_argv import parse_argv, parse_cpu, parse_smp
from dumptriage.context.qemu_opts import size_kib, split_command, split_opts
from tests.context import shape


@pytest.mark.parametrize("prop", ["hv_relaxed", "hv-relaxed", "hv-relaxed=on", "hv_relaxed=on",
                                  "+hv-relaxed", "hv-relaxed=true", "HV_RELAXED"])
def test_relaxed_spellings(prop: str) -> None:
    hv = parse_cpu(f"qemu64,{prop}", "t").hyperv
    assert hv is not None and hv.is_on("relaxed")


@pytest.mark.parametrize("prop", ["hv_relaxed=off", "hv-relaxed=no", "-hv-relaxed"])
def test_relaxed_off(prop: str) -> None:
    hv = parse_cpu(f"qemu64,{prop}", "t").hyperv
    assert hv is not None and hv.features["relaxed"].state == "off"


def test_values_and_aliases() -> None:
    arg = parse_cpu("host,hv_spinlocks=0x1fff,hv-vendor-id=KVM Hv,hv-apicv=on,kvm=off,"
                    "hv-frobnicate", "t")
    assert arg.hyperv is not None
    assert arg.hyperv.enabled_features() == {"spinlocks": 8191, "vendor-id": "KVM Hv",
                                             "avic": None, "frobnicate": None}
    assert arg.kvm_hidden is True
    assert [n.detail for n in arg.notes] == ["-cpu hv-frobnicate"]


def test_passthrough_and_features() -> None:
    arg = parse_cpu("Skylake-Server,hv-passthrough=on,+vmx,-svm,lahf_lm=on,x2apic=off,"
                    "enforce,level=30,kvm_pv_eoi", "t")
    assert arg.hyperv is not None and arg.hyperv.mode == "passthrough"
    assert arg.cpu.features == {"vmx": "on", "svm": "off", "lahf-lm": "on", "x2apic": "off"}
    assert arg.kvm_features == {"pv-eoi": "on"}


def test_escaped_comma() -> None:
    assert split_opts("qemu64,model-id=a,,b,+vmx") == ["qemu64", "model-id=a,b", "+vmx"]


@pytest.mark.parametrize(("text", "expected"), [
    ("4", (4, 4, None)),
    ("2,sockets=1,cores=2,threads=1", (2, 2, (1, 2, 1))),
    ("cpus=1,maxcpus=6,sockets=3,dies=1,clusters=1,cores=2,threads=1", (1, 6, (3, 2, 1))),
    ("8,cores=4", (8, 8, (2, 4, 1))),
])
def test_smp(text: str, expected: tuple[int, int, tuple[int, int, int] | None]) -> None:
    cpus, maximum, topo = parse_smp(text)
    got = None if topo is None else (topo.sockets, topo.cores, topo.threads)
    assert (cpus, maximum, got) == expected


@pytest.mark.parametrize(("text", "kib"), [("3072", 3072 * 1024), ("219136k", 219136),
                                           ("4G", 4 * 1024 * 1024), ("512M", 512 * 1024)])
def test_sizes(text: str, kib: int) -> None:
    assert size_kib(text) == kib


def test_clock_options() -> None:
    c = parse_argv(["qemu-system-x86_64", "-no-hpet", "-rtc", "base=localtime,driftfix=slew",
                    "-global", "kvm-pit.lost_tick_policy=discard", "-enable-kvm"], "t")
    assert shape.timers(c) == {"hpet": (False, None, None), "rtc": (None, "catchup", None),
                               "pit": (None, "discard", None)}
    assert c.clock is not None and c.clock.offset == "localtime"
    assert c.hypervisor == "kvm"


def test_machine_merges_and_accel() -> None:
    c = parse_argv(["qemu-system-x86_64", "-machine", "pc-q35-8.2", "-machine",
                    "accel=kvm,hpet=off", "-m", "size=2G"], "t")
    assert (c.machine, c.hypervisor, c.memory_kib) == ("pc-q35-8.2", "kvm", 2 * 1024 * 1024)
    assert shape.timers(c) == {"hpet": (False, None, None)}


def test_script_with_continuations_and_env() -> None:
    script = """#!/bin/sh
exec env QEMU_AUDIO_DRV=none /usr/bin/qemu-system-x86_64 \\
  -name win10 -enable-kvm \\
  -cpu 'host,hv_relaxed' \\
  -smp 4 -drive file=/vm/w.qcow2,if=virtio,cache=none,aio=native,werror=stop
"""
    c = parse_argv(split_command(script), "run.sh")
    assert c.name == "win10"
    assert shape.hyperv_on(c) == {"relaxed": None}
    assert c.devices is not None
    disk = c.devices.disks[0]
    assert (disk.bus, disk.cache, disk.io, disk.error_policy, disk.source) == (
        "virtio", "none", "native", "stop", "/vm/w.qcow2")


def test_no_binary_means_no_command() -> None:
    assert split_command("ls -l /tmp") == []


def test_shell_split_agrees_with_shlex() -> None:
    # Oracle: shlex.split (the standard library's POSIX shell splitter) on every corpus
    # command line; ours runs in the regex engine so that a huge file costs milliseconds.
    import re
    import shlex

    from dumptriage.context.qemu_opts import shell_split
    from tests.conftest import shared

    corpus = shared("corpus")
    files = sorted(corpus.glob("**/*.args")) + sorted(corpus.glob("**/*.cmd"))
    assert len(files) > 20
    for path in files:
        text = re.sub(r"\\\r?\n", " ", path.read_text())
        assert shell_split(text) == shlex.split(text), path
    for text in ['a "b\\"c" \'d e\' f\\ g', 'x"y"z', '"a\\\\b"', "''", "-cpu 'host,+x'"]:
        assert shell_split(text) == shlex.split(text)


def test_action_panic_and_iothreads() -> None:
    # QEMU's -action (qemu-options.hx: "-action panic=pause|shutdown|exit-failure|none");
    # libvirt writes iothreads as JSON -object (corpus .args use the same JSON form).
    c = parse_argv(split_command(
        "qemu-system-x86_64 -name x -action reboot=shutdown -action panic=pause "
        "-object '{\"qom-type\":\"iothread\",\"id\":\"iothread1\"}' "
        "-object iothread,id=iothread2 -object memory-backend-ram,id=m,size=1G"), "a")
    assert c.panic_action == "pause" and c.iothreads == 2
    plain = parse_argv(split_command("qemu-system-x86_64 -name y -m 1024"), "b")
    assert (plain.panic_action, plain.iothreads) == (None, None)
