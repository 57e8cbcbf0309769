"""bugcheck_params.json is exactly the parsed bugcheck_params.toml (the TOML is the source)."""

from __future__ import annotations

import json

from dumptriage.catalogue.params import COMPILED_FILE, params_for, parse_toml
from dumptriage.catalogue.tsv import data_path


def test_compiled_json_is_fresh() -> None:
    with open(data_path(COMPILED_FILE), encoding="utf-8") as fh:
        compiled = json.load(fh)
    assert compiled == parse_toml(), "run: python -m dumptriage.catalogue.params"


def test_lookup_builds_one_code_and_resolves_same_as() -> None:
    clock = params_for(0x101)
    assert clock is not None and len(clock.args) == 4
    twin = params_for(0x1000007E)
    base = params_for(0x7E)
    assert twin is not None and base is not None
    assert [a.meaning for a in twin.args] == [a.meaning for a in base.args]
    assert params_for(0xFFFF) is None
