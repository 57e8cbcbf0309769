"""`dumptriage serve` as a command: its help (golden), its one-line refusals."""

from __future__ import annotations

import sys

import pytest

from dumptriage.cli import main
from tests.golden_util import check_golden


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    check_golden("help/serve-help.txt", out)


def test_listed_in_the_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "  serve    Run the triage service" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["uvicorn", "starlette", "python_multipart"])
def test_without_the_service_extra_one_line_and_exit_2(
        module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: object) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    assert main(["serve", "--data", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"dumptriage: error: dumptriage serve needs the [service] extra ({module} "
                   "is missing): pip install 'dumptriage[service]'\n")


@pytest.mark.parametrize(("args", "words"), [
    (["--max-upload", "lots"], "'lots' is not a size"),
    (["--max-upload", "0"], "is not a size"),
    (["--port", "70000"], "70000 is not in the range"),
    (["--workers", "0"], "0 is not in the range"),
])
def test_bad_arguments(args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *args]) == 2
    assert words in capsys.readouterr().err


def test_sizes() -> None:
    from dumptriage.cli_serve import ByteSize

    size = ByteSize()
    assert [size.convert(v, None, None) for v in ("4096", "512M", "64G", "1TiB", "2 KiB")] == [
        4096, 512 << 20, 64 << 30, 1 << 40, 2048]


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: object,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--port {port}: cannot listen there: Address already in use" in err
