"""libvirt domain XML (``virsh dumpxml``, /etc/libvirt/qemu/*.xml) -> VmConfig.

Element and attribute meanings: libvirt docs/formatdomain.rst (https://libvirt.org/formatdomain.html).
Unknown elements where we look (features, hyperv, kvm, clock, devices) become notes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dumptriage.context import libvirt_devices, qemu_argv
from dumptriage.context.names import LIBVIRT_HYPERV, LIBVIRT_HYPERV_NESTED, cpu_feature_name
from dumptriage.context.ranges import MAX_VCPUS
from dumptriage.context.safexml import ParsedXml, parse_xml
from dumptriage.errors import ContextParseError
from dumptriage.model.host import (
    ClockConfig,
    CpuConfig,
    HypervConfig,
    HypervFeature,
    Note,
    NumaTune,
    Timer,
    Topology,
    VmConfig,
)

NOVA_NS = "{http://openstack.org/xmlns/libvirt/nova/"
OVIRT_VM = "{http://ovirt.org/vm/1.0}vm"
LIBOSINFO_NS = "{http://libosinfo.org/xmlns/libvirt/domain/1.0}"
QEMU_NS = "{http://libvirt.org/schemas/domain/qemu/1.0}"

KNOWN_FEATURES = frozenset({
    "acpi", "apic", "pae", "hap", "viridian", "privnet", "pvspinlock", "vmport", "smm",
    "ioapic", "gic", "hpt", "htm", "nested-hv", "ccf-assist", "cfpc", "sbbc", "ibs",
    "vmcoreinfo", "msrs", "hyperv", "kvm", "xen", "tcg", "async-teardown", "ras", "ps2",
    "sev", "tdx", "aia", "pmu",
})
KNOWN_KVM = frozenset({"hidden", "hint-dedicated", "poll-control", "pv-ipi", "dirty-ring", "rapl"})
KNOWN_TIMERS = frozenset({"platform", "pit", "rtc", "hpet", "kvmclock", "hypervclock", "tsc",
                          "armvtimer"})

_UNITS = {
    "b": 1, "bytes": 1, "kb": 1000, "k": 1024, "kib": 1024, "mb": 1000**2, "m": 1024**2,
    "mib": 1024**2, "gb": 1000**3, "g": 1024**3, "gib": 1024**3, "tb": 1000**4, "t": 1024**4,
    "tib": 1024**4,
}


def parse_domain_xml(data: bytes | str, source: str | Path) -> VmConfig:
    parsed = parse_xml(data, source)
    root = parsed.root
    if root.tag != "domain":
        raise ContextParseError(source, parsed.line_of(root), f"root element is <{root.tag}>, "
                                "not <domain>")
    return _Reader(parsed, str(source)).read()


def _on(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.lower() in ("on", "yes", "true")


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text.strip(), 0)
    except ValueError:
        return None


def memory_kib(elem: ET.Element | None) -> int | None:
    if elem is None or elem.text is None:
        return None
    value = _int(elem.text)
    factor = _UNITS.get(elem.get("unit", "KiB").lower())
    if value is None or factor is None:
        return None
    return value * factor // 1024


class _Reader:
    def __init__(self, parsed: ParsedXml, source: str):
        self.parsed = parsed
        self.root = parsed.root
        self.source = source
        self.notes: list[Note] = []

    def note(self, code: str, elem: ET.Element, detail: str) -> None:
        line = self.parsed.line_of(elem)
        self.notes.append(Note(code, f"{self.source}:{line}", detail))

    def read(self) -> VmConfig:
        root = self.root
        os_type = root.find("os/type")
        vcpus, max_vcpus = self._vcpus()
        hyperv, kvm_hidden, kvm_features, vmcoreinfo = self._features()
        clock = self._clock()
        hyperv = _with_time_and_crash(hyperv, clock, root)
        devices = libvirt_devices.read_devices(root.find("devices"), vmcoreinfo, self.note)
        config = VmConfig(
            sources=(self.source,),
            # <domain type='qemu'> is plain emulation, QEMU's "-accel tcg".
            hypervisor={"qemu": "tcg"}.get(root.get("type", ""), root.get("type")),
            stack=self._stack(),
            name=root.findtext("name"),
            uuid=root.findtext("uuid"),
            machine=None if os_type is None else os_type.get("machine"),
            vcpus=vcpus,
            max_vcpus=max_vcpus,
            topology=self._topology(max_vcpus),
            vcpu_pinning=self._pinning(max_vcpus),
            cpu=self._cpu(None if os_type is None else os_type.get("arch")),
            hyperv=hyperv,
            kvm_hidden=kvm_hidden,
            kvm_features=kvm_features,
            clock=clock,
            memory_kib=memory_kib(root.find("memory")),
            hugepages=root.find("memoryBacking/hugepages") is not None,
            devices=devices,
            on_crash=root.findtext("on_crash"),
            numatune=self._numatune(),
            emulator_pinning=self._attr("cputune/emulatorpin", "cpuset"),
            iothreads=_int(root.findtext("iothreads")),
            firmware=self._firmware(),
            guest_os_hint=self._os_hint(),
        )
        config = self._qemu_commandline(config)
        return config.with_(notes=tuple(self.notes) + config.notes)

    def _stack(self) -> str:
        """nova writes its own metadata into every domain it defines (<nova:instance
        xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.x'>, nova/virt/libvirt/
        config.py LibvirtConfigGuestMetaNovaInstance); such a VM's XML is regenerated by
        nova, so its fixes are nova's (image properties), not virsh edit. The same holds
        for oVirt."""
        metadata = self.root.find("metadata")
        if metadata is not None and any(child.tag.startswith(NOVA_NS) for child in metadata):
            return "nova"
        # oVirt's engine sends VDSM a domain whose <metadata> holds <ovirt-vm:vm
        # xmlns:ovirt-vm='http://ovirt.org/vm/1.0'> (clusterVersion, custom properties,
        # vdsm lib/vdsm/virt/metadata.py); the engine rebuilds the XML on every start.
        if metadata is not None and metadata.find(OVIRT_VM) is not None:
            return "ovirt"
        return "libvirt"

    def _attr(self, path: str, name: str) -> str | None:
        elem = self.root.find(path)
        return None if elem is None else elem.get(name)

    def _numatune(self) -> NumaTune | None:
        memory = self.root.find("numatune/memory")
        if memory is None:
            return None
        return NumaTune(memory.get("mode", "strict"), memory.get("nodeset"),
                        memory.get("placement"))

    def _vcpus(self) -> tuple[int | None, int | None]:
        vcpu = self.root.find("vcpu")
        if vcpu is None:
            return None, None
        maximum = _int(vcpu.text)
        current = _int(vcpu.get("current"))
        return (current if current is not None else maximum), maximum

    def _topology(self, max_vcpus: int | None) -> Topology | None:
        topo = self.root.find("cpu/topology")
        if topo is None:
            # Without <topology>, libvirt gives QEMU sockets=N,cores=1,threads=1
            # (corpus: hyperv.xml -> "-smp 6,sockets=6,cores=1,threads=1").
            return None if max_vcpus is None else Topology(max_vcpus, 1, 1)
        return Topology(
            sockets=_int(topo.get("sockets")) or 1,
            cores=_int(topo.get("cores")) or 1,
            threads=_int(topo.get("threads")) or 1,
            dies=_int(topo.get("dies")) or 1,
        )

    def _pinning(self, max_vcpus: int | None) -> dict[int, str]:
        pins: dict[int, str] = {}
        default = self.root.find("vcpu")
        cpuset = None if default is None else default.get("cpuset")
        # Bounded: an absurd <vcpu> count is dropped by ranges.py, never expanded here.
        if cpuset and max_vcpus and 0 < max_vcpus <= MAX_VCPUS:
            pins = dict.fromkeys(range(max_vcpus), cpuset)
        for pin in self.root.findall("cputune/vcpupin"):
            vcpu, pinned = _int(pin.get("vcpu")), pin.get("cpuset")
            if vcpu is not None and pinned:
                pins[vcpu] = pinned
        return pins

    def _cpu(self, arch: str | None) -> CpuConfig:
        cpu = self.root.find("cpu")
        model_elem = None if cpu is None else cpu.find("model")
        model = None if model_elem is None or not model_elem.text else model_elem.text.strip()
        mode = None if cpu is None else cpu.get("mode")
        if mode is None:
            mode = "custom"
        if mode == "custom" and model is None:
            # libvirt's default CPU for an x86 guest without <model> is QEMU's default
            # model (corpus: clock-catchup.x86_64-latest.xml, formatted output, shows
            # <model fallback='forbid'>qemu64</model>); i686 guests get qemu32.
            model = "qemu32" if arch == "i686" else "qemu64"
        features: dict[str, str] = {}
        vendor = None
        if cpu is not None:
            for feat in cpu.findall("feature"):
                name = feat.get("name")
                if name:
                    # libvirt's default policy is "require" (formatdomain.rst, CPU model).
                    features[cpu_feature_name(name)] = feat.get("policy", "require")
            vendor = cpu.findtext("vendor") or (None if model_elem is None
                                                else model_elem.get("vendor_id"))
        migratable = None if cpu is None or cpu.get("migratable") is None \
            else _on(cpu.get("migratable"))
        return CpuConfig(mode=mode, model=model, features=features, vendor=vendor,
                         migratable=migratable)

    def _features(self) -> tuple[HypervConfig | None, bool | None, dict[str, str], bool | None]:
        feats = self.root.find("features")
        if feats is None:
            return None, None, {}, None
        hyperv: HypervConfig | None = None
        kvm_hidden: bool | None = None
        kvm: dict[str, str] = {}
        vmcoreinfo: bool | None = None
        for child in feats:
            if child.tag == "hyperv":
                hyperv = self._hyperv(child)
            elif child.tag == "kvm":
                kvm_hidden, kvm = self._kvm(child)
            elif child.tag == "vmcoreinfo":
                vmcoreinfo = _on(child.get("state"))
            elif child.tag == "msrs":
                # Documented for bhyve only (kvm-causes.md 1.2); kept so a rule can say so.
                kvm["msrs-unknown"] = child.get("unknown", "")
            elif child.tag not in KNOWN_FEATURES:
                self.note("unrecognised", child, f"<features><{child.tag}>")
        return hyperv, kvm_hidden, kvm, vmcoreinfo

    def _hyperv(self, elem: ET.Element) -> HypervConfig:
        features: dict[str, HypervFeature] = {}
        for child in elem:
            name = LIBVIRT_HYPERV.get(child.tag)
            if name is None:
                self.note("unrecognised", child, f"<hyperv><{child.tag}>")
                continue
            state = "on" if _on(child.get("state")) else "off"
            value: int | str | None = None
            if name == "spinlocks" and state == "on":
                value = _int(child.get("retries"))
            elif name == "vendor-id" and state == "on":
                value = child.get("value")
            features[name] = HypervFeature(state, value)
            for sub in child:
                nested = LIBVIRT_HYPERV_NESTED.get((child.tag, sub.tag))
                if nested is None:
                    self.note("unrecognised", sub, f"<hyperv><{child.tag}><{sub.tag}>")
                else:
                    features[nested] = HypervFeature("on" if _on(sub.get("state")) else "off")
        return HypervConfig(mode=elem.get("mode", "custom"), features=features)

    def _kvm(self, elem: ET.Element) -> tuple[bool | None, dict[str, str]]:
        hidden: bool | None = None
        feats: dict[str, str] = {}
        for child in elem:
            if child.tag not in KNOWN_KVM:
                self.note("unrecognised", child, f"<kvm><{child.tag}>")
                continue
            state = "on" if _on(child.get("state")) else "off"
            if child.tag == "hidden":
                hidden = state == "on"
            else:
                feats[child.tag] = state
        return hidden, feats

    def _clock(self) -> ClockConfig | None:
        clock = self.root.find("clock")
        if clock is None:
            return None
        timers: dict[str, Timer] = {}
        for timer in clock.findall("timer"):
            name = timer.get("name", "")
            if name not in KNOWN_TIMERS:
                self.note("unrecognised", timer, f"<timer name='{name}'>")
            present = timer.get("present")
            timers[name] = Timer(
                name=name,
                present=None if present is None else _on(present),
                tickpolicy=timer.get("tickpolicy"),
                frequency=_int(timer.get("frequency")),
            )
        return ClockConfig(offset=clock.get("offset"), start=clock.get("start"), timers=timers)

    def _firmware(self) -> str | None:
        os_elem = self.root.find("os")
        if os_elem is None:
            return None
        if os_elem.get("firmware"):
            return os_elem.get("firmware")
        loader = os_elem.find("loader")
        if loader is not None and loader.get("type") == "pflash":
            return "efi"
        return "bios"

    def _os_hint(self) -> str | None:
        for elem in self.root.iter(f"{LIBOSINFO_NS}os"):
            os_id = elem.get("id", "")
            # libosinfo ids look like http://microsoft.com/win/10 or .../win/2k19.
            if "microsoft.com/win/" in os_id:
                return "win" + os_id.rsplit("/", 1)[-1]
            if os_id:
                return os_id
        return None

    def _qemu_commandline(self, config: VmConfig) -> VmConfig:
        """<qemu:commandline><qemu:arg value='-cpu'/>...: QEMU sees these after libvirt's own
        arguments, so a second -cpu replaces libvirt's (the story VM's fix was made this way)."""
        args = [a.get("value", "") for a in self.root.iter(f"{QEMU_NS}arg")]
        if not args:
            return config
        return qemu_argv.overlay(config, args, f"{self.source} <qemu:commandline>")


def _with_time_and_crash(hyperv: HypervConfig | None, clock: ClockConfig | None,
                         root: ET.Element) -> HypervConfig | None:
    """libvirt turns <timer name='hypervclock' present='yes'/> into hv-time and
    <panic model='hyperv'/> into hv-crash (corpus pairs clock-timer-hyperv-rtc and
    hyperv-panic); both are recorded as Hyper-V features so every source agrees."""
    extra: dict[str, HypervFeature] = {}
    timer = None if clock is None else clock.timers.get("hypervclock")
    if timer is not None and timer.present is not False:
        extra["time"] = HypervFeature("on")
    if any(p.get("model") == "hyperv" for p in root.findall("devices/panic")):
        extra["crash"] = HypervFeature("on")
    if not extra:
        return hyperv
    if hyperv is None:
        return HypervConfig(mode="custom", features=extra)
    return HypervConfig(mode=hyperv.mode, features={**hyperv.features, **extra})
