"""End-to-end scenarios: a synthetic dump plus the host files an engineer would attach.

Each scenario builds its dump with dumptriage.synth in tmp_path, writes real-looking host
files beside it (scenario_inputs.py says which format each copies), runs `dumptriage
analyze --json` in-process and compares findings / not_evaluated / ruled_out with
tests/golden/scenarios/NAME.json (DUMPTRIAGE_UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest

from dumptriage.cli import main
from dumptriage.synth import presets
from dumptriage.synth.builder import write
from dumptriage.synth.spec import DumpSpec
from tests.golden_util import check_golden
from tests.knowledge.scenario_inputs import (
    HYPERV,
    HYPERV_CLOCK,
    KUBEVIRT_HANDMADE_VM,
    LIBOSINFO_METADATA,
    NOVA_METADATA,
    OVIRT_METADATA,
    domain_xml,
    netkvm_dump,
    qemu_log,
    x64_dump,
)


class Scenario(NamedTuple):
    dump: Callable[[], DumpSpec]
    files: dict[str, str]
    first: str  # the rule id of the first finding
    also: frozenset[str] = frozenset()  # other findings that must be there


PASSTHROUGH = "<cpu mode='host-passthrough' check='none' migratable='on'/>"

SCENARIOS: dict[str, Scenario] = {
    # Windows 8.1 x64 on the generic qemu64 model: no cx16/lahf_lm/3dnowprefetch.
    "0x5d-qemu64": Scenario(
        lambda: x64_dump(9600, (0x5D, (0x0F, 0x0A, 0x2A, 0x0))),
        {"win81.xml": domain_xml("win81", cpu="<cpu mode='custom' match='exact' check='none'>"
                                 "\n    <model fallback='forbid'>qemu64</model>\n  </cpu>",
                                 features=HYPERV, clock=HYPERV_CLOCK),
         "win81.log": qemu_log("win81", "8.0.0", "7.2.0", "-machine pc-q35-7.2,usb=off "
                               "-accel kvm -cpu qemu64,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff")},
        "KVM-005D-OLD-CPU-MODEL"),
    # Windows 7 x64 whose boot disk was moved from IDE to virtio-blk: no viostor.sys loaded.
    "0x7b-virtio-switch": Scenario(
        lambda: replace(presets.win7_x64_summary(),
                        bugcheck=(0x7B, (0xFFFFF880009A97E8, 0xFFFFFFFFC0000034, 0, 0))),
        {"win7.xml": domain_xml("win7", vcpus=2, machine="pc-i440fx-6.2",
                                cpu="<cpu mode='host-model' check='partial'/>",
                                features=HYPERV, clock=HYPERV_CLOCK)},
        "KVM-007B-VIRTIO-DRIVER-MISSING"),
    # A kernel #GP from an MSR KVM does not emulate: the host's dmesg names it.
    "0x3b-unhandled-msr": Scenario(
        lambda: x64_dump(19045, (0x3B, (0xC0000096, 0xFFFFF8047BC2A1B3, 0xFFFFD60F3C2FE920,
                                        0))),
        {"win10.xml": domain_xml("win10", cpu=PASSTHROUGH, features=HYPERV,
                                 clock=HYPERV_CLOCK),
         "dmesg.txt": "[ 8120.113402] kvm: vcpu 2: requested 128 ns lapic timer period limited to"
                      " 200000 ns\n"
                      "[ 8123.456789] kvm [41233]: vcpu1, guest rIP: 0xfffff8047bc2a1b3 unhandled "
                      "rdmsr: 0x1a2\n"
                      "[ 8123.456802] kvm [41233]: vcpu1, guest rIP: 0xfffff8047bc2a1c0 unhandled "
                      "wrmsr: 0x1a2 data 0x0\n"},
        "KVM-MSR-UNHANDLED"),
    # DPC watchdog with NetKVM spinning in its receive DPC (virtio-win #85's arguments).
    "0x133-netkvm": Scenario(
        netkvm_dump,
        {"vm21.xml": domain_xml("vm21", vcpus=2, machine="pc-i440fx-2.5",
                                cpu="<cpu mode='custom' match='exact'>\n    <model "
                                "fallback='allow'>SandyBridge</model>\n  </cpu>"),
         "vm21.log": qemu_log("vm21", "1.3.1", "2.5.0", "-machine pc-i440fx-2.5,accel=kvm,"
                              "usb=off -cpu SandyBridge")},
        "KVM-0133-NETKVM-DPC", frozenset({"KVM-0133-ENLIGHTENMENTS"})),
    # Server 2012 R2 hung; the operator ran `virsh inject-nmi`: a hang snapshot.
    "0x80-nmi": Scenario(
        lambda: x64_dump(9600, (0x80, (0x4F4454, 0, 0, 0)), product_type=3),
        {"sql01.xml": domain_xml("sql01", cpu=PASSTHROUGH, features=HYPERV,
                                 clock=HYPERV_CLOCK)},
        "KVM-0080-NMI-HANG-DUMP"),
    # QEMU got SIGBUS for a poisoned host page and injected an MCE (BUS_MCEERR_AR).
    "0x124-host-mce": Scenario(
        lambda: x64_dump(19045, (0x124, (0, 0xFFFFB20F3A6C1028, 0xBE000000, 0x100110))),
        {"win10.xml": domain_xml("win10", cpu=PASSTHROUGH, features=HYPERV,
                                 clock=HYPERV_CLOCK),
         "win10.log": qemu_log("win10", "9.0.0", "8.2.2", "-machine pc-q35-8.2,usb=off "
                               "-accel kvm -cpu host,migratable=on,hv-relaxed,hv-vapic",
                               "2024-03-04T11:40:02.551240Z qemu-system-x86_64: Guest MCE "
                               "Memory Error at QEMU addr 0x7f3c2a400000 and GUEST addr "
                               "0x12a400000 of type BUS_MCEERR_AR injected")},
        "KVM-0124-HOST-MCE"),
    # Server 2016 with host-passthrough, started as a migration destination (-incoming).
    "0x109-after-migration": Scenario(
        lambda: x64_dump(14393, (0x109, (0xA3A01F5A18E2C6B1, 0xB3B72BDEF5A1D4E2,
                                         0xFFFFF80000F1A000, 7)), product_type=3),
        {"app02.xml": domain_xml("app02", cpu=PASSTHROUGH, features=HYPERV,
                                 clock=HYPERV_CLOCK),
         "app02.log": qemu_log("app02", "9.0.0", "8.2.2", "-machine pc-q35-8.2,usb=off "
                               "-accel kvm -cpu host,migratable=on,hv-relaxed -incoming defer")},
        "KVM-0109-MIGRATION-HOST-CPU"),
    # An OpenStack instance from an image without os_type=windows: nova wrote no <hyperv>.
    "nova-no-ostype-0x101": Scenario(
        lambda: x64_dump(17763, (0x101, (0x0C, 0, 0xFFFFA9810A5C0180, 3)), product_type=3),
        {"instance-0000a1f3.xml": domain_xml("instance-0000a1f3", cpu=PASSTHROUGH,
                                             metadata=NOVA_METADATA,
                                             clock="<clock offset='utc'>\n    <timer "
                                             "name='pit' tickpolicy='delay'/>\n    <timer "
                                             "name='rtc' tickpolicy='catchup'/>\n    <timer "
                                             "name='hpet' present='no'/>\n  </clock>")},
        "KVM-0101-NOVA-OSTYPE", frozenset({"KVM-0101-RELAXED"})),
    # Made with virt-install 4.x: relaxed/vapic/spinlocks/hypervclock, no synic or stimer.
    "virt-install-pre5-0x101": Scenario(
        lambda: x64_dump(19045, (0x101, (0x0C, 0, 0xFFFF9B0002300180, 3))),
        {"win10.xml": domain_xml("win10", cpu=PASSTHROUGH, features=HYPERV,
                                 clock=HYPERV_CLOCK, metadata=LIBOSINFO_METADATA),
         "win10.log": qemu_log("win10", "8.0.0", "6.2.0", "-machine pc-q35-6.2,usb=off "
                               "-accel kvm -cpu host,migratable=on,hv-time=on,hv-relaxed=on,"
                               "hv-vapic=on,hv-spinlocks=0x1fff")},
        # The generic rule (plausible) leads; the stack's own explanation follows.
        "KVM-0101-NO-STIMER", frozenset({"KVM-0101-VIRTINSTALL-PRE5"})),
    # Proxmox VM created with the default `ostype: other`: no enlightenments at all.
    "proxmox-ostype-other-0x101": Scenario(
        lambda: x64_dump(19045, (0x101, (0x0C, 0, 0xFFFF9B0002100180, 2))),
        {"105.conf": "boot: order=scsi0;ide2\ncores: 4\nide2: none,media=cdrom\nmemory: 8192\n"
                     "name: win10-build\nnet0: virtio=BC:24:11:5E:A0:13,bridge=vmbr0,"
                     "firewall=1\nnuma: 0\nostype: other\nscsi0: local-lvm:vm-105-disk-0,"
                     "iothread=1,size=64G\nscsihw: virtio-scsi-single\nsmbios1: uuid="
                     "9f3c1d2e-7a4b-4c5d-8e6f-0a1b2c3d4e5f\nsockets: 1\nvmgenid: "
                     "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f\n"},
        "KVM-0101-PROXMOX-OSTYPE", frozenset({"KVM-0101-RELAXED"})),
    # Server 2019 paging read failed with STATUS_DEVICE_NOT_CONNECTED (sign-extended on x64)
    # while the host's NFS server stopped answering; the disk reports errors to the guest.
    "0x7a-storage-backend": Scenario(
        lambda: x64_dump(17763, (0x7A, (0xFFFFF6FB7DBED000, 0xFFFFFFFFC000009D, 0x32B7F860,
                                        0xFFFFF80002A1C000)), product_type=3),
        {"file01.xml": domain_xml("file01", cpu=PASSTHROUGH, features=HYPERV,
                                  clock=HYPERV_CLOCK),
         "file01.log": qemu_log("file01", "9.0.0", "8.2.2", "-machine pc-q35-8.2,usb=off "
                                "-accel kvm -cpu host,migratable=on,hv-relaxed,hv-vapic",
                                "2024-05-02T10:15:07.204113Z qemu-system-x86_64: block I/O "
                                "error in device 'libvirt-1-format': Input/output error (5)"),
         "dmesg.txt": "[ 6100.250001] nfs: server nas01 not responding, still trying\n"
                      "[ 6161.880120] nfs: server nas01 not responding, still trying\n"},
        "KVM-007A-DISK-ERROR-STATUS",
        frozenset({"KVM-STORAGE-INPAGE-IO-ERROR", "KVM-STORAGE-HOST-STALL"})),
    # Server 2003 x64 reports machine checks as 0x9C; QEMU injected one for a poisoned page
    # the host kernel had just logged.
    "0x9c-server2003-mce": Scenario(
        lambda: x64_dump(3790, (0x9C, (0, 0xFFFFF800011B4A70, 0xB2000000, 0x10011)),
                         product_type=3),
        {"legacy03.xml": domain_xml("legacy03", vcpus=2, machine="pc-i440fx-6.2",
                                    cpu="<cpu mode='custom' match='exact'>\n    <model "
                                    "fallback='allow'>Westmere</model>\n  </cpu>",
                                    disk_bus="ide"),
         "legacy03.log": qemu_log("legacy03", "9.0.0", "8.2.2", "-machine pc-i440fx-6.2,"
                                  "usb=off -accel kvm -cpu Westmere",
                                  "2024-06-11T02:31:40.118020Z qemu-system-x86_64: Guest MCE "
                                  "Memory Error at QEMU addr 0x7f81c3a00000 and GUEST addr "
                                  "0x3a00000 of type BUS_MCEERR_AR injected"),
         "dmesg.txt": "[91022.310441] Memory failure: 0x2f3a00: recovery action for dirty LRU "
                      "page: Recovered\n"},
        "KVM-0124-HOST-MCE", frozenset({"KVM-HOST-MEMORY-ERROR"})),
    # A KubeVirt VM written by hand: no features.hyperv at all.
    "kubevirt-no-hyperv-0x101": Scenario(
        lambda: x64_dump(17763, (0x101, (0x0C, 0, 0xFFFFA9810A5C0180, 2)), product_type=3),
        {"win2k19-sql.yaml": KUBEVIRT_HANDMADE_VM},
        "KVM-0101-KUBEVIRT-NO-HYPERV", frozenset({"KVM-0101-RELAXED"})),
    # oVirt VM defined as "Other OS": the engine wrote no <hyperv> and regenerates the XML.
    "ovirt-other-os-0x101": Scenario(
        lambda: x64_dump(19045, (0x101, (0x0C, 0, 0xFFFF9B0002100180, 1))),
        {"win10-desk.xml": domain_xml("win10-desk", cpu="<cpu mode='custom' match='exact'>\n"
                                      "    <model fallback='forbid'>Skylake-Client</model>\n"
                                      "  </cpu>", metadata=OVIRT_METADATA)},
        "KVM-0101-OVIRT-OS-TYPE", frozenset({"KVM-0101-RELAXED"})),
    # The crash MSR records in the QEMU log are 0x133s; the dump on disk is an older 0x101,
    # because on_crash=destroy stopped the VM before Windows could write a new one.
    "panic-record-other-crash": Scenario(
        lambda: x64_dump(20348, (0x101, (0x0C, 0, 0xFFFF9B0002100180, 1)), product_type=3),
        {"app07.xml": domain_xml("app07", cpu=PASSTHROUGH, features=HYPERV, clock=HYPERV_CLOCK,
                                 on_crash="destroy").replace(
                                     "<memballoon model='virtio'/>",
                                     "<memballoon model='virtio'/>\n    <panic model='hyperv'/>"),
         "app07.log": qemu_log("app07", "9.0.0", "8.2.2", "-machine pc-q35-8.2,usb=off -accel "
                               "kvm -cpu host,migratable=on,hv-relaxed,hv-vapic,hv-crash",
                               "2024-07-09 21:04:11.552+0000: panic hyper-v: arg1='0x133', "
                               "arg2='0x1', arg3='0x1e00', arg4='0xfffff8034c4fb320', "
                               "arg5='0x0'",
                               "2024-07-09 21:04:11.560+0000: shutting down, reason=crashed")},
        "KVM-PANIC-DESTROYS-DUMP", frozenset({"KVM-PANIC-RECORD-OTHER-CRASH"})),
}


def _analyze(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str], scenario: Scenario) -> dict[str, object]:
    monkeypatch.chdir(tmp_path)  # paths in the evidence stay relative (stable goldens)
    write(scenario.dump(), tmp_path / "MEMORY.DMP")
    for name, text in scenario.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    args = ["analyze", "MEMORY.DMP", "--json", *[f"--context={n}" for n in scenario.files]]
    code = main(args)
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    report: dict[str, object] = json.loads(out)
    return report


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str], name: str) -> None:
    scenario = SCENARIOS[name]
    report = _analyze(tmp_path, monkeypatch, capsys, scenario)
    trimmed = {key: report[key] for key in ("findings", "not_evaluated", "ruled_out")}
    check_golden(f"scenarios/{name}.json", json.dumps(trimmed, indent=2) + "\n")
    findings = trimmed["findings"]
    assert isinstance(findings, list) and findings, "no findings"
    assert findings[0]["rule"] == scenario.first
    assert scenario.also <= {f["rule"] for f in findings}
