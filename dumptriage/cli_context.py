"""``dumptriage context`` and ``dumptriage collect``: thin click wrappers over
``dumptriage.context``; the text view of a VmConfig is in ``render/host_text.py``.

Data goes to stdout, messages to stderr; unusable input is a one-line error and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from dumptriage.context import load_context
from dumptriage.context.collect import collect
from dumptriage.errors import DumptriageError
from dumptriage.render.host_text import render_text

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """Unusable input: one line on stderr and exit 2, under click's standalone mode and
    under a caller that runs the group with ``standalone_mode=False`` and calls show()."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"dumptriage: error: {self.format_message()}", err=True)


def _fail(err: Exception) -> NoReturn:
    raise BadInput(" ".join(str(err).split())) from err


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
