"""Group host-side sources by VM and choose one: files of two VMs are never merged.

A source names its VM by the domain XML's ``<name>``/``<uuid>``, a QEMU command line's
``-name`` (``guest=NAME,...`` too) or SMBIOS uuid, Proxmox's VMID (``-id N`` on its
command line, ``N.conf`` as its file name), KubeVirt's ``metadata.name``, or, for a QEMU
log that names nothing, libvirt's log file name ``/var/log/libvirt/qemu/NAME.log``.
Sources that share any of those identities are one VM; sources that name none (host
facts, libvirtd.log, collect's notes) are host-wide and join a VM only when the choice
of VM is certain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from dumptriage.context.merge import merge
from dumptriage.errors import ContextParseError
from dumptriage.model.host import Event, Note, VmConfig

PROXMOX_ID = re.compile(r"(?:^|\s)-id\s+'?(\d{1,9})'?(?=\s|$)", re.M)
PROXMOX_CONF = re.compile(r"^(\d{1,9})\.conf$")
QEMU_LOG_NAME = re.compile(r"^(?P<name>[^/]+)\.log$")
# libvirtd names the VM of a line through its log file or its domain:
# "Cannot open log file: '/var/log/libvirt/qemu/vm113.log'", "domain 'vm113'".
LIBVIRTD_VM = re.compile(r"/qemu/(?P<log>[^/'\s]+)\.log\b|domain '(?P<dom>[^']+)'")


@dataclass(frozen=True)
class Parsed:
    """One source as parsed, with the identities it names (``name:X``, ``uuid:X``...)."""

    kind: str
    config: VmConfig
    ids: frozenset[str]


def identity(kind: str, config: VmConfig, text: str, source: str,
             bundle: str | None = None) -> frozenset[str]:
    ids: set[str] = set()
    if config.name:
        ids.add("name:" + config.name)
    if config.uuid:
        ids.add("uuid:" + config.uuid.lower())
    base = PurePath(source.rsplit(":", 1)[-1] if bundle else source).name
    if kind == "proxmox" and (m := PROXMOX_CONF.match(base)):
        ids.add("vmid:" + m[1])
    if kind == "qemu-argv" and (m := PROXMOX_ID.search(text)):
        ids.add("vmid:" + m[1])
    if kind == "qemu-log" and not ids and bundle is None and (m := QEMU_LOG_NAME.match(base)):
        ids.add("name:" + m["name"])
    if bundle is not None:
        ids.add("bundle:" + bundle)
    return frozenset(ids)


@dataclass(frozen=True)
class VmSelection:
    """The VM a report describes: its config (None when nothing usable was found), its
    label, how it was chosen, and the other VMs the host files hold."""

    config: VmConfig | None
    vm: str | None
    reason: str
    others: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostContext:
    """Every VM of the host-side inputs, each its own VmConfig, plus host-wide sources
    (``shared``) and notes about the inputs themselves (skipped files)."""

    vms: Mapping[str, VmConfig] = field(default_factory=dict)
    shared: VmConfig | None = None
    notes: tuple[Note, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # name/uuid/vmid -> label
    inputs: tuple[str, ...] = ()
    # libvirtd.log lines that name a VM are shown with it (the last ``moved[label]``
    # events of that VM); ``shared_whole`` is the host-wide part with them left in place,
    # joined whole when the choice is certain, so its lines keep their file order.
    moved: Mapping[str, int] = field(default_factory=dict)
    shared_whole: VmConfig | None = None

    @property
    def is_empty(self) -> bool:
        """No recognised host-side file at all: nothing may be rendered as a fact."""
        return not self.vms and self.shared is None

    def empty_reason(self) -> str:
        skipped = len(self.notes)
        return ("no recognised host-side file (domain XML, QEMU command line or "
                "log, libvirtd log, Proxmox config, KubeVirt YAML, host facts)"
                + (f"; {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else ""))

    def select(self, vm: str | None = None) -> VmSelection:
        """The VM named ``vm`` (name, UUID or Proxmox VMID), else the one with the most
        sources. Raises ContextParseError for a ``vm`` that no source names."""
        where = ", ".join(self.inputs) or "context"
        if vm is not None:
            label = self._find(vm)
            others = tuple(n for n in self.vms if n != label)
            return self._attach(label, f"--vm {vm}", others, certain=True, where=where)
        if not self.vms:
            if self.shared is None:
                return VmSelection(None, None, f"{where}: {self.empty_reason()}")
            config = self.shared.with_(notes=self.shared.notes + self.notes + (
                Note("no-vm-named", where, "no source names a VM: host-wide facts only"),))
            return VmSelection(config, None, "no source names a VM: host-wide facts only")
        if len(self.vms) == 1:
            (label,) = self.vms
            return self._attach(label, "the only VM in the host files", (), certain=True,
                                where=where)
        ranked = sorted(self.vms, key=lambda n: (-len(self.vms[n].sources), n))
        label, runner_up = ranked[0], ranked[1]
        count = len(self.vms[label].sources)
        tie = count == len(self.vms[runner_up].sources)
        total = sum(len(c.sources) for c in self.vms.values())
        reason = (f"most sources ({count}), tied with {runner_up}: first by name" if tie
                  else f"most sources ({count} of {total})")
        return self._attach(label, reason, tuple(ranked[1:]), certain=False, where=where)

    def _find(self, vm: str) -> str:
        for key in (vm, "name:" + vm, "uuid:" + vm.lower(), "vmid:" + vm):
            if key in self.aliases:
                return self.aliases[key]
        found = ", ".join(self.vms) or "none"
        raise ContextParseError("--vm", None, f"no VM {vm!r} in the host files "
                                f"(VMs found: {found})")

    def _attach(self, label: str, reason: str, others: tuple[str, ...], *, certain: bool,
                where: str) -> VmSelection:
        config = self.vms[label]
        notes = list(self.notes)
        if others:
            listing = "; ".join(f"{n} ({_count(self.vms[n])})" for n in (label, *others))
            notes.append(Note("several-vms", where, f"host files of {len(others) + 1} VMs, "
                              f"each read on its own: {listing}"))
            notes.append(Note("vm-chosen", where, f"{label} chosen: {reason}"
                              + ("" if certain else "; use --vm NAME to choose another")))
        shared = self.shared
        if shared is not None:
            names = ", ".join(shared.sources) or "collect notes"
            if certain:
                notes.append(Note("host-wide-sources", where, f"{names}: tied to no VM, "
                                  f"read as {label}'s ({reason})"))
                if len(self.vms) == 1 and self.shared_whole is not None:
                    moved = self.moved.get(label, 0)
                    own = config.with_(events=config.events[:len(config.events) - moved])
                    config = merge([("vm", own), ("host-wide", self.shared_whole)])
                else:  # lines naming another VM stay that VM's
                    config = merge([("vm", config), ("host-wide", shared)])
            else:
                notes.append(Note("host-wide-sources", where, f"{names}: tied to no VM and "
                                  f"the choice is not certain, so not read as {label}'s"))
        return VmSelection(config.with_(notes=config.notes + tuple(notes)), label, reason,
                           others)


def _count(config: VmConfig) -> str:
    n = len(config.sources)
    return f"{n} source{'s' if n != 1 else ''}"


class _Groups:
    """Union-find over identities: sources sharing any identity are one VM."""

    def __init__(self, items: Sequence[Parsed]):
        self.parent = list(range(len(items)))
        owner: dict[str, int] = {}
        for i, item in enumerate(items):
            for key in sorted(item.ids):
                if key in owner:
                    self.union(owner[key], i)
                else:
                    owner[key] = i

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _label(ids: set[str]) -> str:
    for prefix in ("name:", "vmid:", "uuid:", "bundle:"):
        found = sorted(i[len(prefix):] for i in ids if i.startswith(prefix))
        if found:
            # A bundle's folder is the domain collect was given (BUNDLE:DOMAIN).
            return found[0].rsplit(":", 1)[-1] if prefix == "bundle:" else found[0]
    return "?"


def _split_events(shared: list[Parsed], labels: Mapping[str, str]
                  ) -> tuple[list[Parsed], dict[str, list[Event]]]:
    """libvirtd.log lines that name a known VM go to that VM; the rest stay host-wide."""
    per_vm: dict[str, list[Event]] = {}
    out = []
    for item in shared:
        if item.kind != "libvirtd-log":
            out.append(item)
            continue
        keep = []
        for event in item.config.events:
            m = LIBVIRTD_VM.search(event.detail)
            label = None if m is None else labels.get("name:" + (m["log"] or m["dom"]))
            if label is None:
                keep.append(event)
            else:
                per_vm.setdefault(label, []).append(event)
        out.append(Parsed(item.kind, item.config.with_(events=tuple(keep)), item.ids))
    return out, per_vm


def group(items: Sequence[Parsed], notes: Sequence[Note], inputs: Sequence[str]) -> HostContext:
    named = [p for p in items if p.ids]
    shared = [p for p in items if not p.ids]
    groups = _Groups(named)
    members: dict[int, list[Parsed]] = {}
    for i, item in enumerate(named):
        members.setdefault(groups.find(i), []).append(item)
    vms: dict[str, list[Parsed]] = {}
    aliases: dict[str, str] = {}
    for parts in members.values():
        ids = set().union(*(p.ids for p in parts))
        label = _label(ids)
        while label in vms:  # two VMs that only share a display name (never merged)
            label += "'"
        vms[label] = parts
        aliases.update({i: label for i in ids})
    whole = _merged(shared)
    shared, events = _split_events(shared, aliases)
    configs = {}
    for label in sorted(vms):
        config = merge([(p.kind, p.config) for p in vms[label]])
        if label in events:
            config = config.with_(events=config.events + tuple(events[label]))
        configs[label] = config
    return HostContext(configs, _merged(shared), tuple(notes), aliases, tuple(inputs),
                       {k: len(v) for k, v in events.items()}, whole)


def _merged(items: Sequence[Parsed]) -> VmConfig | None:
    if not any(p.config.sources or p.config.host or p.config.notes or p.config.events
               for p in items):
        return None
    return merge([(p.kind, p.config) for p in items])
