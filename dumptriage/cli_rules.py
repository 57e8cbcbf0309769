"""``dumptriage rules``: the knowledge base's rules and facts, listed, shown, linted, documented."""

from __future__ import annotations

import json

import click

from dumptriage.knowledge.rulebook import (
    builtin_rules,
    check_rule,
    compile_rules,
    fact_catalogue,
    load_rules,
    rule_files,
)

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from typing import Any

_RULES_OPTION = click.option("--rules", "rule_dirs", multiple=True,
                             type=click.Path(exists=True, file_okay=False),
                             help="Also a folder of extra rule files. Repeatable.")


@click.group("rules")
def rules_command() -> None:
    """List, show, lint and document the knowledge base's rules and the facts they use."""


def _bugchecks(rule: dict[str, Any]) -> str:
    codes = rule["bugchecks"]
    return codes if codes in ("any", "hang") else ", ".join(f"{c:#x}" for c in codes)


@rules_command.command("list")
@_RULES_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
def list_command(rule_dirs: tuple[str, ...], as_json: bool) -> None:
    """One line per rule: id, confidence, bugchecks, title."""
    from tabulate import tabulate

    rules = sorted(load_rules(rule_dirs), key=lambda r: r["id"])
    if as_json:
        click.echo(json.dumps([{k: r[k] for k in ("id", "title", "confidence", "bugchecks")}
                               for r in rules], indent=2))
        return
    rows = [(r["id"], r["confidence"], _bugchecks(r), r["title"]) for r in rules]
    click.echo(tabulate(rows, headers=("rule", "confidence", "bugchecks", "title"),
                        tablefmt="simple", disable_numparse=True))


@rules_command.command("show")
@click.argument("rule_id")
@_RULES_OPTION
def show_command(rule_id: str, rule_dirs: tuple[str, ...]) -> None:
    """Everything one rule says: cause, conditions, fixes per platform, references."""
    from dumptriage.knowledge.conditions import describe

    rule = next((r for r in load_rules(rule_dirs) if r["id"] == rule_id.upper()), None)
    if rule is None:
        raise click.ClickException(f"no rule {rule_id!r} (see `dumptriage rules list`)")
    lines = [f"{rule['id']}: {rule['title']}", f"  confidence: {rule['confidence']}",
             f"  bugchecks:  {_bugchecks(rule)}", f"  cause: {rule['summary']}"]
    if rule.get("rationale"):
        lines.append(f"  why: {rule['rationale']}")
    lines.append("  matches when:")
    lines += [f"    - {describe(c)}" for c in rule["when"]]
    for platform, variants in rule["fixes"].items():
        for variant in variants:
            when = variant.get("when")
            cond = f" (when {'; '.join(describe(c) for c in when)})" if when else ""
            lines.append(f"  fix, {platform}{cond}:")
            lines += ["      " + line for line in str(variant["text"]).strip().splitlines()]
    lines += [f"  does not help: {note}" for note in rule.get("does_not_help", ())]
    lines += [f"  reference: {ref}" for ref in rule["references"]]
    click.echo("\n".join(lines))


@rules_command.command("facts")
@click.option("--json", "as_json", is_flag=True, help="The fact table as JSON.")
def facts_command(as_json: bool) -> None:
    """Every fact a rule can use, with its type and an example value."""
    from tabulate import tabulate

    facts = fact_catalogue()["facts"]
    if as_json:
        click.echo(json.dumps(facts, indent=2, sort_keys=True))
        return
    rows = [(name, spec["type"], spec["example"], spec["doc"])
            for name, spec in sorted(facts.items())]
    click.echo(tabulate(rows, headers=("fact", "type", "example", "meaning"),
                        tablefmt="simple", disable_numparse=True, maxcolwidths=[None, None,
                                                                               30, 60]))


@rules_command.command("lint")
@_RULES_OPTION
def lint_command(rule_dirs: tuple[str, ...]) -> None:
    """Check every rule file: structure, bugchecks in the catalogue, known facts, fixtures.

    Exit code 1 when a problem is found (each printed as FILE: problem).
    """
    problems = lint(rule_dirs)
    for problem in problems:
        click.echo(problem)
    click.echo(f"{len(problems)} problem(s)", err=True)
    if problems:
        raise click.exceptions.Exit(1)


def lint(rule_dirs: tuple[str, ...] = ()) -> list[str]:
    """Problems of the built-in rule files and of each extra folder."""
    import tomllib

    from dumptriage.catalogue.bugchecks import name_of

    known_facts = set(fact_catalogue()["facts"])
    problems = []
    for folder in (None, *rule_dirs):
        for path in rule_files(folder) if folder else rule_files():
            with open(path, "rb") as fh:
                rule = tomllib.load(fh)
            stem = path.rsplit("/", 1)[-1].removesuffix(".toml")
            found = check_rule(rule, stem)
            if not found:
                found = _semantic(rule, known_facts, name_of)
            problems += [f"{path}: {p}" for p in found]
    return problems


def _semantic(rule: dict[str, Any], known: set[str], name_of: Any) -> list[str]:
    problems = []
    if rule["bugchecks"] not in ("any", "hang"):
        problems += [f"bugcheck {c:#x} is not in the catalogue" for c in rule["bugchecks"]
                     if name_of(c) is None]
    facts = [c["fact"] for c in rule["when"]]
    facts += [c["fact"] for variants in rule["fixes"].values() for v in variants
              for c in v.get("when", ())]
    for fixture in (*rule["fixtures"]["match"], *rule["fixtures"]["no_match"]):
        facts += list(fixture.get("facts", {}))
    problems += [f"unknown fact {f!r} (see `dumptriage rules facts`)"
                 for f in dict.fromkeys(facts) if f not in known]
    return problems


@rules_command.command("docs")
@_RULES_OPTION
def docs_command(rule_dirs: tuple[str, ...]) -> None:
    """All rules as Markdown (for a wiki page or a review)."""
    out = ["# dumptriage rules", ""]
    for rule in sorted(load_rules(rule_dirs), key=lambda r: r["id"]):
        out += [f"## {rule['id']}: {rule['title']}", "",
                f"*{rule['confidence']}*; bugchecks: {_bugchecks(rule)}", "",
                rule["summary"], ""]
        for platform, variants in rule["fixes"].items():
            out += [f"**Fix ({platform})**", "", "```", str(variants[-1]["text"]).strip(),
                    "```", ""]
        out += [f"- <{ref}>" for ref in rule["references"]] + [""]
    click.echo("\n".join(out))


__all__ = ["builtin_rules", "compile_rules", "lint", "rules_command"]
