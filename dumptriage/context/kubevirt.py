"""KubeVirt VirtualMachine / VirtualMachineInstance YAML (or a Template/List holding one)
-> VmConfig.

Field names: KubeVirt API ``DomainSpec`` (kubevirt.io/api/core/v1 schema.go): features.hyperv
(``synictimer`` is libvirt's <stimer>, ``vendorid`` its <vendor_id>), clock.timer (``hyperv``
is libvirt's hypervclock), cpu sockets/cores/threads/model/features, devices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from dumptriage.context.names import KUBEVIRT_HYPERV, cpu_feature_name
from dumptriage.errors import ContextParseError
from dumptriage.model.host import (
    ClockConfig,
    CpuConfig,
    Devices,
    Disk,
    HypervConfig,
    HypervFeature,
    Nic,
    Note,
    Timer,
    Topology,
    VmConfig,
)

TIMERS = {"hpet": "hpet", "pit": "pit", "rtc": "rtc", "hyperv": "hypervclock", "kvm": "kvmclock"}
# Kubernetes quantities (k8s.io/apimachinery resource.Quantity).
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FACTOR = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4,
           "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
OS_ANNOTATION = "vm.kubevirt.io/os"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def quantity_kib(value: Any) -> int | None:
    m = _QUANTITY.match(str(value).strip())
    if m is None:
        return None
    return int(float(m[1]) * _FACTOR[m[2]]) // 1024


def _vm_specs(doc: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(vmi spec, metadata of the object that carries the OS annotations)."""
    doc = _dict(doc)
    kind = doc.get("kind")
    if kind in ("Template", "List"):
        for item in doc.get("objects") or doc.get("items") or []:
            yield from _vm_specs(item)
    elif kind == "VirtualMachine":
        template = _dict(_dict(doc.get("spec")).get("template"))
        yield _dict(template.get("spec")), _dict(template.get("metadata"))
    elif kind == "VirtualMachineInstance":
        yield _dict(doc.get("spec")), _dict(doc.get("metadata"))


def _enabled(value: Any) -> bool:
    # An empty object turns a feature on; {enabled: false} turns it off.
    return _dict(value).get("enabled", True) is not False


def _hyperv(spec: Mapping[str, Any], notes: list[Note], where: str) -> HypervConfig | None:
    if not spec:
        return None
    feats: dict[str, HypervFeature] = {}
    for key, value in spec.items():
        name = KUBEVIRT_HYPERV.get(key)
        if name is None:
            notes.append(Note("unrecognised", where, f"features.hyperv.{key}"))
            continue
        state = "on" if _enabled(value) else "off"
        if name == "spinlocks":
            feats[name] = HypervFeature(state, _dict(value).get("spinlocks") if state == "on"
                                        else None)
        elif name == "vendor-id":
            feats[name] = HypervFeature(state, _dict(value).get("vendorid"))
        else:
            feats[name] = HypervFeature(state)
        if name == "stimer" and "direct" in _dict(value):
            direct = _dict(value)["direct"]
            feats["stimer-direct"] = HypervFeature("on" if _enabled(direct) else "off")
    return HypervConfig("custom", feats)


def _clock(spec: Mapping[str, Any]) -> ClockConfig | None:
    if not spec:
        return None
    offset = "utc" if "utc" in spec else ("timezone" if "timezone" in spec else None)
    timers: dict[str, Timer] = {}
    for key, value in _dict(spec.get("timer")).items():
        name = TIMERS.get(key, key)
        opts = _dict(value)
        present = opts.get("present", True)
        policy = opts.get("tickPolicy")
        timers[name] = Timer(name, present=bool(present),
                             tickpolicy=None if policy is None else str(policy))
    return ClockConfig(offset=offset, timers=timers)


def _count(spec: Mapping[str, Any], key: str) -> int:
    try:
        return int(spec.get(key, 1))
    except (TypeError, ValueError):
        raise ValueError(f"cpu.{key}: {spec.get(key)!r} is not a number") from None


def _cpu(spec: Mapping[str, Any]) -> tuple[CpuConfig, Topology, int]:
    sockets, cores, threads = (_count(spec, k) for k in ("sockets", "cores", "threads"))
    model = spec.get("model")
    features = {cpu_feature_name(str(f.get("name"))): str(f.get("policy", "require"))
                for f in spec.get("features") or [] if isinstance(f, dict)}
    if model in (None, "host-model"):
        # KubeVirt's default CPU model is host-model (cluster-wide default).
        cpu = CpuConfig(mode="host-model", features=features)
    elif model == "host-passthrough":
        cpu = CpuConfig(mode="host-passthrough", features=features)
    else:
        cpu = CpuConfig(mode="custom", model=str(model), features=features)
    return cpu, Topology(sockets, cores, threads), sockets * cores * threads


def _devices(spec: Mapping[str, Any], vcpus: int) -> Devices:
    disks = []
    for disk in spec.get("disks") or []:
        disk = _dict(disk)
        kind = next((k for k in ("disk", "cdrom", "lun") if k in disk), "disk")
        disks.append(Disk(target=disk.get("name"), bus=_dict(disk.get(kind)).get("bus"),
                          device=kind, cache=disk.get("cache"), io=disk.get("io")))
    multiqueue = bool(spec.get("networkInterfaceMultiqueue"))
    nics = [
        # KubeVirt's default NIC model is virtio; multiqueue gives one queue per vCPU.
        Nic(str(_dict(i).get("model", "virtio")), vcpus if multiqueue else None,
            _dict(i).get("macAddress"))
        for i in spec.get("interfaces") or []
    ]
    balloon = "none" if spec.get("autoattachMemBalloon") is False else "virtio"
    return Devices(disks=tuple(disks), nics=tuple(nics), balloon=balloon)


def _os_hint(meta: Mapping[str, Any]) -> str | None:
    os_name = _dict(meta.get("annotations")).get(OS_ANNOTATION)
    if not os_name:
        return None
    # "windows11" -> "win11", "windows2k22" -> "win2k22".
    return re.sub(r"^windows", "win", str(os_name))


def _from_spec(spec: dict[str, Any], meta: dict[str, Any], source: str) -> VmConfig:
    domain = _dict(spec.get("domain"))
    notes: list[Note] = []
    features = _dict(domain.get("features"))
    cpu, topology, vcpus = _cpu(_dict(domain.get("cpu")))
    hyperv = _hyperv(_dict(features.get("hyperv")), notes, source)
    clock = _clock(_dict(domain.get("clock")))
    if clock is not None and "hypervclock" in clock.timers and clock.timers["hypervclock"].present:
        feats = {} if hyperv is None else dict(hyperv.features)
        feats["time"] = HypervFeature("on")  # timer.hyperv is hv-time
        hyperv = HypervConfig("custom", feats)
    memory = _dict(domain.get("memory")).get("guest") or \
        _dict(_dict(domain.get("resources")).get("requests")).get("memory")
    firmware = "efi" if "efi" in _dict(_dict(domain.get("firmware")).get("bootloader")) \
        else "bios"
    return VmConfig(
        sources=(source,),
        hypervisor="kvm",
        stack="kubevirt",
        name=meta.get("name"),
        vcpus=vcpus,
        max_vcpus=vcpus,
        topology=topology,
        cpu=cpu,
        hyperv=hyperv,
        kvm_hidden=_dict(_dict(features.get("kvm")).get("hidden")).get("enabled")
        if "kvm" in features else None,
        clock=clock,
        memory_kib=None if memory is None else quantity_kib(memory),
        devices=_devices(_dict(domain.get("devices")), vcpus),
        firmware=firmware,
        guest_os_hint=_os_hint(meta),
        notes=tuple(notes),
    )


def parse_kubevirt_yaml(text: str, source: str | Path) -> VmConfig:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ContextParseError(source, line, f"not valid YAML: {problem}") from err
    specs = [s for doc in docs for s in _vm_specs(doc)]
    if not specs:
        raise ContextParseError(source, None, "no VirtualMachine or VirtualMachineInstance")
    try:
        config = _from_spec(*specs[0], str(source))
    except ValueError as err:
        raise ContextParseError(source, None, str(err)) from err
    if len(specs) > 1:
        config = config.with_(notes=(*config.notes, Note(
            "several-vms", str(source), f"{len(specs)} VMs in the file; the first is used")))
    return config
