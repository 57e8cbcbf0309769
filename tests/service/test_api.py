"""The HTTP API on a real server (uvicorn in a subprocess, loopback), driven by httpx."""

from __future__ import annotations

import io
import json
import os
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dumptriage.analysis import analyze
from dumptriage.batch.hashing import hash_file
from dumptriage.cli import main
from dumptriage.signature import signature as signature_of
from tests.service.schemas import check
from tests.service.server import STORY, Server, serving, story_files, wait_done


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("serve") / "data", "--workers", "2") as running:
        yield running


def test_health(server: Server) -> None:
    with server.client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    check("Health", answer.json())
    assert answer.json()["workers"] == 2


def test_story_with_its_host_files_gives_the_hyperv_finding(server: Server) -> None:
    with server.client() as client:
        answer = client.post("/v1/analyses", files=story_files())
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        check("Analysis", accepted)
        assert accepted["status"] == "queued" and accepted["deduplicated"] is False
        assert answer.headers["location"] == f"/v1/analyses/{accepted['id']}"
        done = wait_done(client, accepted["id"])
    check("Analysis", done)
    assert done["status"] == "done", done
    assert (done["name"], done["context"]) == ("MEMORY.DMP", ["vm113.xml", "qemu-vm113.log"])
    assert done["hash"] == hash_file(STORY / "MEMORY.DMP")  # the history store's key
    assert done["size"] == (STORY / "MEMORY.DMP").stat().st_size
    report = done["report"]
    assert isinstance(report, dict)
    assert report["findings"][0]["rule"] == "KVM-0101-RELAXED"
    # The same conclusions as the library gives for the same files on disk.
    local = analyze(STORY / "MEMORY.DMP", [STORY / "vm113.xml", STORY / "qemu-vm113.log"])
    assert [f["rule"] for f in report["findings"]] == [f.rule for f in local.findings]
    assert report["bugcheck"] == local.to_dict()["bugcheck"]
    # The server's folders never show: paths read as the uploaded names.
    text = json.dumps(done)
    assert str(server.data) not in text
    assert report["source"]["path"] == "MEMORY.DMP"
    assert report["findings"][0]["evidence"][0]["source"] == "vm113.xml, qemu-vm113.log"
    # and the upload is gone once analysed (the report is kept)
    assert list((server.data / "uploads").iterdir()) == []


def test_a_known_upload_returns_its_stored_report_at_once(server: Server) -> None:
    with server.client() as client:
        first = wait_done(client, client.post("/v1/analyses", files=story_files()).json()["id"])
        again = client.post("/v1/analyses", files=story_files())
    assert again.status_code == 200
    body = again.json()
    check("Analysis", body)
    assert (body["id"], body["status"], body["deduplicated"]) == (first["id"], "done", True)
    assert body["report"] == first["report"]


def test_other_host_files_are_another_analysis(server: Server) -> None:
    with server.client() as client:
        alone = client.post("/v1/analyses", files=story_files(("MEMORY.DMP",)))
        assert alone.status_code in (200, 202)
        done = wait_done(client, alone.json()["id"])
        with_files = client.post("/v1/analyses", files=story_files())
    assert with_files.json()["id"] != done["id"]
    report = done["report"]
    assert isinstance(report, dict)
    assert report["host"] is None
    assert all(f["rule"] != "KVM-0101-RELAXED" for f in report["findings"])


def test_a_raw_body_is_the_dump(server: Server) -> None:
    data = (STORY / "MEMORY.DMP").read_bytes()
    with server.client() as client:
        answer = client.post("/v1/analyses", params={"filename": "story.dmp"}, content=data,
                             headers={"Content-Type": "application/octet-stream"})
        assert answer.status_code in (200, 202), answer.text
        done = wait_done(client, answer.json()["id"])
    assert done["status"] == "done"
    report = done["report"]
    assert isinstance(report, dict)
    assert report["bugcheck"]["code_hex"] == "0x00000101"


def test_debugger_text_is_analysed_too(server: Server) -> None:
    fields = [("dump", ("windbg-analyze.txt", (STORY / "windbg-analyze.txt").read_bytes())),
              ("context", ("vm113.xml", (STORY / "vm113.xml").read_bytes()))]
    with server.client() as client:
        done = wait_done(client, client.post("/v1/analyses", files=fields).json()["id"])
    report = done["report"]
    assert isinstance(report, dict)
    assert report["source"]["kind"] == "debugger_text"
    assert report["findings"][0]["rule"] == "KVM-0101-RELAXED"


def test_a_damaged_dump_fails_its_job_with_the_reason(server: Server) -> None:
    junk = b"PAGEDU64" + b"\xff" * 100  # a header cut short
    with server.client() as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("broken.dmp", junk))]).json()["id"])
        assert client.get("/healthz").status_code == 200
    check("Analysis", done)
    assert done["status"] == "failed"
    assert str(done["error_code"]).startswith("DT1")
    error = str(done["error"])
    assert error.startswith("broken.dmp: ") and "\n" not in error
    assert "report" not in done


def test_a_zip_is_read_member_by_member(server: Server) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Report.wer", "Version=1\r\n")
        zf.writestr("MEMORY.DMP", (STORY / "MEMORY.DMP").read_bytes())
    with server.client() as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("wer.zip", buf.getvalue()))]).json()["id"])
    check("Analysis", done)
    assert done["status"] == "done", done
    members = done["members"]
    assert isinstance(members, list)
    assert [(m["name"], m["status"]) for m in members] == [("wer.zip!MEMORY.DMP", "ok")]
    report = done["report"]
    assert isinstance(report, dict)
    assert report["source"]["path"] == "wer.zip!MEMORY.DMP"


def test_buckets_come_from_the_history_store(server: Server, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    with server.client() as client:
        done = wait_done(client, client.post("/v1/analyses", files=story_files()).json()["id"])
        listing = client.get("/v1/buckets")
        assert listing.status_code == 200
        check("BucketList", listing.json())
        report = done["report"]
        assert isinstance(report, dict)
        signature = signature_of(report).signature
        assert signature in [b["signature"] for b in listing.json()["buckets"]]
        one = client.get("/v1/buckets/" + urllib.parse.quote(signature, safe=""))
        assert one.status_code == 200, one.text
        check("BucketDetail", one.json())
        # each dump links to a done analysis of it (the latest, whichever host files it had)
        linked = [d["analysis"] for d in one.json()["recent"] if d["hash"] == done["hash"]]
        assert linked and client.get(f"/v1/analyses/{linked[0]}").json()["hash"] == done["hash"]
        assert client.get("/v1/buckets/0x999%20nowhere").status_code == 404
        assert client.get("/v1/buckets", params={"limit": "0"}).status_code == 400
        assert client.get("/v1/buckets", params={"since": "last tuesday"}).status_code == 400
    # The service's history is batch's: `dumptriage history --db` reads it.
    assert main(["history", "--db", str(server.data / "history.sqlite"),
                 "--format", "json"]) == 0
    assert signature in capsys.readouterr().out


@pytest.mark.parametrize(("path", "status"), [
    ("/v1/analyses/0123456789abcdef0123456789abcdef", 404),
    ("/v1/analyses/..%2F..%2Fetc%2Fpasswd", 404),
    ("/v1/nothing", 404),
])
def test_unknown_paths(server: Server, path: str, status: int) -> None:
    with server.client() as client:
        answer = client.get(path)
    assert answer.status_code == status


@pytest.mark.parametrize(("kwargs", "status", "words"), [
    ({"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type"),
    ({"files": [("context", ("vm113.xml", b"<domain/>"))]}, 400, "no file field 'dump'"),
    ({"files": [("dump", ("a.dmp", b"1")), ("dump", ("b.dmp", b"2"))]}, 400, "more than one"),
    ({"files": [("dump", ("a.dmp", b"1")), ("other", ("b", b"2"))]}, 400, "unknown form field"),
    ({"data": {"dump": "text"}, "files": [("context", ("x", b"1"))]}, 400, "not a file"),
    ({"content": b"--zz\r\nbroken", "headers": {
        "Content-Type": "multipart/form-data; boundary=zz"}}, 400, "multipart"),
])
def test_malformed_requests(server: Server, kwargs: dict[str, object], status: int,
                            words: str) -> None:
    with server.client() as client:
        answer = client.post("/v1/analyses", **kwargs)  # type: ignore[arg-type]
        assert client.get("/healthz").status_code == 200
    assert answer.status_code == status, answer.text
    check("Error", answer.json())
    assert words in answer.json()["error"]
    assert list((server.data / "uploads").iterdir()) == []


def test_uploads_are_written_sparse(tmp_path: Path) -> None:
    # The writer behind every upload: zero blocks become holes, the hash is batch's.
    from dumptriage.service.uploads import BlockFile

    data = bytes(1 << 20) + b"PAGEDU64" + bytes(100) + bytes(3 << 20) + b"end"
    out = BlockFile(tmp_path / "f.dmp", len(data), "f.dmp")
    for at in range(0, len(data), 7001):  # chunks that straddle block boundaries
        out.write(data[at: at + 7001])
    digest, size = out.finish()
    assert (tmp_path / "f.dmp").read_bytes() == data
    assert (size, digest) == (len(data), hash_file(tmp_path / "f.dmp"))
    assert os.stat(tmp_path / "f.dmp").st_blocks * 512 < 512 << 10  # 2 blocks on disk


def test_a_cab_as_wer_uploads_it(server: Server) -> None:
    from cabarchive import CabArchive, CabFile

    arc = CabArchive()
    arc["Report.wer"] = CabFile(b"Version=1\r\n")
    arc["MEMORY.DMP"] = CabFile((STORY / "MEMORY.DMP").read_bytes())
    with server.client() as client:
        done = wait_done(client, client.post(
            "/v1/analyses", files=[("dump", ("wer.cab", arc.save()))]).json()["id"])
    check("Analysis", done)
    assert done["status"] == "done", done
    assert [m["name"] for m in done["members"]] == ["wer.cab!MEMORY.DMP"]  # type: ignore[union-attr]
    report = done["report"]
    assert isinstance(report, dict)
    assert report["bugcheck"]["code_hex"] == "0x00000101"


def test_a_hung_guests_vmcore_is_analysed_too(server: Server, tmp_path: Path) -> None:
    from dumptriage.synth import hung
    from dumptriage.synth.builder import guest_memory
    from dumptriage.synth.vmcore import write_elf

    built, runs, pages = guest_memory(hung.hung_x64())
    names = ("rip", "rsp", "rbp", "rflags", "cr0", "cr3", "cr4", "cs", "ss", "fs", "fs_base",
             "gs_base", "kernel_gs_base", "gdt_base", "gdt_limit", "idt_base", "idt_limit",
             "bits")
    core = tmp_path / "vm.core"
    write_elf(core, runs, [{n: getattr(v, n) for n in names} for v in built.vcpus],
              pages=pages)
    with server.client() as client:
        answer = client.post("/v1/analyses", files=[("dump", ("vm.core", core.read_bytes()))])
        assert answer.status_code in (200, 202), answer.text
        done = wait_done(client, answer.json()["id"])
    assert done["status"] == "done", done
    report = done["report"]
    assert isinstance(report, dict)
    assert report["source"]["kind"] == "vmcore" and report["bugcheck"] is None
    assert [v["state"] for v in report["vcpus"]][:3] == ["user", "idle", "spinning"]
    assert report["findings"][0]["rule"] == "KVM-HANG-DRIVER-IF-OFF"
