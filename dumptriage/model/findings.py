"""What the knowledge base concluded: findings, rules it could not decide, causes ruled out."""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from typing import Any


class Evidence(Record):
    """One fact a finding rests on, quoted with where it was read."""

    fact: str
    value: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"fact": self.fact, "value": self.value, "source": self.source}


class Finding(Record):
    """A rule that matched: the cause, how sure, why, and what to change."""

    rule: str
    title: str
    summary: str
    confidence: str  # established | plausible | anecdotal
    score: int
    evidence: tuple[Evidence, ...]
    fixes: tuple[tuple[str, str], ...]  # (platform, text), the inputs' platform first
    does_not_help: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "summary": self.summary,
            "confidence": self.confidence,
            "score": self.score,
            "evidence": [e.to_dict() for e in self.evidence],
            "fixes": dict(self.fixes),
            "does_not_help": list(self.does_not_help),
            "references": list(self.references),
        }


class NotEvaluated(Record):
    """A rule for this bugcheck that lacked an input; ``needs`` says which would decide it."""

    rule: str
    title: str
    needs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "title": self.title, "needs": list(self.needs)}


class RuledOut(Record):
    """A cause for this bugcheck that the inputs exclude, with the fact that excludes it."""

    rule: str
    title: str
    because: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "title": self.title, "because": self.because}


class Conclusions(Record):
    """The knowledge base's whole answer for one analysis."""

    findings: tuple[Finding, ...] = ()
    not_evaluated: tuple[NotEvaluated, ...] = ()
    ruled_out: tuple[RuledOut, ...] = ()
