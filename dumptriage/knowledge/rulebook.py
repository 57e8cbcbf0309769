"""Rule files: one TOML file per rule under ``knowledge/rules/`` (file name = rule id).

The package's rules are compiled once into ``rules.json`` (``python -m
dumptriage.knowledge.rulebook``; tests/knowledge fails when it is stale), so an analysis
loads one JSON file instead of parsing dozens of TOML files. ``--rules DIR`` adds a user's
folder, parsed on use. ``check_rule`` is the structural check that ``rules lint`` and the
loader apply; schema/rule-v1.schema.json says the same for other tools.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache

from dumptriage.errors import RuleFileError
from dumptriage.knowledge.conditions import OPERATORS, operator_of

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
RULES_DIR = os.path.join(HERE, "rules")
COMPILED = os.path.join(HERE, "rules.json")
FACTS_FILE = os.path.join(HERE, "facts.toml")
CONFIDENCES = ("established", "plausible", "anecdotal")
ID_PATTERN = re.compile(r"^KVM-[0-9A-Z]+(-[0-9A-Z]+)+$|^GEN-[0-9A-Z]+(-[0-9A-Z]+)+$")
REQUIRED = ("id", "title", "summary", "bugchecks", "confidence", "when", "fixes",
            "references", "fixtures")
OPTIONAL = ("rationale", "does_not_help")


def parse_rule_file(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as fh:
            rule = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise RuleFileError(path, None, str(err)) from err
    problems = check_rule(rule, os.path.splitext(os.path.basename(path))[0])
    if problems:
        raise RuleFileError(path, None, "; ".join(problems))
    return rule


def check_rule(rule: dict[str, Any], stem: str | None = None) -> list[str]:
    """What is wrong with a rule's structure (empty when nothing)."""
    problems = [f"missing '{key}'" for key in REQUIRED if key not in rule]
    problems += [f"unknown key '{key}'" for key in rule if key not in REQUIRED + OPTIONAL]
    if problems:
        return problems
    if not ID_PATTERN.match(str(rule["id"])):
        problems.append(f"id {rule['id']!r} is not of the KVM-0101-RELAXED form")
    if stem is not None and stem != rule["id"]:
        problems.append(f"file name {stem!r} is not the rule id {rule['id']!r}")
    if rule["confidence"] not in CONFIDENCES:
        problems.append(f"confidence {rule['confidence']!r} is not one of {CONFIDENCES}")
    bugchecks = rule["bugchecks"]
    if bugchecks not in ("any", "hang") and not (
            isinstance(bugchecks, list) and bugchecks
            and all(isinstance(b, int) for b in bugchecks)):
        problems.append("bugchecks must be \"any\", \"hang\" or a list of stop codes")
    problems += _conditions(rule["when"], "when")
    problems += _fixes(rule["fixes"])
    if not rule["references"] or not all(str(r).startswith("http") for r in rule["references"]):
        problems.append("references must be a non-empty list of URLs")
    fixtures = rule["fixtures"]
    if not fixtures.get("match") or not fixtures.get("no_match"):
        problems.append("fixtures need at least one 'match' and one 'no_match' fact set")
    return problems


def _conditions(conditions: Any, where: str) -> list[str]:
    if not isinstance(conditions, list) or not conditions:
        return [f"'{where}' must be a non-empty list of conditions"]
    problems = []
    for index, condition in enumerate(conditions):
        if "fact" not in condition:
            problems.append(f"{where}[{index}] has no 'fact'")
        try:
            operator_of(condition)
        except ValueError as err:
            problems.append(f"{where}[{index}]: {err} (operators: {', '.join(OPERATORS)})")
        extra = [k for k in condition if k != "fact" and k not in OPERATORS]
        if extra:
            problems.append(f"{where}[{index}] has unknown keys {extra}")
    return problems


def _fixes(fixes: Any) -> list[str]:
    from dumptriage.knowledge.engine import PLATFORMS

    if not isinstance(fixes, dict) or not fixes:
        return ["'fixes' must map platforms to fix variants"]
    problems = []
    for platform, variants in fixes.items():
        if platform not in PLATFORMS:
            problems.append(f"fix platform {platform!r} is not one of {PLATFORMS}")
        if not isinstance(variants, list) or not variants:
            problems.append(f"fixes.{platform} must be a list of {{text, when}} variants")
            continue
        if variants[-1].get("when"):
            problems.append(f"fixes.{platform}: the last variant must have no 'when' (default)")
        for index, variant in enumerate(variants):
            if not variant.get("text"):
                problems.append(f"fixes.{platform}[{index}] has no text")
            if variant.get("when"):
                problems += _conditions(variant["when"], f"fixes.{platform}[{index}].when")
    return problems


def rule_files(folder: str = RULES_DIR) -> list[str]:
    if not os.path.isdir(folder):
        raise RuleFileError(folder, None, "not a folder of rule files")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if name.endswith(".toml"))


def compile_rules(folder: str = RULES_DIR) -> list[dict[str, Any]]:
    return [parse_rule_file(path) for path in rule_files(folder)]


@cache
def _compiled() -> dict[str, Any]:
    with open(COMPILED, encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def builtin_rules() -> tuple[dict[str, Any], ...]:
    """The package's rules, from their compiled JSON copy (loaded once per process)."""
    return tuple(_compiled()["rules"])


def input_hints() -> dict[str, str]:
    """facts.toml's [inputs] (which input decides a fact), from the compiled copy: parsing
    the TOML costs ~17 ms here, the JSON under 1 ms."""
    hints: dict[str, str] = _compiled()["inputs"]
    return hints


@cache
def fact_catalogue() -> dict[str, Any]:
    """facts.toml: every fact name with its type, doc and example, and the input hints."""
    import tomllib

    with open(FACTS_FILE, "rb") as fh:
        return tomllib.load(fh)


def load_rules(extra_dirs: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Built-in rules plus the rules of each ``--rules`` folder (a user rule with a built-in
    rule's id replaces it)."""
    rules = {rule["id"]: rule for rule in builtin_rules()}
    for folder in extra_dirs:
        for rule in compile_rules(folder):
            rules[rule["id"]] = rule
    return list(rules.values())


def write_compiled(path: str = COMPILED) -> None:
    rules = compile_rules()
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"generated_from": "dumptriage/knowledge/rules/*.toml and facts.toml",
                   "rules": rules, "inputs": fact_catalogue()["inputs"]}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    write_compiled()
    print(f"wrote {COMPILED}")
