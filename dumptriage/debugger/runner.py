"""Run Microsoft's console debugger (cdb, or kd) on a dump, when one is installed.

Where a debugger exists (a Windows jump host, a service box with the Debugging Tools for
Windows), its symbolised ``!analyze -v`` beats our symbol-less stack; on Linux there is
none, which is normal, and the report says so. The debugger is started with an argument
list (never through a shell: the dump's path is untrusted text), with the documented
command-line options (https://learn.microsoft.com/en-us/windows-hardware/drivers/debugger/
cdb-command-line-options): ``-z`` the dump, ``-y`` the symbol path, ``-c`` the commands to
run; ``q`` at the end of the script makes it exit. Its output is bounded and parsed by
transcript.py like any saved text.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dumptriage.debugger.text import MAX_TEXT
from dumptriage.model.debugger import DebuggerRun

# The analysis, the exception context's stack, the modules with their image names and
# timestamps, the target's version; then quit (cdb stays at its prompt otherwise).
COMMANDS = "!analyze -v; .ecxr; kv; lmnt; vertarget; q"
DEFAULT_TIMEOUT = 300.0  # seconds: the first run downloads symbols, which is slow
NAMES = ("cdb", "cdb.exe", "kd", "kd.exe")
# Where the Windows SDK / WDK installers put the Debugging Tools for Windows.
_KITS = ("Windows Kits/10/Debuggers", "Windows Kits/8.1/Debuggers")
_ARCH_DIRS = ("x64", "x86", "arm64")


def find_debugger(environ: dict[str, str] | None = None) -> str | None:
    """cdb or kd on PATH, else in a Windows Kits folder; None when there is none."""
    env = os.environ if environ is None else environ
    for name in NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    for root in (env.get("ProgramFiles(x86)"), env.get("ProgramFiles")):
        if not root:
            continue
        for kit in _KITS:
            for arch in _ARCH_DIRS:
                for name in ("cdb.exe", "kd.exe"):
                    candidate = Path(root, kit, arch, name)
                    if candidate.is_file():
                        return str(candidate)
    return None


def command_line(executable: str, dump: str, symbols: str | None) -> list[str]:
    args = [executable, "-z", dump]
    if symbols:
        args += ["-y", symbols]  # else the debugger reads _NT_SYMBOL_PATH itself
    return [*args, "-c", COMMANDS]


def run_debugger(mode: str, dump: str, symbols: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> tuple[DebuggerRun, bytes | None]:
    """``mode``: "auto" (look for cdb/kd), "none", or a debugger's path. Returns which way
    it went and, when the debugger ran, its output (at most MAX_TEXT bytes)."""
    if mode == "none":
        return DebuggerRun("none", "disabled", None, "--debugger none"), None
    if mode == "auto":
        executable = find_debugger()
        if executable is None:
            return DebuggerRun("auto", "not_found", None,
                               "no cdb or kd on PATH or in the Windows Kits folders; "
                               "the stack is dumptriage's own"), None
    else:
        executable = mode
    return _run(mode if mode == "auto" else "path", executable,
                command_line(executable, dump, symbols), timeout)


def _run(mode: str, executable: str, args: list[str],
         timeout: float) -> tuple[DebuggerRun, bytes | None]:
    import subprocess  # only when a debugger runs: a few ms of start-up otherwise
    import tempfile

    with tempfile.TemporaryFile() as out:
        try:
            done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return DebuggerRun(mode, "timed_out", executable,
                               f"no answer within {timeout:g} s (symbol downloads?)"), None
        except OSError as err:
            return DebuggerRun(mode, "failed", executable,
                               f"could not be started: {err.strerror or err}"), None
        out.seek(0)
        text = out.read(MAX_TEXT)
    if done.returncode != 0 and not text.strip():
        return DebuggerRun(mode, "failed", executable,
                           f"exit code {done.returncode}, no output"), None
    return DebuggerRun(mode, "ran", executable,
                       f"{Path(executable).name} -z DUMP -c '{COMMANDS}', "
                       f"exit code {done.returncode}"), text
