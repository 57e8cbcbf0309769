"""`dumptriage batch` and `history` through main(argv): goldens for every output format,
a corrupt dump among good ones, a hung worker, the process pool."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from dumptriage.batch.run import BatchOptions, run_batch
from dumptriage.batch.store import HistoryStore
from dumptriage.cli import main
from tests.batch.helpers import REPO, make_share, small_dump
from tests.golden_util import check_golden

SCHEMA = json.loads((REPO / "schema" / "batch-v1.schema.json").read_text())
_TIMES = re.compile(r'"(started_at|finished_at|first_seen|last_seen|last_run)": "[^"]*"')
_RUN_LINE = re.compile(r"the last started \S+")
_FIRST_READ = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ(?=  )")


def _stable(text: str) -> str:
    text = _TIMES.sub(r'"\1": "T"', text)
    return _FIRST_READ.sub("T", _RUN_LINE.sub("the last started T", text))


@pytest.fixture
def share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tests/batch/helpers.make_share in tmp_path; paths in the output stay relative."""
    monkeypatch.chdir(tmp_path)
    return make_share(Path("share"), tmp_path / "tmp")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "jsonl", "json"])
def test_batch_formats(share: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out = _run(capsys, "batch", str(share), "--db", "h.sqlite", "--jobs", "2",
                     "--format", fmt)
    assert code == 3  # the damaged MEMORY.DMP: completed with errors
    if fmt == "json":
        jsonschema.validate(json.loads(out), SCHEMA)
    if fmt == "jsonl":
        for line in out.splitlines():
            record = json.loads(line)
            jsonschema.validate(record, {"$defs": SCHEMA["$defs"],
                                         "$ref": f"#/$defs/jsonl_{record['record']}"})
    ext = {"table": "txt", "markdown": "md"}.get(fmt, fmt)
    check_golden(f"batch/share.{ext}", _stable(out))


def test_corrupt_dump_is_an_error_row_and_the_rest_is_read(
        share: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _run(capsys, "batch", str(share), "--db", "h.sqlite", "--format", "jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    dumps = {r["path"]: r for r in records if r["record"] == "dump"}
    bad = dumps["share/vm202/MEMORY.DMP"]
    assert bad["status"] == "error" and bad["error_code"] == "DT100"
    assert "share/vm202/MEMORY.DMP" in bad["error"] and "\n" not in bad["error"]
    assert sum(r["status"] == "ok" for r in dumps.values()) == 5
    assert dumps["share/wer.zip!Minidump/z.dmp"]["signature"] == "0x133/0x1 nt+0x7f1e0"


def test_second_run_reads_nothing_and_history_lists_buckets(
        share: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "batch", str(share), "--db", "h.sqlite")
    code, out = _run(capsys, "batch", str(share), "--db", "h.sqlite")
    assert code == 0  # the known-bad dump is not read (nor counted) again
    assert out.endswith("6 dumps found, 0 read, 6 already in the history, 0 errors\n")
    code, out = _run(capsys, "history", "--db", "h.sqlite")
    assert code == 0
    check_golden("batch/history.txt", _stable(out))
    _, out = _run(capsys, "history", "--db", "h.sqlite", "--format", "json", "--since",
                  "2019-01-01")
    assert [s["signature"] for s in json.loads(out)["signatures"]] == [
        "0x133/0x1 nt+0x7f1e0", "0x133/0x0 nt+0x7f1e0", "0x7e nt+0x7f1e0"]


def test_fail_fast_stops(share: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "batch", str(share), "--db", "h.sqlite", "--jobs", "1",
                     "--fail-fast")
    assert code == 3 and "stopped at the first error" in out


def test_fail_on(share: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (share / "vm202" / "MEMORY.DMP").unlink()
    code, _ = _run(capsys, "batch", str(share), "--db", "h.sqlite", "--fail-on", "established")
    assert code == 1  # the story dump with its host files: KVM-0101-RELAXED established


@pytest.mark.parametrize(("args", "message"), [
    (["batch", "nowhere"], "does not exist"),
    (["batch", ".", "--since", "yesterday-ish"], "is not a date"),
    (["history", "--db", "none.sqlite"], "no history yet"),
])
def test_unusable_input_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and "Traceback" not in err


def test_hung_worker_is_killed_and_reported(tmp_path: Path) -> None:
    # The stand-in analysis (tests/batch/slow_analyzer.py) sleeps 60 s on "slow" files.
    small_dump(tmp_path / "d" / "a.dmp", 0)
    small_dump(tmp_path / "d" / "slow.dmp", 1)
    small_dump(tmp_path / "d" / "z.dmp", 2)
    options = BatchOptions(roots=(str(tmp_path / "d"),), jobs=2, timeout=2.0,
                           analyzer="tests.batch.slow_analyzer:hang_on_slow")
    with HistoryStore(tmp_path / "h.sqlite") as store:
        result = run_batch(options, store)
        rows = store.conn.execute("SELECT s.path, d.status, d.error_code, d.retry FROM "
                                  "sightings s JOIN dumps d ON d.hash = s.hash "
                                  "ORDER BY s.path").fetchall()
    assert result.counts["errors"] == 1
    names = {Path(p).name: (status, code, retry) for p, status, code, retry in rows}
    assert names["slow.dmp"] == ("error", "DT690", 1)  # to be tried again next run
    assert names["a.dmp"][0] == names["z.dmp"][0] == "ok"


def test_analyze_many_yields_as_they_finish(tmp_path: Path) -> None:
    from dumptriage.batch import analyze_many

    paths = [small_dump(tmp_path / f"{i}.dmp", i) for i in range(6)]
    (tmp_path / "bad.dmp").write_bytes(b"junk")
    results = list(analyze_many([*paths, tmp_path / "bad.dmp"], jobs=2))
    assert len(results) == 7
    ok = [r for r in results if r.report is not None]
    assert len(ok) == 6 and all(r.report["bugcheck"]["code"] == 0x133 for r in ok)
    [bad] = [r for r in results if r.report is None]
    assert bad.row.error_code == "DT100"
