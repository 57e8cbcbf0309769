"""``--symbols PATH`` / ``_NT_SYMBOL_PATH``: which stores to search, in which order.

Grammar (../shared/reference/pdb-symbols.md 6.3, from Microsoft's "Advanced SymSrv Use" and
mstange/symsrv): elements separated by ``;``, searched left to right:

* ``DIR``: a plain folder: searched flat (``DIR/name.pdb``) and as a store tree;
* ``srv*S1*S2*...*Sn`` (= ``symsrv*symsrv.dll*S1*...*Sn``): a chain of stores, the leftmost
  the bottom cache, each miss going one step upstream, a hit copied down to the cache;
  an empty token (``**``, a trailing ``*``) is the default downstream store; ``srv*URL``
  alone still gets one (an HTTP store always has a downstream store);
* ``cache*DIR``: the cache for what elements to its right find (empty: the default store).

Keywords are case-insensitive. A token starting ``http://`` or ``https://`` is a server,
anything else a directory. The default store on Linux is ``$XDG_CACHE_HOME/dumptriage/sym``
(``~/.cache/dumptriage/sym``). Windows drive or UNC paths cannot be read here: they are
kept (they may name a mounted folder by accident) but give a warning.
"""

from __future__ import annotations

import os
import re

from dumptriage.model.record import Record

_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
ENV_VAR = "_NT_SYMBOL_PATH"


class Chain(Record):
    """One element of the path: stores searched bottom first, hits cached in ``cache``."""

    stores: tuple[str, ...]  # local folders and URLs, the bottom (cache) first
    cache: str | None  # where downloads and expanded .pd_ files go (None: nowhere)
    kind: str  # "dir" (a plain folder) or "srv" (a symsrv chain)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(s for s in self.stores if is_url(s))

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(s for s in self.stores if not is_url(s))


class SymbolPath(Record):
    text: str
    chains: tuple[Chain, ...]
    warnings: tuple[str, ...] = ()

    @property
    def names_url(self) -> bool:
        return any(c.urls for c in self.chains)


def is_url(token: str) -> bool:
    return token.lower().startswith(("http://", "https://"))


def default_store() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dumptriage", "sym")


def from_environment(explicit: str | None) -> str | None:
    """The path to use: ``--symbols`` when given, else ``_NT_SYMBOL_PATH``, else None."""
    if explicit is not None:
        return explicit
    return os.environ.get(ENV_VAR) or None


def parse(text: str, *, default: str | None = None) -> SymbolPath:
    """Parse a symbol path; never raises (an odd element becomes a warning)."""
    default = default or default_store()
    chains: list[Chain] = []
    warnings: list[str] = []
    cache: str | None = None
    for raw in text.split(";"):
        element = raw.strip()
        if not element:
            continue
        parts = element.split("*")
        head = parts[0].lower()
        if head == "cache" and len(parts) >= 2:
            cache = _folder(parts[1], default, warnings)
            if len(parts) > 2:
                warnings.append(f"{element!r}: cache* takes one folder; the rest is ignored")
            continue
        if head in ("srv", "symsrv") and len(parts) >= 2:
            tokens = parts[1:] if head == "srv" else parts[2:]
            if head == "symsrv" and len(parts) < 3:
                warnings.append(f"{element!r}: symsrv*DLL*STORE needs a store; ignored")
                continue
            chains.append(_srv_chain(tokens, cache, default, warnings))
            continue
        if len(parts) > 1:
            warnings.append(f"{element!r}: unknown keyword {parts[0]!r}; read as a folder")
        chains.append(Chain((_folder(element, default, warnings),), cache, "dir"))
    return SymbolPath(text, tuple(chains), tuple(warnings))


def _srv_chain(tokens: list[str], cache: str | None, default: str,
               warnings: list[str]) -> Chain:
    stores = [t.strip() if is_url(t.strip()) else _folder(t, default, warnings)
              for t in tokens]
    for url in stores[:-1]:
        if is_url(url):
            warnings.append(f"{url}: a server may only be the last store of a srv* chain")
    if stores and is_url(stores[0]):
        # srv*URL: downloads still go to a downstream store (cache*DIR's, else the default).
        stores.insert(0, cache or default)
    local = [s for s in stores if not is_url(s)]
    return Chain(tuple(stores), local[0] if local else cache, "srv")


def _folder(token: str, default: str, warnings: list[str]) -> str:
    token = token.strip()
    if not token:
        return default
    if _WINDOWS_PATH.match(token):
        warnings.append(f"{token}: a Windows drive or UNC path cannot be read on Linux")
    return os.path.expanduser(token)
