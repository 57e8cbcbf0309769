"""A STAND-IN for Microsoft's cdb.exe, for tests only: it is not a debugger.

It checks that it was called the way dumptriage/debugger/runner.py calls cdb (``-z DUMP``,
optional ``-y SYMBOLS``, ``-c COMMANDS`` ending in ``q``), records its argument list in the
file named by STANDIN_ARGV (when set), then prints the transcript named by
STANDIN_TRANSCRIPT (a stored real or reproduced debugger output) and exits with
STANDIN_EXIT (default 0). STANDIN_SLEEP makes it hang first (timeout tests).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    if os.environ.get("STANDIN_ARGV"):
        with open(os.environ["STANDIN_ARGV"], "w", encoding="utf-8") as out:
            json.dump(argv, out)
    if os.environ.get("STANDIN_SLEEP"):
        time.sleep(float(os.environ["STANDIN_SLEEP"]))
    if "-z" not in argv or "-c" not in argv or not argv[argv.index("-c") + 1].endswith("q"):
        print("usage: cdb -z DUMP [-y SYMBOLS] -c COMMANDS", file=sys.stderr)
        return 2
    transcript = os.environ.get("STANDIN_TRANSCRIPT")
    if transcript:
        with open(transcript, "rb") as text:
            sys.stdout.buffer.write(text.read())
    return int(os.environ.get("STANDIN_EXIT", "0"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
