"""Bucket keys for crash reports (DESIGN.md convention 12): ``signature(report)``.

The key is built by an ordered pipeline of small steps (``steps.PIPELINE``), each adding a
note, so that every bucket explains itself; frames that name no owner are skipped by the
data file ``skip_frames.toml``.
"""

from __future__ import annotations

from typing import Any

from dumptriage.signature.steps import PIPELINE, Signature, generate

__all__ = ["PIPELINE", "Signature", "signature"]


def signature(report: Any) -> Signature:
    """The signature of a ``Report`` or of its ``to_dict()`` form (the JSON contract)."""
    data = report if isinstance(report, dict) else report.to_dict()
    return generate(data)
