"""Argument meanings, subtypes and notes per stop code, from ``bugcheck_params.toml``.

The TOML file documents its own layout in its header. This module only turns it into frozen
dataclasses, resolves ``same_as`` (the ``_M`` twins of 0x7E, 0x7F, ...) and caches the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from dumptriage.catalogue.tsv import data_path
from dumptriage.model.record import Record

PARAMS_FILE = "bugcheck_params.toml"
COMPILED_FILE = "bugcheck_params.json"
ARG_COUNT = 4


class ArgSpec(Record):
    """What one of the four arguments holds, and how to read a concrete value."""

    meaning: str
    kind: str | None = None
    enum: str | None = None
    template: str | None = None


class SubtypeSpec(Record):
    """One value of the subtype-selecting argument; ``args`` overrides the default meanings."""

    value: int
    summary: str
    args: tuple[ArgSpec | None, ...] = ()


class CodeParams(Record):
    code: int
    description: str
    source: str
    causes: tuple[str, ...]
    kvm: tuple[str, ...]
    args: tuple[ArgSpec, ...]
    subtype_arg: int | None = None
    subtype_enum: str | None = None
    subtypes: Mapping[int, SubtypeSpec] | None = None


def _arg(raw: Mapping[str, Any]) -> ArgSpec:
    return ArgSpec(
        meaning=str(raw["meaning"]),
        kind=raw.get("kind"),
        enum=raw.get("enum"),
        template=raw.get("template"),
    )


def _override(meaning: str, kind: str) -> ArgSpec | None:
    return ArgSpec(meaning=meaning, kind=kind or None) if meaning else None


def _subtype(value: int, raw: str | Mapping[str, Any]) -> SubtypeSpec:
    if isinstance(raw, str):
        return SubtypeSpec(value=value, summary=raw)
    meanings = list(raw.get("args", [""] * ARG_COUNT))
    kinds = list(raw.get("kinds", [""] * ARG_COUNT))
    args = tuple(_override(m, k) for m, k in zip(meanings, kinds, strict=True))
    return SubtypeSpec(value=value, summary=str(raw["summary"]), args=args)


def _subtypes(raw: Mapping[str, Any] | None) -> dict[int, SubtypeSpec] | None:
    if raw is None:
        return None
    return {int(key, 16): _subtype(int(key, 16), val) for key, val in raw.items()}


def _merge(own: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(base or {})
    merged.update(own)
    return merged


def _code_params(code: int, raw: Mapping[str, Any]) -> CodeParams:
    return CodeParams(
        code=code,
        description=str(raw["description"]),
        source=str(raw.get("source", "")),
        causes=tuple(raw.get("causes", ())),
        kvm=tuple(raw.get("kvm", ())),
        args=tuple(_arg(a) for a in raw.get("args", ())),
        subtype_arg=raw.get("subtype_arg"),
        subtype_enum=raw.get("subtype_enum"),
        subtypes=_subtypes(raw.get("subtypes")),
    )


def parse_toml() -> dict[str, Any]:
    """The source of truth, parsed (tomllib; about 20 ms for this file)."""
    import tomllib

    with open(data_path(PARAMS_FILE), "rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    """The parsed document, from its JSON copy (bugcheck_params.json, under 1 ms to load).

    The JSON is generated from the TOML by ``python -m dumptriage.catalogue.params`` and
    committed; tests/catalogue/test_params_json.py fails when it is stale.
    """
    import json

    try:
        with open(data_path(COMPILED_FILE), encoding="utf-8") as fh:
            document: dict[str, Any] = json.load(fh)
            return document
    except FileNotFoundError:
        return parse_toml()


def _build(key: str, raw_codes: Mapping[str, Any]) -> CodeParams:
    raw = raw_codes[key]
    base = raw_codes.get(raw["same_as"]) if "same_as" in raw else None
    own = {k: v for k, v in raw.items() if k != "same_as"}
    return _code_params(int(key, 16), _merge(own, base))


@lru_cache(maxsize=1)
def _all() -> dict[int, CodeParams]:
    raw_codes = {key: val for key, val in _document().items() if key.startswith("0x")}
    return {int(key, 16): _build(key, raw_codes) for key in raw_codes}


@lru_cache(maxsize=256)
def params_for(code: int) -> CodeParams | None:
    """The argument table for ``code``, or None when the catalogue has none for it."""
    doc = _document()
    key = f"{code:#x}"
    return _build(key, doc) if key in doc else None


def all_params() -> dict[int, CodeParams]:
    return dict(_all())


def enum_table(name: str) -> dict[int, str]:
    """A value table from the ``[enums.NAME]`` section (keys are hex strings in the file)."""
    raw: Mapping[str, str] = _document().get("enums", {}).get(name, {})
    return {int(key, 16): val for key, val in raw.items()}


def enum_names() -> list[str]:
    return sorted(_document().get("enums", {}))


def meta() -> dict[str, Any]:
    """The ``[meta]`` table (schema version, sources)."""
    return dict(_document().get("meta", {}))


def write_compiled() -> str:
    """Regenerate bugcheck_params.json from the TOML; returns its path."""
    import json

    path = data_path(COMPILED_FILE)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(parse_toml(), fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    return path


if __name__ == "__main__":
    print(write_compiled())
