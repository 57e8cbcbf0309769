"""Make text that came from an input safe to show on a terminal, in a table, markdown or HTML.

Dump comments, module names, file names, VM names and log lines are attacker-controlled: an
``ESC ] 0 ; ... BEL`` retitles a terminal, ``ESC [ 31 m`` recolours it, a carriage return or a
newline forges a line of the report. Every text renderer passes such strings through
:func:`safe` (one field) or :func:`safe_block` (a rendered block whose own line breaks are
kept): control characters come out escaped (``\\x1b``), never raw. JSON needs none of this
(its encoder escapes them already).
"""

from __future__ import annotations

# C0 controls, DEL and the C1 controls (U+0080-U+009F: 0x9b is a one-byte CSI on some
# terminals), plus the invisible Unicode format characters that reorder or hide text
# (bidirectional overrides and isolates, "Trojan Source", CVE-2021-42574; zero-width marks).
_FORMAT = (0x061C, *range(0x200B, 0x2010), *range(0x2028, 0x202F), *range(0x2066, 0x206A),
           0xFEFF)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_TABLE: dict[int, str] = {c: _escape(c) for c in (*range(0x20), *range(0x7F, 0xA0), *_FORMAT)}
_BLOCK = {c: e for c, e in _TABLE.items() if c != 0x0A}


def safe(text: object) -> str:
    """One field: every control or format character escaped, line breaks included."""
    return str(text).translate(_TABLE)


def safe_block(text: str) -> str:
    """A rendered block: as :func:`safe`, but its line breaks (``\\n``) are kept."""
    return text.translate(_BLOCK)
