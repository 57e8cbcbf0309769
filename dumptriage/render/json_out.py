"""The JSON report: exactly ``Report.to_dict()``, documented in schema/report-v1.schema.json."""

from __future__ import annotations

import json

from dumptriage.model.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
