"""Every Proxmox cfg2cmd pair in shared/corpus/proxmox: the VM config, with the settings
Proxmox derives from ostype/machine/bios, must give the same VmConfig as the command line
qemu-server generated for it.

The upstream harness (src/test/run_config2command_tests.pl) mocks the host: an Intel CPU
unless a ``# HOST_CPU_VENDOR:`` line says otherwise (win11-host-11.0+pve2 gets hv_evmcs,
its AMD twin does not), and a QEMU new enough for the win11 -cet-ibt/-cet-ss rule
(every win11 .cmd has them), so QEMU 11.0 is passed here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dumptriage.context.proxmox import parse_proxmox_conf
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_opts import split_command
from dumptriage.model.host import VmConfig
from tests.conftest import shared
from tests.context import shape

CORPUS = shared("corpus/proxmox")
PAIRS = sorted(p for p in CORPUS.glob("*.conf") if p.with_name(p.name + ".cmd").exists())
# Custom CPU models live in /etc/pve/virtual-guest/cpu-models.conf (mocked by the
# harness, not in the corpus): the VM config names "custom-qemu64" while the command
# line has the model it resolves to (athlon) and its hv-vendor-id (testvend).
CUSTOM_MODEL = {"custom-cpu-model.conf", "custom-cpu-model-host-phys-bits.conf",
                "custom-cpu-model-defaults.conf"}


def load(conf: Path) -> tuple[VmConfig, VmConfig]:
    text = conf.read_text()
    vendor = re.search(r"^# HOST_CPU_VENDOR: (\S+)", text, re.M)
    from_conf = parse_proxmox_conf(text, conf.name,
                                   host_cpu_vendor=vendor[1] if vendor else "GenuineIntel",
                                   qemu_version="11.0.0")
    cmd = conf.with_name(conf.name + ".cmd")
    return from_conf, parse_argv(split_command(cmd.read_text()), cmd.name)


def test_corpus_pairs() -> None:
    # MANIFEST.md: 31 files; every .conf but ostype-usb13-error.conf (an error test) has
    # its .cmd.
    assert len(PAIRS) == 15


@pytest.mark.parametrize("conf", PAIRS, ids=[p.name for p in PAIRS])
def test_pair_agrees(conf: Path) -> None:
    c, a = load(conf)
    assert c.cpu is not None and a.cpu is not None
    if conf.name in CUSTOM_MODEL:
        assert c.cpu.model is not None and c.cpu.model.startswith("custom-")
        assert any(n.code == "custom-cpu-model" for n in c.notes)
    else:
        assert (c.cpu.mode, c.cpu.model) == (a.cpu.mode, a.cpu.model)
        assert shape.cpu_features(c) == shape.cpu_features(a)
    assert shape.topology(c) == shape.topology(a)
    assert (c.vcpus, c.max_vcpus) == (a.vcpus, a.max_vcpus)
    con, aon = shape.hyperv_on(c), shape.hyperv_on(a)
    if conf.name in CUSTOM_MODEL:
        aon.pop("vendor-id", None)
    assert con == aon
    assert shape.timers(c) == shape.timers(a)
    assert (c.clock and c.clock.offset) == (a.clock and a.clock.offset)
    assert (c.clock and c.clock.start) == (a.clock and a.clock.start)
    assert shape.kvm(c) == shape.kvm(a)
    assert c.memory_kib == a.memory_kib
    assert c.uuid == a.uuid
    assert shape.devices(c)["balloon"] == shape.devices(a)["balloon"]
    assert shape.devices(c)["nics"] == shape.devices(a)["nics"]
    if conf.name != "win11-amd-host-11.0+pve2.conf":
        assert c.machine == a.machine
    else:
        # qemu-server writes pc-q35-11.0+pve0 for the AMD host: the +pve2 revision only
        # carries the Intel-only hv-evmcs change (both .cmd files show it).
        assert (c.machine, a.machine) == ("pc-q35-11.0+pve2", "pc-q35-11.0+pve0")


def test_win10_enlightenments() -> None:
    # Oracle: spice-win.conf.cmd "-cpu 'kvm64,enforce,hv_ipi,hv_relaxed,hv_reset,
    # hv_runtime,hv_spinlocks=0x1fff,hv_stimer,hv_synic,hv_time,hv_vapic,hv_vpindex,..."
    c, _ = load(CORPUS / "spice-win.conf")
    assert shape.hyperv_on(c) == {
        "ipi": None, "relaxed": None, "reset": None, "runtime": None, "spinlocks": 0x1FFF,
        "stimer": None, "synic": None, "time": None, "vapic": None, "vpindex": None}
    assert c.guest_os_hint == "win10"


def test_evmcs_only_on_intel() -> None:
    intel, _ = load(CORPUS / "win11-host-11.0+pve2.conf")
    amd, _ = load(CORPUS / "win11-amd-host-11.0+pve2.conf")
    assert "evmcs" in shape.hyperv_on(intel)
    assert "evmcs" not in shape.hyperv_on(amd)


def test_evmcs_unknown_vendor_is_a_note() -> None:
    text = (CORPUS / "win11-host-11.0+pve2.conf").read_text()
    c = parse_proxmox_conf(text, "x.conf")
    assert "evmcs" not in shape.hyperv_on(c)
    assert [n.code for n in c.notes] == ["needs-host-fact"]


def test_wrong_ostype_gets_nothing() -> None:
    # kvm-causes.md 2.2: 'other'/'l26' get no enlightenments.
    c = parse_proxmox_conf("ostype: l26\ncores: 2\n", "x.conf")
    assert c.hyperv is None


def test_win7_ovmf_gets_nothing() -> None:
    # CPUConfig.pm: no enlightenments for Windows < 8 with OVMF (commit 4317f69f).
    c = parse_proxmox_conf("ostype: win7\nbios: ovmf\n", "x.conf")
    assert c.hyperv is None


def test_gpu_passthrough_hides_kvm() -> None:
    # bd92244c: x-vga=1 adds kvm=off and hv_vendor_id=proxmox.
    c = parse_proxmox_conf("ostype: win10\nhostpci0: 01:00.0,x-vga=1\n", "x.conf")
    assert c.kvm_hidden is True
    assert shape.hyperv_on(c)["vendor-id"] == "proxmox"
    assert c.devices is not None and c.devices.hostdev == ("pci:0000:01:00.0",)


def test_args_override_cpu() -> None:
    c = parse_proxmox_conf("ostype: win10\nargs: -cpu host,hv_relaxed\n", "x.conf")
    assert c.cpu is not None and c.cpu.mode == "host-passthrough"
    assert shape.hyperv_on(c) == {"relaxed": None}


# The custom model of Proxmox's config2command test harness, as its custom-cpu-model.conf.cmd
# shows it resolved: "-cpu 'athlon,+aes,+avx,...,hv_vendor_id=testvend,...,-kvm_pv_unhalt,
# ...,phys-bits=40'" for "cpu: custom-qemu64,flags=+virt-ssbd".
CPU_MODELS = """cpu-model: qemu64
    flags +aes;+avx;-kvm_pv_unhalt
    hv-vendor-id testvend
    phys-bits 40
    reported-model athlon

cpu-model: alldefault
"""


def test_custom_cpu_model_resolved(tmp_path: Path, corpus: Path) -> None:
    from dumptriage.context import load_context

    models = tmp_path / "cpu-models.conf"
    models.write_text(CPU_MODELS)
    ctx = load_context([corpus / "proxmox/custom-cpu-model.conf", models])
    c = ctx.vms["customcpu"]
    assert c.cpu is not None and (c.cpu.mode, c.cpu.model) == ("custom", "athlon")
    assert {k: c.cpu.features[k] for k in ("aes", "avx", "virt-ssbd")} == {
        "aes": "on", "avx": "on", "virt-ssbd": "on"}
    assert c.kvm_features["pv-unhalt"] == "off"
    assert shape.hyperv_on(c)["vendor-id"] == "testvend"
    assert c.sources[-1] == str(models)
    assert [n.detail for n in c.notes if n.code == "custom-cpu-model"] == [
        "custom-qemu64: reported-model athlon, flags +aes;+avx;-kvm_pv_unhalt, "
        "hv-vendor-id testvend"]
    # The .cmd Proxmox generated agrees on model, flags and vendor id.
    cmd = (corpus / "proxmox/custom-cpu-model.conf.cmd").read_text()
    assert "-cpu 'athlon,+aes,+avx," in cmd and "hv_vendor_id=testvend" in cmd
    assert "-kvm_pv_unhalt" in cmd and "+virt-ssbd" in cmd
