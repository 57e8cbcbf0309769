"""Matching modules to PDBs: which file, found where, and why not.

A module's PDB id (GUID + age of the RSDS record) comes from its image: the one in the dump
(``Module.pdb``, full and kernel dumps) or, for triage minidumps that carry no image, the
image file a symbol store indexes by TimeDateStamp and SizeOfImage (sheet 2.3: rizin does
the same; ``amdppm.sys/C9C030003b000/amdppm.sys`` gives ``1C19FDDB...F31``). The image,
when found, also gives the section table the names are bounded by.

Search order follows the symbol path (search_path.py): each chain's folders bottom first
(a plain folder also flat), a compressed hit expanded into the chain's cache, and only then
its server, when the network is allowed. A candidate that turns out to be another build
(a flat folder's file, a store with a wrong file) is skipped and remembered as the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from dumptriage.dump.kernel.pe_image import PeImage, Section
from dumptriage.dump.kernel.stack import RvaReader
from dumptriage.model.dump import Module, PdbInfo
from dumptriage.model.record import Record
from dumptriage.symbols import store
from dumptriage.symbols.cab import CabError, expand
from dumptriage.symbols.keys import StoreKey, image_key, pdb_key
from dumptriage.symbols.pdb import Lookup, PdbError, open_lookup
from dumptriage.symbols.pe_file import ImageFileError, image_reader, read_image_file
from dumptriage.symbols.search_path import SymbolPath, default_store
from dumptriage.symbols.server import Progress, fetch

# Why a module has no names (Frame.unsymbolized_reason starts with one of these words).
NO_PDB_ID = "no PDB id"
NOT_FOUND = "PDB not in the store"
AGE_MISMATCH = "age mismatch"
UNREADABLE = "PDB unreadable"


class Resolved(Record):
    """What the symbol path gave for one module."""

    module: str
    pdb: PdbInfo | None  # the id, from the dump or from the store's image
    pdb_key: StoreKey | None
    image_key: StoreKey | None
    image_path: str | None
    pdb_path: str | None
    sections: tuple[Section, ...]
    reason: str | None  # None when ``lookup`` is set


class Resolver:
    """Finds files along one symbol path; remembers notes (Anomaly-ready strings)."""

    def __init__(self, path: SymbolPath, *, allow_network: bool, cache_root: str | None = None,
                 timeout: float = 30.0, progress: Progress | None = None):
        self.path = path
        self.allow_network = allow_network
        self.cache_root = cache_root or default_store()
        self.timeout = timeout
        self.progress = progress
        self.notes: list[tuple[str, str, str]] = []  # (kind, where, detail)
        self._dead_servers: set[str] = set()
        # Image lookups by store path: the walker and the namer ask for the same images.
        self._images: dict[tuple[str, bool], tuple[PeImage | None, str | None, str]] = {}

    # -- one module ----------------------------------------------------------------------

    def resolve(self, module: Module) -> tuple[Resolved, Lookup | None]:
        ikey = (image_key(module.name, module.timestamp, module.size)
                if module.timestamp and module.size else None)
        image, image_path, why_no_image = self._image(ikey, network=module.pdb is None)
        pdb = module.pdb or (image.pdb if image is not None else None)
        sections = image.sections if image is not None else ()
        if pdb is None:
            if ikey is None:
                reason = f"{NO_PDB_ID}: the dump holds no image headers and no timestamp/size"
            elif image is None:
                reason = f"{NO_PDB_ID}: image {ikey.path} not in the store{why_no_image}"
            else:
                reason = f"{NO_PDB_ID}: image {image_path} has no RSDS record"
            return Resolved(module.name, None, None, ikey, image_path, None, sections,
                            reason), None
        key = pdb_key(pdb.name, pdb.guid, pdb.age)
        lookup, pdb_path, missing = self._pdb(key, pdb)
        return Resolved(module.name, pdb, key, ikey, image_path, pdb_path, sections,
                        missing), lookup

    def image_reader(self, module: Module) -> RvaReader | None:
        """The module's image file from the path, read by RVA (None: none found)."""
        if not module.timestamp or not module.size:
            return None
        key = image_key(module.name, module.timestamp, module.size)
        _image, path, _why = self._image(key, network=True)
        if path is None:
            return None
        try:
            return image_reader(path)
        except ImageFileError as err:
            self.notes.append(("symbol_file_unreadable", key.path, str(err)))
            return None

    def _image(self, key: StoreKey | None, *, network: bool
               ) -> tuple[PeImage | None, str | None, str]:
        if key is None:
            return None, None, ""
        if (key.path, network) not in self._images:
            self._images[key.path, network] = self._find_image(key, network=network)
        return self._images[key.path, network]

    def _find_image(self, key: StoreKey, *, network: bool
                    ) -> tuple[PeImage | None, str | None, str]:
        why = ""
        for path, _via in self.candidates(key, network=network):
            try:
                image = read_image_file(path)
            except ImageFileError as err:
                self.notes.append(("symbol_file_unreadable", key.path, str(err)))
                why = f" (unreadable: {err})"
                continue
            if image.timestamp == int(key.key[:8], 16) and image.size_of_image == int(
                    key.key[8:], 16):
                return image, path, ""
            why = f" ({path} is another build)"
        return None, None, why

    def _pdb(self, key: StoreKey, pdb: PdbInfo) -> tuple[Lookup | None, str | None, str | None]:
        reason: str = f"{NOT_FOUND}: {key.path}"
        for path, _via in self.candidates(key, network=True):
            try:
                return open_lookup(path, pdb.guid, pdb.age, self.cache_root), path, None
            except PdbError as err:
                if err.kind == "age_mismatch":
                    reason = f"{AGE_MISMATCH}: {err.reason}"
                elif err.kind == "mismatch":
                    reason = f"{NOT_FOUND}: {key.path} ({err.reason})"
                else:
                    reason = f"{UNREADABLE}: {err.reason}"
                    self.notes.append(("symbol_file_unreadable", key.path, err.reason))
        if reason.startswith(NOT_FOUND):
            others = [k for c in self.path.chains for f in c.folders
                      for k in store.other_keys(f, key)]
            if others:
                reason = (f"{AGE_MISMATCH}: the store has {key.name} with "
                          f"{', '.join(sorted(set(others)))}, the module needs {key.key}")
        return None, None, reason

    # -- files along the path ------------------------------------------------------------

    def candidates(self, key: StoreKey, *, network: bool) -> Iterator[tuple[str, str]]:
        """Paths that may hold ``key``, local ones first within each chain, lazily."""
        for chain in self.path.chains:
            cache = chain.cache or self.cache_root
            for folder in chain.folders:
                hit, notes = store.find(folder, key, flat=chain.kind == "dir")
                for note in notes:
                    self.notes.append(("symbol_store_note", key.path, note))
                if hit is None:
                    continue
                path = self._plain(hit.path, hit.compressed, key, cache)
                if path is not None:
                    yield path, hit.via
            if not (network and self.allow_network):
                continue
            for url in chain.urls:
                if url in self._dead_servers:
                    continue
                got, notes = fetch(url, key, chain.stores[0] if not chain.stores[0].startswith(
                    ("http://", "https://")) else cache, timeout=self.timeout,
                    progress=self.progress)
                for note in notes:
                    self.notes.append(("symbol_download_failed", key.path, note))
                if got is None and any("no answer" in n or "failed" in n for n in notes):
                    self._dead_servers.add(url)  # do not wait on it again for each module
                if got is not None:
                    path = self._plain(got.path, got.compressed, key, cache)
                    if path is not None:
                        yield path, "server"

    def _plain(self, path: str, compressed: bool, key: StoreKey, cache: str) -> str | None:
        """An uncompressed file for ``path``: itself, or its expansion in the cache."""
        if not compressed:
            return path
        target = os.path.join(cache, key.name, key.key, key.name)
        if os.path.isfile(target) and os.path.getmtime(target) >= os.path.getmtime(path):
            return target
        try:
            return expand(path, key.name, target)
        except (CabError, OSError) as err:
            self.notes.append(("symbol_file_unreadable", key.path, f"{path}: {err}"))
            return None
