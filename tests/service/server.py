"""A real ``dumptriage serve`` on loopback, in a subprocess, for the service tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
STORY = REPO / "samples" / "win7-x86-clock-watchdog"
STORY_FILES = ("MEMORY.DMP", "vm113.xml", "qemu-vm113.log")
ANALYZERS = "tests.service.analyzers"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serving(data: Path, *args: str) -> Iterator[Server]:
    """``dumptriage serve --data DATA ARGS`` on a free loopback port, until the block ends."""
    port = free_port()
    log = data.parent / f"{data.name}-serve.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dumptriage", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--data", str(data), *args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", data, process, log)
    try:
        _wait_up(server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_up(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"serve exited {server.process.returncode}: "
                                 f"{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not come up: {server.log_text()}")


def story_files(names: tuple[str, ...] = STORY_FILES) -> list[tuple[str, tuple[str, bytes]]]:
    """The story sample as multipart fields: the dump, then its host files."""
    fields = []
    for name in names:
        field = "dump" if name == "MEMORY.DMP" else "context"
        fields.append((field, (name, (STORY / name).read_bytes())))
    return fields


def wait_done(client: httpx.Client, analysis: str, seconds: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get(f"/v1/analyses/{analysis}", params={"wait": "5"})
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        if body["status"] in ("done", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"analysis {analysis} still {body['status']}")
        time.sleep(0.05)
