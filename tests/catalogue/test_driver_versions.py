"""driver_versions.tsv: provenance, well-formed rows, stop codes the catalogue knows."""

from __future__ import annotations

from dumptriage.catalogue import bugchecks, tsv
from dumptriage.catalogue.driver_versions import CONFIDENCES, DATA_FILE, known_bad_table


def test_provenance_header_names_the_source() -> None:
    header = " ".join(tsv.header_comments(DATA_FILE))
    assert "Source" in header and "kvm-causes.md" in header


def test_rows_are_well_formed() -> None:
    rows = known_bad_table()
    assert len(rows) >= 5
    keys = [(r.module, r.build_from, r.os_from) for r in rows]
    assert len(keys) == len(set(keys))
    for row in rows:
        assert row.module == row.module.lower() and row.module.endswith(".sys"), row
        assert row.build_to is None or row.build_to > row.build_from, row
        assert row.reference.startswith("https://"), row
        assert row.confidence in CONFIDENCES, row
        assert all(bugchecks.by_code(code) is not None for code in row.bugchecks), row
        assert row.defect and row.fixed_in, row
