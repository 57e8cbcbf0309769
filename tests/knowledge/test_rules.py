"""Every rule against its own fixtures, the rule files' contract, and the compiled copy."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dumptriage.cli_rules import lint
from dumptriage.knowledge.engine import evaluate_rules
from dumptriage.knowledge.facts import Facts
from dumptriage.knowledge.rulebook import (
    COMPILED,
    builtin_rules,
    check_rule,
    compile_rules,
    fact_catalogue,
    rule_files,
)

REPO = Path(__file__).resolve().parents[2]
RULE_SCHEMA = json.loads((REPO / "schema" / "rule-v1.schema.json").read_text())
RULES = compile_rules()
CASES = [(rule["id"], kind, index, fixture["facts"])
         for rule in RULES for kind in ("match", "no_match")
         for index, fixture in enumerate(rule["fixtures"][kind])]


def _outcome(rule: dict[str, Any], facts: dict[str, Any]) -> str:
    found = evaluate_rules([rule], Facts.from_values(facts), fact_catalogue()["inputs"])
    if found.findings:
        return "finding"
    return "ruled_out" if found.ruled_out else "not_evaluated" if found.not_evaluated else "n/a"


@pytest.mark.parametrize(("rule_id", "kind", "index", "facts"), CASES,
                         ids=[f"{c[0]}-{c[1]}{c[2]}" for c in CASES])
def test_rule_fixture(rule_id: str, kind: str, index: int, facts: dict[str, Any]) -> None:
    rule = next(r for r in RULES if r["id"] == rule_id)
    outcome = _outcome(rule, facts)
    if kind == "match":
        assert outcome == "finding", (rule_id, index, outcome)
    else:
        assert outcome != "finding", (rule_id, index)


def test_every_rule_has_both_kinds_of_fixture_and_references() -> None:
    assert len(RULES) >= 30
    for rule in RULES:
        assert rule["fixtures"]["match"] and rule["fixtures"]["no_match"], rule["id"]
        assert rule["references"], rule["id"]


def test_a_rule_without_no_match_fixtures_is_refused() -> None:
    rule = dict(RULES[0])
    rule["fixtures"] = {"match": rule["fixtures"]["match"], "no_match": []}
    assert any("no_match" in p for p in check_rule(rule))


def test_rule_files_follow_the_json_schema() -> None:
    for path in rule_files():
        with open(path, "rb") as fh:
            jsonschema.validate(tomllib.load(fh), RULE_SCHEMA)
    bad = dict(RULES[0], colour="red")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, RULE_SCHEMA)


def test_lint_is_clean_and_catches_unknown_facts_and_codes(tmp_path: Path) -> None:
    assert lint() == []
    text = (Path(rule_files()[0])).read_text()
    rule_id = RULES[0]["id"]
    broken = text.replace('fact = "', 'fact = "host.nonsense', 1)
    (tmp_path / f"{rule_id}.toml").write_text(broken)
    problems = lint((str(tmp_path),))
    assert any("unknown fact 'host.nonsense" in p for p in problems), problems


def test_compiled_copy_is_fresh() -> None:
    # python -m dumptriage.knowledge.rulebook rewrites it.
    compiled = json.loads(Path(COMPILED).read_text())
    assert list(builtin_rules()) == compiled["rules"] == RULES
    assert compiled["inputs"] == fact_catalogue()["inputs"]


def test_every_fact_a_rule_names_is_documented() -> None:
    known = set(fact_catalogue()["facts"])
    for rule in RULES:
        for condition in rule["when"]:
            assert condition["fact"] in known, (rule["id"], condition["fact"])
