"""Completeness of skip_frames.toml: every entry explains itself and names a source."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from dumptriage.errors import RuleFileError
from dumptriage.signature.frames import builtin_skip_list, parse_skip_list


def test_every_entry_has_a_reason_and_a_reference() -> None:
    skip = builtin_skip_list()
    assert len(skip.entries) >= 20
    for entry in skip.entries:
        assert entry.why.strip(), entry.pattern
        assert entry.references and all(r.startswith("https://") for r in entry.references)


def test_patterns_are_unique() -> None:
    patterns = [e.pattern.lower() for e in builtin_skip_list().entries]
    assert len(patterns) == len(set(patterns))


def test_the_file_is_valid_toml_with_aliases() -> None:
    text = resources.files("dumptriage.signature").joinpath("skip_frames.toml").read_text()
    data = tomllib.loads(text)
    assert data["aliases"]["nt"] and data["aliases"]["hal"]


@pytest.mark.parametrize("bad", ["KeBugCheckEx", "nt!*Bug*", "!x", "nt!"],
                         ids=["no-module", "star-inside", "empty-module", "empty-function"])
def test_malformed_patterns_are_refused(bad: str) -> None:
    with pytest.raises(RuleFileError):
        parse_skip_list({"skip": [{"pattern": bad, "why": "x", "references": ["https://x"]}]},
                        "test.toml")
