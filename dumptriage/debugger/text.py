"""Saved debugger text as it reaches a ticket: decode, unquote, unfence, bound.

Transcripts arrive as UTF-8 or UTF-16 (WinDbg's "Save log" and PowerShell's ``>`` write
UTF-16 LE with a BOM), with CRLF line ends, quoted in e-mail (``> `` and ``>> `` prefixes)
or inside markdown fences. This module turns any of that into plain lines, without ever
failing: bytes that decode to nothing useful give no lines, and the caller reports that.
"""

from __future__ import annotations

import os
import re

# A transcript of a full !analyze -v with lm is a few hundred KiB; 16 MiB bounds the work
# (every regex below is linear) while refusing nothing real.
MAX_TEXT = 16 * 1024 * 1024
MAX_LINES = 200_000

_QUOTE = re.compile(r"^(?:[ \t]*>)+ ?")
_FENCE = re.compile(r"^\s*(```|~~~)")


def decode(data: bytes) -> str:
    """UTF-16 (with or without BOM) or UTF-8; undecodable bytes become U+FFFD."""
    data = data[:MAX_TEXT]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    sample = data[:4096]
    # ASCII text in UTF-16 has a NUL in every other byte; which half says the byte order.
    if len(sample) >= 16 and sample[1::2].count(0) > len(sample) // 4:
        return data.decode("utf-16-le", "replace")
    if len(sample) >= 16 and sample[0::2].count(0) > len(sample) // 4:
        return data.decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def clean_lines(text: str) -> list[str]:
    """Lines without CR, NUL, e-mail quoting or markdown fences (bounded in number)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").split("\n")
    quoted = sum(1 for line in lines if _QUOTE.match(line))
    strip_quotes = quoted > len(lines) // 3  # most of the paste is quoted
    out: list[str] = []
    for line in lines[:MAX_LINES]:
        if strip_quotes:
            line = _QUOTE.sub("", line, count=1)
        if _FENCE.match(line):
            continue
        out.append(line.rstrip())
    return out


# Lines only a Windows debugger prints (or an `!analyze -v` pasted from one). One of them
# within the first 64 KiB says the file is a transcript; a dump or a host log has none.
_MARKERS = re.compile(
    r"Microsoft \(R\) Windows Debugger Version|^\s*Loading Dump File \[|"
    r"Bugcheck Analysis|^\s*BugCheck [0-9A-Fa-f]{1,8}, \{|^\s*BUGCHECK_CODE:|"
    r"^\s*(?:# )?(?:ChildEBP|Child-SP)\s+RetAddr|^\s*STACK_TEXT:|"
    r"Kernel Version \d+ .*(?:MP|UP) \(\d+ procs?\)|"
    # Windows XP's vertarget: "... Kernel Version 2600 (Service Pack 3) UP Free x86 compatible"
    # (https://github.com/nixawk/Awesome-Windows-Debug/issues/9); an lm/lmnt listing or a
    # .bugcheck on their own (https://github.com/virtio-win/kvm-guest-drivers-windows/issues/1582,
    # https://github.com/virtio-win/kvm-guest-drivers-windows/issues/85).
    r"Kernel Version \d+ .*UP (?:Free|Checked) x86|^\s*start\s+end\s+module name\s*$|"
    r"^\s*Bugcheck code [0-9A-Fa-f]{8}\s*$",
    re.MULTILINE)
SNIFF_BYTES = 64 * 1024


# Binary files a transcript never starts with: dumps (kernel, user-mode, ELF, QEMU's
# kdump-compressed "KDUMP   " and flattened "makedumpfile") and archives.
_BINARY_MAGIC = (b"PAGEDU", b"MDMP", b"\x7fELF", b"KDUMP   ", b"makedump", b"PK\x03\x04",
                 b"MSCF")


def looks_like_transcript(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) is debugger output, not a binary dump."""
    if head.startswith(_BINARY_MAGIC):
        return False
    text = decode(head[:SNIFF_BYTES]).replace("\r", "").replace("\x00", "")
    return _MARKERS.search(_QUOTE_ANY.sub("", text)) is not None


_QUOTE_ANY = re.compile(_QUOTE.pattern, re.MULTILINE)  # _QUOTE at every line start


def is_transcript(path: str | os.PathLike[str]) -> bool:
    """True when the file's first bytes are debugger output (False if it cannot be read:
    the dump reader then gives its own error)."""
    try:
        with open(path, "rb") as file:
            # A dump is told by its first 8 bytes: the other 64 KiB are read for text only
            # (every dump of a batch passes through here before it is mapped).
            first = file.read(8)
            if first.startswith(_BINARY_MAGIC):
                return False
            return looks_like_transcript(first + file.read(SNIFF_BYTES - len(first)))
    except OSError:
        return False
