"""The story VM (shared/story): its QEMU log, the ps line after the fix, libvirtd.log."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from dumptriage.context import load_context
from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.context.libvirtd_log import parse_libvirtd_log
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_log import parse_qemu_log
from dumptriage.context.qemu_opts import split_command
from tests.conftest import SAMPLE_STORY
from tests.context import shape

STORY = SAMPLE_STORY


def test_qemu_log() -> None:
    c = parse_qemu_log((STORY / "qemu-vm113.log").read_text(), "qemu-vm113.log")
    # Oracle: line 1 "starting up libvirt version: 1.3.1, ... qemu version: 2.5.0 (...),
    # hostname: sc7"; line 2 the command line.
    assert (c.libvirt_version, c.qemu_version) == ("1.3.1", "2.5.0")
    assert c.host is not None and c.host.hostname == "sc7"
    assert c.name == "vm113"
    assert c.hypervisor == "kvm"
    assert c.machine == "pc-i440fx-xenial"
    # "-smp 2,sockets=1,cores=2,threads=1" after the topology experiment.
    assert c.vcpus == 2 and shape.topology(c) == (1, 1, 2, 1)
    assert c.cpu is not None and c.cpu.model == "SandyBridge"
    assert c.cpu.features["vmx"] == "on" and c.cpu.features["ds-cpl"] == "on"
    assert c.hyperv is None  # no enlightenments: the cause of the 0x101
    assert c.clock is not None and c.clock.offset == "localtime"
    assert c.memory_kib == 3072 * 1024
    assert shape.devices(c) == {"balloon": "virtio", "disk_buses": [
        ("ide", "cdrom"), ("virtio", "disk"), ("virtio", "disk")], "nics": ["virtio"],
        "panic": []}
    kinds = Counter(e.kind for e in c.events)
    # 15 features, each warned twice (once per vCPU) in lines 4-33: kept once per start.
    assert kinds == {"vm-start": 1, "cpu-feature-missing": 15}
    first = c.events[1]
    assert (first.detail, first.line, first.time) == ("ds (CPUID.01H:EDX bit 21)", 4, None)
    assert c.events[0].time == "2017-03-16 02:55:46.227+0000"


def test_ps_after_fix_last_cpu_wins() -> None:
    c = parse_argv(split_command((STORY / "ps-vm84-after-fix.txt").read_text()), "ps")
    # Two -cpu options: "-cpu SandyBridge,+pdpe1gb,..." then "-cpu host,hv_time,hv_relaxed,
    # hv_vapic,hv_spinlocks=0x1fff,kvm=off,hv_vendor_id=xeon"; QEMU uses the last.
    assert c.cpu is not None and (c.cpu.mode, c.cpu.model) == ("host-passthrough", None)
    assert c.cpu.features == {}
    assert shape.hyperv_on(c) == {"time": None, "relaxed": None, "vapic": None,
                                  "spinlocks": 0x1FFF, "vendor-id": "xeon"}
    assert c.kvm_hidden is True
    assert shape.timers(c)["hypervclock"] == (True, None, None)
    assert shape.topology(c) == (2, 1, 1, 1)
    assert [n.code for n in c.notes] == ["repeated-option"]
    assert c.name == "vm84"


def test_libvirtd_log() -> None:
    c = parse_libvirtd_log((STORY / "libvirtd.log").read_text(), "libvirtd.log")
    assert c.libvirt_version == "1.3.1"
    assert c.host is not None and c.host.hostname == "sc7"
    assert Counter(e.kind for e in c.events) == {
        "permission": 6, "qemu-monitor-eof": 3, "migration-failed": 3, "libvirtd-error": 4}
    eof = next(e for e in c.events if e.kind == "qemu-monitor-eof")
    assert (eof.time, eof.line) == ("2017-03-15 06:03:48.180+0000", 4)


def test_log_and_ps_of_two_vms_are_never_merged() -> None:
    ctx = load_context([STORY / "qemu-vm113.log", STORY / "ps-vm84-after-fix.txt",
                        STORY / "libvirtd.log"])
    # qemu-vm113.log line 2 "-name vm113"; ps-vm84-after-fix.txt "-name vm84".
    assert sorted(ctx.vms) == ["vm113", "vm84"]
    vm113, vm84 = ctx.vms["vm113"], ctx.vms["vm84"]
    assert vm113.cpu is not None and (vm113.cpu.mode, vm113.cpu.model) == ("custom",
                                                                           "SandyBridge")
    assert vm113.hyperv is None  # the crashed VM had no enlightenments
    assert vm84.cpu is not None and vm84.cpu.mode == "host-passthrough"
    assert shape.hyperv_on(vm84)["spinlocks"] == 0x1FFF
    assert not [n for n in vm113.notes + vm84.notes if n.code == "sources-disagree"]
    # libvirtd.log names no VM of its own; its one line about vm113's log file
    # ("Cannot open log file: '/var/log/libvirt/qemu/vm113.log'", line 19) is vm113's.
    assert len(vm113.events) == 16 + 1 and len(vm84.events) == 0
    assert ctx.shared is not None and ctx.shared.sources == (str(STORY / "libvirtd.log"),)
    assert len(ctx.shared.events) == 15
    chosen = ctx.select()
    assert (chosen.vm, chosen.others) == ("vm113", ("vm84",))
    assert chosen.reason == "most sources (1), tied with vm84: first by name"
    assert chosen.config is not None
    assert chosen.config.sources == (str(STORY / "qemu-vm113.log"),)
    codes = [n.code for n in chosen.config.notes]
    assert codes[-3:] == ["several-vms", "vm-chosen", "host-wide-sources"]
    # --vm makes the choice certain: the host-wide libvirtd.log then joins the VM.
    picked = ctx.select("vm84").config
    assert picked is not None and picked.cpu is not None
    assert picked.cpu.mode == "host-passthrough" and picked.libvirt_version == "1.3.1"
    assert len(picked.events) == 15


def test_same_vm_log_and_ps_notes_the_difference(tmp_path: Path) -> None:
    # The ps line as if it were vm113's own (same -name): one VM, two sources that disagree.
    ps = tmp_path / "ps.txt"
    ps.write_text((STORY / "ps-vm84-after-fix.txt").read_text().replace("vm84", "vm113"))
    c = shape.one_vm([STORY / "qemu-vm113.log", ps, STORY / "libvirtd.log"])
    # The live command line outranks the log's (what runs now vs. what ran at start).
    assert c.cpu is not None and c.cpu.mode == "host-passthrough"
    assert c.qemu_version == "2.5.0" and c.libvirt_version == "1.3.1"
    assert len(c.events) == 16 + 16
    assert {n.where for n in c.notes if n.code == "sources-disagree"} == {"cpu", "hyperv"}


DOMAIN = """<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vm84</name>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://microsoft.com/win/7"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>3145728</memory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='i686' machine='pc-i440fx-xenial'>hvm</type></os>
  <features><acpi/><apic/>{features}</features>
  <cpu mode='custom' match='exact'><model fallback='allow'>SandyBridge</model></cpu>
  <clock offset='localtime'/>
  <on_crash>restart</on_crash>
  {qemu}
</domain>"""


def test_story_fix_as_hyperv_xml() -> None:
    # README step 4: <hyperv><relaxed/><vapic/><spinlocks retries='4096'/></hyperv>.
    xml = DOMAIN.format(features="<hyperv><relaxed state='on'/><vapic state='on'/>"
                                 "<spinlocks state='on' retries='4096'/></hyperv>", qemu="")
    c = parse_domain_xml(xml, "vm84.xml")
    assert shape.hyperv_on(c) == {"relaxed": None, "vapic": None, "spinlocks": 4096}
    assert c.guest_os_hint == "win7"
    assert c.cpu is not None and c.cpu.model == "SandyBridge"
    assert c.on_crash == "restart"


def test_story_fix_as_qemu_commandline() -> None:
    # README step 3: the fix passed through <qemu:commandline>; QEMU sees it last.
    args = "host,hv_time,hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,kvm=off,hv_vendor_id=xeon"
    qemu = ("<qemu:commandline><qemu:arg value='-cpu'/>"
            f"<qemu:arg value='{args}'/></qemu:commandline>")
    c = parse_domain_xml(DOMAIN.format(features="", qemu=qemu), "vm84.xml")
    assert c.cpu is not None and c.cpu.mode == "host-passthrough"
    assert shape.hyperv_on(c)["relaxed"] is None and c.kvm_hidden is True
    assert shape.timers(c)["hypervclock"] == (True, None, None)
    assert "qemu-commandline" in [n.code for n in c.notes]
