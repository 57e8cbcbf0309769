"""Read a saved WinDbg/cdb/kd transcript into a Transcript, whatever state it is in.

One pass over the cleaned lines (text.py). Each line is offered to the banner patterns,
the bugcheck patterns, the ``KEY: value`` pattern of the analysis block, and, inside a
stack or module listing, to the row patterns. Nothing here raises on odd text: a part
that is missing is None, a part that disagrees with another is an anomaly.

Layouts, as WinDbg prints them (the story's 6.11 transcript, shared/story/windbg-analyze.txt,
and Microsoft's debugger documentation, https://learn.microsoft.com/en-us/windows-hardware/
drivers/debugger/k--kb--kc--kd--kp--kp--kv--display-stack-backtrace-, .../lm--list-loaded-modules-,
.../using-the--analyze-extension):

* banner: ``Windows 7 Kernel Version 7601 (Service Pack 1) MP (2 procs) Free x86 compatible``,
  ``Product: WinNt, suite: ...``, ``Built by: 7601.18205.x86fre...`` (10.x: ``Edition build
  lab:``), ``Kernel base = 0x... PsLoadedModuleList = 0x...``, ``Debug session time:``,
  ``System Uptime: 0 days 5:00:52.740``; x64 addresses carry a backtick (``fffff803`16a00000``);
* ``BugCheck 101, {61, 0, 807a3120, 1}``; the analysis block ``NAME (101)`` + ``Arg1: ...``;
  10.x adds ``BUGCHECK_CODE:  101`` and ``BUGCHECK_P1: 61``;
* stacks: ``ChildEBP RetAddr  Args to Child`` (x86 kb/kv: 3 arguments) and ``Child-SP RetAddr
  : Args to Child : Call Site`` (x64, 4 arguments between colons); ``kn`` prefixes a frame
  number, ``kv`` appends ``(FPO: ...)``/``(CONV: ...)``, ``kL`` has no source lines, ``k`` has
  no arguments;
* ``lm``/``lmnt``: ``start end module name`` then ``start end name ...``.
"""

from __future__ import annotations

import re

from dumptriage.debugger.text import clean_lines, decode
from dumptriage.model.anomaly import Anomaly, AnomalyCode
from dumptriage.model.debugger import DebuggerFrame, ListedModule, Transcript
from dumptriage.model.record import replace

MAX_FRAMES = 1024
MAX_MODULES = 4096
HEX = r"[0-9a-fA-F]{1,8}(?:`[0-9a-fA-F]{8})?"
# Bugcheck values are printed without the backtick and up to 16 digits (BugCheck D1, {...}).
VALUE = r"(?:[0-9a-fA-F]{8}`[0-9a-fA-F]{8}|[0-9a-fA-F]{1,16})"

_PATTERNS = {
    "version": re.compile(r"^Microsoft \(R\) Windows Debugger Version (\S+)"),
    "loading": re.compile(r"^Loading Dump File \[(.+)\]\s*$"),
    "kind": re.compile(r"^((?:Kernel|Mini Kernel|Full Kernel|Kernel Summary|Kernel Complete|"
                       r"Kernel Bitmap|Kernel Active|Automatic|Active Kernel)[ A-Za-z]* Dump "
                       r"File): "),
    "kernel": re.compile(r"^(?P<product>Windows [^K]+?|Windows) Kernel Version (?P<build>\d+)"
                         r"(?: \((?P<sp>[^)]*)\))? (?:MP|UP) \((?P<procs>\d+) procs?\) "
                         r"(?P<flavor>Free|Checked) (?P<arch>x86|x64|ARM64|AMD64)", re.IGNORECASE),
    "product": re.compile(r"^Product: (\w+), suite: (.*)$"),
    "built": re.compile(r"^(?:Built by|Edition build lab): (\S+)"),
    "base": re.compile(rf"^Kernel base = 0x({HEX}) PsLoadedModuleList = 0x({HEX})"),
    "session": re.compile(r"^Debug session time: (.+)$"),
    "uptime": re.compile(r"^System Uptime: (\d+) days? (\d+):(\d\d):(\d\d)(?:\.(\d+))?"),
    "bugcheck": re.compile(rf"^BugCheck ({VALUE}), \{{({VALUE}), ({VALUE}), ({VALUE}), "
                           rf"({VALUE})\}}"),
    "title": re.compile(r"^([A-Z][A-Z0-9_]+) \(([0-9a-fA-F]+)\)\s*$"),
    "arg": re.compile(rf"^Arg([1-4]): ({VALUE}),"),
    "key": re.compile(r"^([A-Z][A-Z0-9_]{2,}):\s*(.*)$"),
    "nosym": re.compile(r"^\*\*\* (?:ERROR|WARNING): .*?(?:symbols could not be loaded|"
                        r"Defaulted to export symbols|Unable to verify timestamp) for (\S+?)"
                        r"(?: -)?\s*$"),
    "caused": re.compile(r"^Probably caused by\s*:\s*(\S+)"),
    "stack_head": re.compile(r"^\s*(?:#\s+)?(?:ChildEBP|Child-SP)\s+RetAddr"),
    "lm_head": re.compile(r"^start\s+end\s+module name"),
}
_FRAME32 = re.compile(rf"^(?:(?P<n>[0-9a-f]{{2,4}}) )?(?P<sp>{HEX}) (?P<ret>{HEX})"
                      rf"(?P<args>(?: {HEX}){{0,3}}) (?P<site>[^\s:].*)$")
_FRAME64 = re.compile(rf"^(?:(?P<n>[0-9a-f]{{2,4}}) )?(?P<sp>{HEX}) (?P<ret>{HEX})"
                      rf"(?:\s+: (?P<args>{HEX}(?: {HEX}){{0,3}}) :)?\s+(?P<site>[^\s:].*)$")
_SITE = re.compile(r"^(?P<module>[A-Za-z0-9_.]+?)(?:!(?P<symbol>[^+\s]+))?"
                   r"(?:\+0x(?P<offset>[0-9a-fA-F]+))?(?:\s|$)")
_LM = re.compile(rf"^(?P<start>{HEX})\s+(?P<end>{HEX})\s+(?P<name>\S+)\s*(?P<rest>.*)$")
# lmnt ends a row with the date and, in parentheses, the TimeDateStamp in hex.
_LM_STAMP = re.compile(r"\(([0-9A-Fa-f]{8})\)\s*$")
_SECTION_KEYS = {"STACK_TEXT"}


def _int(text: str) -> int:
    return int(text.replace("`", ""), 16)


def parse_bytes(data: bytes, source: str) -> Transcript:
    return parse(decode(data), source)


def parse(text: str, source: str) -> Transcript:
    reader = _Reader(source)
    for lineno, line in enumerate(clean_lines(text), 1):
        reader.line(lineno, line)
    return reader.finish()


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.t = Transcript()
        self.keys: list[tuple[str, str]] = []
        self.frames: list[DebuggerFrame] = []
        self.modules: list[ListedModule] = []
        self.args: dict[int, int] = {}
        self.missing: list[str] = []
        self.anomalies: list[Anomaly] = []
        self.mode: str | None = None  # "stack" | "modules" while inside a listing
        self.seen_stack = False

    def note(self, code: AnomalyCode, lineno: int | None, detail: str) -> None:
        where = self.source if lineno is None else f"{self.source}:{lineno}"
        self.anomalies.append(Anomaly(code.value, where, detail))

    def set(self, lineno: int, **values: object) -> None:
        """Set banner/bugcheck facts; a second, different value is an anomaly."""
        for name, value in values.items():
            old = getattr(self.t, name)
            if old not in (None, ()) and old != value:
                self.note(AnomalyCode.DEBUGGER_DISAGREES, lineno, f"{name}: {old!r} then {value!r}")
                continue
            self.t = replace(self.t, **{name: value})

    def line(self, lineno: int, line: str) -> None:
        stripped = line.strip()
        if self.mode is not None:
            if self._listing_row(stripped):
                return
            if stripped == "" or stripped.startswith("WARNING:"):
                return  # blank lines and unwind warnings sit inside stacks
            self.mode = None
        if not stripped:
            return
        self._banner(lineno, stripped) or self._bugcheck(lineno, stripped) or \
            self._misc(lineno, stripped)

    # -- listings ----------------------------------------------------------------------

    def _listing_row(self, line: str) -> bool:
        if self.mode == "stack":
            frame = _frame(line)
            if frame is None:
                return False
            if len(self.frames) < MAX_FRAMES:
                self.frames.append(frame)
            return True
        found = _LM.match(line)
        if found is None or found["name"] == "module":
            return False
        rest = found["rest"].split()
        symbols = re.search(r"\((?:[a-z ]+)\)", found["rest"])
        image = rest[0] if rest and not rest[0].startswith("(") else None
        stamp = _LM_STAMP.search(found["rest"])
        if len(self.modules) < MAX_MODULES:
            self.modules.append(ListedModule(_int(found["start"]), _int(found["end"]),
                                             found["name"], image,
                                             symbols.group(0) if symbols else None,
                                             int(stamp[1], 16) if stamp else None))
        return True

    def _start_stack(self) -> None:
        if self.seen_stack and self.frames:
            self.frames = []  # a later stack (kv after !analyze) replaces the earlier one
        self.seen_stack = True
        self.mode = "stack"

    # -- banner ------------------------------------------------------------------------

    def _banner(self, lineno: int, line: str) -> bool:
        p = _PATTERNS
        if m := p["version"].match(line):
            self.set(lineno, debugger_version=m[1])
        elif m := p["loading"].match(line):
            self.set(lineno, dump_path=m[1])
        elif m := p["kind"].match(line):
            self.set(lineno, dump_kind=m[1], banner=line)
        elif m := p["kernel"].match(line):
            arch = {"amd64": "x64"}.get(m["arch"].lower(), m["arch"].lower())
            self.set(lineno, product=m["product"].strip(), build=int(m["build"]),
                     processors=int(m["procs"]), arch=arch,
                     checked=m["flavor"].lower() == "checked")
            if m["sp"]:
                self.set(lineno, service_pack=m["sp"])
        elif m := p["product"].match(line):
            self.set(lineno, product_type=m[1], suites=tuple(m[2].split()))
        elif m := p["built"].match(line):
            self.set(lineno, build_string=m[1])
        elif m := p["base"].match(line):
            self.set(lineno, kernel_base=_int(m[1]), ps_loaded_module_list=_int(m[2]))
        elif m := p["session"].match(line):
            self.set(lineno, session_time=m[1].strip())
        elif m := p["uptime"].match(line):
            frac = float("0." + m[5]) if m[5] else 0.0
            seconds = int(m[1]) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
            self.set(lineno, uptime_seconds=round(seconds + frac, 3))
        elif p["stack_head"].match(line):
            self._start_stack()
        elif p["lm_head"].match(line):
            self.mode = "modules"
        else:
            return False
        return True

    # -- bugcheck ----------------------------------------------------------------------

    def _bugcheck(self, lineno: int, line: str) -> bool:
        p = _PATTERNS
        if m := p["bugcheck"].match(line):
            self.set(lineno, bugcheck_code=_int(m[1]),
                     bugcheck_args=tuple(_int(m[i]) for i in range(2, 6)))
        elif m := p["title"].match(line):
            self.set(lineno, bugcheck_name=m[1], bugcheck_code=int(m[2], 16))
        elif m := p["arg"].match(line):
            self.args[int(m[1])] = _int(m[2])
        else:
            return False
        return True

    # -- the analysis block ------------------------------------------------------------

    def _misc(self, lineno: int, line: str) -> bool:
        p = _PATTERNS
        if m := p["nosym"].match(line):
            name = m[1]
            if name not in self.missing:
                self.missing.append(name)
        elif m := p["caused"].match(line):
            self.set(lineno, probably_caused_by=m[1])
        elif m := p["key"].match(line):
            key, value = m[1], m[2].strip()
            if key in _SECTION_KEYS:
                self._start_stack()
            else:
                self.keys.append((key, value))
                self._key_fact(lineno, key, value)
        else:
            return False
        return True

    def _key_fact(self, lineno: int, key: str, value: str) -> None:
        # WinDbg 10.x repeats the bugcheck as BUGCHECK_CODE / BUGCHECK_P1..P4.
        if key == "BUGCHECK_CODE" and re.fullmatch(r"[0-9a-fA-F]+", value):
            self.set(lineno, bugcheck_code=int(value, 16))
        elif (m := re.fullmatch(r"BUGCHECK_P([1-4])", key)) and re.fullmatch(VALUE, value):
            self.args.setdefault(int(m[1]), _int(value))

    def finish(self) -> Transcript:
        t = self.t
        args = tuple(self.args.get(i, 0) for i in range(1, 5)) if self.args else ()
        if args and t.bugcheck_args and args != t.bugcheck_args:
            self.note(AnomalyCode.DEBUGGER_DISAGREES, None,
                      f"bugcheck arguments: BugCheck line {_show(t.bugcheck_args)}, "
                      f"analysis {_show(args)}")
        if not t.bugcheck_args and args:
            t = replace(t, bugcheck_args=args)
        if t.bugcheck_code is None:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, None, "no bugcheck code in the text")
        if not self.frames:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, None, "no stack in the text")
        return replace(t, keys=tuple(self.keys), stack=tuple(self.frames),
                       missing_symbols=tuple(self.missing), modules=tuple(self.modules),
                       anomalies=tuple(self.anomalies))


def _show(args: tuple[int, ...]) -> str:
    return "{" + ", ".join(f"{a:#x}" for a in args) + "}"


def _frame(line: str) -> DebuggerFrame | None:
    found = _FRAME64.match(line) if " : " in line else _FRAME32.match(line)
    if found is None:
        return None
    site = found["site"].strip()
    parts = _SITE.match(site)
    offset = parts["offset"] if parts else None
    return DebuggerFrame(
        number=int(found["n"], 16) if found["n"] else None,
        child_sp=_int(found["sp"]), return_address=_int(found["ret"]),
        args=tuple(_int(a) for a in (found["args"] or "").split()),
        call_site=site, module=parts["module"] if parts else None,
        symbol=parts["symbol"] if parts else None,
        offset=int(offset, 16) if offset else None)
