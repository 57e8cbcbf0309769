"""Completeness and provenance of the catalogue data files (DESIGN.md convention 9)."""

from __future__ import annotations

import re

import pytest

from dumptriage.catalogue import bugchecks, params, statuses, tsv
from dumptriage.catalogue.kinds import KINDS
from tests.conftest import require_shared

NAME_RE = re.compile(r"^[A-Z0-9_]+$")
# Every stop code the issue asks to be explained in detail (issue 4).
ISSUE_CODES = [
    0x0A, 0x1A, 0x1E, 0x3B, 0x3D, 0x3E, 0x50, 0x5C, 0x5D, 0x77, 0x7A, 0x7B, 0x7E, 0x7F, 0x80,
    0x8E, 0x9C, 0x9F, 0xA0, 0xC2, 0xC4, 0xC5, 0xD1, 0xEF, 0xF4, 0xFC, 0x101, 0x109, 0x116,
    0x117, 0x119, 0x124, 0x133, 0x139, 0x13A, 0x154, 0x18B, 0x1C8, 0x20001,
]  # fmt: skip


def test_codes_unique_and_names_valid() -> None:
    rows = tsv.read_rows(bugchecks.DATA_FILE)
    codes = [int(r[0], 16) for r in rows]
    assert len(codes) == len(set(codes))
    for row in rows:
        assert NAME_RE.match(row[1]), row
        assert row[2] in {"sdk", "docs", "sdk+docs"}, row
        for alias in filter(None, (row[3] if len(row) > 3 else "").split(",")):
            assert NAME_RE.match(alias), row


def test_several_hundred_codes() -> None:
    assert len(bugchecks.all_entries()) >= 500


def test_primary_names_unique() -> None:
    names = [e.name for e in bugchecks.all_entries()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("filename", [bugchecks.DATA_FILE, "ntstatus.tsv", "fast_fail.tsv"])
def test_provenance_header(filename: str) -> None:
    header = " ".join(tsv.header_comments(filename))
    assert "Source" in header or "source" in header
    assert len(header) > 100


def test_params_provenance() -> None:
    text = tsv.read_text(params.PARAMS_FILE)
    assert text.startswith("# dumptriage")
    assert "Provenance" in text
    assert params.meta()["sources"]


def test_every_code_with_parameters_is_in_the_main_table() -> None:
    missing = [hex(c) for c in params.all_params() if bugchecks.by_code(c) is None]
    assert missing == []


def test_at_least_80_codes_have_argument_meanings() -> None:
    with_args = [p for p in params.all_params().values() if len(p.args) == 4]
    assert len(with_args) >= 80


@pytest.mark.parametrize("code", ISSUE_CODES, ids=hex)
def test_issue_codes_are_explained(code: int) -> None:
    entry = params.params_for(code)
    assert entry is not None and len(entry.args) == 4
    assert entry.description and entry.causes


def _kvm_text() -> str:
    return require_shared("reference/kvm-causes.md").read_text(encoding="utf-8")


def test_kvm_named_codes_match_catalogue_names() -> None:
    # "0x101 CLOCK_WATCHDOG_TIMEOUT": code and name must agree with the catalogue.
    pairs = set(re.findall(r"\b0x([0-9A-Fa-f]+) ([A-Z][A-Z0-9_]{3,})\b", _kvm_text()))
    assert pairs
    for code, name in pairs:
        assert bugchecks.name_of(int(code, 16)) == name, (code, name)


def test_kvm_section_codes_have_kvm_causes() -> None:
    # Bugcheck codes in the headings of section 3 ("### 3.5 0x7B ...") must carry KVM notes.
    headings = re.findall(r"^### 3\.\d+ (.*)$", _kvm_text(), flags=re.M)
    codes = {int(c, 16) for h in headings for c in re.findall(r"\b0x([0-9A-Fa-f]+)\b", h)}
    codes.discard(0x91)  # a 0xC4 Arg1 value, not a stop code ("0xC4/0x91")
    assert {0x101, 0x133, 0x5C, 0x7B, 0x124, 0x80, 0x20001} <= codes
    for code in codes:
        assert bugchecks.name_of(code), hex(code)
        entry = params.params_for(code)
        assert entry is not None and entry.kvm, hex(code)


def test_kinds_and_enums_referenced_exist() -> None:
    enums = set(params.enum_names())
    for p in params.all_params().values():
        specs = list(p.args)
        for sub in (p.subtypes or {}).values():
            specs += [s for s in sub.args if s is not None]
        for spec in specs:
            assert spec.kind is None or spec.kind == "enum" or spec.kind in KINDS, spec
            assert spec.kind != "enum" or spec.enum in enums, spec
        assert p.subtype_enum is None or p.subtype_enum in enums


def test_subtypes_have_a_selector() -> None:
    for p in params.all_params().values():
        if p.subtypes or p.subtype_enum:
            assert p.subtype_arg in (1, 2, 3, 4), hex(p.code)


def test_ntstatus_and_fast_fail_tables() -> None:
    st = statuses.all_ntstatus()
    assert all(NAME_RE.match(n) and n.startswith("STATUS_") for n in st.values())
    ff = statuses.all_fast_fail()
    assert all(n.startswith("FAST_FAIL_") for n in ff.values())
    assert len(set(ff.values())) == len(ff)
