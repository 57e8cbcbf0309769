"""``dumptriage context`` and ``dumptriage collect``: thin click wrappers over
``dumptriage.context``; the text view of a VmConfig lives here too.

Data goes to stdout, messages to stderr; unusable input is a one-line error and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from dumptriage.context import load_context
from dumptriage.context.collect import collect
from dumptriage.context.model import HypervFeature, VmConfig
from dumptriage.errors import DumptriageError

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """Unusable input: one line on stderr and exit 2, under click's standalone mode and
    under a caller that runs the group with ``standalone_mode=False`` and calls show()."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"dumptriage: error: {self.format_message()}", err=True)


def _fail(err: Exception) -> NoReturn:
    raise BadInput(" ".join(str(err).split())) from err


def _hv(name: str, feat: HypervFeature) -> str:
    if feat.value is None:
        return name
    if name == "spinlocks" and isinstance(feat.value, int):
        return f"spinlocks={feat.value} ({feat.value:#x})"
    return f"{name}={feat.value}"


def _cpu_line(config: VmConfig) -> str:
    cpu = config.cpu
    if cpu is None:
        return "unknown"
    head = " ".join(x for x in (cpu.mode, cpu.model) if x)
    feats = " ".join(("+" if p in ("on", "require", "force") else
                      "-" if p in ("off", "disable", "forbid") else "?") + n
                     for n, p in sorted(cpu.features.items()))
    return f"{head}  {feats}".rstrip()


def _hyperv_line(config: VmConfig) -> str:
    hv = config.hyperv
    if hv is None:
        return "none"
    on = [_hv(n, f) for n, f in sorted(hv.features.items()) if f.state == "on"]
    off = [n for n, f in sorted(hv.features.items()) if f.state == "off"]
    text = f"{hv.mode}: {', '.join(on) or '-'}"
    return text + (f"  (off: {', '.join(off)})" if off else "")


def _clock_line(config: VmConfig) -> str:
    clock = config.clock
    if clock is None:
        return "default"
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
        return "unknown"
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


def _yes(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def render_text(config: VmConfig) -> str:
    rows = [
        ("VM", f"{config.name or '?'} ({config.hypervisor or '?'}, {config.stack or '?'})"),
        ("Sources", ", ".join(config.sources)),
        ("Versions", f"QEMU {config.qemu_version or '?'}, libvirt {config.libvirt_version or '?'}"),
        ("Machine", config.machine or "?"),
        ("Guest OS", config.guest_os_hint or "?"),
        ("vCPUs", _topology(config)),
        ("CPU", _cpu_line(config)),
        ("Hyper-V", _hyperv_line(config)),
        ("KVM hidden", _yes(config.kvm_hidden)),
        ("Clock", _clock_line(config)),
        ("Memory", "?" if config.memory_kib is None else f"{config.memory_kib // 1024} MiB"),
        ("Devices", _devices_line(config)),
        ("On crash", config.on_crash or "?"),
    ]
    if config.host is not None:
        h = config.host
        rows.append(("Host", f"{h.hostname or '?'}, {h.pcpus or '?'} pCPUs, "
                             f"{h.cpu_model or '?'}, kernel {h.kernel or '?'}"))
    lines = [f"{k:<11} {v}" for k, v in rows]
    if config.events:
        lines.append(f"Events ({len(config.events)})")
        lines += [f"  {e.time or '-':<28} {e.kind:<20} {e.detail}" for e in config.events]
    if config.notes:
        lines.append(f"Notes ({len(config.notes)})")
        lines += [f"  {n.code:<20} {n.where}: {n.detail}" for n in config.notes]
    return "\n".join(lines)


@click.command("context")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the VmConfig as JSON.")
def context_command(files: tuple[str, ...], as_json: bool) -> None:
    """Read host-side files (domain XML, QEMU command line or log, libvirtd log, Proxmox
    config, KubeVirt YAML, host facts, folders, collect bundles) and print the VM's
    configuration."""
    try:
        config = load_context(files)
    except DumptriageError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(config.to_dict(), indent=2))
    else:
        click.echo(render_text(config))


@click.command("collect")
@click.argument("domain")
@click.option("--connect", "-c", "uri", default=None, help="libvirt URI (virsh -c).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Bundle to write (default: DOMAIN-context.tar.gz).")
def collect_command(domain: str, uri: str | None, output: str | None) -> None:
    """Gather a live VM's configuration, logs and host facts into one bundle that
    `dumptriage context` and `analyze --context` read. Missing commands or permissions
    become notes in the bundle."""
    target = Path(output) if output else Path(f"{domain}-context.tar.gz")
    try:
        result = collect(domain, target, uri=uri)
    except (DumptriageError, OSError) as err:
        _fail(err)
    for note in result.notes:
        click.echo(f"dumptriage: note: {note}", err=True)
    click.echo(str(result.path))
