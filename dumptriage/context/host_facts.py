"""Host facts: /proc/cpuinfo, ``virsh nodeinfo``, ``virsh capabilities``, KVM module
parameters, dmesg, and the small ``facts.txt`` that ``dumptriage collect`` writes.

Each reader returns a VmConfig that carries only ``host`` (and events for dmesg).
dmesg patterns: KVM's ``kvm [PID]: vcpuN unhandled rdmsr: 0x...`` / ``unhandled wrmsr``
(and the newer ``Unhandled WRMSR(0x...)``), and the split-lock warning
``x86/split lock detection: #AC: ... took a split_lock trap`` (kvm-causes.md 3.6, 3.16);
storage stalls and I/O errors of the backend (Ceph ``slow ops`` / ``slow requests``,
``nfs: server ... not responding``, ``blk_update_request: I/O error`` / ``I/O error, dev``,
multipath ``failing path`` / ``remaining active paths: 0``, kvm-causes.md 3.11) and host
memory errors (``Memory failure: 0x<pfn>:``, ``mce: [Hardware Error]``, ``EDAC ... error``,
kvm-causes.md 3.8).
"""

from __future__ import annotations

import re
from pathlib import Path

from dumptriage.context.safexml import parse_xml
from dumptriage.model.host import Event, HostFacts, VmConfig

CPUINFO_LINE = re.compile(r"^(?P<key>[^\t:]+?)\s*:\s?(?P<value>.*)$")
DMESG_TS = re.compile(r"^\[\s*(?P<ts>\d+\.\d+)\]\s*(?P<rest>.*)$|"
                      r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*)\s+(?P<rest2>.*)$")
MSR = re.compile(r"unhandled (rdmsr|wrmsr)|Unhandled (RDMSR|WRMSR)", re.IGNORECASE)
SPLIT_LOCK = re.compile(r"split[_ ]lock", re.IGNORECASE)
STORAGE_STALL = re.compile(
    r"slow (?:ops|requests?)\b|nfs: server \S+ not responding|blk_update_request: .*error"
    r"|\bI/O error, dev \S+|failing path|remaining active paths: 0", re.IGNORECASE)
MEMORY_ERROR = re.compile(r"Memory failure: 0x[0-9a-f]+|mce: \[Hardware Error\]"
                          r"|\bEDAC\b.*\b(?:CE|UE|error)", re.IGNORECASE)
PARAM = re.compile(r"^/sys/module/(?P<mod>kvm\w*)/parameters/(?P<name>\w+):(?P<value>.*)$")
PARAM_KV = re.compile(r"^(?P<mod>kvm\w*)\.(?P<name>\w+)\s*=\s*(?P<value>.*)$")


def _host(source: str | Path, facts: HostFacts, events: tuple[Event, ...] = ()) -> VmConfig:
    return VmConfig(sources=(str(source),), host=facts, events=events)


def parse_cpuinfo(text: str, source: str | Path) -> VmConfig:
    count = 0
    model = vendor = None
    flags: tuple[str, ...] = ()
    for line in text.splitlines():
        m = CPUINFO_LINE.match(line)
        if m is None:
            continue
        key, value = m["key"].strip(), m["value"].strip()
        if key == "processor":
            count += 1
        elif key == "model name" and model is None:
            model = value
        elif key == "vendor_id" and vendor is None:
            vendor = value
        elif key == "flags" and not flags:
            flags = tuple(value.split())
    return _host(source, HostFacts(pcpus=count or None, cpu_model=model, cpu_vendor=vendor,
                                   cpu_flags=flags))


def parse_nodeinfo(text: str, source: str | Path) -> VmConfig:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    cpus = values.get("CPU(s)")
    return _host(source, HostFacts(pcpus=int(cpus) if cpus and cpus.isdigit() else None,
                                   cpu_model=values.get("CPU model")))


def parse_capabilities(data: bytes | str, source: str | Path) -> VmConfig:
    root = parse_xml(data, source).root
    cpu = root.find("host/cpu")
    cpus = root.find("host/topology/cells")
    count = None
    if cpus is not None:
        count = sum(int(c.get("num", "0")) for c in cpus.iter("cpus")) or None
    return _host(source, HostFacts(
        pcpus=count,
        cpu_model=None if cpu is None else cpu.findtext("model"),
        cpu_vendor=None if cpu is None else cpu.findtext("vendor"),
        cpu_flags=() if cpu is None else tuple(
            f.get("name", "") for f in cpu.findall("feature") if f.get("name")),
    ))


def parse_kvm_params(text: str, source: str | Path) -> VmConfig:
    """``grep -r . /sys/module/kvm*/parameters/`` output, or ``kvm.ignore_msrs=Y`` lines."""
    params = {}
    for line in text.splitlines():
        m = PARAM.match(line.strip()) or PARAM_KV.match(line.strip())
        if m:
            params[f"{m['mod']}.{m['name']}"] = m["value"].strip()
    return _host(source, HostFacts(kvm_params=params))


def parse_dmesg(text: str, source: str | Path) -> VmConfig:
    events = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = DMESG_TS.match(line)
        time = None if m is None else (m["ts"] or m["iso"])
        body = line if m is None else (m["rest"] if m["ts"] else m["rest2"])
        if MSR.search(body):
            events.append(Event(time, "host-unhandled-msr", body.strip(), str(source), lineno))
        elif SPLIT_LOCK.search(body) and "trap" in body:
            events.append(Event(time, "host-split-lock", body.strip(), str(source), lineno))
        elif STORAGE_STALL.search(body):
            events.append(Event(time, "host-storage-stall", body.strip(), str(source), lineno))
        elif MEMORY_ERROR.search(body):
            events.append(Event(time, "host-memory-error", body.strip(), str(source), lineno))
    return _host(source, HostFacts(), tuple(events))


def parse_facts(text: str, source: str | Path) -> VmConfig:
    """The ``facts.txt`` of a bundle: ``key: value`` lines (hostname, kernel, running_vcpus)."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    running = values.get("running_vcpus", "")
    return _host(source, HostFacts(
        hostname=values.get("hostname") or None,
        kernel=values.get("kernel") or None,
        running_vcpus=int(running) if running.isdigit() else None,
    ))


def parse_virsh_version(text: str, source: str | Path) -> VmConfig:
    """``virsh version``: "Using library: libvirt 9.0.0", "Running hypervisor: QEMU 8.2.2"."""
    library = re.search(r"^Using library: libvirt (\S+)", text, re.M)
    hyper = re.search(r"^Running hypervisor: QEMU (\S+)", text, re.M)
    return VmConfig(sources=(str(source),),
                    libvirt_version=library[1] if library else None,
                    qemu_version=hyper[1] if hyper else None)
