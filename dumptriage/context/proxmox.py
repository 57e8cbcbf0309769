"""Proxmox VE /etc/pve/qemu-server/<vmid>.conf -> VmConfig, with the settings Proxmox derives.

Proxmox does not write Hyper-V enlightenments or timers into the config: qemu-server
computes them from ``ostype``, ``machine`` and ``bios`` when it builds the command line.
They are computed here the same way, so a config and its ``qm showcmd`` output agree.
Rules (proxmox/qemu-server, read at e6352be; summarised in kvm-causes.md 2.2):

* CPUConfig.pm get_hyperv_enlightenments(): the Hyper-V set (``hv_flags`` below).
* CPUConfig.pm get_pve_cpu_flags(): +lahf_lm for kvm64, +sep for kvm64/kvm32, -rdtscp on
  Opteron*, +kvm_pv_unhalt/+kvm_pv_eoi from machine 2.3 with KVM.
* Cfg2Cmd/Timer.pm generate(): localtime and time-drift-fix for Windows, kvm-pit
  discard + hpet=off for Windows >= 6, hpet=off for Linux from 10.1.
* Machine.pm: Windows machine types are pinned (5.1 baseline; the creation QEMU from 9.1).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from dumptriage.context import proxmox_devices, qemu_argv
from dumptriage.context.names import cpu_feature_name
from dumptriage.context.qemu_opts import parse_kv
from dumptriage.errors import ContextParseError
from dumptriage.model.host import (
    ClockConfig,
    CpuConfig,
    HypervConfig,
    HypervFeature,
    Note,
    Timer,
    Topology,
    VmConfig,
)

# Helpers.pm windows_version(): ostype -> Windows major version (0 = not Windows).
WINDOWS_VERSION = {
    "wxp": 5, "w2k": 5, "w2k3": 5, "w2k8": 6, "wvista": 6, "win7": 7, "win8": 8,
    "win10": 10, "win11": 11,
}
OS_HINT = {
    "wxp": "winxp", "w2k": "win2k", "w2k3": "win2k3", "w2k8": "win2k8", "wvista": "winvista",
    "win7": "win7", "win8": "win8", "win10": "win10", "win11": "win11", "l26": "linux",
    "l24": "linux", "solaris": "solaris",
}
DEPRECATED_MODELS = {"Icelake-Client": "Icelake-Server",
                     "Icelake-Client-noTSX": "Icelake-Server-noTSX"}
LINE = re.compile(r"^(?P<key>[a-z][a-z0-9_-]*):\s*(?P<value>.*)$")
Version = tuple[int, ...]


def parse_conf_lines(text: str, source: str) -> tuple[dict[str, str], list[Note]]:
    """key -> value of the current config (snapshot sections [name] are skipped)."""
    conf: dict[str, str] = {}
    notes: list[Note] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            notes.append(Note("snapshot-skipped", f"{source}:{lineno}",
                              f"section {line} (snapshot or pending) not read"))
            break
        m = LINE.match(line)
        if m is None:
            notes.append(Note("unrecognised", f"{source}:{lineno}", line[:80]))
            continue
        conf[m["key"]] = m["value"].strip()
    return conf, notes


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    m = re.search(r"(\d+)\.(\d+)(?:\+pve(\d+))?", text)
    if m is None:
        return None
    return (int(m[1]), int(m[2]), int(m[3] or 0))


def _machine(conf: dict[str, str], winver: int) -> tuple[str, Version | None]:
    """Machine type string and version, after Proxmox's Windows pinning (Machine.pm)."""
    raw = parse_kv(conf.get("machine", ""), implied="type").get("type") or "pc"
    raw = str(raw)
    version = _version(raw)
    if version is not None:
        # qemu-server always runs a "+pveN" machine revision, +pve0 when none is given.
        return (raw if "+pve" in raw else f"{raw}+pve0"), version
    base = "pc-q35" if raw.startswith("q35") or raw.startswith("pc-q35") else "pc-i440fx"
    if winver:
        # Windows VMs are pinned: the 5.1 baseline, or the QEMU the VM was created with
        # from 9.1 on (meta: creation-qemu=...), because newer ACPI tables confuse Windows.
        created = _version(parse_kv(conf.get("meta", "")).get("creation-qemu"))
        pinned = created[:2] if created and created[:2] >= (9, 1) else (5, 1)
        return f"{base}-{pinned[0]}.{pinned[1]}+pve0", (*pinned, 0)
    return ("q35+pve0" if base == "pc-q35" else "pc+pve0"), None


def _at_least(version: Version | None, *want: int) -> bool:
    # An unversioned machine is the newest one.
    return version is None or version >= want


def hv_flags(winver: int, machine: Version | None, bios: str | None, gpu: bool,
             vendor_id: str | None, intel_host: bool | None) -> dict[str, HypervFeature]:
    """CPUConfig.pm get_hyperv_enlightenments()."""
    if winver < 6 or (bios == "ovmf" and winver < 8):
        return {}
    flags: dict[str, HypervFeature] = {}
    if gpu or vendor_id is not None:
        flags["vendor-id"] = HypervFeature("on", vendor_id or "proxmox")
    if _at_least(machine, 2, 3):
        flags["spinlocks"] = HypervFeature("on", 0x1FFF)
        flags["vapic"] = flags["time"] = HypervFeature("on")
    else:
        flags["spinlocks"] = HypervFeature("on", 0xFFFF)
    if _at_least(machine, 2, 6):
        flags["reset"] = flags["vpindex"] = flags["runtime"] = HypervFeature("on")
    if winver >= 7:
        flags["relaxed"] = HypervFeature("on")
        if _at_least(machine, 2, 12):
            flags["synic"] = flags["stimer"] = HypervFeature("on")
        if _at_least(machine, 3, 1):
            flags["ipi"] = HypervFeature("on")
    if winver >= 11 and intel_host and _at_least(machine, 11, 0, 2):
        flags["evmcs"] = HypervFeature("on")
    return flags


def _cpu(conf: dict[str, str], machine: Version | None, kvm: bool, winver: int,
         qemu: Version | None) -> tuple[CpuConfig, dict[str, str], dict[str, HypervFeature],
                                        bool, str | None]:
    opts = parse_kv(conf.get("cpu", ""), implied="cputype")
    cputype = str(opts.get("cputype") or "kvm64")
    features: dict[str, str] = {}
    kvm_feats: dict[str, str] = {}
    if cputype == "kvm64":
        features["lahf-lm"] = "on"
    if cputype in ("kvm64", "kvm32"):
        features["sep"] = "on"
    if cputype.startswith("Opteron"):
        features["rdtscp"] = "off"
    if kvm and _at_least(machine, 2, 3):
        kvm_feats.update({"pv-unhalt": "on", "pv-eoi": "on"})
    if winver >= 11 and qemu is not None and qemu >= (11, 0):
        # QEMU 11 exposes CET, which breaks VBS boot (commit 140b30ac, kvm-causes.md 3.12).
        features.update({"cet-ibt": "off", "cet-ss": "off"})
    if cputype == "host" and qemu is not None and qemu >= (11, 0) \
            and not _at_least(machine, 11, 0):
        features["vmx-mbec"] = "off"  # MBEC off for older machine types (kvm-causes.md 3.12)
    hv_user: dict[str, HypervFeature] = {}
    for flag in str(opts.get("flags", "")).split(";"):
        if flag[:1] in "+-" and len(flag) > 1:
            name = cpu_feature_name(flag[1:])
            state = "on" if flag[0] == "+" else "off"
            if name.startswith("hv-"):
                hv_user[name[3:]] = HypervFeature(state)
            else:
                features[name] = state
    # Deprecated models are replaced (CPUConfig.pm; cfg2cmd test
    # cputype-icelake-client-deprecation: Icelake-Client -> Icelake-Server).
    mode = "custom"
    model: str | None = DEPRECATED_MODELS.get(cputype, cputype)
    if cputype == "host":
        mode, model = "host-passthrough", None
    elif cputype == "max":
        mode, model = "maximum", None
    cpu = CpuConfig(mode=mode, model=model, features=features,
                    vendor=str(opts["vendor"]) if "vendor" in opts else None)
    hidden = str(opts.get("hidden", "0")) in ("1", "on", "yes")
    vendor_id = str(opts["hv-vendor-id"]) if "hv-vendor-id" in opts else None
    return cpu, kvm_feats, hv_user, hidden, vendor_id


def _clock(conf: dict[str, str], winver: int, machine: Version | None) -> ClockConfig:
    """Cfg2Cmd/Timer.pm generate()."""
    timers: dict[str, Timer] = {}
    acpi = conf.get("acpi", "1") != "0"
    tdf = conf.get("tdf")
    localtime = conf.get("localtime")
    if winver >= 5:
        localtime = "1" if localtime is None else localtime
        tdf = "1" if tdf is None and acpi else tdf
    if winver >= 6:
        timers["pit"] = Timer("pit", tickpolicy="discard")
        timers["hpet"] = Timer("hpet", present=False)
    elif conf.get("ostype", "") in ("l26", "l24") and _at_least(machine, 10, 1):
        timers["hpet"] = Timer("hpet", present=False)
    if tdf == "1":
        timers["rtc"] = Timer("rtc", tickpolicy="catchup")
    startdate = conf.get("startdate", "now")
    if startdate != "now":
        return ClockConfig(offset="absolute", start=startdate, timers=timers)
    return ClockConfig(offset="localtime" if localtime == "1" else None, timers=timers)


def _num(conf: dict[str, str], key: str, default: int, source: str) -> int:
    try:
        return int(conf.get(key, str(default)))
    except ValueError:
        raise ContextParseError(source, None, f"{key}: {conf[key]!r} is not a number") from None


def _topology(conf: dict[str, str], source: str) -> tuple[int, int, Topology]:
    sockets = _num(conf, "sockets", 1, source)
    cores = _num(conf, "cores", 1, source)
    maximum = sockets * cores
    return _num(conf, "vcpus", maximum, source), maximum, Topology(sockets, cores, 1)


def parse_proxmox_conf(text: str, source: str | Path, *, host_cpu_vendor: str | None = None,
                       qemu_version: str | None = None) -> VmConfig:
    src = str(source)
    conf, notes = parse_conf_lines(text, src)
    ostype = conf.get("ostype", "other")
    winver = WINDOWS_VERSION.get(ostype, 0)
    machine_type, machine = _machine(conf, winver)
    kvm = conf.get("kvm", "1") != "0"
    cpu, kvm_feats, hv_user, hidden, vendor_id = _cpu(conf, machine, kvm, winver,
                                                      _version(qemu_version))
    devices, gpu = proxmox_devices.read(conf)
    intel = None if host_cpu_vendor is None else host_cpu_vendor == "GenuineIntel"
    if intel is None and winver >= 11 and _at_least(machine, 11, 0, 2):
        notes.append(Note("needs-host-fact", src, "hv-evmcs is added on Intel hosts only; "
                          "the host CPU vendor is not known"))
    if cpu.model and cpu.model.startswith("custom-"):
        notes.append(Note("custom-cpu-model", src, f"{cpu.model} is defined in "
                          "/etc/pve/virtual-guest/cpu-models.conf, which is not read"))
    hv = {**hv_flags(winver, machine, conf.get("bios"), gpu, vendor_id, intel), **hv_user}
    clock = _clock(conf, winver, machine)
    if "time" in hv and hv["time"].state == "on":
        # hv_time is the hypervclock timer (libvirt's name for the same thing).
        clock = ClockConfig(clock.offset, clock.start,
                            {**clock.timers, "hypervclock": Timer("hypervclock", present=True)})
    vcpus, max_vcpus, topology = _topology(conf, src)
    uuid = parse_kv(conf.get("smbios1", "")).get("uuid")
    config = VmConfig(
        sources=(src,),
        hypervisor="kvm" if kvm else "tcg",
        stack="proxmox",
        name=conf.get("name"),
        uuid=None if uuid is None else str(uuid),
        machine=machine_type,
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        topology=topology,
        cpu=cpu,
        hyperv=HypervConfig("custom", hv) if hv else None,
        kvm_hidden=True if hidden or gpu else None,
        kvm_features=kvm_feats,
        clock=clock,
        memory_kib=_num(conf, "memory", 512, src) * 1024,
        hugepages=True if conf.get("hugepages") else None,
        devices=devices,
        firmware="efi" if conf.get("bios") == "ovmf" else "bios",
        guest_os_hint=OS_HINT.get(ostype),
        notes=tuple(notes),
    )
    if "args" in conf:
        # Proxmox appends 'args:' after its own options, so QEMU sees them last.
        config = qemu_argv.overlay(config, qemu_argv_split(conf["args"]), f"{src} args:")
    return config


def qemu_argv_split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()
