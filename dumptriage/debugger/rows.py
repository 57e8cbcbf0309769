"""One row of a WinDbg stack (STACK_TEXT, k/kb/kv/kn/kL) or module listing (lm/lmnt).

Layouts, each seen in public tickets (the tests in tests/debugger/test_real_layouts.py
reproduce them with their own values and name the source of each):

* x86 ``ChildEBP RetAddr  Args to Child``: ``807fc5e4 83c8e117 00000101 00000061 00000000
  nt!KeBugCheckEx+0x1e``, kv appends ``(FPO: [Non-Fpo])`` / ``(CONV: stdcall)``, kL has no
  arguments, an unsymbolised frame is a bare ``0x6bfa357``
  (https://github.com/dotnet/runtime/pull/98397);
* x64 ``Child-SP RetAddr : Args to Child : Call Site`` (STACK_TEXT, kv, kb), with or without
  the frame number of kn (``00``..``0c``), 10.x padding the RetAddr column with 5 spaces
  (https://github.com/microsoft/WSL/issues/5288);
* x64 ``# Child-SP RetAddr Call Site`` (k, kn, knL: no argument columns)
  (https://github.com/virtio-win/kvm-guest-drivers-windows/issues/85);
* inline frames: ``07 (Inline Function) --------`--------     netkvm!CNBL::NBComplete+0xe
  [c:\\...\\parandis-tx.cpp @ 431]`` in k, and with ``: --------`-------- x4 :`` argument
  columns in kv (https://github.com/virtio-win/kvm-guest-drivers-windows/pull/197,
  https://github.com/virtio-win/kvm-guest-drivers-windows/issues/52);
* call sites with spaces: ``nt! ?? ::FNODOBFM::`string'+0x7bde``, templates
  ``DoWithTXLock<<lambda_a476...> >+0x45``, and suffixes ``(TrapFrame @ fffff800`03086e70)``,
  ``(Inline Function @ ...)`` (https://github.com/virtio-win/kvm-guest-drivers-windows/issues/193);
* ``lmnt`` rows ``start end name image date (TIMESTAMP)``, 10.x rows
  ``215080D8 (This is a reproducible build file hash, not a timestamp)`` and names longer
  than their column (``EhStorClass EhStorClass.sys``)
  (https://github.com/virtio-win/kvm-guest-drivers-windows/issues/1582); ``lm`` rows with a
  symbol state ``(pdb symbols)   c:\\sym\\...pdb`` (https://github.com/nixawk/Awesome-Windows-Debug/issues/9).

Every regex is linear: no quantified group repeats characters another part can take.
"""

from __future__ import annotations

import re

from dumptriage.model.debugger import DebuggerFrame, ListedModule

# An address as WinDbg prints it: 1-16 digits, or 8`8 on x64. Forums eat the backtick
# (GitHub markdown reads it as a code span: https://github.com/microsoft/WinDbg-Feedback/issues/42).
HEX = r"(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{1,16})"
# A stack row prints its addresses at full width (8 or 16 digits): that tells a kn frame
# number (2-4 digits) from the Child-SP after it.
ADDR = r"(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{8,16})"
_NUM = r"(?:(?P<n>[0-9a-fA-F]{2,4}) )?"
_INLINE_ADDR = r"--------`--------"
_FRAME32 = re.compile(rf"^{_NUM}(?P<sp>{ADDR}) (?P<ret>{ADDR})(?P<args>(?: {ADDR}){{0,3}})"
                      rf"\s+(?P<site>[^\s:].*)$")
_FRAME64 = re.compile(rf"^{_NUM}(?P<sp>{ADDR})\s+(?P<ret>{ADDR})"
                      rf"(?:\s+: (?P<args>{ADDR}(?: {ADDR}){{0,3}}) :)?\s+(?P<site>[^\s:].*)$")
# The RetAddr-only layout of a paste that lost its Child-SP column (virtio-win issue 80).
_FRAME_RET = re.compile(rf"^{_NUM}(?P<ret>{ADDR}) : (?P<args>{ADDR}(?: {ADDR}){{0,3}}) :"
                        rf"\s+(?P<site>[^\s:].*)$")
_INLINE = re.compile(rf"^{_NUM}\(Inline Function\)(?: {_INLINE_ADDR})?"
                     rf"(?: : {_INLINE_ADDR}(?: {_INLINE_ADDR}){{0,3}} :)?\s+(?P<site>\S.*)$")
# The start of a row whose rest is on the next line (wrapped) or missing (cut off).
PARTIAL = re.compile(rf"^{_NUM}(?:{ADDR}|\(Inline Function\))\s+(?:{ADDR}|{_INLINE_ADDR})")
_BARE_HEX = re.compile(r"^[0-9a-fA-F`]+$")
_SOURCE = re.compile(r"\s\[([^\[\]]* @ \d+)\]\s*$")
_SUFFIX = re.compile(r" \((?:FPO: |CONV: |Inline Function @ |TrapFrame @ |KernelMode|UserMode)")
_RAW = re.compile(r"^0x[0-9a-fA-F]{1,16}$")
_MODULE = re.compile(r"^[A-Za-z0-9_.$-]{1,128}$")
_OFFSET = re.compile(r"^[0-9a-fA-F]{1,16}$")

_LM = re.compile(rf"^(?P<start>{ADDR})\s+(?P<end>{ADDR})\s+(?P<name>\S+)\s*(?P<rest>.*)$")
# lmnt ends a row with the date and, in parentheses, the TimeDateStamp in hex.
_LM_STAMP = re.compile(r"\(([0-9A-Fa-f]{8})\)\s*$")
_LM_HASH = re.compile(r"(?:^|\s)([0-9A-Fa-f]{8}) \(This is a reproducible build")
_LM_SYMBOLS = re.compile(r"\((?:[a-z ]+)\)")


def to_int(text: str) -> int:
    return int(text.replace("`", ""), 16)


def frame(line: str, previous: DebuggerFrame | None = None) -> DebuggerFrame | None:
    """One stack row, or None if ``line`` is not one. ``previous``: the row above it (an
    inline frame repeats its return address)."""
    if line.startswith(("(Inline", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
                        "a", "b", "c", "d", "e", "f", "A", "B", "C", "D", "E", "F")):
        found = _INLINE.match(line) if "(Inline Function)" in line else None
        if found is not None:
            ret = previous.return_address if previous is not None else None
            return _row(found, None, ret, (), inline=True)
        found = (_FRAME64.match(line) or _FRAME_RET.match(line)) if " : " in line else None
        found = found or _FRAME32.match(line)
        if found is None:
            return None
        sp = found.groupdict().get("sp")
        return _row(found, to_int(sp) if sp else None, to_int(found["ret"]),
                    tuple(to_int(a) for a in (found["args"] or "").split()))
    return None


def _row(found: re.Match[str], sp: int | None, ret: int | None, args: tuple[int, ...],
         inline: bool = False) -> DebuggerFrame | None:
    site = found["site"].strip()
    if _BARE_HEX.match(site):
        return None  # "807fc5e4 83c8e117 00000101": a row cut in its argument columns
    source = None
    if found_source := _SOURCE.search(site):
        source = found_source[1]
        site = site[:found_source.start()].rstrip()
    module, symbol, offset = split_site(site)
    return DebuggerFrame(number=int(found["n"], 16) if found["n"] else None, child_sp=sp,
                         return_address=ret, args=args, call_site=site, module=module,
                         symbol=symbol, offset=offset, inline=inline, source=source)


def split_site(site: str) -> tuple[str | None, str | None, int | None]:
    """``module!symbol+0xoff`` -> (module, symbol, offset); ``module+0xoff`` -> (module,
    None, offset); a bare ``0x6bfa357`` (no module) -> (None, None, None)."""
    core = site
    if cut := _SUFFIX.search(core):
        core = core[:cut.start()]
    core = core.strip()
    if not core or _RAW.match(core):
        return None, None, None
    offset = None
    head, plus, tail = core.rpartition("+0x")
    if plus and _OFFSET.match(tail):
        core, offset = head, int(tail, 16)
    module, bang, symbol = core.partition("!")
    if not _MODULE.match(module):
        return None, None, None
    return module, (symbol.strip() or None) if bang else None, offset


def module_row(line: str) -> ListedModule | None:
    """One lm/lmnt row, or None if ``line`` is not one."""
    found = _LM.match(line)
    if found is None or found["name"] == "module":
        return None
    rest = found["rest"]
    words = rest.split()
    symbols = _LM_SYMBOLS.search(rest)
    image = words[0] if words and not words[0].startswith("(") else None
    stamp = _LM_STAMP.search(rest)
    hashed = _LM_HASH.search(rest) if stamp is None else None
    timestamp = int(stamp[1], 16) if stamp else int(hashed[1], 16) if hashed else None
    return ListedModule(to_int(found["start"]), to_int(found["end"]), found["name"], image,
                        symbols.group(0) if symbols and not hashed else None, timestamp,
                        reproducible=hashed is not None)
