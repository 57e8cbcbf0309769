"""The human-readable report: WinDbg's banner facts first, then the bugcheck, then anomalies."""

from __future__ import annotations

from tabulate import tabulate

from dumptriage.dump.header import format_uptime
from dumptriage.model import Anomaly, BugCheck, DumpInfo, Report, hex_addr


def render_text(report: Report) -> str:
    parts = [f"Dump file: {report.source.path}"]
    if report.dump is not None:
        parts.append(_dump_section(report.dump))
    if report.bugcheck is not None:
        parts.append(_bugcheck_section(report.bugcheck))
    parts.append(_anomaly_section(report.anomalies))
    return "\n\n".join(parts) + "\n"


def _arch_label(dump: DumpInfo) -> str:
    if dump.arch == "x86":
        return "x86 (PAE)" if dump.pae else "x86 (non-PAE)"
    return dump.arch


def _os_label(dump: DumpInfo) -> str:
    os_ = dump.os
    name = os_.product_name or "unknown Windows version"
    version = f"NT {os_.nt_version}" if os_.nt_version else "NT version unknown"
    flavour = "checked" if os_.checked else "free"
    return f"{name}, {version}, build {os_.build}, {flavour} build"


def _product_label(dump: DumpInfo) -> str:
    product = dump.os.product_type or "-"
    suites = " ".join(dump.os.suites) or "-"
    mask = f" ({dump.os.suite_mask:#x})" if dump.os.suite_mask is not None else ""
    return f"{product}, suite: {suites}{mask}"


def _size_label(dump: DumpInfo) -> str:
    size = f"{dump.file_size:#x} bytes"
    if dump.expected_size is None:
        return size
    return f"{size} (header says {dump.expected_size:#x})"


def _dump_section(dump: DumpInfo) -> str:
    uptime = format_uptime(dump.uptime_seconds) if dump.uptime_seconds is not None else "-"
    rows = [
        ("Banner", dump.banner or "-"),
        ("Container", f"{dump.signature}, DumpType {dump.dump_type_code} ({dump.dump_type}), "
                      f"header {dump.header_size:#x} bytes"),
        ("Architecture", _arch_label(dump)),
        ("OS", _os_label(dump)),
        ("Product", _product_label(dump)),
        ("Processors", str(dump.processors)),
        ("Crash time (UTC)", dump.system_time or "-"),
        ("System uptime", uptime),
        ("Comment", dump.comment or "-"),
        ("Kernel base", hex_addr(dump.kernel_base) or "-"),
        ("PsLoadedModuleList", hex_addr(dump.ps_loaded_module_list) or "-"),
        ("KdDebuggerDataBlock", hex_addr(dump.kd_debugger_data_block) or "-"),
        ("DirectoryTableBase", hex_addr(dump.directory_table_base) or "-"),
        ("File size", _size_label(dump)),
    ]
    return "Dump\n" + _indent(tabulate(rows, tablefmt="plain"))


def _bugcheck_section(bugcheck: BugCheck) -> str:
    data = bugcheck.to_dict()
    title = f"Bugcheck {data['code_hex']} {bugcheck.name or '(unknown code)'}"
    rows = [(f"Arg{i}", value) for i, value in enumerate(data["args"], start=1)]
    return title + "\n" + _indent(tabulate(rows, tablefmt="plain"))


def _anomaly_section(anomalies: tuple[Anomaly, ...]) -> str:
    if not anomalies:
        return "Anomalies: none"
    rows = [(a.code, a.where, a.detail) for a in anomalies]
    return "Anomalies\n" + _indent(tabulate(rows, headers=("code", "where", "detail"),
                                            tablefmt="simple"))


def _indent(block: str) -> str:
    return "\n".join("  " + line if line else line for line in block.splitlines())
