"""The text view of a VmConfig (`dumptriage context`, and the Host section of `analyze`)."""

from __future__ import annotations

from dumptriage.model.host import HypervFeature, VmConfig
from dumptriage.render.safe import safe

# A field that no source gave. Never "none": "none" is a fact a source stated.
UNKNOWN = "?"


def _hv(name: str, feat: HypervFeature) -> str:
    if feat.value is None:
        return name
    if name == "spinlocks" and isinstance(feat.value, int):
        return f"spinlocks={feat.value} ({feat.value:#x})"
    return f"{name}={feat.value}"


def _defined(config: VmConfig) -> bool:
    """A VM definition (domain XML, command line, Proxmox or KubeVirt config) was read:
    what it leaves out is really absent ("none", "default"), not merely unknown."""
    return config.stack is not None


def _cpu_line(config: VmConfig) -> str:
    cpu = config.cpu
    if cpu is None:
        return UNKNOWN
    head = " ".join(x for x in (cpu.mode, cpu.model) if x)
    feats = " ".join(("+" if p in ("on", "require", "force") else
                      "-" if p in ("off", "disable", "forbid") else "?") + n
                     for n, p in sorted(cpu.features.items()))
    return f"{head}  {feats}".rstrip()


def _hyperv_line(config: VmConfig) -> str:
    hv = config.hyperv
    if hv is None:
        return "none" if _defined(config) else UNKNOWN
    on = [_hv(n, f) for n, f in sorted(hv.features.items()) if f.state == "on"]
    off = [n for n, f in sorted(hv.features.items()) if f.state == "off"]
    text = f"{hv.mode}: {', '.join(on) or '-'}"
    return text + (f"  (off: {', '.join(off)})" if off else "")


def _clock_line(config: VmConfig) -> str:
    clock = config.clock
    if clock is None:
        return "default" if _defined(config) else UNKNOWN
    timers = []
    for name, t in sorted(clock.timers.items()):
        parts = [f"present={'yes' if t.present else 'no'}"] if t.present is not None else []
        parts += [f"tickpolicy={t.tickpolicy}"] if t.tickpolicy else []
        parts += [f"frequency={t.frequency}"] if t.frequency else []
        timers.append(f"{name}({', '.join(parts)})" if parts else name)
    offset = clock.offset or "default"
    if clock.start:
        offset += f" {clock.start}"
    return f"offset {offset}; timers: {', '.join(timers) or 'none'}"


def _devices_line(config: VmConfig) -> str:
    dev = config.devices
    if dev is None:
        return UNKNOWN
    disks = ", ".join(f"{d.bus or '?'} {d.device}" for d in dev.disks) or "none"
    nics = ", ".join(n.model or "?" for n in dev.nics) or "none"
    parts = [f"disks: {disks}", f"nics: {nics}", f"video: {', '.join(dev.video) or 'none'}",
             f"balloon: {dev.balloon or '?'}", f"panic: {', '.join(dev.panic) or 'none'}"]
    if dev.hostdev:
        parts.append(f"hostdev: {', '.join(dev.hostdev)}")
    return "; ".join(parts)


def _topology(config: VmConfig) -> str:
    t = config.topology
    counts = f"{config.vcpus if config.vcpus is not None else '?'}"
    if config.max_vcpus not in (None, config.vcpus):
        counts += f" (max {config.max_vcpus})"
    if t is None:
        return counts
    return f"{counts}: {t.sockets} sockets x {t.cores} cores x {t.threads} threads"


def _tuning(config: VmConfig) -> str:
    parts = []
    if config.iothreads is not None:
        parts.append(f"iothreads {config.iothreads}")
    if config.emulator_pinning is not None:
        parts.append(f"emulator pinned to {config.emulator_pinning}")
    numa = config.numatune
    if numa is not None:
        where = numa.nodeset or (f"placement {numa.placement}" if numa.placement else "?")
        parts.append(f"memory {numa.mode or '?'} on NUMA nodes {where}")
    return "; ".join(parts)


def _yes(value: bool | None) -> str:
    return UNKNOWN if value is None else ("yes" if value else "no")


def render_text(config: VmConfig) -> str:
    rows = [
        ("VM", f"{config.name or '?'} ({config.hypervisor or '?'}, {config.stack or '?'})"),
        ("Sources", ", ".join(config.sources) or UNKNOWN),
        ("Versions", f"QEMU {config.qemu_version or '?'}, libvirt {config.libvirt_version or '?'}"),
        ("Machine", config.machine or "?"),
        ("Guest OS", config.guest_os_hint or "?"),
        ("vCPUs", _topology(config)),
        ("CPU", _cpu_line(config)),
        ("Hyper-V", _hyperv_line(config)),
        # A definition without kvm=off / <kvm><hidden> really leaves KVM visible.
        ("KVM hidden", "no" if config.kvm_hidden is None and _defined(config)
         else _yes(config.kvm_hidden)),
        ("Clock", _clock_line(config)),
        ("Memory", "?" if config.memory_kib is None else f"{config.memory_kib // 1024} MiB"),
        ("Devices", _devices_line(config)),
        ("On crash", config.on_crash or "?"),
    ]
    if config.panic_action is not None:
        rows.append(("On panic", f"QEMU -action panic={config.panic_action}"))
    tuning = _tuning(config)
    if tuning:
        rows.append(("Tuning", tuning))
    if config.host is not None:
        h = config.host
        rows.append(("Host", f"{h.hostname or '?'}, {h.pcpus or '?'} pCPUs, "
                             f"{h.cpu_model or '?'}, kernel {h.kernel or '?'}"))
    if not _defined(config) and config.name is None:
        # Host-wide sources only (host facts, libvirtd.log): no VM rows to show as unknown.
        rows = [(k, v) for k, v in rows if k in ("Sources", "Versions", "Host")]
    # Every value may come from an input (a VM named with terminal escapes): made safe here.
    lines = [f"{k:<11} {safe(v)}" for k, v in rows]
    if config.events:
        lines.append(f"Events ({len(config.events)})")
        lines += [f"  {safe(e.time or '-'):<28} {safe(e.kind):<20} {safe(e.detail)}"
                  for e in config.events]
    if config.notes:
        lines.append(f"Notes ({len(config.notes)})")
        lines += [f"  {safe(n.code):<20} {safe(n.where)}: {safe(n.detail)}"
                  for n in config.notes]
    return "\n".join(lines)
