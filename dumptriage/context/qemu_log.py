"""/var/log/libvirt/qemu/<vm>.log -> VmConfig (versions, last command line, events).

Line formats, as libvirt and QEMU write them:

* ``<ts>: starting up libvirt version: X, package: ..., qemu version: Y (...),
  [kernel: K,] hostname: H`` (libvirt qemuProcessLogCommandLine / virLogHostnameBanner);
  the command line follows, on one line (old libvirt) or continued with `` \\``.
* ``warning: host doesn't support requested feature: CPUID.01H:EDX.ds [bit 21]`` (QEMU
  target/i386/cpu.c, a CPU model flag the host cannot give; optionally prefixed by a
  ``-msg timestamp=on`` timestamp and the binary name).
* ``<ts>: panic hyper-v: arg1='0x101', arg2='0x61', ...`` (libvirt, from Hyper-V crash
  MSRs; format confirmed by KubeVirt's ParseGuestPanicLogLine test, kvm-causes.md 3.15).
* ``Guest MCE Memory Error at QEMU addr ... injected`` (QEMU target/i386/kvm/kvm.c).
* ``<ts>: shutting down, reason=crashed`` (libvirt), ``terminating on signal 15 from pid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dumptriage.context import qemu_argv
from dumptriage.context.qemu_opts import split_command
from dumptriage.model.host import Event, HostFacts, Note, VmConfig

TS = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?):?\s+(?P<rest>.*)$"
)
BANNER = re.compile(r"starting up libvirt version: (?P<libvirt>[^,]+),.*?"
                    r"qemu version: (?P<qemu>[^ ,]+)(?P<tail>.*)$")
HOSTNAME = re.compile(r"hostname: (?P<host>[^\s,]+)")
KERNEL = re.compile(r"kernel: (?P<kernel>[^\s,]+)")
MISSING = re.compile(r"host doesn't support requested feature: (?P<leaf>[\w.:]+?)\.(?P<feat>\w+)"
                     r" \[bit (?P<bit>\d+)\]")
PANIC = re.compile(r"panic hyper-v: (?P<args>.*)$")
PANIC_ARG = re.compile(r"arg(?P<n>\d)='?(?P<v>0x[0-9a-fA-F]+|\d+)'?")
MCE = re.compile(r"Guest MCE Memory Error.*")
SHUTDOWN = re.compile(r"shutting down, reason=(?P<reason>\w+)|terminating on signal \d+.*")
KVM_ERROR = re.compile(r"KVM internal error.*|KVM: entry failed.*|kvm run failed.*")
IO_ERROR = re.compile(r"block I/O error in device.*")
HYPERV_ERROR = re.compile(r"Hyper-V .*(?:is not supported by kernel|requires Hyper-V).*")


@dataclass
class _State:
    source: str
    events: list[Event] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    commands: list[tuple[int, str]] = field(default_factory=list)
    libvirt: str | None = None
    qemu: str | None = None
    hostname: str | None = None
    kernel: str | None = None
    seen: set[tuple[str, str]] = field(default_factory=set)

    def event(self, time: str | None, kind: str, detail: str, line: int,
              once: bool = False) -> None:
        if once:
            if (kind, detail) in self.seen:
                return
            self.seen.add((kind, detail))
        self.events.append(Event(time, kind, detail, self.source, line))


def _panic_detail(args: str) -> str:
    values = {int(m["n"]): int(m["v"], 0) for m in PANIC_ARG.finditer(args)}
    if 1 not in values:
        return args.strip()
    params = ", ".join(f"{values.get(n, 0):#x}" for n in range(2, 6))
    return f"bugcheck {values[1]:#x} ({params})"


def _banner(state: _State, time: str | None, text: str, line: int) -> bool:
    match = BANNER.search(text)
    if not match:
        return False
    state.libvirt, state.qemu = match["libvirt"].strip(), match["qemu"].strip()
    host, kernel = HOSTNAME.search(text), KERNEL.search(text)
    state.hostname = host["host"] if host else state.hostname
    state.kernel = kernel["kernel"] if kernel else state.kernel
    state.seen.clear()  # a new start-up: repeated warnings count again
    state.event(time, "vm-start", f"libvirt {state.libvirt}, qemu {state.qemu}", line)
    return True


def _classify(state: _State, time: str | None, text: str, line: int) -> None:
    if m := MISSING.search(text):
        state.event(time, "cpu-feature-missing",
                    f"{m['feat']} ({m['leaf']} bit {m['bit']})", line, once=True)
    elif m := PANIC.search(text):
        state.event(time, "guest-panic", _panic_detail(m["args"]), line)
    elif m := MCE.search(text):
        state.event(time, "guest-mce", m.group(0), line)
    elif m := SHUTDOWN.search(text):
        detail = f"reason={m['reason']}" if m["reason"] else m.group(0)
        state.event(time, "vm-shutdown", detail, line)
    elif m := KVM_ERROR.search(text):
        state.event(time, "kvm-error", m.group(0), line)
    elif m := IO_ERROR.search(text):
        state.event(time, "io-error", m.group(0), line)
    elif m := HYPERV_ERROR.search(text):
        state.event(time, "hyperv-error", m.group(0), line)


ENV_OR_BINARY = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*|\S*(?:qemu|kvm)\S*)(?:\s|$)")


def _take_command(lines: list[str], i: int) -> tuple[str, int] | None:
    """The command starting at lines[i] (joined over trailing-backslash continuations)
    and the index after it, or None when lines[i] does not start a QEMU command."""
    if not ENV_OR_BINARY.match(lines[i]):
        return None
    block = [lines[i]]
    j = i + 1
    while block[-1].rstrip().endswith("\\") and j < len(lines):
        block.append(lines[j])
        j += 1
    text = "\n".join(block)
    return (text, j) if split_command(text) else None


def scan(text: str, source: str) -> _State:
    state = _State(source)
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        lineno = i + 1
        i += 1
        m = TS.match(raw)
        time, body = (m["ts"], m["rest"]) if m else (None, raw)
        if _banner(state, time, body, lineno):
            continue
        taken = None if time is not None else _take_command(lines, i - 1)
        if taken is not None:
            state.commands.append((lineno, taken[0]))
            if "-incoming" in split_command(taken[0]):  # started as a migration destination
                state.event(None, "migration-incoming", "QEMU started with -incoming", lineno)
            i = taken[1]
            continue
        _classify(state, time, body, lineno)
    return state


def parse_qemu_log(text: str, source: str | Path) -> VmConfig:
    state = scan(text, str(source))
    base = VmConfig(sources=(str(source),))
    if state.commands:
        lineno, command = state.commands[-1]
        base = qemu_argv.parse_argv(split_command(command), f"{source}:{lineno}")
        base = base.with_(sources=(str(source),), stack="libvirt")
        if len(state.commands) > 1:
            state.notes.append(Note("several-starts", str(source),
                                    f"{len(state.commands)} command lines; the last one "
                                    f"(line {lineno}) is used"))
    host = HostFacts(hostname=state.hostname, kernel=state.kernel)
    return base.with_(
        qemu_version=state.qemu,
        libvirt_version=state.libvirt,
        events=tuple(state.events),
        notes=base.notes + tuple(state.notes),
        host=None if host.is_empty() else host,
    )
