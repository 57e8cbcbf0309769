"""Which Hyper-V enlightenments a fix may switch on for one VM, and why others stay off.

The wish (a profile plus the user's ``--add``) is closed over QEMU's dependencies, then
every feature is checked against what the VM's QEMU and libvirt accept and what its host
CPU can run. A feature the user asked for by name that cannot be had is *refused* (the
command stops and says why); one that only came with a profile is *left out* with the
reason, and so is everything that depends on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from dumptriage.model.record import Record, replace

PROFILES = ("minimal", "recommended", "full")


class Feature(Record):
    name: str
    libvirt: str
    attrs: tuple[tuple[str, str], ...]
    libvirt_since: str
    qemu_since: str
    requires: tuple[str, ...]
    vendor: str | None
    profiles: tuple[str, ...]
    why: str


class Versions(Record):
    """What is known of the VM's software. ``qemu_floor`` is a lower bound only: the
    version in a machine type like pc-i440fx-2.5, which that QEMU and later ones offer."""

    qemu: str | None = None
    libvirt: str | None = None
    qemu_floor: str | None = None
    host_cpu_vendor: str | None = None  # intel | amd


class Omission(Record):
    feature: str
    reason: str


class Selection(Record):
    wanted: tuple[str, ...]  # in catalogue order, dependencies first
    left_out: tuple[Omission, ...]
    refused: tuple[Omission, ...]
    notes: tuple[str, ...]


@cache
def catalogue() -> dict[str, Feature]:
    import tomllib

    text = resources.files("dumptriage.knowledge").joinpath("enlightenments.toml").read_text()
    table: dict[str, Any] = tomllib.loads(text)
    return {name: _feature(name, entry) for name, entry in table.items()}


def _feature(name: str, entry: Mapping[str, Any]) -> Feature:
    return Feature(name=name, libvirt=entry["libvirt"],
                   attrs=tuple(entry["attrs"].items()), libvirt_since=entry["libvirt_since"],
                   qemu_since=entry["qemu_since"], requires=tuple(entry.get("requires", ())),
                   vendor=entry.get("vendor"), profiles=tuple(entry["profiles"]),
                   why=entry["why"])


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``2.5.0``, ``1:2.5+dfsg-5ubuntu10`` or ``8.2.2 (Debian ...)`` -> (2, 5, 0)."""
    if not text:
        return None
    found = re.search(r"(?<![\d.])(\d+(?:\.\d+)+)", text.split(":", 1)[-1])
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


# Ubuntu's own machine types (pc-i440fx-xenial, pc-q35-jammy ...) are aliases of the
# upstream machine of the QEMU that release shipped: 14.04 QEMU 2.0, 16.04 2.5, 18.04 2.11,
# 20.04 4.2, 22.04 6.2, 24.04 8.2 (Ubuntu qemu package, define-ubuntu-machine-types.patch).
UBUNTU_MACHINES = {"trusty": "2.0", "xenial": "2.5", "bionic": "2.11", "focal": "4.2",
                   "jammy": "6.2", "noble": "8.2"}
# With no version and no versioned machine type at all, assume the QEMU that brought
# hv-time (2.0, 2014): the minimal profile then stays possible, and the report says so.
ASSUMED_QEMU = "2.0"


def machine_floor(machine: str | None) -> str | None:
    """pc-i440fx-2.5, pc-q35-8.2+pve0, pc-i440fx-xenial; RHEL's pc-q35-rhel9.4.0 numbers
    are RHEL releases, not QEMU versions: None."""
    if not machine or "rhel" in machine:
        return None
    found = re.search(r"-(\d+\.\d+)(?:\+pve\d+)?$", machine)
    if found:
        return found.group(1)
    return UBUNTU_MACHINES.get(machine.rsplit("-", 1)[-1])


def _closure(names: Iterable[str], table: Mapping[str, Feature]) -> list[str]:
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name not in seen:
            seen.add(name)
            for dep in table[name].requires:
                visit(dep)

    for name in names:
        visit(name)
    return [name for name in table if name in seen]  # catalogue order: deps come first


def _version_problem(feature: Feature, versions: Versions) -> str | None:
    need_qemu = version_tuple(feature.qemu_since)
    have = version_tuple(versions.qemu)
    if have is not None and need_qemu is not None and have < need_qemu:
        return f"needs QEMU {feature.qemu_since}; the VM's QEMU is {versions.qemu}"
    if have is None and need_qemu is not None:
        floor = version_tuple(versions.qemu_floor)
        if floor is None or floor < need_qemu:
            return (f"needs QEMU {feature.qemu_since}; the VM's QEMU version is unknown "
                    f"(at least {versions.qemu_floor}): give the QEMU log or --qemu-version")
    lib = version_tuple(versions.libvirt)
    need_lib = version_tuple(feature.libvirt_since)
    if lib is not None and need_lib is not None and lib < need_lib:
        return f"needs libvirt {feature.libvirt_since}; the host has libvirt {versions.libvirt}"
    return None


def _vendor_problem(feature: Feature, versions: Versions) -> str | None:
    if feature.vendor is None:
        return None
    vendor = versions.host_cpu_vendor
    if vendor is None:
        return f"{feature.vendor.capitalize()} hosts only, and the host CPU is unknown: " \
               "give --host-cpu or the host's /proc/cpuinfo"
    if vendor != feature.vendor:
        return f"{feature.vendor.capitalize()} hosts only; this host is {vendor.upper()}"
    return None


def choose(profile: str | None, add: Iterable[str] = (), versions: Versions | None = None,
           table: Mapping[str, Feature] | None = None) -> Selection:
    table = catalogue() if table is None else table
    versions = Versions() if versions is None else versions
    assumed = versions.qemu is None and versions.qemu_floor is None
    if assumed:
        versions = replace(versions, qemu_floor=ASSUMED_QEMU)
    asked = list(add)
    unknown = [name for name in asked if name not in table]
    if unknown:
        raise KeyError(", ".join(unknown))
    base = [name for name, f in table.items() if profile in f.profiles]
    wanted: list[str] = []
    blocked: dict[str, list[tuple[str, str]]] = {}  # name -> the (feature, reason) behind it
    for name in _closure([*base, *asked], table):
        feature = table[name]
        roots = [root for dep in feature.requires if dep in blocked for root in blocked[dep]]
        problem = _version_problem(feature, versions) or _vendor_problem(feature, versions)
        if problem is not None:
            roots.insert(0, (name, problem))
        if roots:
            blocked[name] = list(dict.fromkeys(roots))
        else:
            wanted.append(name)
    left_out: list[Omission] = []
    refused: list[Omission] = []
    for name, roots in blocked.items():
        parts = [why for root, why in roots if root == name]
        deps = [f"{root} ({why})" for root, why in roots if root != name]
        if deps:
            parts.append("needs " + "; ".join(deps))
        reason = "; and ".join(parts)
        (refused if name in asked else left_out).append(Omission(name, reason))
    notes = _notes(versions, [table[n] for n in wanted])
    if assumed:
        notes = (f"QEMU version unknown (no QEMU log, no versioned machine type): assumed "
                 f"{ASSUMED_QEMU} or later", *notes)
    return Selection(tuple(wanted), tuple(left_out), tuple(refused), notes)


def _notes(versions: Versions, wanted: list[Feature]) -> tuple[str, ...]:
    if versions.libvirt is not None or not wanted:
        return ()
    newest = max(wanted, key=lambda f: version_tuple(f.libvirt_since) or ())
    return (f"libvirt version unknown: this needs libvirt {newest.libvirt_since} or later "
            f"({newest.name}); an older libvirt refuses the edit when it is defined, and the "
            "VM keeps its old configuration",)
