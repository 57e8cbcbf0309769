"""The flat, typed facts a rule can ask for, built once per analysis.

Built from the report's JSON form (the documented contract), so the rules see exactly
what a user sees and never depend on the readers' insides. Every name is documented in
``facts.toml``. A fact no input gave is absent (unknown), never False: ``host.hyperv.relaxed``
is False only when a domain XML or a QEMU command line was read and has no hv-relaxed.
"""

from __future__ import annotations

import re

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the analyze path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

# Hyper-V features that get a boolean fact each (QEMU names, see model/host.py).
HYPERV_FLAGS = ("relaxed", "vapic", "spinlocks", "time", "stimer", "evmcs", "crash",
                "vendor_id")
_ON = {"on", "require", "force"}
_OFF = {"off", "disable", "forbid"}
# A guest-panic event's detail as qemu_log.py writes it: "bugcheck 0x101 (0x61, ...)".
_PANIC_CODE = re.compile(r"^bugcheck (0x[0-9a-fA-F]+)")


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
    _cross_facts(out)
    return Facts(out)


def _cross_facts(out: dict[str, Fact]) -> None:
    """Facts that compare the dump with the host logs (known only when both are)."""
    code, panics = out.get("bugcheck.code"), out.get("host.panic.codes")
    if code is not None and panics is not None:
        same = code.value in panics.value or code.value & ~0x10000000 in panics.value
        shown = ", ".join(f"{c:#x}" for c in panics.value)
        out["host.panic.matches_dump"] = Fact(
            same, f"dump bugcheck {code.value:#x}; crash records {shown} ({panics.source})")


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
    _vcpu_facts(report, where, out)


# What a vCPU of a hung guest is doing (model/vcpu.py STATES): "busy" is anything but
# halted in the idle loop; "stuck" is kernel-mode work that cannot be interrupted or
# preempted: spinning or running with interrupts off, or at DPC/ISR level.
_BUSY = ("spinning", "dpc", "interrupt", "kernel_thread", "user")
_HIGH = ("dpc", "interrupt")


def _vcpu_facts(report: dict[str, Any], where: str, out: dict[str, Fact]) -> None:
    """Facts of a host-side memory dump's vCPUs (``report.vcpus``); none for crash dumps."""
    vcpus: list[dict[str, Any]] = report.get("vcpus") or []
    if not vcpus:
        return
    classes = {m["name"].lower(): m.get("class") for m in report.get("modules", [])}
    src = f"{where}: vCPU registers and memory"

    def which(test: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [v for v in vcpus if test(v)]

    def shown(chosen: list[dict[str, Any]], what: str) -> str:
        listed = ", ".join(f"vCPU {v['index']} ({_at(v)})" for v in chosen)
        return f"{src}: {what}: {listed}" if chosen else f"{src}: {what}: none"

    out["vcpus.count"] = Fact(len(vcpus), src)
    busy = which(lambda v: v.get("state") in _BUSY)
    out["vcpus.busy"] = Fact(len(busy), shown(busy, "not idle"))
    halted_off = which(lambda v: v.get("state") == "idle" and v.get("if") is False)
    out["vcpus.halted_if_off"] = Fact(len(halted_off),
                                      shown(halted_off, "halted with interrupts off"))
    spinning = which(lambda v: v.get("state") == "spinning")
    out["vcpus.spinning"] = Fact(len(spinning), shown(spinning, "spinning"))
    stuck = which(lambda v: v.get("state") in _HIGH or (
        v.get("state") in ("spinning", "kernel_thread") and v.get("if") is False))
    out["vcpus.stuck"] = Fact(len(stuck), shown(stuck, "uninterruptible (IF off or DPC/ISR)"))
    third = [v for v in stuck if v.get("module") and (
        classes.get(v["module"].lower()) or _catalogue_class(v["module"])) != "inbox"]
    names = list(dict.fromkeys(v["module"].lower() for v in third))
    out["vcpus.stuck_third_party"] = Fact(names, shown(third, "in a non-inbox module"))
    out["vcpus.stuck_third_party_count"] = Fact(len(names), shown(third, "in a non-inbox module"))
    # Spinning with interrupts on in inbox code: waiting (for an IPI answer, a lock, a TLB
    # flush) rather than holding anything up (hung-guest-dumps.md 4.4, step 4).
    waiting = [v for v in spinning if v.get("if") and (
        classes.get((v.get("module") or "").lower()) or _catalogue_class(v.get("module") or "")
    ) == "inbox"]
    out["vcpus.waiting"] = Fact([v["index"] for v in waiting],
                                shown(waiting, "spinning in inbox code with interrupts on"))


def _at(vcpu: dict[str, Any]) -> str:
    module, offset = vcpu.get("module"), vcpu.get("offset")
    place = f"{module}+{offset}" if module and offset else vcpu.get("rip") or "?"
    flags = "IF=1" if vcpu.get("if") else "IF=0"
    return f"{vcpu.get('state')}, {flags}, RIP {place}"


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
        if versions:
            _known_bad(report, versions, where, out)
    frames = [f["module"].lower() for f in report.get("stack", []) if f.get("module")]
    if frames:
        on_stack = list(dict.fromkeys(frames))
        _put(out, "stack.modules", on_stack, f"{where}: crashing thread's stack")
        third = [m for m in on_stack if (classes.get(m) or _catalogue_class(m)) != "inbox"]
        out["stack.third_party"] = Fact(third, f"{where}: crashing thread's stack")
    culprit = report.get("culprit")
    if culprit:
        _put(out, "culprit.module", culprit["module"].lower(), f"{where}: {culprit['reason']}")
    _debugger_facts(report.get("debugger"), out)


def _debugger_facts(debugger: dict[str, Any] | None, out: dict[str, Fact]) -> None:
    if not debugger:
        return
    said = f"{debugger.get('path') or 'the debugger'}: !analyze -v"
    _put(out, "debugger.bucket", debugger.get("bucket"), said)
    image = (debugger.get("image_name") or "").lower()
    if image and image != "unknown_image":
        _put(out, "debugger.image_name", image, said)
    out["debugger.symbols_ok"] = Fact(bool(debugger.get("symbols_ok")), said)


def _catalogue_class(name: str) -> str:
    """A stack module the report lists no module for (a debugger transcript without lm):
    its class from the driver catalogue by file name."""
    from dumptriage.catalogue.drivers import classify

    return classify(name)[0]


def _known_bad(report: dict[str, Any], versions: dict[str, str], where: str,
               out: dict[str, Fact]) -> None:
    """Loaded builds that the catalogue (catalogue/driver_versions.tsv) lists as bad for
    this Windows build and stop code; known (possibly empty) once versions were read."""
    from dumptriage.catalogue.driver_versions import known_bad

    code = (report.get("bugcheck") or {}).get("code")
    build = ((report.get("dump") or {}).get("os") or {}).get("build")
    out["modules.known_bad"] = Fact(known_bad(versions, build, code),
                                    f"{where}: module versions, catalogue driver_versions.tsv")


def _host_facts(host: dict[str, Any], out: dict[str, Fact]) -> None:
    sources = list(host.get("source") or host.get("sources") or [])
    src = ", ".join(sources) or "host files"
    _put(out, "host.sources", sources, src)
    for name, key in (("host.stack", "stack"), ("host.vm", "name"), ("host.machine", "machine"),
                      ("host.qemu_version", "qemu_version"),
                      ("host.libvirt_version", "libvirt_version"), ("host.vcpus", "vcpus"),
                      ("host.on_crash", "on_crash"), ("host.panic_action", "panic_action"),
                      ("host.max_vcpus", "max_vcpus"), ("host.firmware", "firmware"),
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
    _panic_facts(host, out)
    _tsc_facts(host, src, out)
    # VmConfig.to_dict() names the host facts "host_facts" ("host" in older reports).
    facts = host.get("host_facts") or host.get("host") or {}
    _put(out, "host.pcpus", facts.get("pcpus"), src)
    _put(out, "host.kernel", facts.get("kernel"), src)
    vcpus, most = host.get("vcpus"), host.get("max_vcpus")
    if vcpus and most:
        out["host.vcpu_hotplug"] = Fact(most > vcpus, f"{src}: {vcpus} vCPUs, at most {most}")
    running, pcpus = facts.get("running_vcpus"), facts.get("pcpus")
    if running and pcpus:
        out["host.vcpu_ratio"] = Fact(round(running / pcpus, 2),
                                      f"{src}: {running} running vCPUs on {pcpus} host CPUs")
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


def _tsc_facts(host: dict[str, Any], src: str, out: dict[str, Fact]) -> None:
    """A fixed guest TSC frequency (<timer name='tsc' frequency=...>, -cpu tsc-frequency=):
    known to be absent (0) once a configuration with a CPU line was read."""
    timers = (host.get("clock") or {}).get("timers") or {}
    frequency = (timers.get("tsc") or {}).get("frequency") or \
        (host.get("cpu") or {}).get("tsc_frequency")
    if frequency or host.get("cpu"):
        out["host.tsc_frequency"] = Fact(int(frequency or 0), src)


def _panic_facts(host: dict[str, Any], out: dict[str, Fact]) -> None:
    """Stop codes of the Hyper-V crash records in the logs (libvirt's `panic hyper-v:`)."""
    codes, where = [], []
    for event in host.get("events") or []:
        found = _PANIC_CODE.match(str(event.get("detail", ""))) \
            if event.get("kind") == "guest-panic" else None
        if found:
            codes.append(int(found[1], 16))
            line = f":{event['line']}" if event.get("line") else ""
            where.append(f"{event.get('source', '')}{line}")
    if codes:
        out["host.panic.codes"] = Fact(codes, ", ".join(dict.fromkeys(where)))


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
