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


class Transcript(Record):
    """Everything read from one debugger text; None = the text did not say."""

    debugger_version: str | None = None
    dump_path: str | None = None
    dump_kind: str | None = None  # "Kernel Summary Dump File", "Mini Kernel Dump File" ...
    product: str | None = None  # "Windows 7", "Windows 10"
    build: int | None = None
    service_pack: str | None = None
    processors: int | None = None
    arch: str | None = None  # x86 | x64 | arm64
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

    def key(self, name: str) -> str | None:
        return next((value for key, value in self.keys if key == name), None)
