"""The rule engine: generic, small, and free of rule knowledge.

For each rule whose bugchecks include the dump's (``"hang"``: the input is a hung guest's
memory, with vCPUs and no bugcheck): every condition of ``when`` is checked
against the facts. One that is false rules the cause out (and says which fact); one that
is unknown leaves the rule "not evaluated" (and says which input would decide it); when
all hold, the rule is a finding with its evidence, the fix for the inputs' platform (the
first variant whose own conditions hold: version-aware), "does not help" notes and
references. Findings are ordered by score: confidence first, then how many facts matched.
"""

from __future__ import annotations

from dumptriage.knowledge.conditions import describe, evaluate
from dumptriage.model.findings import Conclusions, Evidence, Finding, NotEvaluated, RuledOut

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.knowledge.facts import Facts

CONFIDENCE_WEIGHT = {"established": 300, "plausible": 200, "anecdotal": 100}
PLATFORMS = ("libvirt", "qemu", "proxmox", "kubevirt", "nova", "ovirt", "host", "guest")


def evaluate_rules(rules: list[dict[str, Any]], facts: Facts,
                   hints: dict[str, str]) -> Conclusions:
    """``hints``: fact-name prefix -> the input that gives it (for "not evaluated")."""
    findings, waiting, excluded = [], [], []
    code = facts.get("bugcheck.code")
    hung = code is None and facts.get("vcpus.count") is not None
    # Longest prefix first, sorted once per analysis rather than once per waiting rule.
    ordered = sorted(hints.items(), key=lambda h: -len(h[0]))
    for rule in rules:
        if not _applies(rule, code.value if code else None, hung):
            continue
        outcome = _outcome(rule, facts)
        if isinstance(outcome, Finding):
            findings.append(outcome)
        elif rule["bugchecks"] == "any":
            continue  # a rule for every bugcheck is news only when it matches
        elif isinstance(outcome, RuledOut):
            excluded.append(outcome)
        else:
            waiting.append(_with_hints(outcome, ordered))
    findings.sort(key=lambda f: (-f.score, f.rule))
    return Conclusions(tuple(findings), tuple(waiting), tuple(excluded))


def _applies(rule: dict[str, Any], code: int | None, hung: bool) -> bool:
    bugchecks = rule["bugchecks"]
    if bugchecks == "any":
        return True
    if bugchecks == "hang":
        return hung
    # 0x1000007E and friends are the same stop codes as 0x7E (the _M variants: bit 28).
    return code is not None and (code in bugchecks or code & ~0x10000000 in bugchecks)


def _outcome(rule: dict[str, Any], facts: Facts) -> Finding | NotEvaluated | RuledOut:
    unknown: list[str] = []
    evidence: list[Evidence] = []
    for condition in rule["when"]:
        fact = facts.get(condition["fact"])
        result = evaluate(condition, fact.value if fact else None)
        if result is False:
            shown = "unknown" if fact is None else _value(condition["fact"], fact.value)
            where = f" ({fact.source})" if fact is not None else ""
            return RuledOut(rule["id"], rule["title"],
                            f"needs {describe(condition)}, but it is {shown}{where}")
        if result is None:
            unknown.append(condition["fact"])
        elif fact is not None:
            evidence.append(Evidence(condition["fact"], _value(condition["fact"], fact.value),
                                     fact.source))
    if unknown:
        return NotEvaluated(rule["id"], rule["title"], tuple(dict.fromkeys(unknown)))
    return Finding(
        rule=rule["id"], title=rule["title"], summary=rule["summary"],
        confidence=rule["confidence"],
        score=CONFIDENCE_WEIGHT[rule["confidence"]] + len(evidence),
        evidence=tuple(_unique(evidence)), fixes=tuple(_fixes(rule, facts)),
        does_not_help=tuple(rule.get("does_not_help", ())),
        references=tuple(rule.get("references", ())))


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[str] = set()
    out = []
    for item in evidence:
        if item.fact not in seen:
            seen.add(item.fact)
            out.append(item)
    return out


def _value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and name.startswith("bugcheck."):
        return f"{value:#x}"  # stop codes and arguments read as WinDbg prints them
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    return str(value)


def _fixes(rule: dict[str, Any], facts: Facts) -> list[tuple[str, str]]:
    """The fix for the inputs' platform (all platforms when it is unknown), version-aware."""
    stack = facts.get("host.stack")
    platforms = list(rule.get("fixes", {}))
    if stack is not None and stack.value in platforms:
        # The inputs' own platform, then the ones that apply whatever the stack is.
        platforms = [stack.value] + [p for p in platforms if p in ("host", "guest")]
    out = []
    for platform in platforms:
        text = _variant(rule["fixes"][platform], facts)
        if text:
            out.append((platform, text))
    return out


def _variant(variants: list[dict[str, Any]], facts: Facts) -> str | None:
    for variant in variants:
        conditions = variant.get("when", ())
        if all(evaluate(c, _known(facts, c["fact"])) for c in conditions):
            return str(variant["text"]).strip()
    return None


def _known(facts: Facts, name: str) -> Any:
    fact = facts.get(name)
    return None if fact is None else fact.value


def _with_hints(outcome: NotEvaluated, hints: list[tuple[str, str]]) -> NotEvaluated:
    needs = []
    for name in outcome.needs:
        hint = next((text for prefix, text in hints if name.startswith(prefix)), None)
        needs.append(f"{name}: {hint}" if hint else name)
    return NotEvaluated(outcome.rule, outcome.title, tuple(needs))
