"""The normalised view of a VM's virtual hardware: one ``VmConfig`` whatever the source.

Every parser in ``dumptriage.context`` returns a ``VmConfig``; ``merge.py`` folds several
into one. ``VmConfig.to_dict()`` is the report's ``host`` key (documented in issue 5).

Naming conventions, so that a rule can ask one question of every source:

* Hyper-V features use QEMU's property names without the ``hv-`` prefix (``relaxed``,
  ``spinlocks``, ``stimer-direct``, ``tlbflush-ext``, ``vendor-id``, ``time``, ``crash``).
  libvirt's ``<vendor_id>``, ``<stimer><direct/>`` and ``<panic model='hyperv'/>`` and
  KubeVirt's ``synictimer`` are mapped onto them. ``spinlocks`` carries the retry count as
  an int; ``vendor-id`` the string.
* CPU feature names are lower case with ``-`` for ``_`` (QEMU's feat2prop() does the same
  to every ``-cpu`` property, target/i386/cpu.c), so ``lahf_lm`` and ``lahf-lm`` are one.
  The policy is libvirt's word (require/optional/disable/force/forbid) when it came from
  XML, ``on``/``off`` when it came from a command line.
* Timer names are libvirt's (``rtc``, ``pit``, ``hpet``, ``hypervclock``, ``tsc``);
  tick policies are libvirt's (``catchup``, ``delay``, ``discard``, ``merge``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dumptriage.model.anomaly import Anomaly

ON_POLICIES = frozenset({"require", "force", "on"})
OFF_POLICIES = frozenset({"disable", "forbid", "off"})


def feature_enabled(policy: str) -> bool | None:
    """True/False for a definite policy; None for ``optional`` (depends on the host)."""
    if policy in ON_POLICIES:
        return True
    if policy in OFF_POLICIES:
        return False
    return None


# Something a parser noticed but could not (or need not) turn into a field: the same
# typed record as a dump anomaly (code, where, detail), so both render alike.
Note = Anomaly


@dataclass(frozen=True)
class Event:
    """A timestamped line from a log: a panic record, a warning, a shutdown, a migration."""

    time: str | None
    kind: str
    detail: str
    source: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "kind": self.kind,
            "detail": self.detail,
            "source": self.source,
            "line": self.line,
        }


@dataclass(frozen=True)
class Topology:
    sockets: int
    cores: int
    threads: int
    dies: int = 1

    @property
    def total(self) -> int:
        return self.sockets * self.dies * self.cores * self.threads

    def to_dict(self) -> dict[str, Any]:
        return {
            "sockets": self.sockets,
            "dies": self.dies,
            "cores": self.cores,
            "threads": self.threads,
        }


@dataclass(frozen=True)
class CpuConfig:
    """``mode``: custom | host-model | host-passthrough | maximum (libvirt's words)."""

    mode: str | None = None
    model: str | None = None
    features: Mapping[str, str] = field(default_factory=dict)
    vendor: str | None = None
    migratable: bool | None = None
    tsc_frequency: int | None = None

    def enabled(self, name: str) -> bool | None:
        policy = self.features.get(name)
        return None if policy is None else feature_enabled(policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self.model,
            "features": dict(sorted(self.features.items())),
            "vendor": self.vendor,
            "migratable": self.migratable,
            "tsc_frequency": self.tsc_frequency,
        }


@dataclass(frozen=True)
class HypervFeature:
    state: str  # "on" | "off"
    value: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "value": self.value}


@dataclass(frozen=True)
class HypervConfig:
    """``mode``: custom (exactly the listed features), passthrough, host-model."""

    mode: str = "custom"
    features: Mapping[str, HypervFeature] = field(default_factory=dict)

    def is_on(self, name: str) -> bool:
        feat = self.features.get(name)
        return feat is not None and feat.state == "on"

    def enabled_features(self) -> dict[str, int | str | None]:
        return {k: v.value for k, v in self.features.items() if v.state == "on"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "features": {k: v.to_dict() for k, v in sorted(self.features.items())},
        }


@dataclass(frozen=True)
class Timer:
    name: str
    present: bool | None = None
    tickpolicy: str | None = None
    frequency: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"present": self.present, "tickpolicy": self.tickpolicy, "frequency": self.frequency}


@dataclass(frozen=True)
class ClockConfig:
    offset: str | None = None  # utc | localtime | variable | timezone | absolute
    start: str | None = None  # a fixed start date (QEMU -rtc base=DATE, Proxmox startdate)
    timers: Mapping[str, Timer] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "start": self.start,
            "timers": {k: v.to_dict() for k, v in sorted(self.timers.items())},
        }


@dataclass(frozen=True)
class Disk:
    target: str | None
    bus: str | None
    device: str = "disk"  # disk | cdrom | lun
    cache: str | None = None
    io: str | None = None
    error_policy: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "bus": self.bus,
            "device": self.device,
            "cache": self.cache,
            "io": self.io,
            "error_policy": self.error_policy,
            "source": self.source,
        }


@dataclass(frozen=True)
class Nic:
    model: str | None
    queues: int | None = None
    mac: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "queues": self.queues, "mac": self.mac}


@dataclass(frozen=True)
class Devices:
    disks: tuple[Disk, ...] = ()
    controllers: tuple[str, ...] = ()  # "scsi:virtio-scsi", "sata", ...
    nics: tuple[Nic, ...] = ()
    video: tuple[str, ...] = ()
    panic: tuple[str, ...] = ()  # hyperv | isa | pvpanic-pci ...
    balloon: str | None = None  # virtio | none | None (unknown)
    hostdev: tuple[str, ...] = ()
    vmcoreinfo: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "disks": [d.to_dict() for d in self.disks],
            "controllers": list(self.controllers),
            "nics": [n.to_dict() for n in self.nics],
            "video": list(self.video),
            "panic": list(self.panic),
            "balloon": self.balloon,
            "hostdev": list(self.hostdev),
            "vmcoreinfo": self.vmcoreinfo,
        }


@dataclass(frozen=True)
class NumaTune:
    """libvirt ``<numatune><memory mode= nodeset= placement=>``: where guest RAM may live."""

    mode: str | None = None  # strict | preferred | interleave | restrictive
    nodeset: str | None = None
    placement: str | None = None  # static | auto

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "nodeset": self.nodeset, "placement": self.placement}


@dataclass(frozen=True)
class HostFacts:
    """Facts about the host, not the VM: from a host-facts file or collected live."""

    hostname: str | None = None
    pcpus: int | None = None
    cpu_model: str | None = None
    cpu_vendor: str | None = None
    cpu_flags: tuple[str, ...] = ()
    kernel: str | None = None
    kvm_params: Mapping[str, str] = field(default_factory=dict)
    running_vcpus: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "pcpus": self.pcpus,
            "cpu_model": self.cpu_model,
            "cpu_vendor": self.cpu_vendor,
            "cpu_flags": list(self.cpu_flags),
            "kernel": self.kernel,
            "kvm_params": dict(sorted(self.kvm_params.items())),
            "running_vcpus": self.running_vcpus,
        }

    def is_empty(self) -> bool:
        return self == HostFacts()


@dataclass(frozen=True)
class VmConfig:
    """One VM as dumptriage understands it. ``None`` always means "not known"."""

    sources: tuple[str, ...] = ()
    hypervisor: str | None = None  # kvm | tcg | test ... (QEMU accelerator names)
    stack: str | None = None  # libvirt | proxmox | kubevirt | qemu
    name: str | None = None
    uuid: str | None = None
    machine: str | None = None
    qemu_version: str | None = None
    libvirt_version: str | None = None
    vcpus: int | None = None
    max_vcpus: int | None = None
    topology: Topology | None = None
    vcpu_pinning: Mapping[int, str] = field(default_factory=dict)
    cpu: CpuConfig | None = None
    hyperv: HypervConfig | None = None
    kvm_hidden: bool | None = None
    kvm_features: Mapping[str, str] = field(default_factory=dict)
    clock: ClockConfig | None = None
    memory_kib: int | None = None
    hugepages: bool | None = None
    devices: Devices | None = None
    on_crash: str | None = None
    # QEMU "-action panic=pause|shutdown|exit-failure|none" (QEMU 6.0+; the default is
    # shutdown): what QEMU does on a guest panic notification (pvpanic, hv-crash).
    panic_action: str | None = None
    numatune: NumaTune | None = None
    emulator_pinning: str | None = None  # <cputune><emulatorpin cpuset=...>
    iothreads: int | None = None  # <iothreads>N</iothreads>, -object iothread,... count
    firmware: str | None = None  # bios | efi
    guest_os_hint: str | None = None
    events: tuple[Event, ...] = ()
    notes: tuple[Note, ...] = ()
    host: HostFacts | None = None

    def with_(self, **changes: Any) -> VmConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        topo = self.topology
        return {
            "source": list(self.sources),
            "hypervisor": self.hypervisor,
            "stack": self.stack,
            "name": self.name,
            "uuid": self.uuid,
            "machine": self.machine,
            "qemu_version": self.qemu_version,
            "libvirt_version": self.libvirt_version,
            "vcpus": self.vcpus,
            "max_vcpus": self.max_vcpus,
            "topology": None if topo is None else topo.to_dict(),
            "vcpu_pinning": {str(k): v for k, v in sorted(self.vcpu_pinning.items())},
            "cpu": None if self.cpu is None else self.cpu.to_dict(),
            "hyperv": None if self.hyperv is None else self.hyperv.to_dict(),
            "kvm_hidden": self.kvm_hidden,
            "kvm_features": dict(sorted(self.kvm_features.items())),
            "clock": None if self.clock is None else self.clock.to_dict(),
            "memory_kib": self.memory_kib,
            "hugepages": self.hugepages,
            "devices": None if self.devices is None else self.devices.to_dict(),
            "on_crash": self.on_crash,
            "panic_action": self.panic_action,
            "numatune": None if self.numatune is None else self.numatune.to_dict(),
            "emulator_pinning": self.emulator_pinning,
            "iothreads": self.iothreads,
            "firmware": self.firmware,
            "guest_os_hint": self.guest_os_hint,
            "events": [e.to_dict() for e in self.events],
            "notes": [n.to_dict() for n in self.notes],
            "host_facts": None if self.host is None else self.host.to_dict(),
        }
