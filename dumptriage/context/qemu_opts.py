"""Low-level QEMU command-line helpers: splitting a command, option lists, sizes.

QEMU's own rules (util/qemu-option.c): options are ``key=value`` separated by commas, a
literal comma is written ``,,``; the first item may be an implied key (the CPU model for
``-cpu``, the count for ``-smp``). ``-device``/``-object``/``-blockdev`` also accept JSON
(libvirt uses that form since 7.x: see the corpus .args files).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

# Binaries that are QEMU system emulators (Debian/Ubuntu ship "kvm" and "kvm-spice"
# wrappers, RHEL "qemu-kvm", Proxmox "/usr/bin/kvm").
_QEMU_BINARY = re.compile(r"^(qemu-system-[\w-]+|qemu-kvm|kvm|kvm-spice)$")

# Options that take no argument (qemu-options.hx); all others take exactly one.
NO_ARG = frozenset({
    "S", "enable-kvm", "no-hpet", "no-shutdown", "no-user-config", "nodefaults", "daemonize",
    "no-reboot", "nographic", "snapshot", "no-acpi", "usb", "full-screen", "s",
    "no-kvm-pit-reinjection", "no-kvm", "enable-fips", "no-fd-bootchk", "no-quit",
    "only-migratable", "win2k-hack", "rtc-td-hack", "localtime", "no-frame", "alt-grab",
    "ctrl-grab", "no-kvm-irqchip", "preconfig", "no-graphic", "writeconfig-none",
})


def is_qemu_binary(token: str) -> bool:
    return bool(_QEMU_BINARY.match(os.path.basename(token)))


# POSIX shell words (what shlex.split gives), found by the regex engine in one linear
# pass: shlex reads a character at a time in Python, 0.1 s per 64 KiB, so a hostile
# 16 MiB "command line" took half a minute. A word is a run of plain characters,
# '...' (literal), "..." (backslash escapes only \\ \" $ ` and newline) and \x.
_WORD = re.compile(r"""(?:[^\s'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\.?)+""", re.S)
_PIECE = re.compile(r"""([^\s'"\\]+)|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.?)""", re.S)
_DQ_ESCAPE = re.compile(r'\\([\\"$`\n])')


def _unquote(word: str) -> str:
    out = []
    for m in _PIECE.finditer(word):
        plain, single, double, escaped = m.groups()
        if plain is not None:
            out.append(plain)
        elif single is not None:
            out.append(single)
        elif double is not None:
            out.append(_DQ_ESCAPE.sub(r"\1", double))
        else:
            out.append(escaped or "")
    return "".join(out)


def shell_split(text: str) -> list[str]:
    """``shlex.split`` for well-formed input; an unbalanced quote is skipped, not fatal."""
    return [_unquote(m[0]) for m in _WORD.finditer(text)]


def split_command(text: str) -> list[str]:
    """Tokens of a shell command line, from the QEMU binary on (env, ps columns dropped).

    Returns [] when no QEMU binary is found.
    """
    tokens = shell_split(re.sub(r"\\\r?\n", " ", text))
    for i, tok in enumerate(tokens):
        if is_qemu_binary(tok):
            return tokens[i:]
    return []


def split_opts(text: str) -> list[str]:
    """Split 'a,b=c,,d' into ['a', 'b=c,d'] (a doubled comma is a literal comma)."""
    items: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if text[i + 1: i + 2] == ",":
                cur.append(",")
                i += 2
                continue
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    return [item for item in items if item != ""]


def parse_kv(text: str, implied: str | None = None) -> dict[str, Any]:
    """Option string (or JSON object) -> dict; the first bare item goes to ``implied``."""
    text = text.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return obj
    out: dict[str, Any] = {}
    for n, item in enumerate(split_opts(text)):
        key, sep, value = item.partition("=")
        if not sep:
            if n == 0 and implied is not None:
                out[implied] = key
            else:
                out[key] = "on"
        else:
            out[key] = value
    return out


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmMgGtT]?)[bB]?$")
_MULT = {"": 1024**2, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size_kib(text: str, default_unit: str = "m") -> int | None:
    """QEMU -m sizes: a bare number is MiB; k/M/G/T suffixes (qemu-options.hx, -m)."""
    match = _SIZE.match(text.strip())
    if not match:
        return None
    unit = match.group(2).lower() or default_unit
    return int(float(match.group(1)) * _MULT[unit]) // 1024


def truthy(value: str) -> bool:
    return value.lower() in ("on", "yes", "true", "1", "")


def parse_options(tokens: list[str]) -> list[tuple[str, str | None]]:
    """[('cpu', 'host,...'), ('S', None), ...] in command-line order."""
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("-") or tok == "-":
            i += 1
            continue
        name = tok.lstrip("-")
        if name in NO_ARG or i + 1 >= len(tokens):
            out.append((name, None))
            i += 1
        else:
            out.append((name, tokens[i + 1]))
            i += 2
    return out
