"""What a dump needs from a symbol store, and what of it is here (``dumptriage symbols``).

Like ``symchk /om``: per module, the exact store keys (the image by TimeDateStamp and
SizeOfImage when the dump carries no PDB id, then the PDB by GUID and age) and the URLs a
machine with network access would fetch them from, so an air-gapped site can bring them
in. Nothing is downloaded; files present are opened (which also warms the lookup caches).
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.model.dump import Module
from dumptriage.model.record import Record
from dumptriage.model.report import Report
from dumptriage.symbols.naming import ModuleIndex
from dumptriage.symbols.resolve import Resolver
from dumptriage.symbols.search_path import parse
from dumptriage.symbols.server import urls_for

# Microsoft's public symbol server (sheet 6.2): listed when the path names no server.
MICROSOFT = "https://msdl.microsoft.com/download/symbols"


class Need(Record):
    kind: str  # "image" or "pdb"
    path: str | None  # the store path name/KEY/name; None: the PDB key is not known yet
    here: str | None  # where the file was found locally
    urls: tuple[str, ...]  # plain name first, then the compressed one

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "store_path": self.path, "present": self.here is not None,
                "local_path": self.here, "urls": list(self.urls)}


class ModuleNeeds(Record):
    module: str
    on_stack: bool
    pdb_id_from: str | None  # "dump" (its image headers), "store image", None
    needs: tuple[Need, ...]
    status: str  # "ok" or why not (the frames' unsymbolized_reason)

    def to_dict(self) -> dict[str, object]:
        return {"module": self.module, "on_stack": self.on_stack,
                "pdb_id_from": self.pdb_id_from, "status": self.status,
                "needs": [n.to_dict() for n in self.needs]}


class Plan(Record):
    search_path: str | None
    servers: tuple[str, ...]  # the path's servers, else Microsoft's
    warnings: tuple[str, ...]
    modules: tuple[ModuleNeeds, ...]

    def to_dict(self) -> dict[str, object]:
        return {"search_path": self.search_path, "servers": list(self.servers),
                "warnings": list(self.warnings), "modules": [m.to_dict() for m in self.modules]}


def plan(report: Report, search_path: str | None, *, all_modules: bool = False,
         cache_root: str | None = None) -> Plan:
    """The keys and URLs of the stack's modules (every module with ``all_modules``)."""
    path = parse(search_path or "")
    servers = tuple(u for c in path.chains for u in c.urls) or (MICROSOFT,)
    resolver = Resolver(path, allow_network=False, cache_root=cache_root)
    stack = _stack_modules(report)
    chosen = list(report.modules) if all_modules else stack
    out = []
    for module in chosen:
        resolved, lookup = resolver.resolve(module)
        needs = []
        if module.pdb is None and resolved.image_key is not None:
            needs.append(Need("image", resolved.image_key.path, resolved.image_path,
                              _urls(servers, resolved.image_key)))
        if resolved.pdb_key is not None:
            needs.append(Need("pdb", resolved.pdb_key.path,
                              resolved.pdb_path if lookup is not None else None,
                              _urls(servers, resolved.pdb_key)))
        else:
            needs.append(Need("pdb", None, None, ()))
        source = None if resolved.pdb is None else ("dump" if module.pdb else "store image")
        out.append(ModuleNeeds(module.name, module in stack, source, tuple(needs),
                               "ok" if lookup is not None else resolved.reason or "?"))
    return Plan(search_path, servers, path.warnings, tuple(out))


def _urls(servers: Sequence[str], key: object) -> tuple[str, ...]:
    from dumptriage.symbols.keys import StoreKey

    assert isinstance(key, StoreKey)
    found: list[str] = []
    for base in servers:
        tried = urls_for(base, key)
        found += tried[1::2] + tried[0::2]  # the plain file first: what to fetch by hand
    return tuple(dict.fromkeys(found))


def _stack_modules(report: Report) -> list[Module]:
    index = ModuleIndex(report.modules)
    seen: list[Module] = []
    for frame in report.stack:
        if frame.address is None:
            continue
        module = index.find(frame.address)
        if module is not None and module not in seen:
            seen.append(module)
    return seen
