"""Which enlightenments may be switched on for which QEMU, libvirt and host CPU.

Versions and dependencies are those of kvm-causes.md 1.2 (libvirt formatdomain "Since",
QEMU hyperv.rst), kept in dumptriage/knowledge/enlightenments.toml.
"""

from __future__ import annotations

import pytest

from dumptriage.fix.select import Versions, catalogue, choose, machine_floor, version_tuple

STORY = Versions(qemu="2.5.0", libvirt="1.3.1")
MINIMAL = ("relaxed", "vapic", "spinlocks", "time")
RECOMMENDED = (*MINIMAL, "vpindex", "runtime", "synic", "stimer")


def test_story_versions_get_the_minimal_set_only() -> None:
    # libvirt 1.3.1 has no vpindex/runtime/synic/stimer elements (1.3.3); QEMU 2.5 no
    # synic/stimer (2.6): the fix that helped the story VM.
    selection = choose("recommended", versions=STORY)
    assert selection.wanted == MINIMAL
    reasons = {o.feature: o.reason for o in selection.left_out}
    assert reasons["vpindex"] == "needs libvirt 1.3.3; the host has libvirt 1.3.1"
    assert reasons["synic"].startswith("needs QEMU 2.6; the VM's QEMU is 2.5.0")
    assert "vpindex (needs libvirt 1.3.3" in reasons["stimer"]
    assert selection.refused == ()


def test_new_versions_get_the_whole_profile() -> None:
    selection = choose("recommended", versions=Versions(qemu="2.6.0", libvirt="1.3.3"))
    assert set(selection.wanted) == set(RECOMMENDED)
    assert selection.left_out == ()
    full = choose("full", versions=Versions(qemu="8.2.2", libvirt="10.0.0"))
    assert {"stimer-direct", "frequencies", "tlbflush", "ipi"} <= set(full.wanted)
    assert "evmcs" not in full.wanted  # hardware-dependent: only when asked by name


def test_dependencies_come_first_and_are_pulled_in() -> None:
    selection = choose(None, ["stimer"], Versions(qemu="9.0", libvirt="10.0"))
    assert selection.wanted == ("time", "vpindex", "synic", "stimer")


def test_a_feature_asked_by_name_is_refused_with_the_reason() -> None:
    selection = choose(None, ["stimer"], STORY)
    assert [o.feature for o in selection.refused] == ["stimer"]
    assert "needs QEMU 2.6" in selection.refused[0].reason


@pytest.mark.parametrize(("vendor", "refused"), [("amd", True), (None, True), ("intel", False)])
def test_evmcs_is_intel_only(vendor: str | None, refused: bool) -> None:
    selection = choose(None, ["evmcs"], Versions(qemu="9.0", libvirt="10.0",
                                                 host_cpu_vendor=vendor))
    assert bool(selection.refused) is refused
    if not refused:
        assert selection.wanted == ("vapic", "evmcs")  # evmcs requires vapic


def test_an_unknown_qemu_is_bounded_by_the_machine_type() -> None:
    selection = choose("recommended", versions=Versions(qemu_floor="2.5", libvirt="9.0"))
    assert "vpindex" in selection.wanted and "synic" not in selection.wanted
    reason = {o.feature: o.reason for o in selection.left_out}["synic"]
    assert "QEMU version is unknown (at least 2.5)" in reason


def test_nothing_known_assumes_qemu_2_0_and_says_so() -> None:
    selection = choose("recommended")
    assert selection.wanted == MINIMAL
    assert selection.notes[0].startswith("QEMU version unknown")
    assert any("libvirt version unknown" in note for note in selection.notes)


def test_unknown_names_raise() -> None:
    with pytest.raises(KeyError):
        choose(None, ["turbo"])


@pytest.mark.parametrize(("machine", "floor"), [
    ("pc-i440fx-2.5", "2.5"), ("pc-q35-8.2", "8.2"), ("pc-q35-8.1+pve0", "8.1"),
    ("pc-i440fx-xenial", "2.5"), ("pc-q35-rhel9.4.0", None), ("pc", None), (None, None)])
def test_machine_floor(machine: str | None, floor: str | None) -> None:
    assert machine_floor(machine) == floor


@pytest.mark.parametrize(("text", "parsed"), [
    ("2.5.0", (2, 5, 0)), ("1:2.5+dfsg-5ubuntu10", (2, 5)),
    ("8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)", (8, 2, 2)), ("", None), (None, None)])
def test_version_tuple(text: str | None, parsed: tuple[int, ...] | None) -> None:
    assert version_tuple(text) == parsed


def test_every_dependency_names_a_catalogue_feature() -> None:
    table = catalogue()
    for feature in table.values():
        assert set(feature.requires) <= set(table), feature.name
        assert feature.libvirt.split("/")[0] in ("features", "clock")
