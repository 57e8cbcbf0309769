"""load_context: files, folders recognised by content, bundles; the host-fact readers."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from dumptriage.context import load_context
from dumptriage.context.host_facts import parse_cpuinfo, parse_dmesg, parse_kvm_params
from dumptriage.context.sniff import detect
from dumptriage.errors import ContextParseError
from tests.conftest import SAMPLE_STORY, shared
from tests.context import shape

SHARED = shared()
CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz
flags\t\t: fpu vme de pse tsc msr pae vmx

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz
flags\t\t: fpu vme de pse tsc msr pae vmx
"""
DMESG = (
    "[    0.000000] Linux version 6.8.0\n"
    "[ 1234.567890] kvm [4573]: vcpu1 unhandled rdmsr: 0x3a\n"
    "[ 1300.000001] x86/split lock detection: #AC: qemu-system-x86/4573 took a split_lock "
    "trap at address: 0x7ff6\n"
    "[ 1400.5] kvm_amd: kvm [99]: vcpu0, guest rIP: 0xfffff80 Unhandled WRMSR(0xc0010115) = 0x0\n"
)


@pytest.mark.parametrize(("path", "kind"), [
    ("corpus/libvirt/hyperv.xml", "libvirt-xml"),
    ("corpus/libvirt/hyperv.x86_64-latest.args", "qemu-argv"),
    ("corpus/proxmox/spice-win.conf", "proxmox"),
    ("corpus/proxmox/spice-win.conf.cmd", "qemu-argv"),
    ("story/qemu-vm113.log", "qemu-log"),
    ("story/libvirtd.log", "libvirtd-log"),
    ("story/ps-vm84-after-fix.txt", "qemu-argv"),
    ("story/README.md", None),
    ("story/windbg-analyze.txt", None),
    ("corpus/libvirt/MANIFEST.md", None),
])
def test_detect(path: str, kind: str | None) -> None:
    assert detect((SHARED / path).read_text()) == kind


def test_folder_by_content_not_name(tmp_path: Path) -> None:
    # Misleading names on purpose: only the content decides.
    shutil.copy(SAMPLE_STORY / "qemu-vm113.log", tmp_path / "domain.xml")
    shutil.copy(SAMPLE_STORY / "libvirtd.log", tmp_path / "notes.yaml")
    (tmp_path / "cpuinfo.conf").write_text(CPUINFO)
    (tmp_path / "random.txt").write_text("hello\n")
    c = shape.one_vm([tmp_path])
    assert c.qemu_version == "2.5.0" and c.cpu is not None and c.cpu.model == "SandyBridge"
    assert c.host is not None and (c.host.pcpus, c.host.cpu_vendor) == (2, "GenuineIntel")
    assert c.host.hostname == "sc7"
    skipped = [n for n in c.notes if n.code == "skipped-file"]
    assert [Path(n.where).name for n in skipped] == ["random.txt"]


def test_unknown_explicit_file_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("hello\n")
    with pytest.raises(ContextParseError, match="not a recognised host-side file"):
        load_context([f])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContextParseError, match="no such file"):
        load_context([tmp_path / "nope.xml"])


def test_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in {"vm/domain.xml": (SHARED / "corpus/libvirt/hyperv.xml").read_bytes(),
                           "vm/notes.txt": b"command-missing: dmesg not found\n",
                           "vm/raw/manifest.json": b"{}"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    c = shape.one_vm([bundle])
    assert shape.hyperv_on(c)["spinlocks"] == 12287
    assert [(n.code, n.detail) for n in c.notes] == [("command-missing", "dmesg not found")]
    assert c.sources == (f"{bundle}:vm/domain.xml",)


def test_broken_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ContextParseError, match="not a readable bundle"):
        load_context([bundle])


def test_cpuinfo() -> None:
    h = parse_cpuinfo(CPUINFO, "cpuinfo").host
    assert h is not None
    assert (h.pcpus, h.cpu_vendor) == (2, "GenuineIntel")
    assert h.cpu_model == "Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz"
    assert "vmx" in h.cpu_flags


def test_dmesg_events() -> None:
    c = parse_dmesg(DMESG, "dmesg")
    assert [(e.time, e.kind, e.line) for e in c.events] == [
        ("1234.567890", "host-unhandled-msr", 2), ("1300.000001", "host-split-lock", 3),
        ("1400.5", "host-unhandled-msr", 4)]


def test_kvm_params() -> None:
    text = "/sys/module/kvm/parameters/ignore_msrs:N\n/sys/module/kvm_intel/parameters/nested:Y\n"
    h = parse_kvm_params(text, "p").host
    assert h is not None and dict(h.kvm_params) == {"kvm.ignore_msrs": "N",
                                                    "kvm_intel.nested": "Y"}
