"""What two descriptions of one VM must agree on, in a form a test can compare."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dumptriage.model.host import VmConfig, feature_enabled

# libvirt's <kvm> children default to off, except pv-ipi, which KVM turns on by itself
# (libvirt only writes kvm-pv-ipi=off; corpus kvm-features-off pair).
KVM_DEFAULTS = {"pv-ipi": "on"}
KVM_COMPARED = ("hint-dedicated", "poll-control", "pv-ipi", "dirty-ring")


def hyperv_on(config: VmConfig) -> dict[str, Any]:
    return {} if config.hyperv is None else config.hyperv.enabled_features()


def hyperv_mode(config: VmConfig) -> str:
    return "custom" if config.hyperv is None else config.hyperv.mode


def timers(config: VmConfig) -> dict[str, tuple[Any, ...]]:
    if config.clock is None:
        return {}
    return {
        name: (t.present, t.tickpolicy, t.frequency)
        for name, t in config.clock.timers.items()
    }


def cpu_features(config: VmConfig) -> dict[str, bool]:
    if config.cpu is None:
        return {}
    out = {}
    for name, policy in config.cpu.features.items():
        enabled = feature_enabled(policy)
        if enabled is not None:
            out[name] = enabled
    return out


def kvm(config: VmConfig) -> dict[str, Any]:
    feats = {k: config.kvm_features.get(k, KVM_DEFAULTS.get(k, "off")) for k in KVM_COMPARED}
    return {"hidden": bool(config.kvm_hidden), **feats}


def topology(config: VmConfig) -> tuple[int, int, int, int] | None:
    t = config.topology
    return None if t is None else (t.sockets, t.dies, t.cores, t.threads)


def devices(config: VmConfig) -> dict[str, Any]:
    d = config.devices
    if d is None:
        return {}
    return {
        "balloon": d.balloon,
        "disk_buses": sorted((x.bus or "?", x.device) for x in d.disks),
        "nics": sorted(n.model or "?" for n in d.nics),
        "panic": sorted(d.panic),
    }


def one_vm(paths: Sequence[str | Path], vm: str | None = None) -> VmConfig:
    """The chosen VM's config of ``load_context(paths)`` (failing if none was found)."""
    from dumptriage.context import load_context

    config = load_context(paths).select(vm).config
    assert config is not None
    return config
