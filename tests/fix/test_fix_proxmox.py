"""`fix` on Proxmox configs: the ostype line, and what qemu-server then derives.

The oracle is the corpus's config / `qm showcmd` pairs (qemu-server's own test cases): for
a Windows config the fix changes nothing, and the flags it announces are the hv_ flags of
the real command line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dumptriage.context.proxmox import parse_proxmox_conf
from dumptriage.errors import FixRefused
from dumptriage.fix import windows_ostype
from dumptriage.fix.proxmox import fix_proxmox_conf
from tests.conftest import shared

CORPUS = shared("corpus/proxmox")
WINDOWS = sorted(p for p in CORPUS.glob("*.conf")
                 if re.search(r"^ostype: win", p.read_text(), re.M)
                 and p.with_name(p.name + ".cmd").exists()
                 # A custom model (and its hv-vendor-id) lives in cpu-models.conf, which the
                 # corpus lacks (tests/context/test_proxmox_pairs.py, CUSTOM_MODEL).
                 and not re.search(r"^cpu: custom-", p.read_text(), re.M))
CONF = """boot: order=scsi0;ide2
cores: 4
memory: 8192
name: win10-build
numa: 0
ostype: other
scsi0: local-lvm:vm-105-disk-0,iothread=1,size=64G
sockets: 1

[before-update]
ostype: other
snaptime: 1709546400
"""


def test_ostype_other_becomes_the_guests_windows_and_snapshots_stay() -> None:
    result = fix_proxmox_conf(CONF, "105.conf", "win10")
    assert result.patched == CONF.replace("numa: 0\nostype: other", "numa: 0\nostype: win10")
    assert result.commands[0] == "qm set 105 --ostype win10"
    after = parse_proxmox_conf(result.patched, "105.conf")
    assert after.hyperv is not None and after.hyperv.is_on("relaxed")
    assert "hv_relaxed" in result.notes[0] and "hv_stimer" in result.notes[0]


def test_a_missing_ostype_line_is_inserted_in_key_order() -> None:
    conf = CONF.replace("ostype: other\n", "", 1)
    result = fix_proxmox_conf(conf, "/etc/pve/qemu-server/105.conf", "win7")
    assert "numa: 0\nostype: win7\nscsi0:" in result.patched
    assert result.patched.count("ostype") == 2  # and the snapshot's own line is untouched


def test_an_old_pinned_machine_is_named_when_synic_and_stimer_stay_out() -> None:
    conf = CONF.replace("numa: 0\n", "machine: pc-i440fx-2.11\nnuma: 0\n")
    notes = fix_proxmox_conf(conf, "105.conf", "win10").notes
    assert "hv_synic" not in notes[0] and "below 2.12" in notes[1]


def test_windows_before_8_on_ovmf_is_refused() -> None:
    with pytest.raises(FixRefused, match="before 8 on OVMF"):
        fix_proxmox_conf("bios: ovmf\nostype: other\n", "110.conf", "win7")


def test_no_windows_version_is_refused_with_what_to_give() -> None:
    with pytest.raises(FixRefused, match="give --windows"):
        fix_proxmox_conf(CONF, "105.conf", None)


@pytest.mark.parametrize(("build", "server", "ostype"), [
    (7601, False, "win7"), (9600, True, "win8"), (14393, True, "win10"), (19045, False, "win10"),
    (20348, True, "win11"), (22631, False, "win11"), (26100, True, "win11"),
    (6002, True, "w2k8"), (6002, False, "wvista"), (2600, False, None)])
def test_ostype_for_a_build(build: int, server: bool, ostype: str | None) -> None:
    assert windows_ostype(build, "ServerNt" if server else "WinNt") == ostype


def _hv_names(text: str) -> list[str]:
    return sorted(re.sub(r"=.*", "", f) for f in re.findall(r"\bhv_[a-z_]+(?:=[^,' ]+)?", text))


@pytest.mark.parametrize("conf", WINDOWS, ids=[p.name for p in WINDOWS])
def test_announced_flags_are_qemu_servers_own(conf: Path) -> None:
    text = conf.read_text()
    amd = re.search(r"^# HOST_CPU_VENDOR: AuthenticAMD", text, re.M)
    result = fix_proxmox_conf(text, conf.name, None, "amd" if amd else "intel")
    assert not result.changed
    cmd = conf.with_name(conf.name + ".cmd").read_text()
    cpu = re.search(r"-cpu '?([^' ]+)", cmd)
    assert cpu is not None
    announced = re.search(r"starts the VM with (\S+)", result.notes[0])
    assert announced is not None
    assert _hv_names(announced.group(1).replace(",", " ")) == _hv_names(cpu.group(1))
