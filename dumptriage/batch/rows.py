"""One row per dump: what the batch output and the history store keep of a report.

A row is built in the worker from the report's JSON form (``Report.to_dict()``, the
documented contract), so it reads kernel dumps and debugger transcripts alike.
Field meanings: ``schema/batch-row-v1.schema.json``.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from dumptriage.signature import signature

CONFIDENCES = ("established", "plausible", "anecdotal")  # strongest first, as cli.py


@dataclass(frozen=True)
class Row:
    path: str
    hash: str | None
    status: str  # ok | error
    source_kind: str | None = None  # kernel_dump | debugger_text
    crash_time: str | None = None
    vm: str | None = None
    os_build: int | None = None
    os_name: str | None = None
    bugcheck: str | None = None  # "0x00000101"
    bugcheck_name: str | None = None
    culprit: str | None = None
    top_finding: str | None = None  # rule id
    top_confidence: str | None = None
    signature: str | None = None
    signature_notes: tuple[str, ...] = ()
    error_code: str | None = None
    error: str | None = None
    retry: bool = False  # an error worth trying again next run (timeout, worker died)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["signature_notes"] = list(self.signature_notes)
        return out


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back for one dump: the row and the compressed report."""

    row: Row
    report: bytes | None = None  # zlib-compressed JSON of Report.to_dict()
    size: int | None = None
    skipped: bool = False  # the hash was already in the history


def _get(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def row_from_report(report: dict[str, Any], path: str, digest: str) -> Row:
    sig = signature(report)
    findings = report.get("findings") or []
    top = findings[0] if findings and isinstance(findings[0], dict) else {}
    choice = report.get("host_choice") or {}
    host = report.get("host") or {}
    build = _get(report, "dump", "os", "build")
    return Row(
        path=path,
        hash=digest,
        status="ok",
        source_kind=_get(report, "source", "kind"),
        crash_time=_get(report, "dump", "system_time"),
        vm=(choice.get("vm") if isinstance(choice, dict) else None)
        or (host.get("name") if isinstance(host, dict) else None),
        os_build=build if isinstance(build, int) else None,
        os_name=_get(report, "dump", "os", "product_name"),
        bugcheck=_get(report, "bugcheck", "code_hex"),
        bugcheck_name=_get(report, "bugcheck", "name"),
        culprit=_get(report, "culprit", "module"),
        top_finding=top.get("rule"),
        top_confidence=top.get("confidence"),
        signature=sig.signature,
        signature_notes=sig.notes,
    )


def error_row(path: str, digest: str | None, code: str, reason: str, *,
              retry: bool = False) -> Row:
    return Row(path=path, hash=digest, status="error", error_code=code,
               error=" ".join(reason.split()), retry=retry)


def pack_report(report: dict[str, Any]) -> bytes:
    # Level 1: a third of level 6's time for a few percent more bytes (reports are ~2 KiB).
    return zlib.compress(json.dumps(report, separators=(",", ":")).encode(), 1)


def unpack_report(blob: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(zlib.decompress(blob))
    return data
