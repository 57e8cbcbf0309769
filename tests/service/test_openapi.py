"""Schemathesis against the service's OpenAPI document (openapi.json), on a real server:
generated requests (valid and invalid) for every operation; every answer must be one the
document lists, with the content type and JSON it describes, and never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.service.server import Server, serving

SPEC = Path(__file__).resolve().parents[2] / "dumptriage" / "service" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("openapi") / "data", "--max-upload", "4M",
                 "--timeout", "20") as running:
        yield running


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_api_keeps_to_its_document(case: Any, server: Server) -> None:
    case.call_and_validate(base_url=server.url)
