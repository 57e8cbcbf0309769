"""PDBs through Sentry's ``symbolic`` (PyPI, pinned in pyproject.toml), and their lookup caches.

symbolic reads the PDB (MSF, DBI, publics and module procedures, section headers and OMAP,
the DBI age for the id; sheet 7) and builds a SymCache: a compact, mmap-able lookup table.
Its symbol table holds function symbols only: data publics (strings, ``__imp_*``, globals)
never name an address, so a function wins over data at the same address (checked on
amdppm.pdb: ``??_C@_07NFANNNEC@UNKNOWN@`` at 0x10970 is not returned).

The SymCache is kept on disk beside the PDB (``amdppm.pdb.symcache``) or, when that folder
is not writable (a read-only store: its mode bits say so, honoured even as root), under the
cache root; a warm run opens only it, never
the PDB. It is used only when its debug id is the wanted one, it is the latest format and
it is newer than the PDB.

symbolic is imported here only, and this module only when symbols are asked for.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

from dumptriage.symbols.keys import debug_id as make_debug_id
from dumptriage.symbols.undecorate import undecorate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from symbolic.debuginfo import Object

SUFFIX = ".symcache"
# A PDB is a few MB (ntkrnlmp ~10-30 MB); far larger is not one we should map.
MAX_PDB = 1 << 30
_MSF7 = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
_MSF2 = b"Microsoft C/C++ program database 2.00\r\n\x1aJG\0\0"


class PdbError(Exception):
    """A PDB that cannot be used: unreadable, corrupt, or another build's (never fatal)."""

    def __init__(self, reason: str, *, kind: str = "corrupt"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "corrupt", "unsupported", "mismatch", "age_mismatch"


class Lookup:
    """Names for RVAs of one PDB: ``lookup(rva)`` -> (function, its RVA) or None."""

    __slots__ = ("_cache", "arch", "debug_id", "source")

    def __init__(self, cache: Any, debug_id: str, source: str):
        self._cache = cache
        self.debug_id = debug_id
        self.source = source  # "symcache" (warm) or "pdb" (built this run)
        # "x86" decides how public names are undecorated (undecorate.py)
        self.arch = str(getattr(cache, "arch", "") or "")

    def lookup(self, rva: int) -> tuple[str, int] | None:
        try:
            found = self._cache.lookup(rva)
        except Exception:  # symbolic on an address it cannot map: no name, not an error
            return None
        if not found:
            return None
        best = found[-1]  # outermost function (inlinees come first)
        name = undecorate(strip_arguments(str(best.symbol or "")), self.arch)
        if not name:
            return None
        return name, int(best.sym_addr)


def strip_arguments(name: str) -> str:
    """``beta(int*, int)`` -> ``beta``: symbolic prints a private PDB's procedures with their
    argument types; WinDbg's frames name the function alone. Only a trailing, balanced
    group is cut (``Foo::operator()(int)`` -> ``Foo::operator()``)."""
    if not name.endswith(")"):
        return name
    depth = 0
    for i in range(len(name) - 1, -1, -1):
        if name[i] == ")":
            depth += 1
        elif name[i] == "(":
            depth -= 1
            if depth == 0:
                return name[:i].rstrip() or name
    return name


def check_magic(path: str) -> None:
    """Refuse a file that is not an MSF 7.00 PDB before symbolic sees it."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_MSF2))
        size = os.path.getsize(path)
    except OSError as err:
        raise PdbError(f"{path}: {err.strerror}") from err
    if head.startswith(_MSF2):
        raise PdbError(f"{path}: MSF 2.0 (pre-Vista) PDB, not supported", kind="unsupported")
    if not head.startswith(_MSF7):
        raise PdbError(f"{path}: not a PDB (no MSF 7.00 magic)")
    if size > MAX_PDB:
        raise PdbError(f"{path}: {size} bytes, larger than {MAX_PDB >> 20} MiB")


def pdb_debug_id(path: str) -> str:
    """The id symbolic reads from the PDB (GUID + DBI age), ``guid-age`` in lower case."""
    check_magic(path)
    return str(_object(path).debug_id)


def open_lookup(path: str, guid: str, age: int, cache_root: str) -> Lookup:
    """The lookup table of the PDB at ``path`` that must be ``guid``/``age``.

    Raises PdbError (kind "age_mismatch" when only the age differs, "mismatch" for another
    GUID, "corrupt" or "unsupported" otherwise).
    """
    wanted = make_debug_id(guid, age)
    for candidate in cache_paths(path, wanted, cache_root):
        cached = _open_cached(candidate, path, wanted)
        if cached is not None:
            return Lookup(cached, wanted, "symcache")
    check_magic(path)
    obj = _object(path)
    found = str(obj.debug_id)
    if found != wanted:
        same_guid = found.rsplit("-", 1)[0] == wanted.rsplit("-", 1)[0]
        raise PdbError(f"{path} is {found}, the module needs {wanted}",
                       kind="age_mismatch" if same_guid else "mismatch")
    try:
        symcache = obj.make_symcache()
    except Exception as err:
        raise PdbError(f"{path}: symbolic could not index it: {_why(err)}") from err
    _store(symcache, cache_paths(path, wanted, cache_root))
    return Lookup(symcache, wanted, "pdb")


def cache_paths(pdb: str, wanted: str, cache_root: str) -> list[str]:
    """Beside the PDB first, then under the cache root (one file per PDB id and path)."""
    tag = hashlib.sha1(os.path.abspath(pdb).encode()).hexdigest()[:12]
    name = os.path.basename(pdb)
    return [pdb + SUFFIX,
            os.path.join(cache_root, "symcache", wanted, f"{name}.{tag}{SUFFIX}")]


def _object(path: str) -> Object:
    from symbolic.debuginfo import Archive  # symbols asked for: pay the import now

    try:
        archive = Archive.open(path)
        objects = list(archive.iter_objects())
    except Exception as err:  # symbolic turns Rust errors and panics into exceptions
        raise PdbError(f"{path}: symbolic could not read it: {_why(err)}") from err
    if not objects:
        raise PdbError(f"{path}: symbolic found no debug object in it")
    return objects[0]


def _open_cached(candidate: str, pdb: str, wanted: str) -> Any:
    try:
        if os.path.getmtime(candidate) < os.path.getmtime(pdb):
            return None
    except OSError:
        return None
    from symbolic.symcache import SymCache

    try:
        cache = SymCache.open(candidate)  # type: ignore[no-untyped-call]
        if cache.debug_id != wanted or not cache.is_latest_version:
            return None
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None
    return cache


def _writable(directory: str) -> bool:
    """Honour a folder's mode bits even as root: a store marked read-only (``r-x``, like the
    shared corpus) is never written into."""
    try:
        mode = os.stat(directory).st_mode
    except FileNotFoundError:
        return True  # below the cache root, made now
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(directory, os.W_OK)


def _store(symcache: Any, candidates: list[str]) -> None:
    for path in candidates:
        directory = os.path.dirname(path)
        if not _writable(directory):
            continue
        try:
            os.makedirs(directory, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=directory, suffix=".part")
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as out:
                symcache.dump_into(out)
            os.replace(temp, path)
            return
        except OSError:
            if os.path.exists(temp):
                os.unlink(temp)
    # No writable place: the lookup still works for this run.


def _why(err: BaseException) -> str:
    text = str(getattr(err, "message", "") or err).splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
