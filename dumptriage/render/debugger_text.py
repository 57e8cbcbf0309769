"""The report's Debugger section: what the debugger concluded and which way it was run."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from dumptriage.model.debugger import DebuggerRun, DebuggerSummary
from dumptriage.render.safe import safe

_SOURCES = {"text": "saved debugger output", "run": "debugger run by dumptriage"}
_STATUS = {"ran": "ran", "not_found": "not found", "disabled": "not run", "failed": "failed",
           "timed_out": "timed out", "not_a_dump": "not run"}


def debugger_section(summary: DebuggerSummary | None, run: DebuggerRun | None) -> str:
    lines = ["Debugger"]
    if run is not None and run.status != "not_a_dump":  # a transcript input: nothing to run
        said = f"--debugger {run.mode}: {_STATUS.get(run.status, run.status)}"
        if run.executable:
            said += f" {run.executable}"
        lines += ["  " + line for line in textwrap.wrap(safe(f"{said}: {run.detail}"), 86)]
    if summary is None:
        return "\n".join(lines)
    rows = [
        ("Source", f"{_SOURCES.get(summary.source, summary.source)}: {summary.path or '-'}"),
        ("Version", summary.version or "-"),
        ("Dump analysed", summary.dump_path or "-"),
        ("Windows build", summary.build_string or "-"),
        ("Bucket", summary.bucket or "-"),
        ("BUGCHECK_STR", summary.bugcheck_str or "-"),
        ("Symbol", summary.symbol_name or "-"),
        ("Module / image", f"{summary.module_name or '-'} / {summary.image_name or '-'}"),
        ("Probably caused by", summary.probably_caused_by or "-"),
        ("Process", summary.process_name or "-"),
        ("IRQL", "-" if summary.current_irql is None else f"{summary.current_irql:#x}"),
        ("Symbols", "all loaded" if summary.symbols_ok
         else "missing for " + ", ".join(summary.missing_symbols)),
    ]
    if summary.machine_name:
        rows.insert(3, ("Machine", summary.machine_name))
    if summary.image_load_errors:
        rows.append(("Images not loaded", ", ".join(summary.image_load_errors)))
    guessed = [f"{m.name} = {m.image}" for m in summary.module_images if m.how == "assumed"]
    if guessed:
        rows.append(("Names assumed", ", ".join(guessed)))
    table = tabulate([[safe(a), safe(b)] for a, b in rows], tablefmt="plain")
    return "\n".join(lines + ["  " + line for line in table.splitlines()])
