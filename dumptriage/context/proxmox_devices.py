"""Disks, NICs, video, balloon and PCI passthrough of a Proxmox VM config.

Option syntax: Proxmox qm.conf(5) / PVE::QemuServer::Drive, Network, PCI.
"""

from __future__ import annotations

import re

from dumptriage.context.qemu_opts import parse_kv
from dumptriage.model.host import Devices, Disk, Nic

DISK_KEY = re.compile(r"^(ide|sata|scsi|virtio)(\d+)$")
NET_KEY = re.compile(r"^net\d+$")
HOSTPCI_KEY = re.compile(r"^hostpci\d+$")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "i82551", "i82557b",
              "i82559er", "ne2k_pci", "ne2k_isa", "pcnet")
# scsihw -> libvirt-style controller name (qm.conf: lsi is the default).
SCSIHW = {
    "lsi": "scsi:lsilogic", "lsi53c810": "scsi:lsilogic", "virtio-scsi-pci": "scsi:virtio-scsi",
    "virtio-scsi-single": "scsi:virtio-scsi", "megasas": "scsi:lsisas1078",
    "pvscsi": "scsi:vmpvscsi",
}
VGA = {"std": "vga", "cirrus": "cirrus", "vmware": "vmvga", "virtio": "virtio",
       "virtio-gl": "virtio", "none": "none", "serial0": "none"}


def _disk(key: str, bus: str, value: str) -> Disk:
    opts = parse_kv(value, implied="file")
    werror = opts.get("werror")
    return Disk(
        target=key,
        bus=bus,
        device="cdrom" if opts.get("media") == "cdrom" else "disk",
        cache=opts.get("cache"),
        io=opts.get("aio"),
        error_policy={"enospc": "enospace"}.get(werror, werror) if werror else None,
        source=opts.get("file"),
    )


def _nic(value: str) -> Nic:
    opts = parse_kv(value)
    for model in NIC_MODELS:
        if model in opts:
            mac = opts[model]
            queues = opts.get("queues")
            return Nic(model, int(queues) if queues else None,
                       None if mac in ("on", "") else str(mac).lower())
    return Nic(opts.get("model"))


def _hostpci(value: str) -> tuple[str, bool]:
    opts = parse_kv(value, implied="host")
    host = str(opts.get("host", "?"))
    if re.match(r"^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.\d$", host):
        host = f"0000:{host}"  # PCI.pm prefixes the default PCI domain
    return f"pci:{host}", str(opts.get("x-vga", "0")) in ("1", "on")


def read(conf: dict[str, str]) -> tuple[Devices, bool]:
    """Devices and whether a GPU is passed through with x-vga=1."""
    disks: list[Disk] = []
    nics: list[Nic] = []
    hostdev: list[str] = []
    gpu = False
    for key in sorted(conf):
        value = conf[key]
        if m := DISK_KEY.match(key):
            disks.append(_disk(key, m[1], value))
        elif NET_KEY.match(key):
            nics.append(_nic(value))
        elif HOSTPCI_KEY.match(key):
            dev, xvga = _hostpci(value)
            hostdev.append(dev)
            gpu = gpu or xvga
    vga = parse_kv(conf.get("vga", "std"), implied="type").get("type", "std")
    video = "qxl" if str(vga).startswith("qxl") else VGA.get(str(vga), str(vga))
    controllers = []
    if any(d.bus == "scsi" for d in disks):
        controllers.append(SCSIHW.get(conf.get("scsihw", "lsi"), conf.get("scsihw", "lsi")))
    return Devices(
        disks=tuple(disks),
        controllers=tuple(controllers),
        nics=tuple(nics),
        video=() if video == "none" else (video,),
        balloon="none" if conf.get("balloon") == "0" else "virtio",
        hostdev=tuple(hostdev),
        vmcoreinfo=False,
    ), gpu
