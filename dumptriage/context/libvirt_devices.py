"""The <devices> part of a libvirt domain: disks, controllers, NICs, video, panic, balloon."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from dumptriage.model.host import Devices, Disk, Nic

KNOWN_DEVICES = frozenset({
    "emulator", "disk", "controller", "interface", "video", "panic", "memballoon", "hostdev",
    "input", "graphics", "serial", "console", "channel", "sound", "audio", "rng", "tpm",
    "watchdog", "redirdev", "smartcard", "filesystem", "parallel", "hub", "lease", "shmem",
    "memory", "iommu", "vsock", "nvram", "crypto", "redirfilter", "pstore",
})

NoteFn = Callable[[str, ET.Element, str], None]


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text, 0)
    except ValueError:
        return None


def _disk(elem: ET.Element) -> Disk:
    target = elem.find("target")
    driver = elem.find("driver")
    source = elem.find("source")
    src = None
    if source is not None:
        src = source.get("file") or source.get("dev") or source.get("name")
    return Disk(
        target=None if target is None else target.get("dev"),
        bus=None if target is None else target.get("bus"),
        device=elem.get("device", "disk"),
        cache=None if driver is None else driver.get("cache"),
        io=None if driver is None else driver.get("io"),
        error_policy=None if driver is None else driver.get("error_policy"),
        source=src,
    )


def _nic(elem: ET.Element) -> Nic:
    model = elem.find("model")
    driver = elem.find("driver")
    mac = elem.find("mac")
    return Nic(
        model=None if model is None else model.get("type"),
        queues=None if driver is None else _int(driver.get("queues")),
        mac=None if mac is None else mac.get("address"),
    )


def _hostdev(elem: ET.Element) -> str:
    addr = elem.find("source/address")
    if addr is None:
        return elem.get("type", "unknown")
    parts = [addr.get(k, "0") for k in ("domain", "bus", "slot", "function")]
    try:
        dom, bus, slot, fn = (int(p, 0) for p in parts)
    except ValueError:
        return f"{elem.get('type', 'pci')}:{':'.join(parts)}"
    return f"{elem.get('type', 'pci')}:{dom:04x}:{bus:02x}:{slot:02x}.{fn:x}"


def read_devices(devices: ET.Element | None, vmcoreinfo: bool | None, note: NoteFn) -> Devices:
    if devices is None:
        return Devices(vmcoreinfo=vmcoreinfo)
    disks: list[Disk] = []
    controllers: list[str] = []
    nics: list[Nic] = []
    video: list[str] = []
    panic: list[str] = []
    hostdev: list[str] = []
    balloon: str | None = None
    for child in devices:
        tag = child.tag
        if tag == "disk":
            disks.append(_disk(child))
        elif tag == "controller" and child.get("type") not in ("pci", "usb", "virtio-serial"):
            ctype, model = child.get("type", ""), child.get("model")
            controllers.append(f"{ctype}:{model}" if model else ctype)
        elif tag == "interface":
            nics.append(_nic(child))
        elif tag == "video":
            vmodel = child.find("model")
            video.append("unknown" if vmodel is None else vmodel.get("type", "unknown"))
        elif tag == "panic":
            panic.append(child.get("model", "default"))
        elif tag == "memballoon":
            balloon = child.get("model")
        elif tag == "hostdev":
            hostdev.append(_hostdev(child))
        elif tag not in KNOWN_DEVICES:
            note("unrecognised", child, f"<devices><{tag}>")
    if balloon is None:
        # libvirt adds a virtio memballoon to QEMU domains that do not say otherwise
        # (formatdomain.rst "Memory balloon device"; corpus cpu-exact2 pair: no
        # <memballoon> in the XML, virtio-balloon-pci in the argv).
        balloon = "virtio"
    return Devices(
        disks=tuple(disks),
        controllers=tuple(controllers),
        nics=tuple(nics),
        video=tuple(video),
        panic=tuple(panic),
        balloon=balloon,
        hostdev=tuple(hostdev),
        vmcoreinfo=vmcoreinfo,
    )
