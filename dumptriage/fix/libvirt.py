"""Switch Hyper-V enlightenments on in a libvirt domain XML, touching nothing else.

Each wanted feature (fix/select.py) is an element path from enlightenments.toml. A present
element gets its attributes set; a missing one is inserted, and so are missing parents
(``<features>``, ``<hyperv>``, ``<clock>``). ``<hyperv mode='passthrough'>`` already turns on
everything KVM has (libvirt 8.0+), so nothing is added under it. Features the host cannot
run (evmcs on AMD: Windows does not start, Proxmox commit 71a1e568) are removed, and so is
anything that requires a removed feature, because QEMU refuses to start without it.

The result is parsed again with the domain reader: a patched file that does not read back
with every wanted feature on is a bug, raised as such rather than written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.errors import FixRefused
from dumptriage.fix.plan import Change, FixResult
from dumptriage.fix.select import Feature, Selection, catalogue
from dumptriage.fix.xmltext import Document
from dumptriage.model.host import VmConfig

# Where a missing top-level element goes: after the first of these that exists (libvirt's
# own formatter order, virDomainDefFormat), else at the end of <domain>.
PLACE_AFTER = {"features": ("os",), "clock": ("cpu", "features", "os")}
# libvirt wants at least 4095 spinlock retries (formatdomain, hypervisor features).
MIN_RETRIES = 4095


def _dependents(names: Iterable[str], table: Mapping[str, Feature]) -> list[str]:
    gone = set(names)
    changed = True
    while changed:
        changed = False
        for name, feature in table.items():
            if name not in gone and gone & set(feature.requires):
                gone.add(name)
                changed = True
    return [name for name in table if name in gone]


class _Patcher:
    def __init__(self, data: bytes, source: str):
        self.doc = Document(data, source)
        self.changes: list[Change] = []
        self.unchanged: list[str] = []

    def ensure(self, feature: Feature) -> None:
        steps = feature.libvirt.split("/")
        parent = self._ensure_parents(steps[:-1])
        tag, _, pin = steps[-1].partition("@")
        attrs = dict(feature.attrs)
        index = self.doc.find(feature.libvirt)
        if index is None:
            pinned = dict([pin.split("=", 1)]) if pin else {}
            markup = self.doc.element(tag, {**pinned, **attrs})
            self.doc.insert_child(parent, markup)
            self.changes.append(Change(feature.name, "add", markup))
            return
        wrong = {k: v for k, v in attrs.items() if not self._fine(feature, index, k, v)}
        if not wrong:
            self.unchanged.append(feature.name)
            return
        self.doc.set_attrs(index, wrong)
        detail = " ".join(f"{k}='{v}'" for k, v in wrong.items())
        action = "turn on" if {"state", "present"} & set(wrong) else "set"
        self.changes.append(Change(feature.name, action, f"<{tag} {detail}>"))

    def _fine(self, feature: Feature, index: int, name: str, want: str) -> bool:
        have = self.doc.attr(index, name)
        if feature.name == "spinlocks" and name == "retries" and have and have.isdigit():
            return int(have) >= MIN_RETRIES  # the user's own count stands if libvirt takes it
        if name in ("state", "present") and have is not None:
            return (have in ("on", "yes")) == (want in ("on", "yes"))
        return have == want

    def _ensure_parents(self, steps: list[str]) -> int:
        current = 0
        for depth in range(len(steps)):
            path = "/".join(steps[:depth + 1])
            found = self.doc.find(path)
            if found is None:
                self._insert(current, steps[depth], f"<{steps[depth]}></{steps[depth]}>")
                self.changes.append(Change(steps[depth], "add", f"<{steps[depth]}>"))
                found = self.doc.find(path)
                assert found is not None
            current = found
        return current

    def _insert(self, parent: int, tag: str, markup: str) -> None:
        if parent == 0:
            for sibling in PLACE_AFTER.get(tag, ()):
                index = self.doc.find(sibling)
                if index is not None:
                    self.doc.insert_after(index, markup)
                    return
        self.doc.insert_child(parent, markup)

    def remove(self, feature: Feature, reason: str) -> None:
        index = self.doc.find(feature.libvirt)
        if index is not None:
            self.doc.remove(index)
            self.changes.append(Change(feature.name, "remove", reason))


def fix_domain_xml(data: bytes, source: str, selection: Selection,
                   remove: Mapping[str, str] | None = None,
                   domain: str | None = None) -> FixResult:
    """Apply ``selection`` to the domain XML ``data``; ``remove`` maps a feature to why."""
    table = catalogue()
    before = parse_domain_xml(data, source)
    patcher = _Patcher(data, source)
    notes = list(selection.notes)
    passthrough = before.hyperv is not None and before.hyperv.mode == "passthrough"
    removing = _dependents((remove or {}).keys(), table)
    for name in removing:
        why = (remove or {}).get(name) or "requires a feature removed here"
        patcher.remove(table[name], why)
    for name in selection.wanted:
        if name in removing:
            continue
        if passthrough:  # hv-passthrough also turns on hv-time
            patcher.unchanged.append(name)
            continue
        patcher.ensure(table[name])
    if passthrough:
        notes.append("<hyperv mode='passthrough'> already turns on every enlightenment KVM "
                     "supports; nothing was added")
    patched = patcher.doc.data
    _check(patched, source, selection, removing, passthrough)
    name = domain or before.name or "DOMAIN"
    return FixResult(source=source, platform="libvirt", original=data.decode("utf-8"),
                     patched=patched.decode("utf-8"), changes=tuple(patcher.changes),
                     unchanged=tuple(patcher.unchanged), left_out=selection.left_out,
                     notes=tuple(notes), commands=_virt_xml(name, patcher.changes, table,
                                                       _timer_count(before)))


def _timer_count(config: VmConfig) -> int:
    return 0 if config.clock is None else len(config.clock.timers)


def _check(patched: bytes, source: str, selection: Selection, removed: list[str],
           passthrough: bool) -> None:
    after = parse_domain_xml(patched, source)
    hyperv = after.hyperv
    missing = [n for n in selection.wanted if n not in removed
               and not (hyperv is not None and (hyperv.is_on(n) or passthrough))]
    still = [n for n in removed if hyperv is not None and hyperv.is_on(n)]
    if missing or still:
        raise FixRefused(source, f"the patched XML does not read back as intended "
                       f"(not on: {', '.join(missing) or '-'}; not removed: "
                       f"{', '.join(still) or '-'}); nothing was written")


def _virt_xml(domain: str, changes: Iterable[Change], table: Mapping[str, Feature],
              timers: int) -> tuple[str, ...]:
    """The same edit as a virt-xml command (virt-manager's CLI: --features hyperv.X.state,
    --clock timerN.name; N is the timer's position, so a new timer gets the next one)."""
    features: list[str] = []
    clock: list[str] = []
    for change in changes:
        feature = table.get(change.feature)
        if feature is None or change.action == "remove":
            continue
        path = feature.libvirt.split("/")
        if path[0] == "clock":
            index = timers
            clock.append(f"timer{index}.name=hypervclock,timer{index}.present=yes")
            continue
        dotted = ".".join(path[1:])
        features += [f"{dotted}.{k}={v}" for k, v in feature.attrs]
    removed = [c.feature for c in changes if c.action == "remove" and c.feature in table]
    features += [f"hyperv.{table[n].libvirt.split('/')[-1]}.state=off" for n in removed]
    if not features and not clock:
        return ()
    parts = [f"virt-xml {domain} --edit"]
    if features:
        parts.append("--features " + ",".join(features))
    if clock:
        parts.append("--clock " + ",".join(clock))
    return (" ".join(parts),)
