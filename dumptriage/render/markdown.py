"""The report as Markdown, to paste into a ticket, a chat or a wiki (``analyze --format
markdown``): the conclusion first (findings with their fixes as code blocks), then the facts
behind it. GitHub-flavoured: pipe tables and fenced code.

Every text that came from an input (file names, module names, comments, log lines, rule
evidence quoting them) is escaped twice: control characters by ``render.safe``, and the
characters Markdown would read as markup (``|``, backticks, ``*``, ``_``, ``<``, ``[``, ``~``) by
a backslash, so a module called ``<img src=x>`` or ``a|b`` stays text in any renderer.
Fixes are fenced with a fence longer than any backtick run inside them.
"""

from __future__ import annotations

import re

from dumptriage.model.dump import hex_addr
from dumptriage.model.report import Report
from dumptriage.render.safe import safe

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dumptriage.model.findings import Finding

MAX_FRAMES = 40  # a ticket wants the top of the stack; the JSON has all of it
MAX_MODULES = 60
# Parentheses, '#', '+' and '!' are markup only at a line's start or after ']': every field
# here is inside a line and ']' is escaped, so these are enough.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~])")


def md(text: object) -> str:
    """One inline field, safe for Markdown."""
    return _MARKUP.sub(r"\\\1", safe(text))


def code(text: object) -> str:
    """An inline code span: nothing inside is markup, so nothing is backslash-escaped; the
    span's backtick fence is longer than any run inside it (CommonMark, "Code spans")."""
    inner = safe(text)
    longest = max((len(run) for run in re.findall(r"`+", inner)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if inner.startswith("`") or inner.endswith("`") else ""
    return f"{fence}{pad}{inner}{pad}{fence}"


def render_markdown(report: Report) -> str:
    parts = [_title(report), _summary(report)]
    parts += [_findings(report.findings), _undecided(report)]
    if report.vcpus:
        parts.append(_vcpus(report))
    if report.stack:
        parts.append(_stack(report))
    if report.modules:
        parts.append(_modules(report))
    if report.anomalies:
        parts.append(_anomalies(report))
    return "\n\n".join(p for p in parts if p) + "\n"


def _title(report: Report) -> str:
    bug = report.bugcheck
    if bug is not None:
        name = report.explanation.name if report.explanation and report.explanation.name \
            else "unknown stop code"
        head = f"{bug.code:#x} {name}"
    elif report.vcpus:
        head = "hung guest (no bugcheck)"
    else:
        head = "no bugcheck"
    return f"# dumptriage: {md(head)}\n\n{code(report.source.path)} ({md(report.source.kind)})"


def _summary(report: Report) -> str:
    rows: list[tuple[str, str]] = []
    dump = report.dump
    if dump is not None:
        os_name = dump.os.product_name or f"build {dump.os.build}"
        rows += [("Dump", md(dump.dump_type)), ("OS", md(f"{os_name}, {dump.arch}")),
                 ("Processors", md(dump.processors if dump.processors is not None else "?"))]
        if dump.system_time:
            rows.append(("Crash time (UTC)", md(dump.system_time)))
    bug = report.bugcheck
    if bug is not None:
        rows.append(("Arguments", " ".join(code(f"{a:#x}") for a in bug.args)))
    if report.culprit is not None:
        rows.append(("Probably caused by", f"**{md(report.culprit.module)}**: "
                                           f"{md(report.culprit.reason)}"))
    if report.host is not None and report.host_choice is not None:
        rows.append(("VM", md(f"{report.host_choice.vm or '?'} ({report.host_choice.reason})")))
    return _table(("Fact", "Value"), rows) if rows else ""


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return "## Findings\n\nNone: no rule matched the inputs (see *Not evaluated*)."
    blocks = ["## Findings (most likely first)"]
    for number, finding in enumerate(findings, start=1):
        lines = [f"### {number}. {md(finding.title)}",
                 f"{code(finding.rule)} · {md(finding.confidence)}", "", md(finding.summary), "",
                 "Evidence:"]
        lines += [f"- {code(e.fact)} = {md(e.value)} ({md(e.source)})" for e in finding.evidence]
        for platform, text in finding.fixes:
            lines += ["", f"Fix ({md(platform)}):", _fenced(text)]
        lines += [f"- Does not help: {md(note)}" for note in finding.does_not_help]
        if finding.references:
            lines += ["", "References: " + ", ".join(f"<{_url(r)}>" for r in finding.references)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _undecided(report: Report) -> str:
    lines: list[str] = []
    if report.not_evaluated:
        lines += ["## Not evaluated (an input would decide them)", ""]
        for item in report.not_evaluated:
            needs = "; ".join(md(n) for n in item.needs)
            lines.append(f"- {code(item.rule)} {md(item.title)}: needs {needs}")
    if report.ruled_out:
        lines += ([""] if lines else []) + ["## Ruled out", ""]
        lines += [f"- {code(r.rule)} {md(r.title)}: {md(r.because)}" for r in report.ruled_out]
    return "\n".join(lines)


def _vcpus(report: Report) -> str:
    rows = [(str(v.index), md(v.state), "on" if v.interrupts_enabled else "off",
             md(f"{v.module}+{v.offset:#x}" if v.module and v.offset is not None
                else hex_addr(v.rip)), md(v.reason)) for v in report.vcpus]
    return "## vCPUs\n\n" + _table(("vCPU", "state", "IF", "RIP", "why"), rows)


def _stack(report: Report) -> str:
    frames = report.stack[:MAX_FRAMES]
    rows = [(md(hex_addr(f.stack_address) or "-"), md(hex_addr(f.address) or "-"),
             md(f.symbol or f.module or "?"), md(f.method)) for f in frames]
    more = len(report.stack) - len(frames)
    tail = f"\n\n{more} more frames in the JSON report." if more > 0 else ""
    return ("## Stack\n\n" + _table(("slot", "address", "where", "found by"), rows) + tail)


def _modules(report: Report) -> str:
    shown = [m for m in report.modules if m.module_class != "inbox"][:MAX_MODULES]
    if not shown:
        return ""
    rows = [(md(m.name), md(m.module_class or "?"), md(m.version or "-"),
             md(hex_addr(m.base))) for m in shown]
    return "## Non-inbox modules\n\n" + _table(("module", "class", "version", "base"), rows)


def _anomalies(report: Report) -> str:
    return "## Anomalies\n\n" + "\n".join(
        f"- {code(a.code)} {md(a.where)}: {md(a.detail)}" for a in report.anomalies)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{safe_lines(text.strip())}\n{fence}"


def safe_lines(text: str) -> str:
    return "\n".join(safe(line) for line in text.splitlines())


def _url(ref: str) -> str:
    # References come from the rule files (ours or --rules): keep them to one URL's
    # characters so that `<...>` cannot be closed early.
    return re.sub(r"[\s<>]", "", safe(ref))
