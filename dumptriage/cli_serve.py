"""``dumptriage serve``: the triage service (HTTP API and drop page) on uvicorn.

The web stack is the optional ``[service]`` extra; without it this command says so in one
line (exit 2) instead of a traceback. Arguments are checked first, so a refused address or
a bad token file is reported the same way with or without the extra.
"""

from __future__ import annotations

import re

import click

from dumptriage.errors import DumptriageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dumptriage.service.config import ServiceConfig

_SIZE = re.compile(r"^(\d{1,15})\s*([KMGT]i?B?|B)?$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class ByteSize(click.ParamType):  # type: ignore[type-arg]  # click >= 8.2 is generic
    """``4096``, ``512M``, ``64G``, ``1TiB`` (binary units)."""

    name = "SIZE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = _SIZE.match(str(value).strip())
        if m is None or int(m[1]) == 0:
            self.fail(f"{value!r} is not a size (e.g. 4096, 512M, 64G)", param, ctx)
        return int(m[1]) * _UNITS[(m[2] or "")[:1].upper()]


class ServiceExtraMissing(DumptriageError):
    code = "DT701"


def _web_stack() -> None:
    try:
        import python_multipart  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ServiceExtraMissing(
            f"dumptriage serve needs the [service] extra ({err.name or err} is missing): "
            "pip install 'dumptriage[service]'") from err


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token-file.")
@click.option("--port", type=click.IntRange(0, 65535), default=8750, show_default=True)
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="Folder for uploads in progress, the analyses (service.sqlite) and the "
                   "batch history (history.sqlite). Default: the user data directory, "
                   "e.g. ~/.local/share/dumptriage/service.")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="File holding the API token; /v1/ then needs 'Authorization: Bearer "
                   "TOKEN'.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Analyses run at once, each in its own process (default: the CPUs).")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds one analysis may take before its worker is killed.")
@click.option("--max-upload", type=ByteSize(), default="64G", show_default=True,
              help="Largest upload (all files of one request).")
@click.option("--max-jobs", type=click.IntRange(1, 100000), default=256, show_default=True,
              help="Analyses being uploaded, queued or run at once; more get 429.")
@click.option("--max-members", type=click.IntRange(1, 1000000), default=1000,
              show_default=True, help="Members a zip or CAB upload may hold.")
@click.option("--max-ratio", type=click.IntRange(2, 1000000), default=200,
              show_default=True, help="How many times its size an archive may expand to "
              "(past 64 MiB).")
@click.option("--analyzer", default="dumptriage.analysis:analyze", hidden=True,
              help="module:function of the analysis (a test hook, as batch's).")
def serve_command(host: str, port: int, data: str | None, token_file: str | None,
                  workers: int | None, timeout: float, max_upload: int, max_jobs: int,
                  max_members: int, max_ratio: int, analyzer: str) -> None:
    """Run the triage service: an HTTP API and a page to drop dumps on.

    POST /v1/analyses takes a dump, debugger text or zip/CAB (multipart field 'dump',
    host files as 'context' fields, or a raw application/octet-stream body), streamed to
    disk and hashed as it arrives; a dump already analysed returns its report at once.
    GET /v1/analyses/ID gives the status and, when done, the report (the JSON of
    `analyze --json`); /v1/buckets lists the signatures of the history. The page at /
    shows the report with its fixes; /docs the API (openapi.json).

    \b
    Exit codes: 0 stopped (Ctrl-C); 2 unusable arguments (a non-loopback --host without
    --token-file, an unreadable token file) or the [service] extra missing.
    """
    import dataclasses
    from pathlib import Path

    from dumptriage.batch.archives import ArchiveLimits
    from dumptriage.service.config import Limits, ServiceConfig, check_exposure, read_token

    token = read_token(token_file) if token_file else None
    check_exposure(host, token)
    _web_stack()
    if data is None:
        from platformdirs import user_data_path

        data = str(user_data_path("dumptriage", appauthor=False) / "service")
    limits = Limits(max_upload=max_upload, max_jobs=max_jobs, timeout=timeout,
                    archive=dataclasses.replace(ArchiveLimits(), max_members=max_members,
                                                max_ratio=max_ratio))
    config = ServiceConfig(data=Path(data), host=host, port=port, token=token,
                           limits=limits, analyzer=analyzer)
    if workers is not None:
        config = dataclasses.replace(config, workers=workers)
    _run(config)


def _run(config: ServiceConfig) -> None:
    import uvicorn

    from dumptriage.service.app import create_app

    _check_port(config.host, config.port)
    config.data.mkdir(parents=True, exist_ok=True)
    click.echo(f"dumptriage serve: http://{_shown_host(config.host)}:{config.port}/ "
               f"(data: {config.data}, {config.workers} workers"
               f"{', token required' if config.token else ''})", err=True)
    uvicorn.run(create_app(config), host=config.host, port=config.port,
                log_level="warning", access_log=False, lifespan="on",
                # long polls (?wait=) are not waited for at Ctrl-C or SIGTERM
                timeout_graceful_shutdown=5)


def _check_port(host: str, port: int) -> None:
    """A port in use is one line and exit 2 here, not uvicorn's log line and exit 1."""
    import socket

    from dumptriage.service.config import ServiceConfigError

    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as err:
        raise ServiceConfigError(f"--host {host} --port {port}: cannot listen there: "
                                 f"{err.strerror or err}") from err


def _shown_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
