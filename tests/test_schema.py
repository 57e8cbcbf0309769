"""The JSON contract: schema/report-v1.schema.json is strict and every golden JSON obeys it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates")

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((REPO / "schema" / "report-v1.schema.json").read_text())
GOLDEN = REPO / "tests" / "golden"
ANALYZE = sorted((GOLDEN / "analyze").glob("*.json"))
CONTEXT = sorted((GOLDEN / "context").glob("*.json"))
# `dumptriage context --json` prints {"vms": [{vm, reason, config}]}; config is the report's
# `host` object, described once in the report schema's $defs.
CONTEXT_SCHEMA: dict[str, Any] = {
    "$schema": SCHEMA["$schema"],
    "$defs": SCHEMA["$defs"],
    "type": "object",
    "additionalProperties": False,
    "required": ["vms"],
    "properties": {"vms": {"type": "array", "minItems": 1, "items": {
        "type": "object", "additionalProperties": False, "required": ["vm", "reason", "config"],
        "properties": {"vm": {"type": "string"}, "reason": {"type": "string"},
                       "config": {"$ref": "#/$defs/vm_config"}}}}},
}


def _errors(schema: dict[str, Any], data: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(data)]


def _all_messages(schema: dict[str, Any], data: Any) -> list[str]:
    """Every message, including those under a oneOf (the branch that was meant)."""
    pending = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    messages = []
    while pending:
        error = pending.pop()
        messages.append(error.message)
        pending += error.context or []
    return messages


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator.check_schema(CONTEXT_SCHEMA)


def _objects(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        kind = node.get("type")
        is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
        if is_object or "properties" in node:
            found.append((where, node))
        for key, value in node.items():
            found += _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _objects(value, f"{where}/{i}")
    return found


def test_every_object_is_closed() -> None:
    objects = _objects(SCHEMA)
    assert len(objects) > 40
    for where, node in objects:
        # Closed records (false) or maps whose values are described (name -> schema).
        closed = node.get("additionalProperties")
        assert closed is False or isinstance(closed, dict), where
        if "properties" in node:
            assert closed is False, where


def test_goldens_are_there() -> None:
    assert [p.name for p in ANALYZE] == ["story-transcript.json", "story-with-context.json",
                                         "vmcore-x64-win7.json", "vmcore-x64.json",
                                         "vmcore-x86-pae.json",
                                         "win10-x64-bitmap-kernel.json",
                                         "win10-x64-full.json", "win7-x86-clock-watchdog.json"]
    assert [p.name for p in CONTEXT] == ["libvirt-hyperv.json", "story-ps.json"]


@pytest.mark.parametrize("path", ANALYZE, ids=[p.name for p in ANALYZE])
def test_analyze_golden_obeys_the_schema(path: Path) -> None:
    data = _load(path)
    assert data["schema_version"] == 1
    assert data["tool"]["name"] == "dumptriage"
    assert _errors(SCHEMA, data) == []


@pytest.mark.parametrize("path", CONTEXT, ids=[p.name for p in CONTEXT])
def test_context_golden_obeys_the_schema(path: Path) -> None:
    assert _errors(CONTEXT_SCHEMA, _load(path)) == []


@pytest.fixture()
def report() -> dict[str, Any]:
    return _load(GOLDEN / "analyze" / "story-with-context.json")


def test_the_story_report_has_host_and_choice(report: dict[str, Any]) -> None:
    assert report["host"]["name"] == "vm113"
    assert report["host_choice"]["vm"] == "vm113"
    assert report["modules"][0]["company"] == "Microsoft Corporation"


@pytest.mark.parametrize(("where", "key"), [
    ((), "findings_v2"),
    (("tool",), "commit"),
    (("host",), "gpu"),
    (("host", "cpu"), "flags"),
    (("host", "devices", "disks", 0), "serial"),
    (("host", "events", 0), "severity"),
    (("host_choice",), "score"),
    (("modules", 0), "signer"),
    (("modules", 0, "pdb"), "path"),
    (("dump",), "vcpus"),
    (("dump", "os"), "edition"),
    (("source",), "sha256"),
    (("findings", 0), "why"),
])
def test_an_unknown_key_is_rejected(report: dict[str, Any], where: tuple[str | int, ...],
                                    key: str) -> None:
    changed = copy.deepcopy(report)
    node: Any = changed
    for step in where:
        node = node[step]
    node[key] = "x"
    assert _errors(SCHEMA, changed), (where, key)
    messages = _all_messages(SCHEMA, changed)
    assert f"Additional properties are not allowed ({key!r} was unexpected)" in messages


def test_a_missing_tool_block_is_rejected(report: dict[str, Any]) -> None:
    del report["tool"]
    assert _errors(SCHEMA, report) == ["$: 'tool' is a required property"]
