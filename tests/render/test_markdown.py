"""Markdown output keeps input text as text: markup and control characters are escaped."""

from __future__ import annotations

from dumptriage.model.report import Culprit, Report, Source
from dumptriage.render.markdown import _fenced, code, md, render_markdown


def test_markup_in_a_field_is_escaped() -> None:
    assert md("a|b") == "a\\|b"
    assert md("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert(1)\\>"
    assert md("*bold* _it_ [l](u) `c` ~~s~~") == \
        "\\*bold\\* \\_it\\_ \\[l\\](u) \\`c\\` \\~\\~s\\~\\~"
    assert md("\x1b]0;owned\x07") == "\\\\x1b\\]0;owned\\\\x07"


def test_a_code_span_is_never_closed_by_its_content() -> None:
    assert code("vcpus.stuck_third_party") == "`vcpus.stuck_third_party`"
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"


def test_a_fence_is_longer_than_any_backtick_run_inside() -> None:
    block = _fenced("run ````x```` now")
    assert block.startswith("`````\n") and block.endswith("\n`````")


def test_hostile_names_in_a_report_stay_text() -> None:
    report = Report(source=Source(path="x|y`<b>.dmp", kind="kernel_dump"), dump=None,
                    bugcheck=None, culprit=Culprit("evil|<script>.sys", "because *so*"))
    out = render_markdown(report)
    assert "<script>" not in out
    assert "``x|y`<b>.dmp``" in out  # inside a code span nothing is markup
    assert "evil\\|\\<script\\>.sys" in out and "because \\*so\\*" in out
