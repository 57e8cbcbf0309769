"""Naming a report's stack frames from PDBs: the function the analysis layer calls.

``symbolize(report, search_path, allow_network=...)`` returns ``(report, notes)``
(``SymbolSession`` does the same in two steps, lending the store's image files to the
stack walker first, so that minidump frames are unwound before they are named):

* the report with each frame that a PDB names set to ``symbol = "module!Function+0xoff"``
  (``+0x0`` left out, as WinDbg does), ``symbol_source = "pdb"``; every other frame of a
  module keeps its ``module+0xoff`` / export name and gets ``unsymbolized_reason``; the
  modules whose PDB id came from the store's image get ``Module.pdb`` filled;
* ``notes``: ``Anomaly`` records (codes in ``NOTE_CODES``), one per module left without
  names and one per unreadable file, failed download or store message. They are *not*
  added to ``report.anomalies``: the caller appends them (so it decides their order).

Names are bounded by the image's section table when the image is known (the store's
image file; sheet 4.4): a frame outside executable sections, or in another section than
the function found, is not named ("not in code"). Frames of the debugger (method
"debugger") are named already and left alone. Never raises for a bad PDB, image, cabinet
or server; the network is used only with ``allow_network`` and a URL in the path.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from dumptriage.dump.kernel.pe_image import Section
from dumptriage.dump.kernel.stack import RvaReader, display_name
from dumptriage.model.anomaly import Anomaly, AnomalyCode
from dumptriage.model.dump import Frame, Module
from dumptriage.model.record import replace
from dumptriage.model.report import Report
from dumptriage.symbols.pdb import Lookup
from dumptriage.symbols.resolve import Resolved, Resolver
from dumptriage.symbols.search_path import parse
from dumptriage.symbols.server import Progress

# Anomaly codes of the notes (stable; documented here until model/anomaly.py lists them).
# The notes' codes, documented in model/anomaly.py (AnomalyCode.SYMBOL*).
NOTE_CODES = {code.value: code.value for code in (
    AnomalyCode.SYMBOLS_MISSING, AnomalyCode.SYMBOL_FILE_UNREADABLE,
    AnomalyCode.SYMBOL_DOWNLOAD_FAILED, AnomalyCode.SYMBOL_STORE_NOTE,
    AnomalyCode.SYMBOL_PATH_WARNING)}
NOT_IN_CODE = "not in code"


class ModuleIndex:
    """The report's modules by address (frames name their image; names can repeat)."""

    def __init__(self, modules: Sequence[Module]):
        self._modules = sorted(modules, key=lambda m: m.base)
        self._bases = [m.base for m in self._modules]

    def find(self, address: int) -> Module | None:
        i = bisect.bisect_right(self._bases, address) - 1
        if i >= 0 and self._modules[i].contains(address):
            return self._modules[i]
        return None


class SymbolSession:
    """One symbol path opened for one report: the walker borrows its image files
    (``image_source``), then ``symbolize`` names the frames; both share one Resolver, so a
    module is looked up (and downloaded) once."""

    def __init__(self, search_path: str, *, allow_network: bool,
                 progress: Progress | None = None, timeout: float = 30.0,
                 cache_root: str | None = None):
        self.path = parse(search_path)
        self.resolver = Resolver(self.path, allow_network=allow_network, cache_root=cache_root,
                                 timeout=timeout, progress=progress)

    def image_source(self, module: Module) -> RvaReader | None:
        """The store's image file of ``module`` by RVA (None: not in the store)."""
        return self.resolver.image_reader(module)

    def symbolize(self, report: Report) -> tuple[Report, list[Anomaly]]:
        """Name ``report.stack`` (see the module doc)."""
        resolver = self.resolver
        index = ModuleIndex(report.modules)
        done: dict[int, tuple[Resolved, Lookup | None]] = {}
        frames = []
        for frame in report.stack:
            module = _module_of(frame, index)
            if module is None:
                frames.append(frame)
                continue
            if module.base not in done:
                done[module.base] = resolver.resolve(module)
            resolved, lookup = done[module.base]
            frames.append(_named(frame, module, resolved, lookup))
        notes = [Anomaly(NOTE_CODES["symbol_path_warning"], "symbol path", w)
                 for w in self.path.warnings]
        notes += [Anomaly(NOTE_CODES[kind], where, detail)
                  for kind, where, detail in _unique(resolver.notes)]
        notes += [Anomaly(NOTE_CODES["symbols_missing"], resolved.module, resolved.reason)
                  for resolved, lookup in done.values() if lookup is None and resolved.reason]
        modules = tuple(_with_pdb(m, done.get(m.base)) for m in report.modules)
        return replace(report, stack=tuple(frames), modules=modules), notes


def symbolize(report: Report, search_path: str, *, allow_network: bool,
              progress: Progress | None = None, timeout: float = 30.0,
              cache_root: str | None = None) -> tuple[Report, list[Anomaly]]:
    """Name ``report.stack`` from the PDBs ``search_path`` leads to (see the module doc).

    ``progress(url, bytes_done, bytes_total_or_None)`` is called while downloading;
    ``cache_root``: where expanded files, downloads of ``srv*URL`` and lookup caches go when
    nothing else is named (default ``$XDG_CACHE_HOME/dumptriage/sym``).
    """
    session = SymbolSession(search_path, allow_network=allow_network, progress=progress,
                            timeout=timeout, cache_root=cache_root)
    return session.symbolize(report)


def _module_of(frame: Frame, index: ModuleIndex) -> Module | None:
    if frame.method == "debugger" or frame.address is None or frame.module is None:
        return None
    return index.find(frame.address)


def _named(frame: Frame, module: Module, resolved: Resolved, lookup: Lookup | None) -> Frame:
    if lookup is None:
        return replace(frame, unsymbolized_reason=resolved.reason)
    assert frame.address is not None
    rva = frame.address - module.base
    found = lookup.lookup(rva)
    if found is None:
        return replace(frame, unsymbolized_reason=f"{NOT_IN_CODE}: the PDB names no function "
                                                  f"at +{rva:#x}")
    function, start = found
    why = _outside(rva, start, resolved.sections)
    if why is not None:
        return replace(frame, unsymbolized_reason=why)
    distance = rva - start
    name = display_name(module)
    symbol = f"{name}!{function}+{distance:#x}" if distance else f"{name}!{function}"
    return replace(frame, symbol=symbol, symbol_source="pdb", unsymbolized_reason=None)


def _outside(rva: int, start: int, sections: tuple[Section, ...]) -> str | None:
    """Why the function at ``start`` cannot hold ``rva`` (None: it can, or no sections)."""
    if not sections:
        return None
    here = next((s for s in sections if s.rva <= rva < s.rva + s.size), None)
    if here is None or not here.executable:
        where = f"in {here.name}" if here is not None else "outside every section"
        return f"{NOT_IN_CODE}: +{rva:#x} is {where}"
    if not here.rva <= start < here.rva + here.size:
        return f"{NOT_IN_CODE}: +{rva:#x} ({here.name}) precedes the section's first function"
    return None


def _with_pdb(module: Module, done: tuple[Resolved, Lookup | None] | None) -> Module:
    if done is None or module.pdb is not None or done[0].pdb is None:
        return module
    return replace(module, pdb=done[0].pdb)


def _unique(items: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return list(dict.fromkeys(items))
