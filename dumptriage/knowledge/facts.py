"""The flat, typed facts a rule can ask for, built once per analysis.

Built from the report's JSON form (the documented contract), so the rules see exactly
what a user sees and never depend on the readers' insides. Every name is documented in
``facts.toml``. A fact no input gave is absent (unknown), never False: ``host.hyperv.relaxed``
is False only when a domain XML or a QEMU command line was read and has no hv-relaxed.
"""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the analyze path
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

# Hyper-V features that get a boolean fact each (QEMU names, see model/host.py).
HYPERV_FLAGS = ("relaxed", "vapic", "spinlocks", "time", "stimer", "evmcs", "crash",
                "vendor_id")
_ON = {"on", "require", "force"}
_OFF = {"off", "disable", "forbid"}


class Fact(Record):
    """One fact: its value and where it came from (a file, the dump header, an argument)."""

    value: Any
    source: str


class Facts:
    """Name -> Fact; names not present are unknown."""

    def __init__(self, facts: dict[str, Fact]):
        self._facts = facts

    def get(self, name: str) -> Fact | None:
        return self._facts.get(name)

    def names(self) -> list[str]:
        return sorted(self._facts)

    def as_dict(self) -> dict[str, Any]:
        return {name: fact.value for name, fact in sorted(self._facts.items())}

    @classmethod
    def from_values(cls, values: dict[str, Any], source: str = "fixture") -> Facts:
        """Facts given directly (rule fixtures, tests)."""
        return cls({name: Fact(value, source) for name, value in values.items()})


def build_facts(report: dict[str, Any]) -> Facts:
    """Facts from a report's ``to_dict()`` form (dump part and host part)."""
    out: dict[str, Fact] = {}
    _dump_facts(report, out)
    host = report.get("host")
    if host:
        _host_facts(host, out)
    return Facts(out)


def _put(out: dict[str, Fact], name: str, value: Any, source: str) -> None:
    if value is not None and value != "":
        out[name] = Fact(value, source)


def _dump_facts(report: dict[str, Any], out: dict[str, Fact]) -> None:
    where = (report.get("source") or {}).get("path", "the dump")
    bugcheck = report.get("bugcheck")
    if bugcheck:
        _put(out, "bugcheck.code", bugcheck["code"], f"{where}: bugcheck")
        _put(out, "bugcheck.name", bugcheck.get("name"), f"{where}: bugcheck")
        for index, arg in enumerate(bugcheck.get("args", []), start=1):
            _put(out, f"bugcheck.arg{index}", int(arg, 16), f"{where}: Arg{index}")
    dump = report.get("dump")
    if dump:
        header = f"{where}: dump header"
        _put(out, "os.build", dump["os"]["build"], header)
        _put(out, "os.arch", dump["arch"], header)
        _put(out, "os.product", dump["os"].get("product_name"), header)
        product_type = dump["os"].get("product_type")
        if product_type:
            _put(out, "os.server", product_type in ("LanManNt", "ServerNt"), header)
        _put(out, "dump.type", dump.get("dump_type"), header)
        _put(out, "cpus.count", dump.get("processors"), header)
    _kernel_facts(report, where, out)


def _kernel_facts(report: dict[str, Any], where: str, out: dict[str, Fact]) -> None:
    hung = [p["index"] for p in report.get("processors", []) if p.get("hung")]
    if hung:
        _put(out, "cpus.hung", hung[0], f"{where}: Arg4 names CPU {hung[0]}, KiProcessorBlock")
    modules = report.get("modules", [])
    classes = {m["name"].lower(): m.get("class") for m in modules}
    if modules:
        _put(out, "modules.names", [m["name"].lower() for m in modules], f"{where}: modules")
        versions = {m["name"].lower(): m["version"] for m in modules if m.get("version")}
        _put(out, "modules.versions", versions, f"{where}: module version resources")
    frames = [f["module"].lower() for f in report.get("stack", []) if f.get("module")]
    if frames:
        on_stack = list(dict.fromkeys(frames))
        _put(out, "stack.modules", on_stack, f"{where}: crashing thread's stack")
        third = [m for m in on_stack if classes.get(m) != "inbox"]
        out["stack.third_party"] = Fact(third, f"{where}: crashing thread's stack")
    culprit = report.get("culprit")
    if culprit:
        _put(out, "culprit.module", culprit["module"].lower(), f"{where}: {culprit['reason']}")


def _host_facts(host: dict[str, Any], out: dict[str, Fact]) -> None:
    sources = list(host.get("source") or host.get("sources") or [])
    src = ", ".join(sources) or "host files"
    _put(out, "host.sources", sources, src)
    for name, key in (("host.stack", "stack"), ("host.vm", "name"), ("host.machine", "machine"),
                      ("host.qemu_version", "qemu_version"),
                      ("host.libvirt_version", "libvirt_version"), ("host.vcpus", "vcpus"),
                      ("host.on_crash", "on_crash"), ("host.firmware", "firmware"),
                      ("host.os_hint", "guest_os_hint")):
        _put(out, name, host.get(key), src)
    if host.get("stack") == "proxmox" and not host.get("guest_os_hint"):
        # The Proxmox reader names Windows and Linux ostypes only; no hint is `ostype:
        # other` (written or, when the key is missing, qemu-server's default).
        _put(out, "host.os_hint", "other", f"{src}: ostype other (or no ostype line)")
    topology = host.get("topology") or {}
    _put(out, "host.topology.sockets", topology.get("sockets"), src)
    _put(out, "host.topology.cores", topology.get("cores"), src)
    _cpu_facts(host, src, out)
    _hyperv_facts(host, src, out)
    _device_facts(host, src, out)
    _event_facts(host, out)
    facts = host.get("host") or {}
    _put(out, "host.pcpus", facts.get("pcpus"), src)
    if facts.get("kvm_params"):
        _put(out, "host.kvm_params", dict(facts["kvm_params"]), src)
    vendor = facts.get("cpu_vendor") or (host.get("cpu") or {}).get("vendor")
    if vendor:
        _put(out, "host.cpu.vendor", _vendor(vendor), src)


def _vendor(text: str) -> str:
    low = text.lower()
    return "amd" if "amd" in low else "intel" if "intel" in low else low


def _cpu_facts(host: dict[str, Any], src: str, out: dict[str, Fact]) -> None:
    cpu = host.get("cpu")
    if not cpu:
        return
    _put(out, "host.cpu.mode", cpu.get("mode"), src)
    if cpu.get("model"):
        _put(out, "host.cpu.model", cpu["model"].lower(), src)
    features = cpu.get("features") or {}
    out["host.cpu.disabled"] = Fact(sorted(f for f, p in features.items() if p in _OFF), src)
    out["host.cpu.enabled"] = Fact(sorted(f for f, p in features.items() if p in _ON), src)


def _hyperv_facts(host: dict[str, Any], src: str, out: dict[str, Fact]) -> None:
    """Known only when a configuration was read: a CPU line (domain XML, -cpu, Proxmox)."""
    if not host.get("cpu") and not host.get("hyperv"):
        return
    hyperv = host.get("hyperv") or {}
    features = hyperv.get("features") or {}
    enabled = sorted(name.replace("-", "_") for name, feat in features.items()
                     if (feat or {}).get("state") == "on")
    timers = (host.get("clock") or {}).get("timers") or {}
    clock = timers.get("hypervclock") or {}
    if clock.get("present") and "time" not in enabled:
        enabled = sorted([*enabled, "time"])
    mode = hyperv.get("mode") if hyperv else None
    out["host.hyperv.mode"] = Fact(mode if enabled or mode == "passthrough" else "none", src)
    out["host.hyperv.enabled"] = Fact(enabled, src)
    passthrough = mode == "passthrough"
    for flag in HYPERV_FLAGS:
        on = flag in enabled or (passthrough and flag not in ("vendor_id", "crash"))
        out[f"host.hyperv.{flag}"] = Fact(on, src)
    panic = ((host.get("devices") or {}).get("panic")) or []
    if "hyperv" in panic:
        out["host.hyperv.crash"] = Fact(True, src)
    # A configuration that was read and does not hide KVM does not hide it.
    out["host.kvm_hidden"] = Fact(bool(host.get("kvm_hidden")), src)
    hpet = timers.get("hpet")
    if hpet and hpet.get("present") is not None:
        out["host.timers.hpet"] = Fact(bool(hpet["present"]), src)


def _device_facts(host: dict[str, Any], src: str, out: dict[str, Fact]) -> None:
    devices = host.get("devices")
    if not devices:
        return
    disks = [d for d in devices.get("disks", []) if d.get("device", "disk") == "disk"]
    out["host.disks.buses"] = Fact([d["bus"] for d in disks if d.get("bus")], src)
    out["host.disks.error_policies"] = Fact(
        [d["error_policy"] for d in disks if d.get("error_policy")], src)
    _put(out, "host.balloon", devices.get("balloon"), src)
    out["host.panic_devices"] = Fact(list(devices.get("panic") or []), src)
    out["host.hostdevs"] = Fact(len(devices.get("hostdev") or []), src)


def _event_facts(host: dict[str, Any], out: dict[str, Fact]) -> None:
    events: Iterable[dict[str, Any]] = host.get("events") or []
    kinds: dict[str, Fact] = {}
    for event in events:
        kind = event.get("kind")
        if kind and kind not in kinds:
            line = f":{event['line']}" if event.get("line") else ""
            kinds[kind] = Fact(event.get("detail") or kind, f"{event.get('source', '')}{line}")
    if host.get("source") or host.get("sources"):
        # The logs were read: an event kind that is absent is known to be absent. The
        # source quotes the first event of each kind where it was read.
        quoted = "; ".join(f"{kind}: {fact.value} ({fact.source})"
                           for kind, fact in sorted(kinds.items()))
        out["host.event_kinds"] = Fact(sorted(kinds), quoted or "host logs: no events")
    if kinds:
        out["host.events"] = Fact({k: f.value for k, f in kinds.items()},
                                  "; ".join(dict.fromkeys(f.source for f in kinds.values())))
