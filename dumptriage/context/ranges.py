"""Range checks on the numbers a host-side file gives (vCPUs, topology, memory).

A config file is not a proof: ``cores: 99999999999`` parses as an int, and sockets times
cores would report a 22-digit vCPU count. A value outside what KVM and x86 can run is
dropped (the field becomes unknown) with an ``absurd-value`` note naming the file.
"""

from __future__ import annotations

from dumptriage.model.host import Note, Topology, VmConfig

# Linux arch/x86/include/asm/kvm_host.h: "#define KVM_MAX_VCPUS 4096" (the most any x86
# KVM build accepts; QEMU's q35 machine caps -smp maxcpus at the same 4096).
MAX_VCPUS = 4096
# x86-64 physical addresses are at most 52 bits (MAXPHYADDR <= 52, Intel SDM vol. 3A 4.1.4):
# no guest can have more RAM than 4 PiB.
MAX_MEMORY_KIB = (1 << 52) // 1024


def shown(value: int) -> str:
    """A number for a note: huge ones are cut, so a note never carries 22 digits."""
    text = str(value)
    return text if len(text) <= 12 else f"{text[:6]}...({len(text)} digits)"


def _ok(value: int | None, low: int, high: int) -> bool:
    return value is None or low <= value <= high


def _topology_ok(t: Topology) -> bool:
    return all(1 <= v <= MAX_VCPUS for v in (t.sockets, t.cores, t.threads, t.dies)) and (
        t.total <= MAX_VCPUS)


def check_ranges(config: VmConfig, source: str) -> VmConfig:
    notes: list[Note] = []
    changes: dict[str, object] = {}
    for name in ("vcpus", "max_vcpus"):
        value = getattr(config, name)
        if not _ok(value, 1, MAX_VCPUS):
            notes.append(Note("absurd-value", source, f"{name} {shown(value)} is outside "
                              f"1..{MAX_VCPUS} (KVM_MAX_VCPUS): not used"))
            changes[name] = None
    t = config.topology
    if t is not None and not _topology_ok(t):
        notes.append(Note("absurd-value", source, f"topology {shown(t.sockets)} sockets x "
                          f"{shown(t.dies)} dies x {shown(t.cores)} cores x {shown(t.threads)} "
                          f"threads is outside 1..{MAX_VCPUS} vCPUs: not used"))
        changes["topology"] = None
    if not _ok(config.memory_kib, 1, MAX_MEMORY_KIB):
        assert config.memory_kib is not None
        notes.append(Note("absurd-value", source, f"memory {shown(config.memory_kib)} KiB is "
                          "outside 1 KiB..4 PiB (52-bit physical addresses): not used"))
        changes["memory_kib"] = None
    pins = config.vcpu_pinning
    if any(not 0 <= k < MAX_VCPUS for k in pins):
        notes.append(Note("absurd-value", source, f"vCPU pinning of vCPUs outside "
                          f"0..{MAX_VCPUS - 1}: those entries not used"))
        changes["vcpu_pinning"] = {k: v for k, v in pins.items() if 0 <= k < MAX_VCPUS}
    if not changes:
        return config
    return config.with_(notes=config.notes + tuple(notes), **changes)
