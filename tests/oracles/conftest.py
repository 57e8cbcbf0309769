"""The oracle dumps: written once per session, lazily, into a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dumptriage.synth import BuiltDump, write
from tests.oracles._common import SPECS


@pytest.fixture(scope="session")
def oracle_dump(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], BuiltDump]:
    root: Path = tmp_path_factory.mktemp("oracles")
    cache: dict[str, BuiltDump] = {}

    def get(name: str) -> BuiltDump:
        if name not in cache:
            cache[name] = write(SPECS[name], root / f"{name}.dmp")
        return cache[name]

    return get
