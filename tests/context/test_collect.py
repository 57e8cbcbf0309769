"""`dumptriage collect` against libvirt's own test driver (virsh -c test:///default).

No mocks: virsh really runs. The test driver has one running domain, "test" (2 vCPUs,
i686, a virtio disk, 8 GiB), and no domcapabilities, which must become a note.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from dumptriage.context.collect import CollectResult, collect, local_host_facts
from dumptriage.errors import ContextParseError
from tests.context import shape

URI = "test:///default"
needs_virsh = pytest.mark.skipif(shutil.which("virsh") is None,
                                 reason="virsh not installed (Debian package libvirt-clients)")


@needs_virsh
def test_collect_test_driver(tmp_path: Path) -> None:
    out = tmp_path / "test.tar.gz"
    result = collect("test", out, uri=URI)
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
    assert names == ["test/capabilities.xml", "test/domain.xml", "test/facts.txt",
                     "test/nodeinfo.txt", "test/notes.txt", "test/raw/domstate.txt",
                     "test/raw/manifest.json", "test/virsh-version.txt"]
    # Oracle: `virsh -c test:///default domcapabilities` prints "this function is not
    # supported by the connection driver: virConnectGetDomainCapabilities".
    assert any("virConnectGetDomainCapabilities" in n for n in result.notes)
    assert any(n.startswith("test-driver:") for n in result.notes)

    c = shape.one_vm([out])
    # Oracle: `virsh -c test:///default dumpxml test`: <domain type='test'>, <vcpu>2</vcpu>,
    # <memory unit='KiB'>8388608</memory>, arch i686, vda on bus virtio, on_crash destroy.
    assert (c.name, c.hypervisor, c.vcpus, c.memory_kib) == ("test", "test", 2, 8388608)
    assert c.cpu is not None and c.cpu.model == "qemu32"
    assert c.devices is not None and [(d.target, d.bus) for d in c.devices.disks] == [
        ("vda", "virtio")]
    assert c.on_crash == "destroy"
    # Oracle: `virsh -c test:///default nodeinfo`: "CPU(s): 16"; `virsh version`:
    # "Using library: libvirt 9.0.0"; `virsh list` shows "test" running with 2 vCPUs.
    assert c.host is not None and c.host.pcpus == 16
    assert c.host.running_vcpus == 2
    assert c.libvirt_version is not None and c.libvirt_version[0].isdigit()
    assert "command-failed" in [n.code for n in c.notes]


@needs_virsh
def test_unknown_domain_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContextParseError, match="no domain 'nosuch'"):
        collect("nosuch", tmp_path / "x.tar.gz", uri=URI)


def test_without_virsh_degrades_to_notes(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "b.tar.gz"
    result = collect("win7", out, uri=URI)
    assert result.notes[0] == "command-missing: virsh not found; only local files were collected"
    c = shape.one_vm([out])
    assert c.cpu is None
    assert [n.code for n in c.notes][:1] == ["command-missing"]


def test_local_host_facts_on_this_machine(tmp_path: Path) -> None:
    result = CollectResult(path=tmp_path / "unused")
    local_host_facts(result)
    assert b"processor" in result.files["host/cpuinfo.txt"]
    # KVM parameters and dmesg may be missing or forbidden here: then they are notes.
    assert "host/kvm-params.txt" in result.files or any(
        n.startswith("no-kvm-module") for n in result.notes)
    assert "host/dmesg.txt" in result.files or any("dmesg" in n for n in result.notes)
