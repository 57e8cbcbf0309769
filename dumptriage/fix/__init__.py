"""``dumptriage fix``: patch a VM's config with the Hyper-V enlightenments Windows needs.

``fix_file`` reads one domain XML or Proxmox config (the platform is recognised by content),
learns the VM's QEMU/libvirt versions and host CPU from the other host files given, works
out what may be switched on (select.py), patches the file as text (libvirt.py, proxmox.py)
and returns a FixResult. It never writes a file and never prints: the CLI does both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dumptriage.errors import FixRefused
from dumptriage.fix.plan import FixResult
from dumptriage.fix.select import PROFILES, Versions, catalogue, choose, machine_floor
from dumptriage.model.host import VmConfig
from dumptriage.model.record import replace

NOVA_NOTE = ("nova defined this domain and rewrites it on hard reboot, rebuild and migration: "
             "the lasting fix is the image property os_type=windows (openstack image set "
             "--property os_type=windows IMAGE), which makes nova add the enlightenments")

__all__ = ["PROFILES", "FixResult", "fix_file", "windows_ostype"]


def _vendor(text: str | None) -> str | None:
    """GenuineIntel / AuthenticAMD / intel / amd -> intel | amd."""
    low = (text or "").lower()
    return "intel" if "intel" in low else "amd" if "amd" in low else None


def _config(path: Path, context: Sequence[str | os.PathLike[str]], vm: str | None) -> VmConfig:
    from dumptriage.context import load_context

    chosen = load_context([path, *[Path(p) for p in context]]).select(vm)
    if chosen.config is None:
        raise FixRefused(path, chosen.reason)
    return chosen.config


def _versions(config: VmConfig, qemu: str | None, libvirt: str | None,
              host_cpu: str | None) -> Versions:
    host = config.host.cpu_vendor if config.host is not None else None
    return Versions(qemu=qemu or config.qemu_version, libvirt=libvirt or config.libvirt_version,
                    qemu_floor=machine_floor(config.machine),
                    host_cpu_vendor=_vendor(host_cpu) or _vendor(host))


def windows_ostype(build: int, product_type: str | None = None) -> str | None:
    from dumptriage.fix.proxmox import ostype_for_build

    return ostype_for_build(build, server=product_type not in (None, "WinNt"))


def fix_file(path: str | os.PathLike[str], *, context: Sequence[str | os.PathLike[str]] = (),
             vm: str | None = None, profile: str | None = "recommended",
             add: Sequence[str] = (), remove: Sequence[str] = (), windows: str | None = None,
             qemu_version: str | None = None, libvirt_version: str | None = None,
             host_cpu: str | None = None) -> FixResult:
    """The patched config of ``path`` and what was changed, left out and why.

    Raises FixRefused when a feature asked for by name cannot be had (too new for the VM's
    QEMU or libvirt, Intel-only on AMD), ContextParseError for an unreadable file.
    """
    from dumptriage.context.reader import read_file
    from dumptriage.context.sniff import detect

    source = Path(path)
    data = read_file(source)
    kind = detect(data.decode("utf-8", "replace"))
    unknown = [n for n in (*add, *remove) if n not in catalogue()]
    if unknown:
        raise FixRefused(source, f"unknown enlightenment {', '.join(unknown)} (known: "
                         f"{', '.join(catalogue())})")
    config = _config(source, context, vm)
    versions = _versions(config, qemu_version, libvirt_version, host_cpu)
    if kind == "proxmox":
        return _proxmox(source, data, windows, add, remove, versions)
    if kind != "libvirt-xml":
        raise FixRefused(source, f"not a libvirt domain XML or Proxmox config (read as "
                         f"{kind or 'nothing known'}); dumptriage fix patches those two")
    return _libvirt(source, data, config, profile, add, remove, versions)


def _libvirt(source: Path, data: bytes, config: VmConfig, profile: str | None,
             add: Sequence[str], remove: Sequence[str], versions: Versions) -> FixResult:
    from dumptriage.fix.libvirt import fix_domain_xml

    selection = choose(profile, add, versions)
    if selection.refused:
        reasons = "; ".join(f"{o.feature}: {o.reason}" for o in selection.refused)
        raise FixRefused(source, f"cannot switch on {reasons}")
    removing = {name: "asked with --remove" for name in remove}
    table = catalogue()
    on = config.hyperv.enabled_features() if config.hyperv is not None else {}
    for name in on:
        feature = table.get(name)
        vendor = versions.host_cpu_vendor
        if feature is not None and feature.vendor and vendor and vendor != feature.vendor:
            removing[name] = f"{feature.why}; this host is {vendor.upper()}"
    result = fix_domain_xml(data, str(source), selection, removing)
    if config.stack == "nova":
        # kvm-causes.md 2.3: nova rewrites the XML; its enlightenments follow os_type.
        result = replace(result, notes=(*result.notes, NOVA_NOTE))
    return result


def _proxmox(source: Path, data: bytes, windows: str | None, add: Sequence[str],
             remove: Sequence[str], versions: Versions) -> FixResult:
    from dumptriage.fix.proxmox import fix_proxmox_conf

    if add or remove:
        raise FixRefused(source, "Proxmox derives the enlightenments from ostype and the "
                         "machine version; --add and --remove apply to domain XML only")
    return fix_proxmox_conf(data.decode("utf-8", "replace"), str(source), windows,
                            versions.host_cpu_vendor)
