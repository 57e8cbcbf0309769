"""What a file is, from its first bytes (names only break ties for damaged dumps).

``dump``: PAGEDUMP/PAGEDU64 (every kernel dump container starts so), or a file named like a
dump (``*.dmp``, ``MEMORY.DMP``) whatever its bytes, so that a corrupt or truncated dump
becomes an error row instead of vanishing. ``text``: a saved debugger transcript
(``dumptriage.debugger.text.looks_like_transcript``). ``zip``/``cab``: archives as WER
uploads them. ``context``: a host-side file that ``dumptriage.context`` recognises.
"""

from __future__ import annotations

from dumptriage.debugger.text import SNIFF_BYTES, looks_like_transcript

HEAD = SNIFF_BYTES  # enough for every test below
DUMP_MAGIC = (b"PAGEDUMP", b"PAGEDU64")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive
CAB_MAGIC = b"MSCF"
GZIP_MAGIC = b"\x1f\x8b"
USER_MINIDUMP = b"MDMP"  # a user-mode minidump: not a kernel crash
DUMP_SUFFIXES = (".dmp",)


def named_like_dump(name: str) -> bool:
    return name.replace("\\", "/").rsplit("/", 1)[-1].lower().endswith(DUMP_SUFFIXES)


def binary_kind(head: bytes) -> str | None:
    if head.startswith(DUMP_MAGIC):
        return "dump"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(CAB_MAGIC):
        return "cab"
    return None


def member_kind(name: str, head: bytes) -> str | None:
    """``dump``, ``text`` or None (not read) for an archive member."""
    if head.startswith(DUMP_MAGIC):
        return "dump"
    if head.startswith((*ZIP_MAGIC, CAB_MAGIC, USER_MINIDUMP)):
        return None  # nested archives and user-mode dumps are not read
    if looks_like_transcript(head):
        return "text"
    return "dump" if named_like_dump(name) else None


def file_kind(name: str, head: bytes) -> str | None:
    """``dump``, ``text``, ``zip``, ``cab``, ``maybe-context`` or None for a file."""
    kind = binary_kind(head)
    if kind is not None:
        return kind
    if head.startswith(USER_MINIDUMP):
        return None
    if looks_like_transcript(head):
        return "text"
    if named_like_dump(name):
        return "dump"
    return "maybe-context"
