"""-device / -drive / -blockdev / -netdev / -object options -> Devices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dumptriage.context.names import (
    CDROM_DRIVERS,
    CONTROLLER_DRIVERS,
    DISK_DRIVERS,
    NIC_DRIVERS,
    PANIC_DRIVERS,
    VIDEO_DRIVERS,
)
from dumptriage.context.qemu_opts import parse_kv
from dumptriage.model.host import Devices, Disk, Nic

# QEMU -drive werror/rerror -> libvirt error_policy (formatdomain.rst, disk <driver>).
_ERROR_POLICY = {"stop": "stop", "report": "report", "ignore": "ignore", "enospc": "enospace"}


def _blockdev_file(spec: dict[str, Any]) -> str | None:
    """The innermost filename of a (possibly nested) -blockdev JSON."""
    node: Any = spec
    for _ in range(8):  # bounded: blockdev chains are shallow
        if not isinstance(node, dict):
            return None
        if "filename" in node:
            return str(node["filename"])
        node = node.get("file")
    return None


class _Drives:
    """-drive and -blockdev definitions, looked up by id / node-name from -device drive=."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.direct: list[Disk] = []

    def add_drive(self, opts: dict[str, Any]) -> None:
        iface = str(opts.get("if", "ide"))
        if iface == "pflash":
            return
        if "id" in opts:
            self.by_id[str(opts["id"])] = opts
        if iface == "none":
            return
        media = "cdrom" if opts.get("media") == "cdrom" else "disk"
        self.direct.append(self._disk(opts, None, iface, media))

    def add_blockdev(self, opts: dict[str, Any]) -> None:
        self.by_id[str(opts.get("node-name", ""))] = opts

    @staticmethod
    def _disk(opts: dict[str, Any], target: str | None, bus: str | None, media: str) -> Disk:
        werror = opts.get("werror")
        cache = opts.get("cache")
        return Disk(
            target=target,
            bus=bus,
            device=media,
            cache=cache if isinstance(cache, str) else None,
            io=opts.get("aio") if isinstance(opts.get("aio"), str) else None,
            error_policy=_ERROR_POLICY.get(str(werror)) if werror else None,
            source=opts.get("file") if isinstance(opts.get("file"), str)
            else _blockdev_file(opts),
        )

    def for_device(self, dev: dict[str, Any], bus: str) -> Disk:
        driver = str(dev.get("driver"))
        opts = self.by_id.get(str(dev.get("drive", "")), {})
        media = "cdrom" if driver in CDROM_DRIVERS else "disk"
        return self._disk(opts, str(dev.get("id")) if dev.get("id") else None, bus, media)


def _netdev_queues(netdevs: dict[str, dict[str, Any]], dev: dict[str, Any]) -> int | None:
    net = netdevs.get(str(dev.get("netdev", "")), {})
    try:
        return int(net["queues"]) if "queues" in net else None
    except ValueError:
        return None


def read(options: Sequence[tuple[str, str]]) -> tuple[Devices, bool | None]:
    """Devices and whether guest RAM is backed by hugepages."""
    drives = _Drives()
    netdevs: dict[str, dict[str, Any]] = {}
    devices: list[dict[str, Any]] = []
    hugepages: bool | None = None
    for name, arg in options:
        if name == "drive":
            drives.add_drive(parse_kv(arg))
        elif name == "blockdev":
            drives.add_blockdev(parse_kv(arg))
        elif name == "netdev":
            opts = parse_kv(arg, implied="type")
            netdevs[str(opts.get("id", ""))] = opts
        elif name == "device":
            devices.append(parse_kv(arg, implied="driver"))
        elif name == "object":
            obj = parse_kv(arg, implied="qom-type")
            if "hugepages" in str(obj.get("mem-path", "")) or obj.get("hugetlb") in (True, "on"):
                hugepages = True
        elif name == "mem-path" and "hugepages" in arg:
            hugepages = True
    return _classify(devices, drives, netdevs), hugepages


def _classify(devices: list[dict[str, Any]], drives: _Drives,
              netdevs: dict[str, dict[str, Any]]) -> Devices:
    disks = list(drives.direct)
    controllers: list[str] = []
    nics: list[Nic] = []
    video: list[str] = []
    panic: list[str] = []
    hostdev: list[str] = []
    balloon = "none"
    vmcoreinfo = False
    for dev in devices:
        driver = str(dev.get("driver", ""))
        if driver in DISK_DRIVERS:
            disks.append(drives.for_device(dev, DISK_DRIVERS[driver]))
        elif driver in CONTROLLER_DRIVERS:
            controllers.append(CONTROLLER_DRIVERS[driver])
        elif driver in NIC_DRIVERS:
            mac = dev.get("mac")
            nics.append(Nic(NIC_DRIVERS[driver], _netdev_queues(netdevs, dev),
                            None if mac is None else str(mac).lower()))
        elif driver in VIDEO_DRIVERS and not (driver == "qxl" and video):
            video.append(VIDEO_DRIVERS[driver])
        elif driver in PANIC_DRIVERS:
            panic.append(PANIC_DRIVERS[driver])
        elif driver.startswith("virtio-balloon"):
            balloon = "virtio"
        elif driver == "vmcoreinfo":
            vmcoreinfo = True
        elif driver == "vfio-pci":
            hostdev.append(f"pci:{dev.get('host', '?')}")
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
