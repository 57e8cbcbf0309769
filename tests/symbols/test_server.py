"""The symbol-server client against a local HTTP server on 127.0.0.1 (never the internet).

The server serves a store tree in a thread: ``/store/...`` files as they are (the PDB only
as a ``.pd_`` cabinet, the image plain), ``/moved/...`` a 302 to ``/store/...`` (msdl's
redirect to blob storage), ``/slow/...`` answers after the client's timeout, ``/html/...``
a 200 with an HTML page (a mis-hosted store); anything else is a 404.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cabarchive import CabArchive, CabFile

import dumptriage
from dumptriage.symbols import symbolize
from dumptriage.symbols.keys import StoreKey, pdb_key
from dumptriage.symbols.server import fetch
from tests.conftest import shared

KEY = "1C19FDDB27BB3399D9B45973EFEAFCF31"
PDB = shared(f"corpus/symbols/amdppm.pdb/{KEY}/amdppm.pdb")
IMAGE = shared("corpus/symbols/amdppm.sys/c9c030003b000/amdppm.sys")
DUMP = shared("corpus/dumps/triage_x64.dmp")
PDB_KEY = pdb_key("amdppm.pdb", KEY[:32], 1)


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                kind, _, rest = self.path.lstrip("/").partition("/")
                if kind == "moved":
                    self.send_response(302)
                    self.send_header("Location", f"/store/{rest}")
                    self.end_headers()
                    return
                if kind == "slow":
                    time.sleep(1.0)
                if kind == "html":
                    self._send(b"<html><body>Sign in</body></html>")
                    return
                path = server.root / rest
                if kind in ("store", "slow") and path.is_file():
                    self._send(path.read_bytes())
                    return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, body: bytes) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def base(self, kind: str) -> str:
        return f"{self.url}/{kind}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    pdb_dir = root / "amdppm.pdb" / KEY
    pdb_dir.mkdir(parents=True)
    archive = CabArchive()
    archive["amdppm.pdb"] = CabFile(PDB.read_bytes())
    (pdb_dir / "amdppm.pd_").write_bytes(archive.save(compress=True))
    image_dir = root / "amdppm.sys" / "C9C030003b000"
    image_dir.mkdir(parents=True)
    shutil.copy(IMAGE, image_dir / "amdppm.sys")
    running = Server(root)
    running.thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture(scope="module")
def report() -> dumptriage.Report:
    return dumptriage.analyze(DUMP)


def _frame(report: dumptriage.Report, offset: int) -> dumptriage.model.dump.Frame:
    return next(f for f in report.stack if f.offset == offset)


def test_compressed_pdb_is_downloaded_expanded_and_cached(server: Server, tmp_path: Path,
                                                          report: dumptriage.Report) -> None:
    cache = tmp_path / "cache"
    path = f"srv*{cache}*{server.base('store')}"
    named, notes = symbolize(report, path, allow_network=True, timeout=5,
                             cache_root=str(tmp_path / "root"))
    assert _frame(named, 0x334C).symbol == "amdppm!WriteIoMemRawEx+0x70"
    assert (cache / "amdppm.pdb" / KEY / "amdppm.pdb").read_bytes() == PDB.read_bytes()
    assert (cache / "amdppm.sys" / "C9C030003b000" / "amdppm.sys").is_file()
    assert not [n for n in notes if n.code == "symbol_download_failed"]
    assert f"/store/amdppm.pdb/{KEY}/amdppm.pd_" in server.requests
    # Warm: the cache answers, the server is not asked again.
    before = len(server.requests)
    again, _ = symbolize(report, path, allow_network=True, timeout=5,
                         cache_root=str(tmp_path / "root"))
    assert _frame(again, 0x334C).symbol == "amdppm!WriteIoMemRawEx+0x70"
    assert [r for r in server.requests[before:] if "amdppm" in r] == []


def test_redirect_is_followed(server: Server, tmp_path: Path) -> None:
    got, notes = fetch(server.base("moved"), PDB_KEY, str(tmp_path), timeout=5)
    assert got is not None and got.compressed and not notes
    assert Path(got.path).read_bytes()[:4] == b"MSCF"
    assert server.requests[:2] == [f"/moved/amdppm.pdb/{KEY}/amdppm.pd_",
                                   f"/store/amdppm.pdb/{KEY}/amdppm.pd_"]


def test_404_is_a_miss_without_a_note(server: Server, tmp_path: Path) -> None:
    missing = StoreKey("nothere.pdb", "0" * 33, "pdb")
    got, notes = fetch(server.base("store"), missing, str(tmp_path), timeout=5)
    assert got is None and notes == []
    assert server.requests == [f"/store/nothere.pdb/{'0' * 33}/nothere.pd_",
                               f"/store/nothere.pdb/{'0' * 33}/nothere.pdb"]


def test_image_key_falls_back_to_lower_case(server: Server, tmp_path: Path) -> None:
    (server.root / "amdppm.sys" / "C9C030003b000").rename(
        server.root / "amdppm.sys" / "c9c030003b000")
    key = StoreKey("amdppm.sys", "C9C030003b000", "image")
    got, _ = fetch(server.base("store"), key, str(tmp_path), timeout=5)
    assert got is not None and server.requests[-1].endswith("/c9c030003b000/amdppm.sys")


def test_slow_server_times_out_into_a_note(server: Server, tmp_path: Path,
                                           report: dumptriage.Report) -> None:
    started = time.monotonic()
    named, notes = symbolize(report, f"srv*{tmp_path / 'c'}*{server.base('slow')}",
                             allow_network=True, timeout=0.3, cache_root=str(tmp_path))
    # One timeout marks the server dead for the run: not one wait per module and file.
    assert time.monotonic() - started < 5
    failed = [n for n in notes if n.code == "symbol_download_failed"]
    assert failed and "no answer within 0.3 s" in failed[0].detail
    assert _frame(named, 0x334C).symbol == "amdppm+0x334c"


def test_html_answer_is_not_cached(server: Server, tmp_path: Path) -> None:
    got, notes = fetch(server.base("html"), PDB_KEY, str(tmp_path / "dest"), timeout=5)
    assert got is None and "not a PDB" in notes[0]
    assert not list((tmp_path / "dest").rglob("amdppm.*"))


def test_no_network_unless_allowed(server: Server, tmp_path: Path,
                                   report: dumptriage.Report) -> None:
    named, _ = symbolize(report, f"srv*{tmp_path / 'c'}*{server.base('store')}",
                         allow_network=False, cache_root=str(tmp_path))
    assert server.requests == []
    assert _frame(named, 0x334C).unsymbolized_reason is not None


def test_cli_shows_download_progress_on_stderr(server: Server, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from dumptriage.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = f"srv*{tmp_path / 'sym'}*{server.base('store')}"
    assert main(["analyze", str(DUMP), "--symbols", path, "--debugger", "none"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    # capsys is no terminal: one line per finished file, the image and the cabinet.
    kib = IMAGE.stat().st_size >> 10
    assert f"dumptriage: downloading amdppm.sys  [########################] {kib}/{kib} KiB" \
        in lines
    assert any(line.startswith("dumptriage: downloading amdppm.pd_  [####") for line in lines)
    assert "amdppm!InitAcpiCpc+0x317" in captured.out
