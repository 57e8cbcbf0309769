"""Finding one file in a local folder: a symbol-store tree, or a plain folder of files.

Probe order in a store (WinDbg's ``!sym noisy`` log, sheet 6.1): ``name/key/name``, then
``name/key/name_`` (compressed), then ``name/key/file.ptr``; with ``index2.txt`` at the
root, the same below the two-letter level. ``file.ptr`` holds ``PATH:<file>`` (or a bare
path) or ``MSG:<text>`` (not found, with a reason). Directory names are matched
case-insensitively when the exact spelling is absent (rizin's store writes image keys in
lower case, sheet 2.5). A plain folder is searched for ``name`` itself (``flat``); such a
file's identity is checked by the caller, as its path says nothing of its key.
"""

from __future__ import annotations

import os

from dumptriage.model.record import Record
from dumptriage.symbols.keys import StoreKey, compressed_name

_MAX_PTR = 4096


class Hit(Record):
    path: str  # the file found (a compressed one still needs expanding)
    compressed: bool
    via: str  # "store", "two-tier", "file.ptr", "flat"


class Probe(Record):
    """One place looked at, for ``dumptriage symbols`` and reasons."""

    path: str
    present: bool


def find(folder: str, key: StoreKey, *, flat: bool) -> tuple[Hit | None, list[str]]:
    """The file for ``key`` below ``folder``, and notes (a ``MSG:`` pointer, a bad pointer)."""
    notes: list[str] = []
    roots = [("", "store")]
    if os.path.isfile(os.path.join(folder, "index2.txt")):
        roots.insert(0, (key.name[:2].lower(), "two-tier"))
    for prefix, via in roots:
        directory = _walk(folder, [p for p in (prefix, key.name, key.key) if p])
        if directory is None:
            continue
        hit = _in_key_dir(directory, key, via, notes)
        if hit is not None:
            return hit, notes
    if flat:
        path = child(folder, key.name)
        if path is not None and os.path.isfile(path):
            return Hit(path, False, "flat"), notes
        packed = child(folder, compressed_name(key.name))
        if packed is not None and os.path.isfile(packed):
            return Hit(packed, True, "flat"), notes
    return None, notes


def other_keys(folder: str, key: StoreKey) -> list[str]:
    """Keys the store holds for the same name whose GUID matches but whose age does not."""
    directory = child(folder, key.name)
    if key.kind != "pdb" or directory is None or not os.path.isdir(directory):
        return []
    guid = key.key[:32].upper()
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if n.upper().startswith(guid) and n.upper() != key.key)


def _in_key_dir(directory: str, key: StoreKey, via: str, notes: list[str]) -> Hit | None:
    plain = child(directory, key.name)
    if plain is not None and os.path.isfile(plain):
        return Hit(plain, False, via)
    packed = child(directory, compressed_name(key.name))
    if packed is not None and os.path.isfile(packed):
        return Hit(packed, True, via)
    pointer = child(directory, "file.ptr")
    if pointer is not None and os.path.isfile(pointer):
        return _pointer(pointer, key, notes)
    return None


def _pointer(pointer: str, key: StoreKey, notes: list[str]) -> Hit | None:
    try:
        with open(pointer, "rb") as f:
            text = f.read(_MAX_PTR).decode("utf-8", "replace").strip()
    except OSError as err:
        notes.append(f"{pointer}: {err.strerror}")
        return None
    if text.upper().startswith("MSG:"):
        notes.append(f"{pointer}: the store says: {text[4:].strip()}")
        return None
    target = text[5:].strip() if text.upper().startswith("PATH:") else text
    if not target:
        notes.append(f"{pointer}: empty pointer")
        return None
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(pointer), target)
    if not os.path.isfile(target):
        notes.append(f"{pointer}: points to {target}, which is not here")
        return None
    return Hit(target, target.endswith("_") and not key.name.endswith("_"), "file.ptr")


def _walk(folder: str, parts: list[str]) -> str | None:
    current = folder
    for part in parts:
        found = child(current, part)
        if found is None or not os.path.isdir(found):
            return None
        current = found
    return current


def child(folder: str, name: str) -> str | None:
    """``folder/name``, matching the name case-insensitively when the exact one is absent."""
    exact = os.path.join(folder, name)
    if os.path.exists(exact):
        return exact
    try:
        entries = os.listdir(folder)
    except OSError:
        return None
    lower = name.lower()
    for entry in sorted(entries):
        if entry.lower() == lower:
            return os.path.join(folder, entry)
    return None


def probes(folder: str, key: StoreKey) -> list[Probe]:
    """The store paths ``find`` tries below ``folder``, with whether each exists."""
    out = []
    for relative in (key.path, f"{key.name}/{key.key}/{key.compressed_name}",
                     f"{key.name}/{key.key}/file.ptr"):
        directory = _walk(folder, relative.split("/")[:-1])
        path = None if directory is None else child(directory, relative.rsplit("/", 1)[-1])
        out.append(Probe(os.path.join(folder, relative) if path is None else path,
                         path is not None and os.path.isfile(path)))
    return out
