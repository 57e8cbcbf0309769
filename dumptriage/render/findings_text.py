"""The knowledge base's conclusions as text: Findings, Not evaluated, Ruled out."""

from __future__ import annotations

import textwrap

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.model.findings import Finding
    from dumptriage.model.report import Report

_WIDTH = 96


def render_conclusions(report: Report) -> str:
    parts = [_findings(report.findings)]
    if report.not_evaluated:
        lines = ["Not evaluated (an input would decide them)"]
        for item in report.not_evaluated:
            lines.append(f"  {item.rule}: {item.title}")
            lines += [_wrap(f"needs {need}", "      ") for need in item.needs]
        parts.append("\n".join(lines))
    if report.ruled_out:
        lines = ["Ruled out"]
        for out in report.ruled_out:
            lines.append(f"  {out.rule}: {out.title}")
            lines.append(_wrap(out.because, "      "))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _findings(findings: tuple[Finding, ...]) -> str:
    if not findings:
        return "Findings: none (no rule matched the inputs; see Not evaluated)"
    blocks = ["Findings (most likely first)"]
    for number, finding in enumerate(findings, start=1):
        blocks.append(_finding(number, finding))
    return "\n\n".join(blocks)


def _finding(number: int, finding: Finding) -> str:
    lines = [f"  {number}. {finding.title} [{finding.rule}, {finding.confidence}]",
             _wrap(finding.summary, "     "), "     Evidence:"]
    for item in finding.evidence:
        lines.append(_wrap(f"{item.fact} = {item.value}  ({item.source})", "       - ",
                           "         "))
    for platform, text in finding.fixes:
        lines.append(f"     Fix ({platform}):")
        lines += ["       " + line for line in text.splitlines()]
    for note in finding.does_not_help:
        lines.append(_wrap(f"Does not help: {note}", "     "))
    if finding.references:
        lines.append("     References: " + finding.references[0])
        lines += ["                 " + ref for ref in finding.references[1:]]
    return "\n".join(lines)


def _wrap(text: str, first: str, rest: str | None = None) -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=first,
                         subsequent_indent=rest if rest is not None else first,
                         break_on_hyphens=False, break_long_words=False)
