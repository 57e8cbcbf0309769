"""Answers checked against the contract: openapi.json's components, report-v1 for reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

REPO = Path(__file__).resolve().parents[2]
SPEC = json.loads((REPO / "dumptriage" / "service" / "openapi.json").read_text())
REPORT = json.loads((REPO / "schema" / "report-v1.schema.json").read_text())


def check(component: str, body: Any) -> None:
    """``body`` is a valid ``component`` (and a report in it a valid report-v1)."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": SPEC["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
    if isinstance(body, dict) and "report" in body:
        jsonschema.validate(body["report"], REPORT)
