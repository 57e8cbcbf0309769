"""What a file is, from its first bytes (names only break ties for damaged dumps).

``dump``: PAGEDUMP/PAGEDU64 (every kernel dump container starts so), a QEMU vmcore (an ELF
file of type ET_CORE, "KDUMP   " or the "makedumpfile" flattened stream; read by
dump/containers/vmcore_*.py), or a file named like a dump (``*.dmp``, ``MEMORY.DMP``,
``*.core``, ``*.vmcore``, ``vmcore``) whatever its bytes, so that a corrupt or truncated dump
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
DUMP_SUFFIXES = (".dmp", ".core", ".vmcore")
DUMP_NAMES = ("vmcore",)  # makedumpfile's and kdump's usual file name
# QEMU vmcores (hung-guest-dumps.md section 9): kdump-compressed, raw or flattened (the
# 8-byte prefix of "makedumpfile", enough for the 8 bytes analyze_many reads).
VMCORE_MAGIC = (b"KDUMP   ", b"makedump")
ELF_MAGIC = b"\x7fELF"
ET_CORE = b"\x04\x00"  # e_type at offset 0x10, little-endian: a core file, not a program


def named_like_dump(name: str) -> bool:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return base.endswith(DUMP_SUFFIXES) or base in DUMP_NAMES


def is_vmcore(head: bytes) -> bool:
    """A QEMU vmcore's first bytes; an ELF file only when it is a core (when ``head`` is
    too short to tell, an ELF file is taken for one)."""
    if head.startswith(VMCORE_MAGIC):
        return True
    return head.startswith(ELF_MAGIC) and (len(head) < 0x12 or head[0x10:0x12] == ET_CORE)


def binary_kind(head: bytes) -> str | None:
    if head.startswith(DUMP_MAGIC) or is_vmcore(head):
        return "dump"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(CAB_MAGIC):
        return "cab"
    return None


def member_kind(name: str, head: bytes) -> str | None:
    """``dump``, ``text`` or None (not read) for an archive member."""
    if head.startswith(DUMP_MAGIC) or is_vmcore(head):
        return "dump"
    if head.startswith((*ZIP_MAGIC, CAB_MAGIC, USER_MINIDUMP, ELF_MAGIC)):
        return None  # nested archives and user-mode dumps are not read
    if looks_like_transcript(head):
        return "text"
    return "dump" if named_like_dump(name) else None


def file_kind(name: str, head: bytes) -> str | None:
    """``dump``, ``text``, ``zip``, ``cab``, ``maybe-context`` or None for a file."""
    kind = binary_kind(head)
    if kind is not None:
        return kind
    if head.startswith((USER_MINIDUMP, ELF_MAGIC)):
        return None  # a user-mode dump, or an ELF program or library: no kernel dump
    if looks_like_transcript(head):
        return "text"
    if named_like_dump(name):
        return "dump"
    return "maybe-context"
