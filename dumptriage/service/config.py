"""What one ``dumptriage serve`` is allowed to do: where it keeps its files, who may call it,
and the limits every upload and job stays within.

Nothing here imports the web framework, so ``dumptriage serve`` checks its arguments (and
refuses an exposed address without a token) before it asks for the ``[service]`` extra.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from dumptriage.batch.archives import GIB, MIB, ArchiveLimits
from dumptriage.errors import DumptriageError

DEFAULT_PORT = 8750
MIN_TOKEN = 16  # characters: a token short enough to guess is no token
LOOPBACK_NAMES = ("localhost",)


class ServiceConfigError(DumptriageError):
    """``dumptriage serve`` was given arguments it cannot run with."""

    code = "DT700"


@dataclass(frozen=True)
class Limits:
    """Bounds on uploads and jobs (README "Service" lists them)."""

    max_upload: int = 64 * GIB  # all parts of one request together
    max_context_file: int = 16 * MIB  # as dumptriage.context.reader.MAX_FILE
    max_context_files: int = 32
    max_name: int = 255  # bytes of one file name (a Linux NAME_MAX)
    max_jobs: int = 256  # uploads in progress + queued + running, over all clients
    timeout: float = 300.0  # seconds one analysis may take (an archive counts as one)
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True)
class ServiceConfig:
    data: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    # module:function of the analysis, as batch's WorkerOptions.analyzer (a test hook)
    analyzer: str = "dumptriage.analysis:analyze"

    @property
    def uploads(self) -> Path:
        return self.data / "uploads"

    @property
    def history(self) -> Path:
        return self.data / "history.sqlite"

    @property
    def ledger(self) -> Path:
        return self.data / "service.sqlite"


def is_loopback(host: str) -> bool:
    """Only 127.0.0.0/8, ::1 and ``localhost``; a name that must be resolved is not."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    """The token in ``path`` (surrounding white space dropped), at least MIN_TOKEN long."""
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read(4096).strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ServiceConfigError(f"{path}: token file not readable: {reason}") from err
    if len(token) < MIN_TOKEN or any(c.isspace() or not c.isprintable() for c in token):
        raise ServiceConfigError(f"{path}: the token must be at least {MIN_TOKEN} printable "
                                 "characters without spaces (e.g. `openssl rand -hex 32`)")
    return token


def check_exposure(host: str, token: str | None) -> None:
    """An address other machines can reach needs a token: uploads are dumps of customers'
    memory, and the reports name their VMs."""
    if token is None and not is_loopback(host):
        raise ServiceConfigError(
            f"--host {host}: refusing to listen on a non-loopback address without "
            "--token-file (anyone who can reach it could upload and read reports)")
