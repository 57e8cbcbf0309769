"""`dumptriage explain`: golden files for text and JSON, errors, --help.

Run with DUMPTRIAGE_UPDATE_GOLDEN=1 to rewrite tests/golden/explain/ from the current output.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from dumptriage.cli_explain import explain_command, parse_arg
from tests.golden_util import check_golden

CASES = {
    "0x101": ["0x101"],
    # Oracle: shared/story/windbg-analyze.txt, "CLOCK_WATCHDOG_TIMEOUT (101)", Arg1..Arg4.
    "story-101": ["101", "00000061", "00000000", "807a3120", "00000001"],
    "d1-issue": ["0xD1", "0", "2", "0", "0xfffff80812345678"],
    "1a-41790": ["MEMORY_MANAGEMENT", "41790", "fffffa80`00c0ffee", "0", "0"],
    "133-netkvm": ["133", "0", "501", "500", "0"],
    "7e-msr": ["0x7e", "c0000096", "fffff800`02a8e3c5", "fffff880`0331c8d8", "fffff880`0331c130"],
    "unknown-params": ["0x2"],
}


def _group() -> click.Group:
    group = click.Group("dumptriage")
    group.add_command(explain_command)
    return group


def _run(*argv: str) -> tuple[int, str, str]:
    # A fixed width keeps --help identical whatever terminal or CI runs the test.
    result = CliRunner().invoke(_group(), ["explain", *argv], terminal_width=80)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_golden(case: str) -> None:
    code, out, err = _run(*CASES[case])
    assert (code, err) == (0, "")
    check_golden(f"explain/{case}.txt", out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_golden(case: str) -> None:
    code, out, err = _run(*CASES[case], "--json")
    assert (code, err) == (0, "")
    json.loads(out)
    check_golden(f"explain/{case}.json", out)


def test_help_golden() -> None:
    code, out, err = _run("--help")
    assert (code, err) == (0, "")
    assert "hex first" in out
    check_golden("explain/help.txt", out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["NOPE"], "unknown bugcheck code 'NOPE'"),
        (["0x12345"], "unknown bugcheck code"),
        (["0x101", "1", "2", "3", "4", "5"], "4 arguments"),
        (["0x101", "xyz"], "hex numbers"),
    ],
)
def test_errors_exit_2_with_one_line(argv: list[str], message: str) -> None:
    code, out, err = _run(*argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_json_story_values() -> None:
    _, out, _ = _run(*CASES["story-101"], "--json")
    doc = json.loads(out)
    assert doc["name"] == "CLOCK_WATCHDOG_TIMEOUT"
    assert doc["parameters"][0]["interpretation"] == "clock interrupt time-out interval, 97 ticks"
    assert doc["parameters"][2]["value"] == "0x807a3120"  # 32 bits guessed from the values


def test_bits_option() -> None:
    _, out, _ = _run("0xd1", "80000000", "2", "0", "0", "--bits", "64", "--json")
    assert (
        json.loads(out)["parameters"][0]["interpretation"]
        == "referenced address (user-mode address)"
    )


def test_parse_arg() -> None:
    assert parse_arg("fffff808`12345678") == 0xFFFFF80812345678
    assert parse_arg("0x61") == parse_arg("61") == parse_arg("0n97") == 0x61
