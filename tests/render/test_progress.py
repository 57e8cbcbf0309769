"""The download progress line: redrawn on a terminal, one line per file elsewhere."""

from __future__ import annotations

import io

from dumptriage.render.progress import DownloadProgress

URL = "http://127.0.0.1:1/store/amdppm.pdb/1C19/amdppm.pd_"


def test_a_log_gets_one_line_per_completed_file() -> None:
    out = io.StringIO()
    progress = DownloadProgress(out, interactive=False)
    for done in (0x4000, 0x8000, 0x10000):
        progress(URL, done, 0x10000)
    progress("http://127.0.0.1:1/store/amdppm.sys/C9/amdppm.sys", 0x800, None)
    progress.finish()
    assert out.getvalue().splitlines() == [
        "dumptriage: downloading amdppm.pd_  [########################] 64/64 KiB",
        "dumptriage: downloading amdppm.sys  2 KiB",
    ]


def test_a_terminal_line_is_redrawn_then_ended() -> None:
    out = io.StringIO()
    progress = DownloadProgress(out, interactive=True)
    progress(URL, 0x8000, 0x10000)
    progress(URL, 0x10000, 0x10000)
    progress.finish()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "[############------------] 32/64 KiB" in text
    progress.finish()  # nothing more once ended
    assert out.getvalue() == text
