"""What a debugger transcript (saved `!analyze -v`, `kv`, `lmnt`, `vertarget`) says."""

from __future__ import annotations

from dumptriage.model.anomaly import Anomaly
from dumptriage.model.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


class DebuggerFrame(Record):
    """One STACK_TEXT / k line. WinDbg's columns: the frame's stack pointer (ChildEBP on
    x86, Child-SP on x64), the return address into the caller, the first arguments, then
    the call site (the function this frame is in, as module!symbol+offset)."""

    number: int | None
    child_sp: int | None
    return_address: int | None
    args: tuple[int, ...]
    call_site: str
    module: str | None
    symbol: str | None
    offset: int | None
    # An inlined call (``(Inline Function) --------`--------``): no stack pointer or return
    # address of its own. It runs where the row above it returns to, and repeats that row's
    # return address, so that "frame i runs at row i-1's return address" holds across it.
    inline: bool = False
    source: str | None = None  # "c:\build\parandis-tx.cpp @ 561" (after the call site)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "child_sp": _hex(self.child_sp),
                "return_address": _hex(self.return_address),
                "args": [f"{a:#x}" for a in self.args], "call_site": self.call_site,
                "module": self.module, "symbol": self.symbol, "offset": _hex(self.offset)}


class ListedModule(Record):
    """One `lm` / `lmnt` line."""

    start: int
    end: int
    name: str
    image: str | None
    symbols: str | None  # "(pdb symbols)", "(deferred)", "(export symbols)" ...
    timestamp: int | None = None  # lmnt's "(51DB8D9A)" after the date: the PE TimeDateStamp
    # 10.x lmnt: "215080D8 (This is a reproducible build file hash, not a timestamp)": the
    # TimeDateStamp field holds a hash, not a date.
    reproducible: bool = False


class Transcript(Record):
    """Everything read from one debugger text; None = the text did not say."""

    debugger_version: str | None = None
    dump_path: str | None = None
    dump_kind: str | None = None  # "Kernel Summary Dump File", "Mini Kernel Dump File" ...
    banner: str | None = None  # the whole line: "Kernel Summary Dump File: Only kernel ..."
    product: str | None = None  # "Windows 7", "Windows 10"
    build: int | None = None
    service_pack: str | None = None
    processors: int | None = None
    arch: str | None = None  # x86 | x64 | arm64
    checked: bool | None = None  # "Checked x86 compatible": a debug build of Windows
    build_string: str | None = None  # 7601.18205.x86fre.win7sp1_gdr.130708-1532
    product_type: str | None = None  # WinNt | LanManNt | ServerNt
    suites: tuple[str, ...] = ()
    kernel_base: int | None = None
    ps_loaded_module_list: int | None = None
    session_time: str | None = None
    uptime_seconds: float | None = None
    bugcheck_code: int | None = None
    bugcheck_args: tuple[int, ...] = ()
    bugcheck_name: str | None = None
    keys: tuple[tuple[str, str], ...] = ()  # KEY: value lines, in order
    stack: tuple[DebuggerFrame, ...] = ()
    missing_symbols: tuple[str, ...] = ()
    probably_caused_by: str | None = None
    modules: tuple[ListedModule, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    machine_name: str | None = None  # vertarget's "Machine Name:" (usually empty in dumps)
    # 10.x "KEY_VALUES_STRING" block: "    Key  : Failure.Bucket" / "    Value: ...", in order.
    analysis_keys: tuple[tuple[str, str], ...] = ()
    # "Unable to load image \SystemRoot\system32\DRIVERS\viostor.sys, Win32 error 0n2":
    # the image file was not found (the debugger then falls back to export symbols).
    image_load_errors: tuple[str, ...] = ()

    def key(self, name: str) -> str | None:
        return next((value for key, value in self.keys if key == name), None)

    def analysis_key(self, name: str) -> str | None:
        """A value of the 10.x ``Key : X`` / ``Value: Y`` block (``Failure.Bucket`` ...)."""
        return next((value for key, value in self.analysis_keys if key == name), None)


class ModuleImage(Record):
    """How a WinDbg module name ("nt", "qutmdrv") became an image file name."""

    name: str
    image: str
    how: str  # "lm" (the transcript's lm listing), "dump", "kernel", "catalogue", "assumed"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "image": self.image, "how": self.how}


class DebuggerSummary(Record):
    """The report's ``debugger`` block: what a debugger's own analysis concluded."""

    source: str  # "text" (a saved transcript) or "run" (cdb/kd run by dumptriage)
    path: str | None  # the transcript file, or the debugger executable that was run
    version: str | None
    symbols_ok: bool
    build_string: str | None = None  # "Built by:" / "Edition build lab:" 7601.18205.x86fre...
    dump_path: str | None = None  # "Loading Dump File [...]": the dump where it was analysed
    missing_symbols: tuple[str, ...] = ()
    bucket: str | None = None  # FAILURE_BUCKET_ID (6.x without it: DEFAULT_BUCKET_ID)
    bucket_id: str | None = None
    default_bucket_id: str | None = None
    bugcheck_str: str | None = None
    symbol_name: str | None = None
    module_name: str | None = None
    image_name: str | None = None
    probably_caused_by: str | None = None
    process_name: str | None = None
    current_irql: int | None = None
    module_images: tuple[ModuleImage, ...] = ()
    machine_name: str | None = None  # vertarget's "Machine Name:"
    image_load_errors: tuple[str, ...] = ()  # "Unable to load image X, Win32 error 0n2"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "path": self.path, "version": self.version,
                "symbols_ok": self.symbols_ok, "build_string": self.build_string,
                "dump_path": self.dump_path, "missing_symbols": list(self.missing_symbols),
                "bucket": self.bucket, "bucket_id": self.bucket_id,
                "default_bucket_id": self.default_bucket_id, "bugcheck_str": self.bugcheck_str,
                "symbol_name": self.symbol_name, "module_name": self.module_name,
                "image_name": self.image_name, "probably_caused_by": self.probably_caused_by,
                "process_name": self.process_name, "current_irql": self.current_irql,
                "module_images": [m.to_dict() for m in self.module_images],
                "machine_name": self.machine_name,
                "image_load_errors": list(self.image_load_errors)}


class DebuggerRun(Record):
    """Which way ``--debugger`` went: ran cdb/kd, found none, was told not to, failed."""

    mode: str  # "auto", "path" or "none"
    status: str  # "ran", "not_found", "disabled", "failed", "timed_out", "not_a_dump"
    executable: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "status": self.status, "executable": self.executable,
                "detail": self.detail}
