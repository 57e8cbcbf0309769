"""Fold several VmConfigs (one per file) into one.

Precedence, most trusted first: a live command line (``ps``: what is running now), a
configuration (domain XML, Proxmox, KubeVirt: what will run next), the command line in a
QEMU log (what ran at the last start), then everything else. Each field takes its value
from the most trusted source that has one; events, notes and sources are concatenated.
When two sources disagree on the CPU or the Hyper-V set, a note says so: that is often
the finding (an edited XML not yet restarted, a <qemu:commandline> override).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace

from dumptriage.model.host import HostFacts, Note, VmConfig

PRIORITY = {"qemu-argv": 0, "libvirt-xml": 1, "proxmox": 1, "kubevirt": 1, "qemu-log": 2}
_LISTS = ("sources", "events", "notes")


def _merge_host(hosts: Sequence[HostFacts]) -> HostFacts | None:
    if not hosts:
        return None
    out = HostFacts()
    for host in hosts:
        for f in fields(HostFacts):
            mine, theirs = getattr(out, f.name), getattr(host, f.name)
            if mine in (None, (), {}) and theirs not in (None, (), {}):
                out = replace(out, **{f.name: getattr(host, f.name)})
    return out


def _hv_list(config: VmConfig) -> str:
    return "" if config.hyperv is None else ",".join(sorted(config.hyperv.enabled_features()))


def _disagreements(ranked: Sequence[VmConfig]) -> list[Note]:
    notes = []
    cpus = {(c.cpu.mode, c.cpu.model) for c in ranked if c.cpu is not None}
    if len(cpus) > 1:
        notes.append(Note("sources-disagree", "cpu",
                          "CPU differs between sources: " + "; ".join(
                              f"{c.sources[0]}: {c.cpu.mode} {c.cpu.model or ''}".rstrip()
                              for c in ranked if c.cpu is not None)))
    stacks = [c for c in ranked if c.stack is not None and c.cpu is not None]
    hv_sets = {_hv_list(c) for c in stacks}
    if len(hv_sets) > 1:
        notes.append(Note("sources-disagree", "hyperv",
                          "Hyper-V features differ between sources: " + "; ".join(
                              f"{c.sources[0]}: {_hv_list(c) or 'none'}" for c in stacks)))
    return notes


def merge(configs: Sequence[tuple[str, VmConfig]]) -> VmConfig:
    """``configs``: (kind, config) pairs in the order the user gave them."""
    if not configs:
        return VmConfig()
    ranked = [c for _, c in sorted(configs, key=lambda kc: PRIORITY.get(kc[0], 3))]
    out = VmConfig()
    for f in fields(VmConfig):
        if f.name in _LISTS or f.name == "host":
            continue
        for config in ranked:
            value = getattr(config, f.name)
            if value not in (None, {}, ()):
                out = replace(out, **{f.name: value})
                break
    # Events keep file order: lines without a timestamp (QEMU warnings) only make sense
    # next to their neighbours, and timestamp formats differ between sources.
    events = [e for _, c in configs for e in c.events]
    return replace(
        out,
        sources=tuple(s for _, c in configs for s in c.sources),
        events=tuple(events),
        notes=tuple(n for _, c in configs for n in c.notes) + tuple(_disagreements(ranked)),
        host=_merge_host([c.host for _, c in configs if c.host is not None]),
    )
