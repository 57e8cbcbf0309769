r"""Read a saved WinDbg/cdb/kd transcript into a Transcript, whatever state it is in.

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

The variety real tickets add (each reproduced in tests/debugger/test_real_layouts.py, which
names its source): ``.bugcheck`` (``Bugcheck code 00000133`` / ``Arguments 00000000`00000000
...``), ``vertarget`` with ``Machine Name:`` and Windows XP's ``UP Free x86`` without a
processor count, ``Arg2: 801ca000`` without a description, ``Unknown bugcheck code (1aa)``,
10.x ``Key  : Failure.Bucket`` / ``Value: ...`` blocks, x86 ``BUGCHECK_P2: ffffffff801ca000``
sign-extended to 64 bits, 6.x keys whose value is on the next line (``FAULTING_IP:``),
``Unable to load image ...``, the ``Symbol Loading Error Summary`` table, ``***** Kernel
symbols are WRONG``; and what pasting does: GitHub quoting of part of a comment (``> ``),
markdown escapes (``\```, ``**\*``), HTML entities (``15: kd&gt;``), backticks eaten by
markdown (``0xfffff8041b400000``), ``[...]`` where the poster cut text, rows wrapped onto
the next line, and a paste that stops mid-row.
"""

from __future__ import annotations

import re

from dumptriage.debugger import rows
from dumptriage.debugger.rows import HEX, to_int
from dumptriage.debugger.text import clean_lines, decode
from dumptriage.model.anomaly import Anomaly, AnomalyCode
from dumptriage.model.debugger import DebuggerFrame, ListedModule, Transcript
from dumptriage.model.record import replace

MAX_FRAMES = 1024
MAX_MODULES = 4096
MAX_KEYS = 4096
MAX_WRAP = 512  # a wrapped stack row is joined with its next line up to this length
# Bugcheck values are printed without the backtick and up to 16 digits (BugCheck D1, {...}).
VALUE = HEX

_PATTERNS = {
    "version": re.compile(r"^Microsoft \(R\) Windows Debugger Version (\S+)"),
    "loading": re.compile(r"^Loading Dump File \[(.+)\]\s*$"),
    "kind": re.compile(r"^((?:Kernel|Mini Kernel|Full Kernel|Kernel Summary|Kernel Complete|"
                       r"Kernel Bitmap|Kernel Active|Automatic|Active Kernel)[ A-Za-z]* Dump "
                       r"File): "),
    # XP's vertarget prints "UP Free x86 compatible" without a processor count. (User-mode
    # dumps' "Windows 10 Version 22000 MP (8 procs)" is left alone: not a kernel's banner.)
    "kernel": re.compile(r"^(?P<product>Windows [^K]+?|Windows) Kernel Version "
                         r"(?P<build>\d+)(?: \((?P<sp>[^)]*)\))? (?P<mp>MP|UP)"
                         r"(?: \((?P<procs>\d+) procs?\))? "
                         r"(?P<flavor>Free|Checked) (?P<arch>x86|x64|ARM64|AMD64)", re.IGNORECASE),
    "product": re.compile(r"^Product: (\w+)(?:, suite: (.*))?$"),
    "built": re.compile(r"^(?:Built by|Edition build lab): (\S+)"),
    "machine": re.compile(r"^Machine Name:(.*)$"),
    "base": re.compile(rf"^Kernel base = 0x({HEX}) PsLoadedModuleList = 0x({HEX})"),
    "session": re.compile(r"^Debug session time: (.+)$"),
    "uptime": re.compile(r"^System Uptime: (\d+) days? (\d+):(\d\d):(\d\d)(?:\.(\d+))?"),
    "bugcheck": re.compile(rf"^BugCheck ({VALUE}), \{{({VALUE}), ({VALUE}), ({VALUE}), "
                           rf"({VALUE})\}}"),
    # .bugcheck: "Bugcheck code 00000133" then "Arguments 00000000`00000000 ...".
    "dot_code": re.compile(r"^Bugcheck code ([0-9a-fA-F]{1,8})\s*$"),
    "dot_args": re.compile(rf"^Arguments ({VALUE}) ({VALUE}) ({VALUE}) ({VALUE})\s*$"),
    "title": re.compile(r"^([A-Z][A-Z0-9_]+) \(([0-9a-fA-F]+)\)\s*$"),
    "unknown": re.compile(r"^Unknown bugcheck code \(([0-9a-fA-F]+)\)\s*$"),
    "arg": re.compile(rf"^Arg([1-4]): ({VALUE})(?:,|\s*$)"),
    "key": re.compile(r"^([A-Z][A-Z0-9_]{2,}):\s*(.*)$"),
    "kv_key": re.compile(r"^Key\s*: (\S.*)$"),
    "kv_value": re.compile(r"^Value: ?(.*)$"),
    "nosym": re.compile(r"^\*\*\* (?:ERROR|WARNING): .*?(?:symbols could not be loaded|"
                        r"Defaulted to export symbols|Unable to verify timestamp) for (\S+?)"
                        r"(?: -)?\s*$"),
    "wrong": re.compile(r"^\*+ Kernel symbols are WRONG"),
    "noimage": re.compile(r"^Unable to load image (.+?), Win32 error"),
    "sym_summary": re.compile(r"^\*+ Symbol Loading Error Summary \*+"),
    # "Probably caused by : viostor.sys ( viostor+32c4 )" (6.x and 10.x alike).
    "caused": re.compile(r"^Probably caused by\s*:\s*(\S+)"),
    "stack_head": re.compile(r"^\s*(?:#\s+)?(?:(?:ChildEBP|Child-SP)\s+)?RetAddr(?:\s|$)"),
    "lm_head": re.compile(r"^start\s+end\s+module name"),
    "analysis": re.compile(r"^\*\s+Bugcheck Analysis\s+\*$"),
    "followup": re.compile(r"^Followup:\s"),
    "elided": re.compile(r"^(?:\[\s*(?:\.\.\.|…|snip(?:ped)?)\s*\]|<\s*snip\s*>|\.\.\. *snip.*)$",
                         re.IGNORECASE),
}
_SECTION_KEYS = {"STACK_TEXT"}
_NOT_KEYS = {"NOTE", "WARNING", "ERROR"}  # prose: "NOTE: The trap frame does not contain..."
# 6.x puts these keys' values on the next line ("FAULTING_IP: " / "viostor+32c4").
_NEXT_LINE_KEYS = {"FAULTING_IP", "FOLLOWUP_IP", "FAULTING_MODULE"}
_QUOTE = re.compile(r"^(?:[ \t]*>)+ ?")
_ENTITIES = {"&gt;": ">", "&lt;": "<", "&amp;": "&", "&quot;": '"', "&#39;": "'"}
_ENTITY = re.compile(r"&(?:gt|lt|amp|quot|#39);")


def parse_bytes(data: bytes, source: str) -> Transcript:
    return parse(decode(data), source)


def parse(text: str, source: str) -> Transcript:
    reader = _Reader(source)
    for lineno, line in enumerate(clean_lines(text), 1):
        reader.line(lineno, unpaste(line))
    return reader.finish()


def unpaste(line: str) -> str:
    """Undo what pasting into a forum did to one line: a GitHub ``> `` quote of part of a
    comment (text.clean_lines strips quoting only where most of the text is quoted; WinDbg
    never starts a line with ``>``), markdown escapes (``\\```, ``**\\*``) and HTML entities
    (``15: kd&gt; vertarget``)."""
    if line.lstrip().startswith(">"):
        line = _QUOTE.sub("", line, count=1)
    if "\\" in line:
        line = line.replace("\\`", "`").replace("**\\*", "***")
    if "&" in line:
        line = _ENTITY.sub(lambda m: _ENTITIES[m[0]], line)
    return line


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.t = Transcript()
        self.keys: list[tuple[str, str]] = []
        self.analysis_keys: list[tuple[str, str]] = []
        self.kv_key: str | None = None
        self.next_key: str | None = None  # a 6.x key waiting for its value on the next line
        self.frames: list[DebuggerFrame] = []
        self.modules: list[ListedModule] = []
        self.args: dict[int, int] = {}
        self.missing: list[str] = []
        self.images: list[str] = []
        self.anomalies: list[Anomaly] = []
        self.mode: str | None = None  # "stack" | "modules" | "symsummary" inside a listing
        self.pending: tuple[int, str] | None = None  # a stack row cut at the line end
        self.seen_stack = False
        self.analysis_at: int | None = None
        self.followup_at: int | None = None

    def note(self, code: AnomalyCode, lineno: int | None, detail: str) -> None:
        where = self.source if lineno is None else f"{self.source}:{lineno}"
        if len(self.anomalies) < MAX_KEYS:
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
            if self._listing_row(lineno, stripped):
                return
            if self.mode != "symsummary" and (stripped == "" or stripped.startswith("WARNING:")):
                return  # blank lines and unwind warnings sit inside stacks and listings
            self.mode = None
        if not stripped:
            return
        if self.next_key is not None:
            key, self.next_key = self.next_key, None
            if not _PATTERNS["key"].match(stripped):
                self._add_key(lineno, key, stripped)
                return
            self._add_key(lineno, key, "")
        self._banner(lineno, stripped) or self._bugcheck(lineno, stripped) or \
            self._misc(lineno, stripped)

    # -- listings ----------------------------------------------------------------------

    def _listing_row(self, lineno: int, line: str) -> bool:
        if self.mode == "stack":
            return self._stack_row(lineno, line)
        if self.mode == "symsummary":  # "Module name            Error" / "ntoskrnl   The ..."
            if not line or line.startswith("Module name"):
                return bool(line)
            name = line.split()[0]
            if name not in self.missing and len(self.missing) < MAX_MODULES:
                self.missing.append(name)
            return True
        module = rows.module_row(line)
        if module is None:
            return False
        if len(self.modules) < MAX_MODULES:
            self.modules.append(module)
        return True

    def _stack_row(self, lineno: int, line: str) -> bool:
        previous = self.frames[-1] if self.frames else None
        if self.pending is not None and line:  # a row wrapped by a mail client or a forum
            first, head = self.pending
            self.pending = None
            joined = rows.frame(f"{head} {line}", previous)
            if joined is not None:
                self._add_frame(joined)
                return True
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, first,
                      f"a stack row is cut short: {head[:80]!r}")
        found = rows.frame(line, previous)
        if found is not None:
            self._add_frame(found)
            return True
        if line and len(line) < MAX_WRAP and rows.PARTIAL.match(line):
            self.pending = (lineno, line)
            return True
        if found is None and previous is not None and line.startswith("[") and \
                line.endswith("]") and " @ " in line:  # a source line wrapped off its row
            self.frames[-1] = replace(previous, source=line[1:-1])
            return True
        return False

    def _add_frame(self, found: DebuggerFrame) -> None:
        if len(self.frames) < MAX_FRAMES:
            self.frames.append(found)

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
            procs = int(m["procs"]) if m["procs"] else 1 if m["mp"].upper() == "UP" else None
            self.set(lineno, product=m["product"].strip(), build=int(m["build"]),
                     processors=procs, arch=arch, checked=m["flavor"].lower() == "checked")
            if m["sp"]:
                self.set(lineno, service_pack=m["sp"])
        elif m := p["product"].match(line):
            self.set(lineno, product_type=m[1], suites=tuple((m[2] or "").split()))
        elif m := p["built"].match(line):
            self.set(lineno, build_string=m[1])
        elif m := p["machine"].match(line):
            if m[1].strip():
                self.set(lineno, machine_name=m[1].strip())
        elif m := p["base"].match(line):
            self.set(lineno, kernel_base=to_int(m[1]), ps_loaded_module_list=to_int(m[2]))
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
        elif p["sym_summary"].match(line):
            self.mode = "symsummary"
        else:
            return False
        return True

    # -- bugcheck ----------------------------------------------------------------------

    def _bugcheck(self, lineno: int, line: str) -> bool:
        p = _PATTERNS
        if m := p["bugcheck"].match(line):
            self.set(lineno, bugcheck_code=to_int(m[1]),
                     bugcheck_args=tuple(to_int(m[i]) for i in range(2, 6)))
        elif m := p["dot_code"].match(line):
            self.set(lineno, bugcheck_code=int(m[1], 16))
        elif m := p["dot_args"].match(line):
            self.set(lineno, bugcheck_args=tuple(to_int(m[i]) for i in range(1, 5)))
        elif m := p["title"].match(line):
            self.set(lineno, bugcheck_name=m[1], bugcheck_code=int(m[2], 16))
        elif m := p["unknown"].match(line):
            self.set(lineno, bugcheck_code=int(m[1], 16))
        elif m := p["arg"].match(line):
            self.args.setdefault(int(m[1]), to_int(m[2]))
        elif p["analysis"].match(line):
            self.analysis_at = lineno
        elif p["followup"].match(line):
            self.followup_at = lineno
        else:
            return False
        return True

    # -- the analysis block ------------------------------------------------------------

    def _misc(self, lineno: int, line: str) -> bool:
        p = _PATTERNS
        if m := p["nosym"].match(line):
            self._missing(m[1])
        elif p["wrong"].match(line):
            self._missing("nt")
        elif m := p["noimage"].match(line):
            image = m[1].replace("/", "\\").rsplit("\\", 1)[-1]
            if image not in self.images and len(self.images) < MAX_MODULES:
                self.images.append(image)
        elif m := p["caused"].match(line):
            self.set(lineno, probably_caused_by=m[1])
        elif m := p["kv_key"].match(line):
            self.kv_key = m[1].strip()
        elif (m := p["kv_value"].match(line)) and self.kv_key is not None:
            if len(self.analysis_keys) < MAX_KEYS:
                self.analysis_keys.append((self.kv_key, m[1].strip()))
            self.kv_key = None
        elif p["elided"].match(line):
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, lineno,
                      f"the paste leaves text out here ({line[:20]!r})")
        elif (m := p["key"].match(line)) and m[1] not in _NOT_KEYS:
            key, value = m[1], m[2].strip()
            if key in _SECTION_KEYS:
                self._start_stack()
            elif not value and key in _NEXT_LINE_KEYS:
                self.next_key = key
            else:
                self._add_key(lineno, key, value)
        else:
            return False
        return True

    def _missing(self, name: str) -> None:
        if name not in self.missing and len(self.missing) < MAX_MODULES:
            self.missing.append(name)

    def _add_key(self, lineno: int, key: str, value: str) -> None:
        if len(self.keys) < MAX_KEYS:
            self.keys.append((key, value))
        self._key_fact(lineno, key, value)

    def _key_fact(self, lineno: int, key: str, value: str) -> None:
        # WinDbg 10.x repeats the bugcheck as BUGCHECK_CODE / BUGCHECK_P1..P4.
        if key == "BUGCHECK_CODE" and re.fullmatch(r"[0-9a-fA-F]{1,8}", value):
            self.set(lineno, bugcheck_code=int(value, 16))
        elif (m := re.fullmatch(r"BUGCHECK_P([1-4])", key)) and re.fullmatch(VALUE, value):
            self.args.setdefault(int(m[1]), to_int(value))

    def finish(self) -> Transcript:
        if self.pending is not None:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, self.pending[0],
                      f"the text ends in the middle of a stack row: {self.pending[1][:80]!r}")
        if self.next_key is not None:
            self._add_key(0, self.next_key, "")
        t = self.t
        args = tuple(self.args.get(i, 0) for i in range(1, 5)) if self.args else ()
        if t.arch == "x86":  # 10.x prints x86 BUGCHECK_Pn sign-extended: ffffffff801ca000
            args = tuple(a & 0xFFFFFFFF if a >> 32 == 0xFFFFFFFF else a for a in args)
        if args and t.bugcheck_args and args != t.bugcheck_args:
            self.note(AnomalyCode.DEBUGGER_DISAGREES, None,
                      f"bugcheck arguments: BugCheck line {_show(t.bugcheck_args)}, "
                      f"analysis {_show(args)}")
        if not t.bugcheck_args and args:
            t = replace(t, bugcheck_args=args)
        if self.analysis_at is not None and (self.followup_at or 0) < self.analysis_at:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, None,
                      "the !analyze output stops before its end (no Followup: line after "
                      "the Bugcheck Analysis banner)")
        if t.bugcheck_code is None:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, None, "no bugcheck code in the text")
        if not self.frames:
            self.note(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, None, "no stack in the text")
        return replace(t, keys=tuple(self.keys), stack=tuple(self.frames),
                       missing_symbols=tuple(self.missing), modules=tuple(self.modules),
                       anomalies=tuple(self.anomalies), analysis_keys=tuple(self.analysis_keys),
                       image_load_errors=tuple(self.images))


def _show(args: tuple[int, ...]) -> str:
    return "{" + ", ".join(f"{a:#x}" for a in args) + "}"
