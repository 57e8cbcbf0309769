"""``dumptriage context`` and ``dumptriage collect``: thin click wrappers over
``dumptriage.context``; the text view of a VmConfig is in ``render/host_text.py``.

Data goes to stdout, messages to stderr; unusable input is a one-line error and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from dumptriage.context import HostContext, load_context
from dumptriage.context.collect import check_domain_name, collect
from dumptriage.context.memory_dump import FORMATS as MEMORY_FORMATS
from dumptriage.context.memory_dump import MemoryDump, plan_memory_dump, take_memory_dump
from dumptriage.errors import ContextParseError, DumptriageError
from dumptriage.model.host import Note, VmConfig
from dumptriage.render.host_text import render_text
from dumptriage.render.safe import safe, safe_block

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """Unusable input: one line on stderr and exit 2, under click's standalone mode and
    under a caller that runs the group with ``standalone_mode=False`` and calls show()."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"dumptriage: error: {safe(self.format_message())}", err=True)


def _fail(err: Exception) -> NoReturn:
    raise BadInput(" ".join(str(err).split())) from err


@click.command("context")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the VMs' configurations as JSON.")
@click.option("--vm", "vm", default=None, metavar="NAME",
              help="Show only this VM (name, UUID or Proxmox VMID); default: every VM.")
def context_command(files: tuple[str, ...], as_json: bool, vm: str | None) -> None:
    """Read host-side files (domain XML, QEMU command line or log, libvirtd log, Proxmox
    config, KubeVirt YAML, host facts, folders, collect bundles) and print each VM's
    configuration. Files of different VMs are never merged."""
    try:
        ctx = load_context(files)
        if ctx.is_empty:
            raise ContextParseError(", ".join(files), None, ctx.empty_reason())
        views = _views(ctx, vm)
    except DumptriageError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps({"vms": [{"vm": label, "reason": reason, "config": config.to_dict()}
                                       for label, reason, config in views]}, indent=2))
    else:
        click.echo(safe_block("\n\n".join(
            (f"== VM {safe(label)} ({safe(reason)})\n" if len(views) > 1 else "")
            + render_text(config) for label, reason, config in views)))


def _views(ctx: HostContext, vm: str | None) -> list[tuple[str, str, VmConfig]]:
    """(label, why shown, config) for each VM to print: the one asked for, the only one,
    or every one (host-wide sources then shown on their own, joined to none)."""
    if vm is not None or len(ctx.vms) <= 1:
        chosen = ctx.select(vm)
        assert chosen.config is not None
        return [(chosen.vm or "?", chosen.reason, chosen.config)]
    views = [(label, "one of several VMs", config) for label, config in ctx.vms.items()]
    notes = (*ctx.notes, Note("several-vms", ", ".join(ctx.inputs), f"host files of "
                              f"{len(ctx.vms)} VMs, each read on its own: "
                              f"{', '.join(ctx.vms)}; use --vm NAME to show one"))
    shared = ctx.shared or VmConfig()
    views.append(("(host-wide)", "sources tied to no VM", shared.with_(
        notes=shared.notes + notes)))
    return views


@click.command("collect")
@click.argument("domain")
@click.option("--connect", "-c", "uri", default=None, help="libvirt URI (virsh -c).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Bundle to write (default: DOMAIN-context.tar.gz).")
@click.option("--memory", is_flag=True,
              help="Also take the guest's memory (virsh dump --memory-only; the guest is "
                   "paused while it is written) for `dumptriage analyze`.")
@click.option("--memory-format", "memory_format", default="elf", show_default=True,
              type=click.Choice(MEMORY_FORMATS), help="dump-guest-memory format.")
@click.option("--memory-file", "memory_file", type=click.Path(dir_okay=False), default=None,
              help="Where the memory goes (default: DOMAIN-memory.core, .dmp for win-dmp).")
@click.option("--memory-timeout", "memory_timeout", default=3600.0, show_default=True,
              type=click.FloatRange(min=1), help="Seconds before waiting for virsh dump stops.")
@click.option("--force", is_flag=True,
              help="Write the memory even when the folder seems to lack the room.")
def collect_command(domain: str, uri: str | None, output: str | None, memory: bool,
                    memory_format: str, memory_file: str | None, memory_timeout: float,
                    force: bool) -> None:
    """Gather a live VM's configuration, logs and host facts into one bundle that
    `dumptriage context` and `analyze --context` read. Missing commands or permissions
    become notes in the bundle. With --memory, first the hung guest's memory: the size and
    the pause are said on stderr before it starts; the file's path is printed after the
    bundle's."""
    try:
        # Checked before the default file name is built from it.
        name = check_domain_name(domain)
        dump = _memory(name, uri, memory_format, memory_file, memory_timeout, force) \
            if memory else None
        target = Path(output) if output else Path(f"{name}-context.tar.gz")
        result = collect(domain, target, uri=uri)
    except (DumptriageError, OSError) as err:
        _fail(err)
    for note in result.notes:
        click.echo(f"dumptriage: note: {safe(note)}", err=True)
    click.echo(safe(result.path))
    if dump is not None:
        click.echo(safe(dump.path))


def _memory(domain: str, uri: str | None, fmt: str, path: str | None, timeout: float,
            force: bool) -> MemoryDump:
    suffix = ".dmp" if fmt == "win-dmp" else ".core"
    plan = plan_memory_dump(domain, Path(path or f"{domain}-memory{suffix}"), uri=uri, fmt=fmt)
    click.echo(f"dumptriage: {safe(plan.warning())}", err=True)
    dump = take_memory_dump(plan, timeout=timeout, force=force)
    if dump.state_after not in (None, "running"):
        click.echo(f"dumptriage: note: {domain} is {safe(dump.state_after)} after the dump "
                   f"(virsh resume {domain} if it should run)", err=True)
    return dump
