"""One whole-process run for benchmark (b): `python -m bench.child TOOL DUMP VAS_FILE`.

Imports one tool, opens the dump, reads every VA in VAS_FILE (one hex VA a line) as a
4 KiB virtual page, and prints one JSON line: a SHA-256 over all pages (a missing page
hashes as b"<missing>"), phase times, and peak RSS (getrusage and /proc VmHWM).
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def _status_kib() -> dict[str, int]:
    """VmHWM (peak RSS) and the current RssAnon / RssFile (mapped file pages)."""
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def main(argv: list[str]) -> int:
    tool, dump, vas_file = argv
    vas = [int(line, 16) for line in Path(vas_file).read_text().split()]
    from bench.tools import open_pages, preload

    preload(tool)
    t_import = time.perf_counter()
    read_page, close = open_pages(tool, Path(dump))
    t_open = time.perf_counter()
    digest = hashlib.sha256()
    missing = 0
    for va in vas:
        page = read_page(va)
        if page is None:
            missing += 1
            digest.update(b"<missing>")
        else:
            digest.update(page)
    t_reads = time.perf_counter()
    status = _status_kib()  # before close(): the dump's mapping is still there
    close()
    print(json.dumps({
        "tool": tool, "pages": len(vas), "missing": missing, "digest": digest.hexdigest(),
        "import_s": t_import - T0, "open_s": t_open - t_import, "reads_s": t_reads - t_open,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        **{f"{k.lower()}_kib": v for k, v in status.items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
