"""Fix a Proxmox VE VM config: Proxmox derives the enlightenments, so the fix is ``ostype``.

qemu-server computes the Hyper-V flags from ``ostype``, the (pinned) machine version and
``bios`` (CPUConfig.pm get_hyperv_enlightenments, kvm-causes.md 2.2): ``other`` and
``l26`` get none, Windows before 8 on OVMF gets none whatever the ostype (commit
4317f69f), synic and stimer need machine 2.12. So the fix sets the ostype that matches
the guest, and says what Proxmox will then give the VM, computed by the same code that
reads configs (context/proxmox.py), so what this prints and what `qm showcmd` shows agree.
"""

from __future__ import annotations

import re
from pathlib import Path

from dumptriage.context.proxmox import (
    WINDOWS_VERSION,
    _version,
    parse_conf_lines,
    parse_proxmox_conf,
)
from dumptriage.errors import FixRefused
from dumptriage.fix.plan import Change, FixResult

LINE = re.compile(r"^(?P<key>[a-z][a-z0-9_-]*):")
# Proxmox's ostype for a Windows build (qm.conf(5) ostype list: win11 also covers Server
# 2022/2025, win10 Server 2016/2019, win8 Server 2012/2012 R2, win7 Server 2008 R2).
SERVER_2022 = 20348


def ostype_for_build(build: int, server: bool = False) -> str | None:
    if build >= 22000 or build == SERVER_2022:
        return "win11"
    if build >= 10240:
        return "win10"
    if build in (9200, 9600):
        return "win8"
    if build in (7600, 7601):
        return "win7"
    if build in (6000, 6001, 6002, 6003):
        return "w2k8" if server else "wvista"
    return None


def _main_section_end(lines: list[str]) -> int:
    """Index of the first line of a [snapshot] or [PENDING] section (or len)."""
    return next((i for i, line in enumerate(lines) if line.startswith("[")), len(lines))


def _set_key(text: str, key: str, value: str) -> str:
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.endswith("\r\n") or "\r\n" in text else "\n"
    end = _main_section_end(lines)
    for i in range(end):
        found = LINE.match(lines[i])
        if found and found["key"] == key:
            ending = lines[i][len(lines[i].rstrip("\r\n")):] or newline
            lines[i] = f"{key}: {value}{ending}"
            return "".join(lines)
    # Proxmox writes the keys of a section sorted: put the new one where it would.
    at = next((i for i in range(end) if (m := LINE.match(lines[i])) and m["key"] > key), None)
    if at is None:
        at = end
        while at > 0 and not lines[at - 1].strip():
            at -= 1  # before the blank line that separates the snapshot sections
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += newline
    lines.insert(at, f"{key}: {value}{newline}")
    return "".join(lines)


def _derived(patched: str, source: str, host_cpu_vendor: str | None,
             ostype: str) -> list[str]:
    """What qemu-server will give the patched VM, read back by the config reader."""
    cpuid = {"intel": "GenuineIntel", "amd": "AuthenticAMD"}.get(host_cpu_vendor or "")
    config = parse_proxmox_conf(patched, source, host_cpu_vendor=cpuid)
    hyperv = config.hyperv.enabled_features() if config.hyperv is not None else {}
    names = ",".join(f"hv_{name.replace('-', '_')}" for name in sorted(hyperv))
    notes = [f"Proxmox then starts the VM with {names or 'no Hyper-V flags'} "
             f"(machine {config.machine})"]
    version = _version(config.machine)
    if "relaxed" in hyperv and version is not None and version < (2, 12):
        notes.append(f"machine {config.machine} is below 2.12: Proxmox adds hv_synic and "
                     "hv_stimer only from 2.12 on")
    if cpuid is None and ostype == "win11" and version is not None and version >= (11, 0, 2):
        notes.append("host CPU vendor unknown: on an Intel host Proxmox also adds hv_evmcs "
                     "to win11 VMs from machine 11.0+pve2")
    return notes


def _vmid(source: str) -> str:
    stem = Path(source).stem
    return stem if stem.isdigit() else "VMID"


def fix_proxmox_conf(text: str, source: str, ostype: str | None,
                     host_cpu_vendor: str | None = None) -> FixResult:
    """Set ``ostype`` (a Proxmox name such as win10) and say what Proxmox then derives."""
    conf, _notes = parse_conf_lines(text, source)
    current = conf.get("ostype", "other")
    target = ostype or (current if WINDOWS_VERSION.get(current, 0) >= 6 else None)
    if target is None:
        raise FixRefused(source, f"ostype is {current}, and nothing says which Windows the "
                         "guest runs: give --windows (win7, win8, win10, win11) or --dump")
    winver = WINDOWS_VERSION.get(target, 0)
    if winver < 6:
        raise FixRefused(source, f"ostype {target}: Proxmox gives Windows before Vista no "
                         "Hyper-V enlightenments")
    if conf.get("bios") == "ovmf" and winver < 8:
        raise FixRefused(source, f"ostype {target} with bios: ovmf: Proxmox gives Windows "
                         "before 8 on OVMF no Hyper-V enlightenments (qemu-server commit "
                         "4317f69f); a -cpu with hv_* flags in the VM's args: line is the "
                         "only way, and it is not written automatically")
    patched = text if current == target else _set_key(text, "ostype", target)
    notes = _derived(patched, source, host_cpu_vendor, target)
    changes = () if current == target else (Change("ostype", "set", f"ostype: {target}"),)
    vmid = _vmid(source)
    commands = () if not changes else (
        f"qm set {vmid} --ostype {target}",
        f"qm stop {vmid} && qm start {vmid}   (a reboot inside the guest keeps the old "
        f"command line); qm showcmd {vmid} must show hv_relaxed")
    return FixResult(source=source, platform="proxmox", original=text, patched=patched,
                     changes=changes, unchanged=("ostype",) if not changes else (),
                     left_out=(), notes=tuple(notes), commands=commands)
