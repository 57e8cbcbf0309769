"""``dumptriage fix``: print (and with -o write) a VM config with the enlightenments on."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import click

from dumptriage.errors import FixRefused
from dumptriage.fix import PROFILES, FixResult, fix_file, windows_ostype
from dumptriage.render.safe import safe, safe_block

WINDOWS = ("wvista", "w2k8", "win7", "win8", "win10", "win11")


def _windows(windows: str | None, dump: str | None) -> str | None:
    if windows is not None or dump is None:
        return windows
    from dumptriage.dump.crash_dump import open_dump

    with open_dump(dump) as opened:
        os_info = opened.info.os
    ostype = windows_ostype(os_info.build, os_info.product_type)
    if ostype is None:
        raise FixRefused(dump, f"build {os_info.build} has no Proxmox ostype; give --windows")
    return ostype


def render_fix(result: FixResult) -> str:
    lines = [f"{result.source} ({result.platform})"]
    if not result.changes:
        lines.append("Nothing to change.")
    for change in result.changes:
        what = f"{change.feature}: {change.detail}" if change.action == "remove" \
            else change.detail
        lines.append(f"  {change.action:8} {what}")
    if result.unchanged:
        lines.append(f"  already on: {', '.join(result.unchanged)}")
    for omission in result.left_out:
        lines.append(f"  left out {omission.feature}: {omission.reason}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.commands:
        lines += ["", "The same with the platform's own tools:"]
        lines += [f"  {command}" for command in result.commands]
    if result.changed:
        diff = difflib.unified_diff(result.original.splitlines(keepends=True),
                                    result.patched.splitlines(keepends=True),
                                    f"a/{Path(result.source).name}",
                                    f"b/{Path(result.source).name}")
        lines += ["", "".join(diff).rstrip("\n")]
    return "\n".join(lines)


@click.command("fix")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the patched config here (never over the input unless named).")
@click.option("--context", "context", multiple=True, type=click.Path(),
              help="Other host files of the VM (QEMU log for its versions, /proc/cpuinfo or "
                   "virsh capabilities for the host CPU). Repeatable.")
@click.option("--vm", help="The VM to fix when the host files hold several.")
@click.option("--profile", type=click.Choice(PROFILES), default="recommended",
              show_default=True, help="Which set of enlightenments to switch on.")
@click.option("--add", "add", multiple=True, metavar="NAME",
              help="Also switch on this enlightenment (QEMU's name without hv-). Repeatable.")
@click.option("--remove", "remove", multiple=True, metavar="NAME",
              help="Remove this enlightenment (and what depends on it). Repeatable.")
@click.option("--windows", type=click.Choice(WINDOWS),
              help="Proxmox: the guest's Windows as an ostype.")
@click.option("--dump", type=click.Path(dir_okay=False),
              help="Proxmox: take the guest's Windows version from this dump.")
@click.option("--qemu-version", help="The VM's QEMU version, when no QEMU log is given.")
@click.option("--libvirt-version", help="The host's libvirt version.")
@click.option("--host-cpu", type=click.Choice(("intel", "amd")), help="The host CPU vendor.")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def fix_command(config: str, output: str | None, context: tuple[str, ...], vm: str | None,
                profile: str, add: tuple[str, ...], remove: tuple[str, ...],
                windows: str | None, dump: str | None, qemu_version: str | None,
                libvirt_version: str | None, host_cpu: str | None, as_json: bool) -> None:
    """Patch a libvirt domain XML or Proxmox VM config with the Hyper-V enlightenments.

    Only the elements needed are added or changed; the rest of the file stays byte for
    byte. Features too new for the VM's QEMU or libvirt are left out (and refused when
    asked for by name), dependencies are added, Intel-only features are refused on AMD.
    Prints what changed, the virt-xml or qm command doing the same, and a unified diff.
    """
    result = fix_file(config, context=context, vm=vm, profile=profile, add=add,
                      remove=remove, windows=_windows(windows, dump),
                      qemu_version=qemu_version, libvirt_version=libvirt_version,
                      host_cpu=host_cpu)
    if output is not None and result.changed:
        Path(output).write_text(result.patched, encoding="utf-8", newline="")
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "written": output if result.changed
                               else None}, indent=2))
        return
    text = render_fix(result)
    if output is not None:
        text += f"\n\nwritten to {safe(output)}" if result.changed else "\n\nnothing written"
    click.echo(safe_block(text))
