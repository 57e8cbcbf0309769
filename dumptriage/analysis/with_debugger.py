"""Debugger output as an input: a transcript on its own, or merged with its dump.

On its own, a transcript gives a report of the same shape as a dump does (source.kind
"debugger_text"), with the facts the text holds. With the dump, the dump stays the
source of truth for what it holds (header, modules, processors) and the debugger adds what
only it has: its symbolised stack replaces our heuristic one, its bucket and verdict go
into the ``debugger`` block, and where the two disagree (another stop code, build or
processor count) an anomaly says so.
"""

from __future__ import annotations

import os

from dumptriage.analysis import debugger_report as text_facts
from dumptriage.analysis.debugger_names import ModuleNames
from dumptriage.catalogue.interpret import explain
from dumptriage.debugger.text import MAX_TEXT
from dumptriage.debugger.transcript import parse_bytes
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.debugger import Transcript
from dumptriage.model.record import replace
from dumptriage.model.report import Report, Source

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.model.host import VmConfig
    from dumptriage.model.report import HostChoice, Tool


def read_transcript(path: str | os.PathLike[str]) -> tuple[Transcript, list[Anomaly]]:
    """Parse a saved transcript, bounded: beyond MAX_TEXT bytes the rest is not read."""
    where = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read(MAX_TEXT + 1)
    extra = []
    if len(data) > MAX_TEXT:
        extra.append(anomaly(AnomalyCode.DEBUGGER_TEXT_INCOMPLETE, where,
                             f"the text is larger than {MAX_TEXT >> 20} MiB; only the first "
                             f"{MAX_TEXT >> 20} MiB were read"))
    return parse_bytes(data[:MAX_TEXT], where), extra


def transcript_report(path: str | os.PathLike[str], host: VmConfig | None,
                      host_choice: HostChoice | None, tool: Tool, now: str) -> Report:
    """The report of a debugger transcript given instead of a dump."""
    t, extra = read_transcript(path)
    info = text_facts.dump_info(t)
    names = ModuleNames(t.modules, t.arch, t.processors)
    modules = text_facts.listed_modules(t, names)
    stack = text_facts.frames(t, names, ModuleMap(modules))
    bugcheck = text_facts.bugcheck(t)
    explanation = None if bugcheck is None else explain(bugcheck.code, bugcheck.args,
                                                        bugcheck.width_bits)
    return Report(
        source=Source(path=os.fspath(path), kind="debugger_text"), dump=info,
        bugcheck=bugcheck, explanation=explanation, modules=tuple(modules),
        stack=tuple(stack), culprit=text_facts.culprit(t, stack, modules, names),
        host=host, host_choice=host_choice, anomalies=tuple(extra) + t.anomalies,
        tool=tool, generated_at=now,
        debugger=text_facts.summary(t, "text", os.fspath(path), names))


def merge(report: Report, t: Transcript, source: str, path: str | None) -> Report:
    """A dump's report with its debugger's output (``source``: "text" or "run")."""
    loaded = [m.name for m in report.modules]
    names = ModuleNames(t.modules, t.arch, t.processors, loaded=loaded)
    module_map = ModuleMap(report.modules)
    stack = text_facts.frames(t, names, module_map) if t.stack else list(report.stack)
    said = text_facts.culprit(t, stack, list(report.modules), names) if t.stack else None
    return replace(report, stack=tuple(stack), culprit=said or report.culprit,
                   anomalies=(*report.anomalies, *t.anomalies,
                              *_disagreements(report, t, path)),
                   debugger=text_facts.summary(t, source, path, names))


def _disagreements(report: Report, t: Transcript, path: str | None) -> list[Anomaly]:
    where = path or t.dump_path or "debugger output"
    out = []

    def differ(what: str, dump_value: object, text_value: object) -> None:
        if dump_value is not None and text_value not in (None, ()) and dump_value != text_value:
            out.append(anomaly(AnomalyCode.DEBUGGER_DISAGREES, where,
                               f"{what}: the dump says {dump_value}, the debugger {text_value}"))

    bugcheck, info = report.bugcheck, report.dump
    if bugcheck is not None:
        differ("bugcheck code", f"{bugcheck.code:#x}",
               None if t.bugcheck_code is None else f"{t.bugcheck_code:#x}")
        if t.bugcheck_args:
            differ("bugcheck arguments", _show(bugcheck.args), _show(t.bugcheck_args))
    if info is not None:
        differ("OS build", info.os.build, t.build)
        differ("processors", info.processors, t.processors)
        differ("architecture", info.arch, t.arch)
    return out


def _show(args: tuple[int, ...]) -> str:
    return "{" + ", ".join(f"{a:#x}" for a in (*args, 0, 0, 0, 0)[:4]) + "}"
