"""The service's safety limits, each shown on a real server (or on the code that decides)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dumptriage.cli import main
from dumptriage.service.config import (
    ServiceConfigError,
    check_exposure,
    is_loopback,
    read_token,
)
from tests.service.schemas import check
from tests.service.server import ANALYZERS, STORY, Server, serving, story_files, wait_done

TOKEN = "s3cret-token-0123456789abcdef"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A token, 1 MiB uploads, 2 archive members, 2 jobs at once on one worker, 3 s."""
    root = tmp_path_factory.mktemp("strict")
    token = root / "token"
    token.write_text(TOKEN + "\n")
    with serving(root / "data", "--token-file", str(token), "--max-upload", "1M",
                 "--max-members", "2", "--max-jobs", "2", "--workers", "1", "--timeout", "3",
                 "--analyzer", f"{ANALYZERS}:misbehave") as running:
        yield running


def _authed(server: Server) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {TOKEN}"})


def _uploads_left(server: Server) -> list[Path]:
    return list((server.data / "uploads").iterdir())


# --- who may call it ------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}",
                                    f"Bearer {TOKEN}x", "Bearer", f"bearer {TOKEN[:-1]}"])
def test_without_the_token_v1_is_refused(strict: Server, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    with strict.client(headers=headers) as client:
        for answer in (client.get("/v1/buckets"), client.get("/v1/analyses/" + "0" * 32),
                       client.post("/v1/analyses", files=story_files())):
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith("Bearer")
            check("Error", answer.json())
    assert _uploads_left(strict) == []


def test_with_the_token_it_works_and_health_needs_none(strict: Server) -> None:
    with strict.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
    with _authed(strict) as client:
        answer = client.post("/v1/analyses", files=story_files())
        assert answer.status_code in (200, 202), answer.text
        assert wait_done(client, answer.json()["id"])["status"] == "done"


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from dumptriage.service import app as app_module

    calls: list[tuple[bytes, bytes]] = []
    real = app_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    guard = app_module.Guard(lambda *a: None, TOKEN)  # type: ignore[arg-type,return-value]
    refused = guard._refusal("/v1/buckets", {"host": "127.0.0.1", "authorization": "Bearer x"})
    allowed = guard._refusal("/v1/buckets", {"host": "h", "authorization": f"Bearer {TOKEN}"})
    assert refused is not None and refused.status_code == 401 and allowed is None
    assert calls == [(b"x", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org", "127.0.0.1.nip.io"])
def test_a_reachable_address_needs_a_token(host: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert not is_loopback(host)
    assert main(["serve", "--host", host, "--data", str(tmp_path / "d")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "non-loopback address without --token-file" in err
    assert not (tmp_path / "d").exists()
    check_exposure(host, TOKEN)  # with a token it may


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_exposure(host, None)


def test_short_token_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t").write_text("short\n")
    assert main(["serve", "--token-file", str(tmp_path / "t"), "--data", str(tmp_path)]) == 2
    assert "at least 16 printable characters" in capsys.readouterr().err
    with pytest.raises(ServiceConfigError, match="token file not readable"):
        read_token(str(tmp_path / "missing"))


def test_without_a_token_only_loopback_host_names_are_answered(tmp_path: Path) -> None:
    # A page on evil.example whose name is re-pointed at 127.0.0.1 (DNS rebinding) sends
    # "Host: evil.example": refused, so it cannot read reports through the browser.
    with serving(tmp_path / "data") as server, server.client() as client:
        assert client.get("/v1/buckets").status_code == 200
        assert client.get("/v1/buckets", headers={"Host": "localhost:1"}).status_code == 200
        for host in ("evil.example", "evil.example:8750", "127.0.0.1.evil.example"):
            answer = client.get("/v1/buckets", headers={"Host": host})
            assert answer.status_code == 421, host
            refused = client.post("/v1/analyses", files=story_files(), headers={"Host": host})
            assert refused.status_code == 421
        assert list((server.data / "uploads").iterdir()) == []


# --- what an upload may be ------------------------------------------------------------
def test_uploads_past_the_size_limit_are_refused(strict: Server) -> None:
    big = b"PAGEDU64" + bytes(2 << 20)
    with _authed(strict) as client:
        raw = client.post("/v1/analyses", content=big,
                          headers={"Content-Type": "application/octet-stream"})
        form = client.post("/v1/analyses", files=[("dump", ("big.dmp", big))])

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it streams
            for _ in range(40):
                yield bytes(64 << 10)

        streamed = client.post("/v1/analyses", content=chunks(),
                               headers={"Content-Type": "application/octet-stream"})
        assert client.get("/healthz").json()["active"] == 0
    for answer in (raw, form, streamed):
        assert answer.status_code == 413, answer.text
        assert "larger than" in answer.json()["error"]
    assert _uploads_left(strict) == []


@pytest.mark.parametrize("name", ["../../evil.dmp", "..", "a/b.dmp", "..\\..\\y.dmp",
                                  "evil\x1b]0;x\x07.dmp", "x" * 300])
def test_file_names_with_path_components_are_refused(strict: Server, name: str) -> None:
    with _authed(strict) as client:
        as_dump = client.post("/v1/analyses", files=[("dump", (name, b"PAGEDU64"))])
        as_context = client.post("/v1/analyses", files=[
            ("dump", ("ok.dmp", b"PAGEDU64")), ("context", (name, b"<domain/>"))])
        raw = client.post("/v1/analyses", params={"filename": name}, content=b"PAGEDU64",
                          headers={"Content-Type": "application/octet-stream"})
    for answer in (as_dump, as_context, raw):
        assert answer.status_code == 400, (name, answer.text)
        assert "file name" in answer.json()["error"]
    assert _uploads_left(strict) == []
    assert not list(strict.data.parent.rglob("evil.dmp"))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_archive_members_are_limited(strict: Server) -> None:
    dump = (STORY / "MEMORY.DMP").read_bytes()
    archive = _zip({"a.dmp": dump, "b.dmp": dump, "c.dmp": dump})
    with _authed(strict) as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("three.zip", archive))]).json()["id"])
    assert (done["status"], done["error_code"]) == ("failed", "DT610")
    assert "3 members, more than 2" in str(done["error"])


def test_zip_bombs_are_stopped(strict: Server) -> None:
    # 80 MiB of zeros behind a dump's magic deflate to ~80 KiB: 1000x, past the 200x limit
    bomb = _zip({"bomb.dmp": b"PAGEDU64" + bytes(80 << 20)})
    assert len(bomb) < 1 << 20
    with _authed(strict) as client:
        started = time.monotonic()
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("bomb.zip", bomb))]).json()["id"])
    assert (done["status"], done["error_code"]) == ("failed", "DT610")
    assert "zip bomb" in str(done["error"])
    assert time.monotonic() - started < 30
    assert _uploads_left(strict) == []
    # the partly expanded member is not left behind
    assert [p for p in (strict.data / "work").rglob("*") if p.is_file()] == []


def test_archive_members_that_climb_out_are_not_extracted(strict: Server) -> None:
    dump = (STORY / "MEMORY.DMP").read_bytes()
    archive = _zip({"../../escaped.dmp": dump, "MEMORY.DMP": dump})
    with _authed(strict) as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("wer.zip", archive))]).json()["id"])
    assert done["status"] == "done"
    members = {m["name"]: m for m in done["members"]}  # type: ignore[union-attr]
    assert members["wer.zip!../../escaped.dmp"]["status"] == "error"
    assert "climbs out" in members["wer.zip!../../escaped.dmp"]["error"]
    assert members["wer.zip!MEMORY.DMP"]["status"] == "ok"
    assert not list(strict.data.parent.rglob("escaped.dmp"))


# --- jobs -----------------------------------------------------------------------------
def test_concurrent_jobs_are_limited(strict: Server) -> None:
    with _authed(strict) as client:
        first = client.post("/v1/analyses", files=[("dump", ("slow1.dmp", b"PAGEDU64 one"))])
        second = client.post("/v1/analyses", files=[("dump", ("slow2.dmp", b"PAGEDU64 two"))])
        assert (first.status_code, second.status_code) == (202, 202)
        third = client.post("/v1/analyses", files=[("dump", ("slow3.dmp", b"PAGEDU64 3"))])
        assert third.status_code == 429
        assert third.headers["retry-after"] == "5"
        assert "--max-jobs" in third.json()["error"]
        for answer in (first, second):
            assert wait_done(client, answer.json()["id"])["status"] == "failed"  # not dumps
        time.sleep(0.2)
        again = client.post("/v1/analyses", files=[("dump", ("slow3.dmp", b"PAGEDU64 3"))])
        assert again.status_code == 202
        wait_done(client, again.json()["id"])


def test_a_job_past_its_timeout_is_killed_and_fails(strict: Server) -> None:
    with _authed(strict) as client:
        started = time.monotonic()
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("hang.dmp", b"PAGEDU64 hang"))]).json()["id"])
        took = time.monotonic() - started
        after = wait_done(client, client.post("/v1/analyses", files=story_files()).json()["id"])
    assert (done["status"], done["error_code"]) == ("failed", "DT690")
    assert "still running after 3 s" in str(done["error"])
    assert 3 <= took < 20
    assert after["status"] == "done"


def test_a_crashing_worker_fails_its_job_not_the_server(strict: Server) -> None:
    with _authed(strict) as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("crash.dmp", b"PAGEDU64 crash"))]).json()["id"])
        assert client.get("/healthz").status_code == 200
        after = wait_done(client, client.post(
            "/v1/analyses", params={"filename": "fine.dmp"}, content=(STORY / "MEMORY.DMP")
            .read_bytes(), headers={"Content-Type": "application/octet-stream"}).json()["id"])
    assert (done["status"], done["error_code"]) == ("failed", "DT691")
    assert "the worker died" in str(done["error"])
    assert after["status"] == "done"
    assert strict.process.poll() is None


# --- nothing from a dump is run or shown as HTML --------------------------------------
def test_answers_carry_a_policy_that_runs_only_the_page_s_own_scripts(strict: Server) -> None:
    with strict.client() as client:
        page = client.get("/")
        api = client.get("/healthz")
    for answer in (page, api):
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert api.headers["content-type"] == "application/json"


def test_the_page_script_never_parses_text_as_html() -> None:
    static = Path(__file__).resolve().parents[2] / "dumptriage" / "service" / "static"
    scripts = sorted(static.glob("*.js"))
    assert scripts
    for script in scripts:
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                     "eval(", "new Function", "setAttribute(\"on", "srcdoc"):
            assert sink not in text, f"{script.name} uses {sink}"
    for page in static.glob("*.html"):
        assert "<script>" not in page.read_text() and "http" not in page.read_text()


def test_a_long_poll_answers_when_the_job_ends(strict: Server) -> None:
    with _authed(strict) as client:
        accepted = client.post("/v1/analyses", files=[("dump", ("slow-poll.dmp", b"PAGEDU64"))])
        started = time.monotonic()
        answer = client.get(f"/v1/analyses/{accepted.json()['id']}", params={"wait": "30"})
        took = time.monotonic() - started
        assert client.get(f"/v1/analyses/{accepted.json()['id']}",
                          params={"wait": "61"}).status_code == 400
    assert answer.json()["status"] == "failed"  # the stand-in takes 1.5 s, then no dump
    assert 0.5 < took < 20


def test_more_than_32_host_files_are_refused(strict: Server) -> None:
    fields = [("dump", ("d.dmp", b"PAGEDU64"))]
    fields += [("context", (f"h{i}.log", b"x")) for i in range(33)]
    with _authed(strict) as client:
        answer = client.post("/v1/analyses", files=fields)
    assert answer.status_code == 413
    assert answer.json()["error"] == "more than 32 context files"
    assert _uploads_left(strict) == []
