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
def collect_command(domain: str, uri: str | None, output: str | None) -> None:
    """Gather a live VM's configuration, logs and host facts into one bundle that
    `dumptriage context` and `analyze --context` read. Missing commands or permissions
    become notes in the bundle."""
    try:
        # Checked before the default file name is built from it.
        target = Path(output) if output else Path(f"{check_domain_name(domain)}-context.tar.gz")
        result = collect(domain, target, uri=uri)
    except (DumptriageError, OSError) as err:
        _fail(err)
    for note in result.notes:
        click.echo(f"dumptriage: note: {safe(note)}", err=True)
    click.echo(safe(result.path))
