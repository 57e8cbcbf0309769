"""The download progress line of ``--symbols srv*CACHE*URL`` (stderr, never stdout).

On a terminal one line is redrawn (``\\r``) while a file comes in; elsewhere (a log, CI)
one line is written per file when it is complete, so logs stay readable.
"""

from __future__ import annotations

from typing import TextIO

_WIDTH = 24  # characters of the bar


class DownloadProgress:
    """A ``Progress`` callback (symbols/server.py): ``(url, bytes_done, bytes_total)``."""

    def __init__(self, stream: TextIO, *, interactive: bool | None = None):
        self._stream = stream
        self._interactive = stream.isatty() if interactive is None else interactive
        self._current: str | None = None
        self._last: tuple[int, int | None] = (0, None)  # (done, total) of the current file

    def __call__(self, url: str, done: int, total: int | None) -> None:
        if url != self._current:
            self.finish()
            self._current = url
        self._last = (done, total)
        if self._interactive:
            self._stream.write("\r" + _line(url, done, total))
            self._stream.flush()
        elif total is not None and done >= total:
            self.finish()

    def finish(self) -> None:
        """End the current file's line (called for the next file and at the end)."""
        if self._current is None:
            return
        done, total = self._last
        if self._interactive:
            self._stream.write("\n")
        else:
            self._stream.write(_line(self._current, done, total).rstrip() + "\n")
        self._stream.flush()
        self._current = None


def _line(url: str, done: int, total: int | None) -> str:
    name = url.rsplit("/", 1)[-1]
    kib = f"{done >> 10} KiB" if total is None else f"{done >> 10}/{total >> 10} KiB"
    if not total:
        return f"dumptriage: downloading {name}  {kib}   "
    filled = min(_WIDTH, _WIDTH * done // total)
    bar = "#" * filled + "-" * (_WIDTH - filled)
    return f"dumptriage: downloading {name}  [{bar}] {kib}   "
