"""The ASGI application (Starlette): the HTTP API of openapi.json, the drop page, /docs.

Requests are taken as streams: an upload is parsed and written to disk in chunks off the
event loop (uploads.py) and never held in memory whole; analyses run in worker processes
(jobs.py). ``guard`` checks every request before a route sees it (token, Host header) and
gives every response its security headers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dumptriage import __version__
from dumptriage.service.config import ServiceConfig, is_loopback
from dumptriage.service.jobs import Job, Jobs, new_job_id
from dumptriage.service.uploads import Body, Received, UploadRefused, body_for, check_name

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
OPENAPI = HERE / "openapi.json"
FEED_EVERY = 256 << 10  # bytes gathered from the socket before they are parsed off the loop
MULTIPART_SLACK = 1 << 20  # boundaries and part headers on top of --max-upload
DRAIN_LIMIT = 16 << 20  # read (and drop) this much of a refused body so the client hears why
MAX_WAIT = 60  # seconds a GET may wait for its analysis to finish (?wait=)
_ID = re.compile(r"^[0-9a-f]{32}$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# --- routes ---------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    jobs: Jobs = request.app.state.jobs
    return JSONResponse({"status": "ok", "version": __version__, "active": jobs.active,
                         "workers": jobs.config.workers})


async def create_analysis(request: Request) -> Response:
    jobs: Jobs = request.app.state.jobs
    limits = jobs.config.limits
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and (
            int(declared) > limits.max_upload + MULTIPART_SLACK):
        return await _refuse(request, UploadRefused(
            413, f"upload of {declared} bytes is larger than the limit of "
            f"{limits.max_upload} bytes (--max-upload)"))
    vm, filename = request.query_params.get("vm"), request.query_params.get("filename")
    try:  # checked whatever the body is, as openapi.json describes them
        vm = None if vm is None else check_name(vm, limits, "vm")
        filename = None if filename is None else check_name(filename, limits, "filename")
    except UploadRefused as err:
        return await _refuse(request, err)
    if not jobs.reserve():
        return error(429, f"{limits.max_jobs} analyses are already being uploaded, queued or "
                     "run (--max-jobs); try again later", {"Retry-After": "5"})
    job_id = new_job_id()
    folder = jobs.config.uploads / job_id
    folder.mkdir()
    received = Received(folder)
    body: Body | None = None
    try:
        body = body_for(request.headers.get("content-type", ""), received, filename, limits)
        await _stream(request, body, limits.max_upload + MULTIPART_SLACK)
    except (UploadRefused, ClientDisconnect) as err:
        if body is not None:
            body.abort()
        shutil.rmtree(folder, ignore_errors=True)
        jobs.release()
        if isinstance(err, ClientDisconnect):
            return error(400, "the client went away before the upload was complete")
        return await _refuse(request, err)
    except BaseException:
        if body is not None:
            body.abort()
        shutil.rmtree(folder, ignore_errors=True)
        jobs.release()
        raise
    result = await jobs.submit(Job(job_id, folder, received, vm))
    status = 200 if result["status"] == "done" else 202
    return JSONResponse(result, status_code=status,
                        headers={"Location": f"/v1/analyses/{result['id']}"})


async def _stream(request: Request, body: Body, limit: int) -> None:
    """Read the body from the socket, parse and write it in a thread, FEED_EVERY at a time."""
    total = 0
    pending: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise UploadRefused(413, f"upload larger than the limit of {limit} bytes "
                                "(--max-upload)")
        pending.append(chunk)
        size += len(chunk)
        if size >= FEED_EVERY:
            await asyncio.to_thread(_feed, body, pending)
            pending, size = [], 0
    if pending:
        await asyncio.to_thread(_feed, body, pending)
    await asyncio.to_thread(body.finish)


def _feed(body: Body, chunks: list[bytes]) -> None:
    for chunk in chunks:
        body.feed(chunk)


async def _refuse(request: Request, err: UploadRefused) -> Response:
    """A refusal, after reading (up to DRAIN_LIMIT of) what the client is still sending:
    a client that writes its whole body before it reads would otherwise see a reset."""
    drained = 0
    try:
        async for chunk in request.stream():
            drained += len(chunk)
            if drained > DRAIN_LIMIT:
                break
    except (ClientDisconnect, RuntimeError):  # RuntimeError: the stream was read already
        pass
    return error(err.status, str(err), {"Connection": "close"})


async def get_analysis(request: Request) -> Response:
    jobs: Jobs = request.app.state.jobs
    job_id = request.path_params["id"]
    wait = request.query_params.get("wait", "0")
    if not wait.isdigit() or int(wait) > MAX_WAIT:
        return error(400, f"wait must be a whole number of seconds from 0 to {MAX_WAIT}")
    if not _ID.match(job_id):
        return error(404, f"no analysis {job_id!r}")
    found = await jobs.db(jobs.ledger.get, job_id)
    if found is not None and found["status"] in ("queued", "running") and int(wait):
        await jobs.wait(job_id, int(wait))
        found = await jobs.db(jobs.ledger.get, job_id)
    if found is None:
        return error(404, f"no analysis {job_id!r}")
    return JSONResponse(found)


async def list_buckets(request: Request) -> Response:
    from dumptriage.service.buckets import buckets

    jobs: Jobs = request.app.state.jobs
    params = request.query_params
    since = params.get("since")
    try:
        if since is not None:
            since = _utc(since)
        limit = int(params.get("limit", "100"))
        if not 1 <= limit <= 1000:
            raise ValueError("limit")
    except ValueError:
        return error(400, "since must be an ISO date (YYYY-MM-DD or a date-time) and limit "
                     "a number from 1 to 1000")
    found = await jobs.db(buckets, jobs.store, since, params.get("vm"), limit)
    return JSONResponse(found)


def _utc(text: str) -> str:
    """An ISO date or RFC 3339 date-time as the history's UTC ``YYYY-MM-DDTHH:MM:SS``."""
    when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


async def get_bucket(request: Request) -> Response:
    from dumptriage.service.buckets import bucket

    jobs: Jobs = request.app.state.jobs
    signature = request.path_params["signature"]
    found = await jobs.db(bucket, jobs.store, jobs.ledger, signature)
    if found is None:
        return error(404, f"no bucket {signature!r}")
    return JSONResponse(found)


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def docs(request: Request) -> Response:
    return FileResponse(STATIC / "docs.html")


async def openapi(request: Request) -> Response:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    spec["info"]["version"] = __version__
    return JSONResponse(spec)


# --- the guard ------------------------------------------------------------------------
class Guard:
    """Pure ASGI middleware (request bodies pass through untouched, as streams).

    - ``/v1/`` needs ``Authorization: Bearer TOKEN`` when the service has a token, compared
      in constant time (``hmac.compare_digest``);
    - without a token the service is on loopback only, and then a request must name a
      loopback host: a web page elsewhere cannot reach it by DNS rebinding (a name of the
      attacker's that resolves to 127.0.0.1), because its Host header names that name;
    - every response gets a Content-Security-Policy that runs only the page's own scripts
      and loads nothing from elsewhere, ``nosniff`` and ``no-store``.
    """

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token.encode() if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, self._secured(send))
            return
        await self.app(scope, receive, self._secured(send))

    def _refusal(self, path: str, headers: dict[str, str]) -> Response | None:
        if self.token is None and not _loopback_host(headers.get("host", "")):
            return error(421, "this service answers only to a loopback host name "
                         "(127.0.0.1, localhost, [::1])")
        if self.token is not None and path.startswith("/v1/"):
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode("utf-8", "surrogateescape"), self.token):
                return error(401, "missing or wrong token (Authorization: Bearer TOKEN)",
                             {"WWW-Authenticate": 'Bearer realm="dumptriage"'})
        return None

    @staticmethod
    def _secured(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"content-security-policy", CSP.encode()),
                         (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"cache-control", b"no-store")]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return wrapped


def _loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host.startswith("["):  # [::1]:8750
        name = host[1:].split("]", 1)[0]
    return bool(name) and is_loopback(name)


def create_app(config: ServiceConfig) -> ASGIApp:
    jobs = Jobs(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(jobs.start)
        try:
            yield
        finally:
            await asyncio.to_thread(jobs.stop)

    routes = [
        Route("/", page),
        Route("/docs", docs),
        Route("/openapi.json", openapi),
        Route("/healthz", healthz),
        Route("/v1/analyses", create_analysis, methods=["POST"]),
        Route("/v1/analyses/{id}", get_analysis),
        Route("/v1/buckets", list_buckets),
        Route("/v1/buckets/{signature:path}", get_bucket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = jobs
    return Guard(app, config.token)
