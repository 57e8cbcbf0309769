"""libvirtd.log -> events (QEMU monitor EOF, migration failures, errors) with timestamps.

Line format (libvirt src/util/virlog.c, virLogFormatString):
``2017-03-15 06:03:48.180+0000: 13914: error : qemuMonitorIO:689 : internal error: ...``.
The first lines after a daemon start carry ``libvirt version: ...`` and ``hostname: ...``.
"""

from __future__ import annotations

import re
from pathlib import Path

from dumptriage.model.host import Event, HostFacts, VmConfig

LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d{4})?): (?P<tid>\d+): "
    r"(?P<level>debug|info|warning|error) : (?:(?P<func>[\w]+)(?::\d+)? : )?(?P<msg>.*)$"
)
VERSION = re.compile(r"^libvirt version: (?P<v>[^,]+)")
HOSTNAME = re.compile(r"^hostname: (?P<h>\S+)")

# (pattern, kind) in order; the first match wins.
KINDS = (
    (re.compile(r"End of file from (qemu )?monitor|qemu unexpectedly closed the monitor"),
     "qemu-monitor-eof"),
    (re.compile(r"migration", re.IGNORECASE), "migration-failed"),
    (re.compile(r"permission", re.IGNORECASE), "permission"),
    (re.compile(r"panic", re.IGNORECASE), "guest-panic"),
)


def _kind(level: str, msg: str) -> str | None:
    for pattern, kind in KINDS:
        if pattern.search(msg):
            if kind == "migration-failed" and level != "error":
                return None
            return kind
    if level == "error":
        return "libvirtd-error"
    return None


def parse_libvirtd_log(text: str, source: str | Path) -> VmConfig:
    events: list[Event] = []
    version = hostname = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        m = LINE.match(raw)
        if m is None:
            continue
        msg = m["msg"].strip()
        if v := VERSION.match(msg):
            version = v["v"].strip()
            continue
        if h := HOSTNAME.match(msg):
            hostname = h["h"]
            continue
        kind = _kind(m["level"], msg)
        if kind is not None:
            func = f"{m['func']}: " if m["func"] else ""
            events.append(Event(m["ts"], kind, f"{func}{msg}", str(source), lineno))
    return VmConfig(
        sources=(str(source),),
        libvirt_version=version,
        events=tuple(events),
        host=None if hostname is None else HostFacts(hostname=hostname),
    )
