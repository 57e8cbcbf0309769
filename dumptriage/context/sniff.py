"""Recognise a host-side file by its content (never by its name) and pick its parser."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from dumptriage.context import host_facts
from dumptriage.context.kubevirt import parse_kubevirt_yaml
from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.context.libvirtd_log import LINE as LIBVIRTD_LINE
from dumptriage.context.libvirtd_log import parse_libvirtd_log
from dumptriage.context.proxmox import parse_proxmox_conf
from dumptriage.context.qemu_argv import parse_argv
from dumptriage.context.qemu_log import parse_qemu_log
from dumptriage.context.qemu_opts import split_command
from dumptriage.model.host import VmConfig

Parser = Callable[[str, str], VmConfig]

# The DOCTYPE is skipped here only to recognise the file; the parser then refuses it.
XML_ROOT = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*"
                      r"(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?<(?P<tag>[\w:-]+)", re.S)
_TS = r"(?:\d{4}-\d\d-\d\d[ T][\d:.]+(?:Z|[+-]\d{4})?:? )?"
QEMU_LOG = re.compile(rf"^{_TS}(?:starting up libvirt version:|(?:\S+: )?warning: host doesn't "
                      rf"support requested feature|panic hyper-v:|char device redirected to)",
                      re.M)
QEMU_OPTIONS = frozenset({"-name", "-machine", "-M", "-cpu", "-m", "-smp", "-drive", "-device",
                          "-enable-kvm", "-accel", "-uuid", "-rtc", "-blockdev", "-netdev"})
PROXMOX_KEYS = re.compile(
    r"^(ostype|cores|sockets|memory|scsihw|smbios1|vmgenid|bootdisk|boot|cpu|machine|bios|"
    r"numa|args|agent|onboot|vga|balloon|meta|efidisk0|tpmstate0|startdate|tdf|kvm|vcpus|"
    r"(net|scsi|virtio|ide|sata|hostpci|usb|serial)\d+): ", re.M)
KUBEVIRT = re.compile(r"^\s*kind:\s*(VirtualMachine|VirtualMachineInstance)\s*$|kubevirt\.io/",
                      re.M)
CPUINFO = re.compile(r"^processor\s*:\s*\d+$", re.M)
NODEINFO = re.compile(r"^CPU model:\s+.*^CPU\(s\):", re.M | re.S)
KVM_PARAMS = re.compile(r"^(/sys/module/kvm\w*/parameters/\w+:|kvm\w*\.\w+\s*=)", re.M)
DMESG = re.compile(r"^\[\s*\d+\.\d+\]", re.M)
FACTS = re.compile(r"^# dumptriage host facts", re.M)
VIRSH_VERSION = re.compile(r"^Compiled against library: libvirt ", re.M)


def _xml_kind(text: str) -> str | None:
    m = XML_ROOT.match(text)
    if m is None:
        return None
    return {"domain": "libvirt-xml", "capabilities": "capabilities",
            "domainCapabilities": "domcapabilities"}.get(m["tag"], "xml")


def _is_proxmox(text: str) -> bool:
    lines = [ln for ln in text.split("\n[", 1)[0].splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and PROXMOX_KEYS.search(text) is not None and all(
        re.match(r"^[a-z][\w-]*: ", ln) for ln in lines)


def detect(text: str) -> str | None:
    """The kind of a host-side file, or None."""
    head = text[:65536]
    kind = _xml_kind(head)
    if kind is not None:
        return kind
    checks = (
        (FACTS, "facts"),
        (VIRSH_VERSION, "virsh-version"),
        (QEMU_LOG, "qemu-log"),
        (KUBEVIRT, "kubevirt"),
        (CPUINFO, "cpuinfo"),
        (NODEINFO, "nodeinfo"),
        (KVM_PARAMS, "kvm-params"),
        (DMESG, "dmesg"),
    )
    for pattern, name in checks:
        if pattern.search(head):
            return name
    if any(LIBVIRTD_LINE.match(ln) for ln in head.splitlines()[:50]):
        return "libvirtd-log"
    if _is_proxmox(head):
        return "proxmox"
    tokens = split_command(head)
    if len(QEMU_OPTIONS.intersection(tokens)) >= 3:
        return "qemu-argv"
    return None


def _argv(text: str, source: str) -> VmConfig:
    return parse_argv(split_command(text), source)


PARSERS: dict[str, Parser] = {
    "libvirt-xml": parse_domain_xml,
    "capabilities": host_facts.parse_capabilities,
    "qemu-log": parse_qemu_log,
    "libvirtd-log": parse_libvirtd_log,
    "kubevirt": parse_kubevirt_yaml,
    "proxmox": parse_proxmox_conf,
    "qemu-argv": _argv,
    "cpuinfo": host_facts.parse_cpuinfo,
    "nodeinfo": host_facts.parse_nodeinfo,
    "kvm-params": host_facts.parse_kvm_params,
    "dmesg": host_facts.parse_dmesg,
    "facts": host_facts.parse_facts,
    "virsh-version": host_facts.parse_virsh_version,
}


def parser_for(kind: str) -> Parser | None:
    return PARSERS.get(kind)


def source_name(path: str | Path) -> str:
    return str(path)
