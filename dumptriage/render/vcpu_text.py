"""The "vCPUs" part of the text report: one row per vCPU of a host-side memory dump, then
each kernel-mode vCPU's first frames."""

from __future__ import annotations

from tabulate import tabulate

from dumptriage.model.dump import hex_addr
from dumptriage.model.vcpu import Vcpu
from dumptriage.render.safe import safe

FRAMES_SHOWN = 6  # the top of each stack; the JSON report has up to 32


def vcpu_section(vcpus: tuple[Vcpu, ...]) -> str:
    rows = [(v.index, v.state, "on" if v.interrupts_enabled else "OFF", _where(v),
             hex_addr(v.thread) or "-", "-" if v.irql is None else str(v.irql))
            for v in vcpus]
    table = tabulate([[safe(c) if isinstance(c, str) else c for c in row] for row in rows],
                     headers=("vcpu", "state", "IF", "rip", "thread", "irql"),
                     tablefmt="simple", disable_numparse=True)
    parts = ["vCPUs (from the dump's vCPU registers; irql: x86 KPCR, unknown on x64)",
             _indent(table)]
    for v in vcpus:
        parts.append(f"  vCPU {v.index}: {safe(v.reason)}")
        parts.extend(_frame_lines(v))
    return "\n".join(parts)


def _where(vcpu: Vcpu) -> str:
    if vcpu.module is None or vcpu.offset is None:
        return f"{vcpu.rip:#x}"
    return f"{vcpu.module}+{vcpu.offset:#x}"


def _frame_lines(vcpu: Vcpu) -> list[str]:
    lines = []
    for frame in vcpu.stack[:FRAMES_SHOWN]:
        where = frame.symbol or hex_addr(frame.address) or "?"
        lines.append(f"      {hex_addr(frame.address) or '-':<20} {safe(where)} ({frame.method})")
    if len(vcpu.stack) > FRAMES_SHOWN:
        lines.append(f"      ... {len(vcpu.stack) - FRAMES_SHOWN} more frames in the JSON report")
    return lines


def _indent(block: str) -> str:
    return "\n".join("  " + line if line else line for line in block.splitlines())
