"""`dumptriage explain CODE [ARG1..ARG4]`: what a stop code and its arguments mean, offline.

A thin wrapper over ``dumptriage.catalogue.interpret.explain``: parse, explain, print.
Data goes to stdout, messages to stderr; exit 2 for an unknown code or unusable arguments.
"""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import click

from dumptriage.render.safe import safe, safe_block

if TYPE_CHECKING:
    from dumptriage.model.explanation import Explanation

EXIT_USAGE = 2
_WIDTH = 96
_X86_KERNEL_START = 0x8000_0000

HELP = """Explain a bugcheck (stop) code and, optionally, its four arguments.

\b
CODE may be written as:
  0x101                   hex, with prefix
  CLOCK_WATCHDOG_TIMEOUT  the stop-code name (any case)
  101                     a bare number is read as hex first, as WinDbg and
                          Microsoft's docs write codes ("CLOCK_WATCHDOG_TIMEOUT (101)")
  257                     ...and only if the hex reading is not a known stop
                          code, as decimal (257 = 0x101)
  0n257                   decimal, forced (WinDbg's prefix); 0n133 = 0x85, 133 = 0x133

\b
ARGS are the bugcheck arguments Arg1..Arg4 as WinDbg prints them: hex, with or without
0x, backticks allowed (fffff808`12345678); prefix 0n for decimal.

\b
Examples:
  dumptriage explain 0x101
  dumptriage explain 101 61 0 807a3120 1 --bits 32
  dumptriage explain 0xD1 0 2 0 0xfffff80812345678 --json
"""


def parse_arg(text: str) -> int:
    """One argument value: hex by default (WinDbg's output), 0n for decimal."""
    token = text.strip().replace("`", "").lower()
    if token.startswith("0n"):
        return int(token[2:], 10)
    return int(token[2:] if token.startswith("0x") else token, 16)


def _guess_bits(values: list[int]) -> int:
    """32 when every value fits in 32 bits and one looks like a 32-bit kernel pointer."""
    fits = all(v <= 0xFFFF_FFFF for v in values)
    looks_x86 = any(v >= _X86_KERNEL_START for v in values)
    return 32 if values and fits and looks_x86 else 64


def _fail(message: str) -> None:
    click.echo(f"dumptriage explain: {safe(message)}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


def _parse_args(raw: tuple[str, ...]) -> list[int]:
    if len(raw) > 4:
        _fail(f"a bugcheck has 4 arguments, got {len(raw)}")
    try:
        return [parse_arg(a) for a in raw]
    except ValueError:
        _fail(f"arguments must be hex numbers (or 0n-prefixed decimal): {' '.join(raw)}")
    return []  # not reached: _fail raises


def _wrap(text: str, indent: str = "") -> str:
    hanging = " " * len(indent)
    return textwrap.fill(
        text, _WIDTH, initial_indent=indent, subsequent_indent=hanging, break_on_hyphens=False
    )


def _table(exp: Explanation, with_values: bool) -> str:
    from tabulate import tabulate  # imported late: keeps `dumptriage --help` fast

    if with_values:
        rows = [
            [
                f"Arg{p.index}",
                "-" if p.value is None else f"{p.value:#x}",
                p.meaning,
                p.interpretation or "",
            ]
            for p in exp.parameters
        ]
        return tabulate(
            rows,
            ["Arg", "Value", "Meaning", "Interpretation"],
            tablefmt="simple",
            maxcolwidths=[None, None, 44, 36],
        )
    rows = [[f"Arg{p.index}", p.meaning] for p in exp.parameters]
    return tabulate(rows, ["Arg", "Meaning"], tablefmt="simple", maxcolwidths=[None, 84])


def _bullets(title: str, items: tuple[str, ...]) -> list[str]:
    return [title, *(_wrap(item, "  - ") for item in items)] if items else []


def render_text(exp: Explanation, with_values: bool) -> str:
    lines = [f"{exp.name or 'UNKNOWN'} ({exp.code:#x})", "", _wrap(exp.description), ""]
    if exp.subtype is not None:
        summary = exp.subtype.summary or "value not in our table"
        lines += [_wrap(f"Subtype (Arg{exp.subtype.arg} = {exp.subtype.value:#x}): {summary}"), ""]
    if exp.parameters:
        lines += [_table(exp, with_values), ""]
    lines += _bullets("Usual causes:", exp.usual_causes)
    lines += _bullets("KVM/QEMU causes to check (shared/reference/kvm-causes.md):", exp.kvm_causes)
    if exp.source:
        lines += ["", _wrap(f"Argument meanings from Microsoft's reference: {exp.source}")]
    # Arguments are the user's; the catalogue is ours: escaped all the same.
    return safe_block("\n".join(lines).rstrip() + "\n")


@click.command("explain", help=HELP)
@click.argument("code")
@click.argument("args", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.option(
    "--bits",
    type=click.Choice(["32", "64"]),
    default=None,
    help="Pointer width of the crashed system. Default: guessed from ARGS (32 when all fit "
    "in 32 bits and one is >= 0x80000000), else 64.",
)
def explain_command(code: str, args: tuple[str, ...], as_json: bool, bits: str | None) -> None:
    # Imported here so that registering the command costs `dumptriage --help` nothing.
    from dumptriage.catalogue.bugchecks import lookup
    from dumptriage.catalogue.interpret import explain

    entry = lookup(code)
    if entry is None:
        _fail(f"unknown bugcheck code {code!r} (try a hex code such as 0x101 or a name)")
        return
    values = _parse_args(args)
    pointer_bits = int(bits) if bits else _guess_bits(values)
    exp = explain(entry.code, values or None, pointer_bits)
    if as_json:
        click.echo(json.dumps(exp.to_dict(), indent=2))
    else:
        click.echo(render_text(exp, with_values=bool(values)), nl=False)
