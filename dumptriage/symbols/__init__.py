"""Symbols: naming stack frames from PDBs, offline from a symbol store, online when asked.

Layer 2 (above ``dump/``, below ``render/``): it reads files a symbol path leads to and
returns data. Entry points:

* ``symbolize(report, search_path, allow_network=...)`` -> ``(report, notes)``
  (naming.py);
* ``plan(report, search_path)``: per module, the store keys and URLs it needs and whether
  each is here (needs.py; what ``dumptriage symbols`` prints).

PDBs are read by Sentry's ``symbolic``, imported only when a PDB is opened, so importing
this package costs nothing of it; ``dumptriage analyze`` without symbols never imports it.
"""

from __future__ import annotations

__all__ = ["plan", "symbolize"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dumptriage.symbols.naming import symbolize
    from dumptriage.symbols.needs import plan


def __getattr__(name: str) -> object:
    if name == "symbolize":
        from dumptriage.symbols.naming import symbolize

        return symbolize
    if name == "plan":
        from dumptriage.symbols.needs import plan

        return plan
    raise AttributeError(name)
