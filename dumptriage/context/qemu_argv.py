"""A QEMU command line (``ps``, a libvirt QEMU log, a shell script) -> VmConfig.

What each option means: QEMU qemu-options.hx and docs/system/i386/hyperv.rst. A later
``-cpu``/``-smp``/``-m``/``-rtc`` replaces an earlier one (QEMU keeps only the last
``cpu_option``, softmmu/vl.c); ``-machine``/``-global``/``-device`` accumulate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dumptriage.context import qemu_devices
from dumptriage.context.names import QEMU_HYPERV, QEMU_HYPERV_ALIASES, cpu_feature_name
from dumptriage.context.qemu_opts import (
    is_qemu_binary,
    parse_kv,
    parse_options,
    size_kib,
    split_opts,
    truthy,
)
from dumptriage.model.host import (
    ClockConfig,
    CpuConfig,
    HypervConfig,
    HypervFeature,
    Note,
    Timer,
    Topology,
    VmConfig,
)

# -cpu properties that are settings, not CPUID features.
CPU_SETTINGS = frozenset({
    "enforce", "check", "level", "xlevel", "min-level", "min-xlevel", "phys-bits",
    "host-phys-bits", "guest-phys-bits", "model-id", "family", "model", "stepping",
    "host-cache-info", "l3-cache", "pmu", "lbr-fmt", "ucode-rev", "x-hv-max-vps",
    "host-phys-bits-limit",
})
# QEMU LostTickPolicy (qapi/misc.json): slew = "deliver lost ticks faster to catch up",
# which is libvirt's tickpolicy='catchup'.
PIT_POLICY = {"delay": "delay", "discard": "discard", "slew": "catchup", "merge": "merge"}
HV_OFF = frozenset({"off", "false", "no"})


@dataclass
class CpuArg:
    """The parsed -cpu option."""

    cpu: CpuConfig
    hyperv: HypervConfig | None
    kvm_hidden: bool | None
    kvm_features: dict[str, str] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


def _hv_feature(name: str, value: str | None, sign: str) -> HypervFeature:
    if sign == "-" or (value is not None and value.lower() in HV_OFF):
        return HypervFeature("off")
    if name == "spinlocks" and value is not None:
        try:
            return HypervFeature("on", int(value, 0))
        except ValueError:
            return HypervFeature("on", value)
    if name in ("vendor-id", "no-nonarch-coresharing") or name.startswith("version-id"):
        return HypervFeature("on", value)
    return HypervFeature("on")


def parse_cpu(text: str, where: str) -> CpuArg:
    """'-cpu host,hv_relaxed,hv-spinlocks=0x1fff,+vmx,-svm,kvm=off,migratable=on'."""
    items = split_opts(text)
    model = items[0] if items else None
    features: dict[str, str] = {}
    hv: dict[str, HypervFeature] = {}
    hv_mode = "custom"
    kvm_hidden: bool | None = None
    kvm_features: dict[str, str] = {}
    vendor: str | None = None
    migratable: bool | None = None
    tsc: int | None = None
    notes: list[Note] = []
    for item in items[1:]:
        sign = item[0] if item[0] in "+-" else ""
        raw_name, eq, raw_value = item[len(sign):].partition("=")
        name = cpu_feature_name(raw_name)
        value = raw_value if eq else None
        if name.startswith("hv-"):
            hv_name = QEMU_HYPERV_ALIASES.get(name[3:], name[3:])
            if hv_name == "passthrough":
                if _hv_feature(hv_name, value, sign).state == "on":
                    hv_mode = "passthrough"
                continue
            hv[hv_name] = _hv_feature(hv_name, value, sign)
        elif name == "kvm":
            kvm_hidden = (value is not None and value.lower() in HV_OFF) or sign == "-"
        elif name.startswith("kvm-"):
            # kvm-hint-dedicated, kvm-poll-control, kvm-pv-ipi, kvm-pv-eoi...: KVM's own PV
            # CPUID bits; libvirt writes <kvm><hint-dedicated/> etc. for the first three.
            on = sign != "-" and (value is None or truthy(value))
            kvm_features[name[4:]] = "on" if on else "off"
        elif name == "vendor":
            vendor = value
        elif name == "migratable":
            migratable = truthy(value or "on")
        elif name in ("tsc-frequency", "tsc-freq") and value is not None:
            try:
                tsc = int(float(value))
            except ValueError:
                notes.append(Note("bad-value", where, f"-cpu {item}"))
        elif name not in CPU_SETTINGS:
            on = sign != "-" and (value is None or truthy(value))
            features[name] = "on" if on else "off"
    unknown = [k for k in hv if k not in QEMU_HYPERV]
    notes += [Note("unrecognised", where, f"-cpu hv-{k}") for k in unknown]
    if model == "host":
        mode, model = "host-passthrough", None
    elif model == "max":
        mode, model = "maximum", None
    else:
        mode = "custom"
    cpu = CpuConfig(mode=mode, model=model, features=features, vendor=vendor,
                    migratable=migratable, tsc_frequency=tsc)
    hyperv = HypervConfig(hv_mode, hv) if hv or hv_mode != "custom" else None
    return CpuArg(cpu, hyperv, kvm_hidden, kvm_features, notes)


def parse_smp(text: str) -> tuple[int | None, int | None, Topology | None]:
    """'-smp 2,sockets=1,cores=2,threads=1[,maxcpus=N]' -> (vcpus, max, topology)."""
    opts = parse_kv(text, implied="cpus")

    def num(key: str) -> int | None:
        try:
            return int(opts[key]) if key in opts else None
        except ValueError:
            return None

    cpus, maxcpus = num("cpus"), num("maxcpus")
    sockets, cores, threads, dies = num("sockets"), num("cores"), num("threads"), num("dies")
    total = maxcpus or cpus
    topology = None
    if total and (sockets or cores or threads):
        threads = threads or 1
        dies = dies or 1
        if sockets is None:
            sockets = max(1, total // ((cores or 1) * threads * dies))
        if cores is None:
            cores = max(1, total // (sockets * threads * dies))
        topology = Topology(sockets, cores, threads, dies)
    return cpus, total, topology


class _Collector:
    def __init__(self, where: str):
        self.where = where
        self.last: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.machine: dict[str, str] = {}
        self.accel: str | None = None
        self.accel_opts: dict[str, str] = {}
        self.smbios_uuid: str | None = None
        self.globals: list[str] = []
        self.no_hpet = False
        self.actions: dict[str, str] = {}  # -action accumulates, the last value per event
        self.iothreads = 0
        self.rest: list[tuple[str, str]] = []

    def feed(self, options: Sequence[tuple[str, str | None]]) -> None:
        for name, arg in options:
            self.counts[name] = self.counts.get(name, 0) + 1
            if name in ("enable-kvm",):
                self.accel = "kvm"
            elif name == "no-hpet":
                self.no_hpet = True
            elif arg is None:
                continue
            elif name in ("machine", "M"):
                self.machine.update(parse_kv(arg, implied="type"))
            elif name == "accel":
                self.accel_opts = parse_kv(arg, implied="accel")
                self.accel = str(self.accel_opts.get("accel"))
            elif name == "global":
                self.globals.append(arg)
            elif name == "action":
                self.actions.update({k: str(v) for k, v in parse_kv(arg).items()})
            elif name == "object" and str(parse_kv(arg, implied="qom-type").get(
                    "qom-type")) == "iothread":
                self.iothreads += 1
                self.rest.append((name, arg))
            elif name in ("cpu", "smp", "m", "name", "uuid", "rtc"):
                self.last[name] = arg
            elif name == "smbios":
                smbios = parse_kv(arg)
                if smbios.get("type") == "1" and "uuid" in smbios:
                    self.smbios_uuid = str(smbios["uuid"])
            else:
                self.rest.append((name, arg))


def _hypervisor(col: _Collector, binary: str | None) -> str | None:
    accel = col.accel or col.machine.get("accel")
    if accel:
        return accel.split(":")[0]
    if binary is not None and binary.rsplit("/", 1)[-1] in ("kvm", "qemu-kvm", "kvm-spice"):
        return "kvm"  # these wrappers/builds enable KVM themselves
    return None


def _clock(col: _Collector, cpu: CpuArg | None) -> ClockConfig | None:
    timers: dict[str, Timer] = {}
    offset = start = None
    rtc = parse_kv(col.last["rtc"]) if "rtc" in col.last else {}
    base = rtc.get("base")
    if base in ("utc", "localtime"):
        offset = base
    elif base:
        offset, start = "absolute", base
    if rtc.get("driftfix") == "slew":
        timers["rtc"] = Timer("rtc", tickpolicy="catchup")
    for glob in col.globals:
        key, _, value = glob.partition("=")
        if key.lower() == "kvm-pit.lost_tick_policy":
            timers["pit"] = Timer("pit", tickpolicy=PIT_POLICY.get(value, value))
    hpet = col.machine.get("hpet")
    if col.no_hpet or hpet is not None:
        timers["hpet"] = Timer("hpet", present=not col.no_hpet and truthy(hpet or "on"))
    if cpu is not None and cpu.hyperv is not None and cpu.hyperv.is_on("time"):
        timers["hypervclock"] = Timer("hypervclock", present=True)
    if cpu is not None and cpu.cpu.tsc_frequency:
        timers["tsc"] = Timer("tsc", frequency=cpu.cpu.tsc_frequency)
    if offset is None and not timers:
        return None
    return ClockConfig(offset=offset, start=start, timers=timers)


def _kvm_features(col: _Collector, cpu: CpuArg | None) -> dict[str, str]:
    feats = {} if cpu is None else dict(cpu.kvm_features)
    # -accel kvm,dirty-ring-size=N / rapl=true are libvirt's <kvm><dirty-ring>/<rapl>
    # (corpus fork-aharivel/kvm-features pair).
    if "dirty-ring-size" in col.accel_opts:
        feats["dirty-ring"] = "on"
    if "rapl" in col.accel_opts:
        feats["rapl"] = "on" if truthy(str(col.accel_opts["rapl"])) else "off"
    return feats


def _notes(col: _Collector) -> list[Note]:
    notes = []
    for opt in ("cpu", "smp", "m"):
        if col.counts.get(opt, 0) > 1:
            notes.append(Note("repeated-option", col.where,
                              f"-{opt} given {col.counts[opt]} times; QEMU uses the last"))
    return notes


def _build(col: _Collector, binary: str | None) -> VmConfig:
    cpu = parse_cpu(col.last["cpu"], col.where) if "cpu" in col.last else None
    vcpus = max_vcpus = None
    topology = None
    if "smp" in col.last:
        vcpus, max_vcpus, topology = parse_smp(col.last["smp"])
    name = None
    if "name" in col.last:
        name = parse_kv(col.last["name"], implied="guest").get("guest")
    devices, hugepages = qemu_devices.read(col.rest)
    if cpu is not None and cpu.hyperv is not None and cpu.hyperv.is_on("crash"):
        devices = replace(devices, panic=(*devices.panic, "hyperv"))
    memory = size_kib(str(parse_kv(col.last["m"], implied="size").get("size", ""))) \
        if "m" in col.last else None
    return VmConfig(
        sources=(col.where,),
        hypervisor=_hypervisor(col, binary),
        stack="qemu",
        name=name,
        uuid=col.last.get("uuid", col.smbios_uuid),
        machine=col.machine.get("type"),
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        topology=topology,
        cpu=None if cpu is None else cpu.cpu,
        hyperv=None if cpu is None else cpu.hyperv,
        kvm_hidden=None if cpu is None else cpu.kvm_hidden,
        kvm_features=_kvm_features(col, cpu),
        clock=_clock(col, cpu),
        memory_kib=memory,
        hugepages=hugepages,
        devices=devices,
        panic_action=col.actions.get("panic"),
        iothreads=col.iothreads or None,
        notes=tuple(_notes(col) + ([] if cpu is None else cpu.notes)),
    )


def parse_argv(tokens: Sequence[str], source: str) -> VmConfig:
    """Tokens starting with the QEMU binary (or just options)."""
    binary = tokens[0] if tokens and is_qemu_binary(tokens[0]) else None
    col = _Collector(source)
    col.feed(parse_options(list(tokens[1:] if binary else tokens)))
    return _build(col, binary)


def overlay(config: VmConfig, args: Sequence[str], source: str) -> VmConfig:
    """Apply extra QEMU arguments (libvirt <qemu:commandline>) on top of ``config``."""
    col = _Collector(source)
    col.feed(parse_options(list(args)))
    extra = _build(col, None)
    changes: dict[str, object] = {"notes": config.notes + extra.notes,
                                  "sources": config.sources}
    if "cpu" in col.last:
        changes.update(cpu=extra.cpu, hyperv=extra.hyperv, kvm_hidden=extra.kvm_hidden,
                       kvm_features=extra.kvm_features)
        changes["notes"] = (*changes["notes"],  # type: ignore[misc]
                            Note("qemu-commandline", source,
                                 "a -cpu passed through <qemu:commandline> replaces "
                                 "libvirt's own -cpu (QEMU uses the last)"))
        if extra.clock is not None and "hypervclock" in extra.clock.timers:
            old = config.clock or ClockConfig()
            timers = {**old.timers, "hypervclock": extra.clock.timers["hypervclock"]}
            changes["clock"] = ClockConfig(old.offset, old.start, timers)
    if "smp" in col.last:
        changes.update(vcpus=extra.vcpus, max_vcpus=extra.max_vcpus, topology=extra.topology)
    return config.with_(**changes)
