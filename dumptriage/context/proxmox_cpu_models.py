"""Proxmox custom CPU models: ``/etc/pve/virtual-guest/cpu-models.conf``.

A VM config saying ``cpu: custom-NAME`` uses the section ``cpu-model: NAME`` of that file
(Proxmox VE admin guide, "Custom CPU Types"):

    cpu-model: avx
        flags +avx;+avx2
        phys-bits host
        hidden 0
        hv-vendor-id proxmox
        reported-model kvm64

The guest sees ``reported-model`` (default kvm64) with the model's flags, under the VM's
own flags (CPUConfig.pm get_cpu_from_running_vm / print_cpu_device: the VM's ``flags=``
are applied after the custom model's). The file names no VM: it is resolved into every
Proxmox VM of the inputs that uses one of its models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from dumptriage.context.names import cpu_feature_name
from dumptriage.model.host import HypervConfig, HypervFeature, Note, VmConfig

SECTION = re.compile(r"^cpu-model:\s*(\S+)\s*$")
DETECT = re.compile(r"^cpu-model:\s*\S+\s*$", re.M)
MAX_MODELS = 1000

Models = dict[str, dict[str, str]]


def parse_cpu_models(text: str) -> Models:
    models: Models = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = SECTION.match(line)
        if m is not None and len(models) < MAX_MODELS:
            current = models.setdefault(m[1], {})
        elif current is not None and line[:1].isspace():
            key, _, value = line.strip().partition(" ")
            current[key] = value.strip()
    return models


def resolve(config: VmConfig, models: Mapping[str, Mapping[str, str]], source: str
            ) -> VmConfig:
    """``config`` (a Proxmox VM) with its ``custom-NAME`` CPU replaced by the model."""
    cpu = config.cpu
    if cpu is None or cpu.model is None or not cpu.model.startswith("custom-"):
        return config
    name = cpu.model[len("custom-"):]
    model = models.get(name)
    if model is None:
        return config
    features: dict[str, str] = {}
    kvm: dict[str, str] = {}
    hv: dict[str, HypervFeature] = {}
    for flag in model.get("flags", "").split(";"):
        if flag[:1] not in ("+", "-") or len(flag) < 2:
            continue
        feat, state = cpu_feature_name(flag[1:]), "on" if flag[0] == "+" else "off"
        if feat.startswith("kvm-"):
            kvm[feat[4:]] = state
        elif feat.startswith("hv-"):
            hv[feat[3:]] = HypervFeature(state)
        else:
            features[feat] = state
    hyperv = config.hyperv
    vendor = model.get("hv-vendor-id")
    if hyperv is not None and (vendor or hv):
        merged = {**hv, **hyperv.features}
        if vendor and merged.get("vendor-id", HypervFeature("off")).value in (None, "proxmox"):
            merged["vendor-id"] = HypervFeature("on", vendor)
        hyperv = HypervConfig(hyperv.mode, merged)
    reported = model.get("reported-model") or "kvm64"
    detail = (f"{cpu.model}: reported-model {reported}, flags {model.get('flags') or 'none'}"
              + (f", hv-vendor-id {vendor}" if vendor else ""))
    kept = [n for n in config.notes if n.code != "custom-cpu-model"]
    notes = (*kept, Note("custom-cpu-model", source, detail))
    return config.with_(
        sources=(*config.sources, source),
        cpu=replace(cpu, model=reported, features={**features, **cpu.features}),
        # The model's kvm_* flags win over the ones Proxmox adds itself (custom-cpu-model.conf:
        # "warning: CPU flag/setting '-kvm_pv_unhalt' (set by custom CPU model) overwrites
        # '+kvm_pv_unhalt' (set by PVE ...)"); the VM's own cpu flags win over the model's.
        kvm_features={**config.kvm_features, **kvm},
        hyperv=hyperv,
        notes=notes,
    )
