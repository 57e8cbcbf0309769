"""``.pd_`` / ``.sy_`` files: one-file Microsoft cabinets, expanded on Linux.

Sheet 5 (../shared/reference/pdb-symbols.md): a compressed store file is a cabinet whose one
member is the original name; MSZIP is what ``symstore /compress`` and Mozilla's store
write (observed), and PyPI ``cabarchive`` decodes it in pure Python. LZX (typeCompress
& 0xF == 3) it refuses: then Debian's ``cabextract`` is used when it is on PATH, else the
file is a note naming the package.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile

# CFHEADER: "MSCF" at 0, cbCabinet u32 at 8, coffFiles u32 at 0x10, cFolders u16 at 0x1A,
# cFiles u16 at 0x1C; CFFILE: cbFile u32 at 0 (sheet 5.1, P13).
MAGIC = b"MSCF"
MAX_INPUT = 1 << 30
MAX_EXPANDED = 2 << 30
_CABEXTRACT_TIMEOUT = 300


class CabError(Exception):
    """A compressed store file that cannot be expanded (a note, never fatal)."""


def expand(source: str, member: str, destination: str) -> str:
    """Expand the cabinet ``source`` into ``destination`` (a file path, written atomically).

    ``member``: the name wanted (``amdppm.pdb``); a one-file cabinet's only member is taken
    whatever its name. Raises CabError.
    """
    with open(source, "rb") as f:
        buf = f.read(MAX_INPUT + 1)
    if len(buf) > MAX_INPUT:
        raise CabError(f"{source}: larger than {MAX_INPUT >> 20} MiB")
    _check_header(buf, source)
    try:
        data = _with_cabarchive(buf, member)
    except _NeedsLzx:
        data = _with_cabextract(source, member)
    os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(destination) or ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, destination)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return destination


class _NeedsLzx(Exception):
    pass


def _check_header(buf: bytes, source: str) -> None:
    if len(buf) < 0x24 or buf[:4] != MAGIC:
        raise CabError(f"{source}: not a cabinet (no MSCF magic)")
    files_at, = struct.unpack_from("<I", buf, 0x10)
    count, = struct.unpack_from("<H", buf, 0x1C)
    if count == 0:
        raise CabError(f"{source}: the cabinet holds no file")
    declared = 0
    at = files_at
    for _ in range(min(count, 64)):
        if at + 16 > len(buf):
            raise CabError(f"{source}: CFFILE entry past the end of the file")
        declared += struct.unpack_from("<I", buf, at)[0]
        end = buf.find(b"\0", at + 16)
        if end < 0:
            raise CabError(f"{source}: CFFILE name not terminated")
        at = end + 1
    if declared > MAX_EXPANDED:
        raise CabError(f"{source}: declares {declared} bytes expanded, more than allowed")


def _with_cabarchive(buf: bytes, member: str) -> bytes:
    from cabarchive import CabArchive, NotSupportedError  # on first use only

    try:
        archive = CabArchive(buf)
    except NotSupportedError as err:
        if "LZX" in str(err) or "Quantum" in str(err) or "compression" in str(err).lower():
            raise _NeedsLzx() from err
        raise CabError(f"not supported: {err}") from err
    except Exception as err:  # third-party parser on untrusted bytes
        raise CabError(f"not a readable cabinet: {type(err).__name__}: {err}") from err
    return _pick(dict((name, f.buf or b"") for name, f in archive.items()), member)


def _pick(members: dict[str, bytes], member: str) -> bytes:
    by_lower = {name.replace("\\", "/").rsplit("/", 1)[-1].lower(): data
                for name, data in members.items()}
    if member.lower() in by_lower:
        return by_lower[member.lower()]
    if len(members) == 1:
        return next(iter(members.values()))
    raise CabError(f"the cabinet has no member {member!r} ({', '.join(sorted(members))})")


def _with_cabextract(source: str, member: str) -> bytes:
    tool = shutil.which("cabextract")
    if tool is None:
        raise CabError("LZX-compressed cabinet: install cabextract (Debian package "
                       "'cabextract') to expand it")
    with tempfile.TemporaryDirectory(prefix="dumptriage-cab-") as work:
        try:
            subprocess.run([tool, "-q", "-d", work, source], check=True,
                           timeout=_CABEXTRACT_TIMEOUT, capture_output=True)
        except (OSError, subprocess.SubprocessError) as err:
            raise CabError(f"cabextract failed: {err}") from err
        found: dict[str, bytes] = {}
        for root, _dirs, files in os.walk(work):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    found[name] = f.read()
        return _pick(found, member)
