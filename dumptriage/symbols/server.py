"""The symbol-server client: HTTP GET of store files into a local downstream store.

Only called when the search path names a URL and the caller allows the network. Facts
(sheet 6.2, from Microsoft's "HTTP Symbol Stores" and real SYMSRV logs): the URL is
``<base>/<name>/<key>/<file>``, the same tree as a local store; msdl answers 302 to a
time-limited blob URL (redirects are followed; no credentials are ever sent); a miss is a
404, sometimes with an empty body; a mis-hosted server may answer 200 with HTML, so the
magic (``MSF 7.00``, ``MSCF``, ``MZ``) is checked before anything is cached. The
compressed name is tried first, then the plain one; a compressed download is expanded in
the cache (the bottom store keeps files uncompressed). Files are written to a temporary
name and renamed. A failed download (timeout, HTTP error, bad body) is a note, never an
error. Image keys are tried as written (``%08X%x``) and then in lower case, the spelling
of static stores on case-sensitive hosts (rizin's, sheet 2.5).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from dumptriage.symbols.keys import StoreKey

TIMEOUT = 30.0
MAX_DOWNLOAD = 1 << 30
_CHUNK = 1 << 16
# Old symsrv clients send this; nothing requires it, some proxies key on it (sheet 6.2).
USER_AGENT = "Microsoft-Symbol-Server/10.0.0.0 (dumptriage)"
_MAGICS = (b"Microsoft C/C++ MSF 7.00", b"MSCF", b"MZ")

Progress = Callable[[str, int, "int | None"], None]


class Downloaded:
    __slots__ = ("compressed", "path", "url")

    def __init__(self, path: str, url: str, compressed: bool):
        self.path = path
        self.url = url
        self.compressed = compressed


def urls_for(base: str, key: StoreKey) -> list[str]:
    """The URLs tried for ``key`` under ``base``, in order."""
    base = base.rstrip("/")
    keys = [key.key] + ([key.key.lower()] if key.kind == "image" and
                        key.key.lower() != key.key else [])
    return [f"{base}/{key.name}/{k}/{file}" for k in keys
            for file in (key.compressed_name, key.name)]


def fetch(base: str, key: StoreKey, store: str, *, timeout: float = TIMEOUT,
          progress: Progress | None = None) -> tuple[Downloaded | None, list[str]]:
    """Download ``key`` from the server at ``base`` into the local ``store`` folder.

    Returns the file written (its path below ``store``: ``name/KEY/name`` or the compressed
    name) or None, and notes on every failure other than a plain miss.
    """
    notes: list[str] = []
    for url in urls_for(base, key):
        file_name = url.rsplit("/", 1)[-1]
        target = os.path.join(store, key.name, key.key, file_name)
        status, note = _get(url, target, timeout, progress)
        if note:
            notes.append(note)
        if status == "ok":
            return Downloaded(target, url, file_name != key.name), notes
        if status == "fatal":  # a timeout or refused connection: the next URL fares no better
            break
    return None, notes


def _get(url: str, target: str, timeout: float, progress: Progress | None
         ) -> tuple[str, str | None]:
    """("ok" | "miss" | "bad" | "fatal", note)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            return _save(response, url, target, int(total) if total and total.isdigit()
                         else None, progress)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return "miss", None
        return "bad", f"{url}: HTTP {err.code} {err.reason}"
    except TimeoutError:
        return "fatal", f"{url}: no answer within {timeout:g} s"
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, TimeoutError):
            return "fatal", f"{url}: no answer within {timeout:g} s"
        return "fatal", f"{url}: {reason}"
    except (OSError, ValueError) as err:
        return "fatal", f"{url}: {err}"


def _save(response: object, url: str, target: str, total: int | None,
          progress: Progress | None) -> tuple[str, str | None]:
    read = response.read  # type: ignore[attr-defined]
    first = read(_CHUNK)
    if not first:
        return "miss", None  # msdl's "200/404 with an empty body" is a miss
    if not first.startswith(_MAGICS):
        return "bad", f"{url}: the answer is not a PDB, cabinet or image (HTML?); not cached"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".part")
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            chunk = first
            while chunk:
                done += len(chunk)
                if done > MAX_DOWNLOAD:
                    raise ValueError(f"more than {MAX_DOWNLOAD >> 20} MiB")
                out.write(chunk)
                if progress is not None:
                    progress(url, done, total)
                chunk = read(_CHUNK)
        if total is not None and done < total:
            raise ValueError(f"cut short: {done} of {total} bytes")
        os.replace(temp, target)
    except (OSError, ValueError) as err:
        if os.path.exists(temp):
            os.unlink(temp)
        return "fatal", f"{url}: download failed: {err}"
    return "ok", None
