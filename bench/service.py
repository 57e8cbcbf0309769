"""Issue 15's figures for `dumptriage serve`. Not a test (no timing is asserted anywhere).

    python bench/service.py [--uploads 100] [--gib 4] [--workers 2] [--work DIR]

(1) ``uploads`` distinct small dumps (synth's Windows 10 x64 bitmap kernel dump preset,
    320 KiB, each with its own bugcheck arguments) sent at once by as many concurrent
    clients (httpx.AsyncClient, multipart, as the drop page sends them) to a fresh server
    with ``--workers``; each client then long-polls its analysis (``?wait=60``) until done.
    Latency = POST start to the answer that says "done". All must complete; p50/p95/max go to
    README. Then the same uploads again: deduplicated, answered from the ledger.
(2) A sparse x64 bitmap dump of ``gib`` GiB (bench/dumps.big_spec: a real dump the analysis
    reads) and one of 1 GiB, each uploaded as a raw body and as multipart, read from disk
    by the client in 1 MiB chunks. The server's RSS (VmRSS, and VmHWM: its peak) is read
    from /proc every 50 ms during the upload and the analysis: flat means the same peak
    for 1 and ``gib`` GiB. The analysis' worker process is sampled too.
Loopback only; the server is a subprocess ended at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.dumps import big_dump
from bench.machine import describe
from dumptriage.synth import presets, write

MIB = 1 << 20


def small_dumps(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    base = presets.win10_x64_bitmap_kernel()
    paths = []
    for i in range(count):
        path = folder / f"dump{i:03d}.dmp"
        if not path.exists():
            args = (i % 4, 0x501 + i, 0x500, 0xFFFFF80400000000 + i * 0x1000)
            write(dataclasses.replace(base, bugcheck=(0x133, args)), path)
        paths.append(path)
    return paths


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def server(data: Path, workers: int) -> Iterator[tuple[str, int]]:
    port = _free_port()
    log = open(data.parent / "serve.log", "wb")  # noqa: SIM115  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "dumptriage", "serve", "--port", str(port), "--data",
         str(data), "--workers", str(workers), "--max-jobs", "1000"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


async def _one(client: httpx.AsyncClient, path: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    answer = await client.post("/v1/analyses", files=[("dump", (path.name, path.read_bytes()))])
    accepted = time.perf_counter() - started
    body = answer.json()
    while body["status"] in ("queued", "running"):
        body = (await client.get(f"/v1/analyses/{body['id']}", params={"wait": 60})).json()
    return accepted, time.perf_counter() - started, body["status"]


async def _burst(url: str, paths: list[Path]) -> tuple[float, list[tuple[float, float, str]]]:
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(_one(client, p) for p in paths))
        return time.perf_counter() - started, list(results)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def concurrent_uploads(work: Path, count: int, workers: int) -> None:
    paths = small_dumps(work / "small", count)
    data = Path(tempfile.mkdtemp(dir=work, prefix="data-"))
    with server(data, workers) as (url, _):
        for label in ("first (every dump analysed)", "again (deduplicated)"):
            wall, results = asyncio.run(_burst(url, paths))
            done = sum(1 for _, _, status in results if status == "done")
            total = [t for _, t, _ in results]
            posts = [a for a, _, _ in results]
            print(f"{count} concurrent uploads, {label}: {done}/{count} done in {wall:.2f} s "
                  f"({count / wall:.0f}/s); upload to report p50 {_pct(total, 0.5):.2f} s, "
                  f"p95 {_pct(total, 0.95):.2f} s, max {max(total):.2f} s; POST answered "
                  f"p95 {_pct(posts, 0.95) * 1000:.0f} ms, mean "
                  f"{statistics.mean(posts) * 1000:.0f} ms")


def _status(pid: int) -> dict[str, int]:
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(c) for c in text]
    return found


class Sampler(threading.Thread):
    """Peak RSS of the server process and of its descendants (the workers), every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.server_peak = 0
        self.child_peak = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.server_peak = max(self.server_peak, _status(self.pid).get("VmRSS", 0))
            stack = _children(self.pid)
            while stack:
                child = stack.pop()
                self.child_peak = max(self.child_peak, _status(child).get("VmRSS", 0))
                stack += _children(child)
            time.sleep(0.05)


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(MIB):
            yield chunk


def big_upload(url: str, pid: int, path: Path, form: bool) -> str:
    size = path.stat().st_size
    before = _status(pid)
    sampler = Sampler(pid)
    sampler.start()
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=3600) as client:
        if form:
            with open(path, "rb") as fh:
                answer = client.post("/v1/analyses", files=[("dump", (path.name, fh))])
        else:
            answer = client.post("/v1/analyses", params={"filename": path.name},
                                 content=_chunks(path),
                                 headers={"Content-Type": "application/octet-stream",
                                          "Content-Length": str(size)})
        uploaded = time.perf_counter() - started
        body = answer.json()
        while body["status"] in ("queued", "running"):
            body = client.get(f"/v1/analyses/{body['id']}", params={"wait": 60}).json()
    total = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    after = _status(pid)
    how = "multipart" if form else "raw body"
    return (f"{size / (1 << 30):.0f} GiB {how}: upload {uploaded:.1f} s "
            f"({size / MIB / uploaded:.0f} MiB/s), done after {total:.1f} s ({body['status']}); "
            f"server RSS {before.get('VmRSS', 0) / MIB:.1f} MiB before, peak "
            f"{sampler.server_peak / MIB:.1f} MiB (VmHWM {after.get('VmHWM', 0) / MIB:.1f}), "
            f"worker peak {sampler.child_peak / MIB:.1f} MiB")


def big_uploads(work: Path, gib: int, workers: int) -> None:
    sizes = sorted({1, gib})
    (work / "big").mkdir(exist_ok=True)
    dumps = {g: big_dump(work / "big", g, 0)[0] for g in sizes}
    data = Path(tempfile.mkdtemp(dir=work, prefix="data-"))
    with server(data, workers) as (url, pid):
        for g in sizes:
            for form in (False, True):
                print(big_upload(url, pid, dumps[g], form))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--gib", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "dt-bench-service")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    for key, value in describe().items():
        print(f"{key}: {value}")
    concurrent_uploads(args.work, args.uploads, args.workers)
    if not args.skip_big:
        big_uploads(args.work, args.gib, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
