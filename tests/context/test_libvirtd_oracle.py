"""Optional oracle: a real libvirtd turns the corpus XML into a QEMU argv
(`virsh -c qemu:///system domxml-to-native qemu-argv FILE`), and our two readers must
agree on it. Skips when no libvirtd with the QEMU driver answers.

Set-up (Debian 12, as root): apt-get install -y libvirt-daemon-driver-qemu
libvirt-daemon qemu-system-x86; groupadd -r libvirt-qemu; groupadd -r kvm;
useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu;
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt; libvirtd -d.
Each conversion takes about a minute in a container without /dev/kvm, so only two
XMLs are converted. libvirt 9.0 (Debian 12) refuses several corpus files that need a
newer libvirt (emsr_bitmap, rapl, hyperv mode='host-model') or a host feature
(cpu-exact2's ds/monitor, cpu-tsc-frequency's TSC scaling); those are not used.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_opts import split_command
from tests.conftest import shared
from tests.context import shape

CORPUS = shared("corpus/libvirt")
URI = "qemu:///system"


def _daemon() -> bool:
    if shutil.which("virsh") is None:
        return False
    try:
        proc = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True,
                              timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and b"QEMU" in proc.stdout


pytestmark = pytest.mark.skipif(not _daemon(),
                                reason="no libvirtd with the QEMU driver at qemu:///system")


@pytest.mark.parametrize("name", ["hyperv-panic.x86_64-latest.xml", "cpu-topology2.xml"])
def test_domxml_to_native_agrees(name: str) -> None:
    xml = CORPUS / name
    proc = subprocess.run(["virsh", "-c", URI, "domxml-to-native", "qemu-argv", str(xml)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    native = parse_argv(split_command(proc.stdout), "domxml-to-native")
    ours = parse_domain_xml(xml.read_bytes(), name)
    assert native.cpu is not None and ours.cpu is not None
    assert (native.cpu.mode, native.cpu.model) == (ours.cpu.mode, ours.cpu.model)
    assert shape.hyperv_on(native) == shape.hyperv_on(ours)
    assert shape.topology(native) == shape.topology(ours)
    assert shape.timers(native) == shape.timers(ours)
    assert native.max_vcpus == ours.max_vcpus
