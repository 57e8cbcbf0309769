"""The README's two set-up commands stay true: the test one is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_exactly_two_setup_commands() -> None:
    commands = _commands()
    assert len(commands) == 2
    run, test = commands
    assert "dumptriage analyze samples/win7-x86-clock-watchdog/MEMORY.DMP" in run
    assert "pytest" in test
    assert (REPO / "samples" / "win7-x86-clock-watchdog" / "MEMORY.DMP").is_file()


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in ci


def test_the_library_example_runs(capsys: object) -> None:
    import contextlib
    import io
    import os

    text = (REPO / "README.md").read_text()
    block = text.split("As a library", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]
    out = io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(here)
    printed = out.getvalue().splitlines()
    assert printed[0] == "KVM-0101-RELAXED established"
    assert "<relaxed state='on'/>" in out.getvalue() and "<stimer" not in out.getvalue()
    assert printed[-1].startswith("0x101 7601 ")
