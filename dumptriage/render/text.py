"""The human-readable report: WinDbg's banner facts first, then the bugcheck, then anomalies."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from tabulate import tabulate

from dumptriage.dump.containers.header import format_uptime
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.dump import (
    DumpInfo,
    Frame,
    Module,
    Processor,
    UnloadedModule,
    hex_addr,
    unix_to_iso,
)
from dumptriage.model.report import Culprit, Report
from dumptriage.render.safe import safe, safe_block


def render_text(report: Report) -> str:
    label = "Debugger text" if report.source.kind == "debugger_text" else "Dump file"
    parts = [f"{label}: {safe(report.source.path)}"]
    if report.dump is not None:
        title = "Dump (the debugger's banner)" if report.dump.signature is None else "Dump"
        parts.append(_dump_section(report.dump, title))
    if report.bugcheck is not None:
        parts.append(_bugcheck_section(report))
    parts.append(_culprit_section(report.culprit))
    if report.debugger is not None or report.debugger_run is not None:
        from dumptriage.render.debugger_text import debugger_section

        parts.append(debugger_section(report.debugger, report.debugger_run))
    if report.processors:
        parts.append(_processor_section(report.processors))
    if report.vcpus:
        from dumptriage.render.vcpu_text import vcpu_section

        parts.append(vcpu_section(report.vcpus))
    if report.stack:
        parts.append(_stack_section(report.stack))
    if report.modules:
        parts.append(_module_section(report.modules))
    if report.unloaded_modules:
        parts.append(_unloaded_section(report.unloaded_modules))
    if report.host is not None:
        from dumptriage.render.host_text import render_text as render_host

        parts.append("Host (from --context)\n" + _indent(render_host(report.host).rstrip()))
    parts.append(_anomaly_section(report.anomalies))
    from dumptriage.render.findings_text import render_conclusions

    parts.append(render_conclusions(report))
    # Every field from the input is escaped where it is placed; this catches any left.
    return safe_block("\n\n".join(parts) + "\n")


def _cells(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Table rows with every string cell made safe (escaped before widths are measured)."""
    return [[safe(c) if isinstance(c, str) else c for c in row] for row in rows]


def _arch_label(dump: DumpInfo) -> str:
    if dump.arch == "x86" and dump.pae is not None:
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
    if dump.file_size is None:
        return "-"
    size = f"{dump.file_size:#x} bytes"
    if dump.expected_size is None:
        return size
    return f"{size} (header says {dump.expected_size:#x})"


def _dump_section(dump: DumpInfo, title: str) -> str:
    uptime = format_uptime(dump.uptime_seconds) if dump.uptime_seconds is not None else "-"
    rows = [
        ("Banner", dump.banner or "-"),
        ("Container", _container_label(dump)),
        ("Architecture", _arch_label(dump)),
        ("OS", _os_label(dump)),
        ("Product", _product_label(dump)),
        ("Processors", "-" if dump.processors is None else str(dump.processors)),
        ("Crash time (UTC)", dump.system_time or "-"),
        ("System uptime", uptime),
        ("Comment", dump.comment or "-"),
        ("Kernel base", hex_addr(dump.kernel_base) or "-"),
        ("PsLoadedModuleList", hex_addr(dump.ps_loaded_module_list) or "-"),
        ("KdDebuggerDataBlock", hex_addr(dump.kd_debugger_data_block) or "-"),
        ("DirectoryTableBase", hex_addr(dump.directory_table_base) or "-"),
        ("File size", _size_label(dump)),
    ]
    if dump.kernel_image_key is not None:  # a vmcore: the kernel found in memory
        rows.insert(10, ("Kernel image key", dump.kernel_image_key))
    return title + "\n" + _indent(tabulate(_cells(rows), tablefmt="plain"))


def _container_label(dump: DumpInfo) -> str:
    if dump.signature is None or dump.header_size is None:  # a transcript's banner
        return f"{dump.dump_type}, as the debugger names it (the dump file was not read)"
    if dump.dump_type_code is None:  # a host-side memory dump (vmcore): no DumpType
        return f"{dump.signature} ({dump.dump_type})"
    return (f"{dump.signature}, DumpType {dump.dump_type_code} ({dump.dump_type}), "
            f"header {dump.header_size:#x} bytes")


def _bugcheck_section(report: Report) -> str:
    data = report.to_dict()["bugcheck"]
    explanation = report.explanation
    title = f"Bugcheck {data['code_hex']} {data['name'] or '(unknown code)'}"
    if explanation is None:
        plain = [(f"Arg{i}", value) for i, value in enumerate(data["args"], start=1)]
        return title + "\n" + _indent(tabulate(_cells(plain), tablefmt="plain"))
    rows = [(f"Arg{p['index']}", p["value"], p["interpretation"] or p["meaning"])
            for p in data["parameters"]]
    lines = [title, _indent(_wrap(explanation.description)), "",
             _indent(tabulate(_cells(rows), tablefmt="plain"))]
    if explanation.subtype is not None:
        lines.append(_indent(f"Subtype: {explanation.subtype.summary or 'not in the catalogue'}"))
    return "\n".join(lines)


def _culprit_section(culprit: Culprit | None) -> str:
    if culprit is None:
        return "Probably caused by: no module could be blamed"
    return (f"Probably caused by: {safe(culprit.module)}\n"
            + _indent(_wrap(safe(culprit.reason))))


def _processor_section(processors: tuple[Processor, ...]) -> str:
    rows = [(p.index, hex_addr(p.prcb) or "-", hex_addr(p.thread) or "-",
             hex_addr(p.ip) or "-", hex_addr(p.sp) or "-", _cpu_state(p))
            for p in processors]
    table = tabulate(_cells(rows), headers=("cpu", "KPRCB", "thread", "ip", "sp", "state"),
                     tablefmt="simple", disable_numparse=True)
    return "Processors\n" + _indent(table)


def _cpu_state(processor: Processor) -> str:
    states = [s for s, on in (("crashed", processor.crashed), ("HUNG", processor.hung)) if on]
    if processor.context_source is None:
        states.append("no saved registers")
    return ", ".join(states) or "-"


def _stack_section(frames: tuple[Frame, ...]) -> str:
    rows = [(hex_addr(f.stack_address) or "-", hex_addr(f.address) or "-", f.symbol or "?",
             f.method) for f in frames]
    by_debugger = all(f.method == "debugger" for f in frames)
    slot = "ChildEBP/SP" if by_debugger else "stack slot"
    table = tabulate(_cells(rows), headers=(slot, "address", "where", "found by"),
                     tablefmt="simple", disable_numparse=True)
    if by_debugger:
        note = ("Crashing thread's stack as the debugger printed it (STACK_TEXT or kv), "
                "named by the debugger's symbols; a frame's address is the return address "
                "printed on the row above it.")
    elif any(f.symbol_source == "pdb" for f in frames):
        note = ("Crashing thread's stack, named from PDBs where the symbol path had them "
                "(other frames: the nearest export); 'scan' entries are values on the "
                "stack that point into module code (heuristic: some are stale).")
    else:
        note = ("Crashing thread's stack, without symbols: 'scan' entries are values on the "
                "stack that point into module code (heuristic: some are stale); names are "
                "the nearest export.")
    return "Stack\n" + _indent(_wrap(note)) + "\n\n" + _indent(table)


def _module_section(modules: tuple[Module, ...]) -> str:
    rows = [(m.name, hex_addr(m.base), hex_addr(m.end), _timestamp_label(m),
             m.module_class, m.vendor or "-", _pdb_label(m), m.version or "-")
            for m in modules]
    table = tabulate(_cells(rows), headers=("module", "base", "end", "timestamp (UTC)", "class",
                                    "vendor", "pdb", "version"),
                     tablefmt="simple", disable_numparse=True)
    return f"Loaded modules ({len(modules)})\n" + _indent(table)


def _timestamp_label(module: Module) -> str:
    if module.timestamp_is_hash and module.timestamp is not None:
        return f"hash {module.timestamp:08x}"
    return unix_to_iso(module.timestamp) or "-"


def _pdb_label(module: Module) -> str:
    if module.pdb is None:
        return "-"
    return f"{module.pdb.name} {module.pdb.symbol_key}"


def _unloaded_section(unloaded: tuple[UnloadedModule, ...]) -> str:
    rows = [(u.name, hex_addr(u.start), hex_addr(u.end), u.unload_time or "-") for u in unloaded]
    table = tabulate(_cells(rows), headers=("module", "start", "end", "unloaded at"),
                     tablefmt="simple", disable_numparse=True)
    return f"Unloaded modules ({len(unloaded)})\n" + _indent(table)


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, width=86))


def _anomaly_section(anomalies: tuple[Anomaly, ...]) -> str:
    if not anomalies:
        return "Anomalies: none"
    rows = [(a.code, a.where, a.detail) for a in anomalies]
    return "Anomalies\n" + _indent(tabulate(_cells(rows), headers=("code", "where", "detail"),
                                            tablefmt="simple"))


def _indent(block: str) -> str:
    return "\n".join("  " + line if line else line for line in block.splitlines())
