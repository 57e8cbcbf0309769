"""The knowledge base: from bugcheck + guest + host facts to causes and exact fixes.

``conclude(report)`` builds the facts (``facts.py``) from a report, evaluates every rule
(``rules/*.toml``, compiled to ``rules.json``) with the generic engine (``engine.py``) and
returns the ``Conclusions``. No I/O beyond reading the package's rule and fact files once
per process (and a user's ``--rules`` folders), nothing printed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dumptriage.model.findings import Conclusions
    from dumptriage.model.report import Report


def conclude(report: Report, rule_dirs: Sequence[str] = ()) -> Conclusions:
    """What the rules say about one report."""
    from dumptriage.knowledge.engine import evaluate_rules
    from dumptriage.knowledge.facts import build_facts
    from dumptriage.knowledge.rulebook import input_hints, load_rules

    facts = build_facts(report.to_dict())
    return evaluate_rules(load_rules(rule_dirs), facts, input_hints())


__all__ = ["conclude"]
