"""Names as WinDbg prints them, from the decorated names of public PDB symbols.

Microsoft's public PDBs keep only S_PUB32 records, whose names are the linker's decorated
ones. WinDbg shows them undecorated (``nt!KeBugCheckEx``, ``Net::Queue::Pop``), and bucket
ids, forum posts and vendor bulletins use those forms. symbolic 13.9 returns the raw name.

* x86 C names (Microsoft, "Argument Passing and Naming Conventions"): ``__stdcall``
  ``_Name@N``, ``__fastcall`` ``@Name@N``, ``__cdecl`` ``_Name``; x64 has one convention and
  no decoration.
* MSVC C++ names (``?``): the function name, then its scopes innermost first, each ended by
  ``@``, the list ended by ``@@``; a single digit is a back-reference to the n-th name already
  read; ``??0``/``??1`` are the constructor/destructor of the innermost class, ``??_G`` /
  ``??_E`` its scalar / vector deleting destructor, ``??2``... operators (the
  ``llvm-undname``/``UnDecorateSymbolName`` tables; Agner Fog, "Calling conventions",
  section 8). Only the qualified name is rebuilt: argument types are left out, as in
  WinDbg's stack frames. Templates and anything else not covered keep the raw name.
"""

from __future__ import annotations

import re

_X86_DECORATED = re.compile(r"^[_@]([A-Za-z_$?][\w$?]*)@\d+$")
_SPECIAL = {"0": None, "1": None, "2": "operator new", "3": "operator delete",
            "4": "operator=", "8": "operator==", "9": "operator!=", "A": "operator[]",
            "R": "operator()", "_G": "`scalar deleting destructor'",
            "_E": "`vector deleting destructor'", "_U": "operator new[]",
            "_V": "operator delete[]"}
_FRAGMENT = re.compile(r"[A-Za-z_$][\w$]*@")
MAX_SCOPES = 32


def undecorate(name: str, arch: str | None) -> str:
    """WinDbg's form of a public symbol's name (``name`` itself when it is not decorated
    or not in the covered forms)."""
    if name.startswith("?"):
        return _cpp(name) or name
    if arch == "x86":
        found = _X86_DECORATED.match(name)
        if found:
            return found[1]
        if name.startswith("_") and "@" not in name:
            return name[1:]  # __cdecl: one leading underscore added by the compiler
    return name


def _cpp(name: str) -> str | None:
    special, at = None, 1
    if name.startswith("??"):
        code = name[2:4] if name[2] == "_" else name[2]
        if code not in _SPECIAL:
            return None
        special, at = code, 2 + len(code)
    elif name.startswith("?$"):
        return None  # a template's own name
    parts = _scopes(name, at)
    if parts is None or (not parts and special in (None, "0", "1")):
        return None  # a function, constructor or destructor needs a name or a class
    if special is None:
        return "::".join(reversed(parts))
    if not parts:
        return str(_SPECIAL[special])  # a global operator (::operator new)
    klass = parts[0]
    member = {"0": klass, "1": f"~{klass}"}.get(special) or _SPECIAL[special]
    return "::".join([*reversed(parts), str(member)])


def _scopes(name: str, at: int) -> list[str] | None:
    """The name fragments from ``at`` to the ``@@`` that ends them, back-references
    resolved; None for a form this reader does not cover."""
    parts: list[str] = []
    while len(parts) <= MAX_SCOPES:
        if name.startswith("@", at):
            return parts  # the second '@' of '@@': the qualified name is complete
        if at < len(name) and name[at].isdigit():
            ref = int(name[at])
            if ref >= len(parts):
                return None
            parts.append(parts[ref])
            at += 1
            continue
        if name.startswith("?A", at):
            end = name.find("@", at)
            if end < 0:
                return None
            parts.append("`anonymous namespace'")
            at = end + 1
            continue
        found = _FRAGMENT.match(name, at)
        if found is None:
            return None
        parts.append(found[0][:-1])
        at = found.end()
    return None
