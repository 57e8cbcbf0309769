"""KubeVirt common-templates for Windows, rendered with placeholder values, then parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dumptriage.context.kubevirt import parse_kubevirt_yaml
from dumptriage.errors import ContextParseError
from tests.conftest import shared
from tests.context import shape

jinja2 = pytest.importorskip("jinja2", reason="jinja2 (test extra) renders the templates")

CORPUS = shared("corpus/kubevirt")
TEMPLATES = sorted(CORPUS.glob("*.tpl.yaml"))


class _OsInfo(dict[str, Any]):
    """Stands in for the Ansible osinfo lookup the templates call."""

    name = "Microsoft Windows (placeholder)"

    def __missing__(self, key: str) -> int:
        return 4294967296


def _lookup(kind: str, *args: Any) -> Any:
    return _OsInfo() if kind == "osinfo" else ""


def render(path: Path, **item: Any) -> str:
    values = {"workload": "server", "flavor": "medium", "cpus": 2, "memsize": "4Gi",
              "iothreads": False, "emulatorthread": False, "multiqueue": False,
              "tablet": True, "default": True, **item}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(path.read_text()).render(
        item=values, lookup=_lookup, osinfoname="win10")


def test_five_templates() -> None:
    assert [p.name for p in TEMPLATES] == [
        "windows10.tpl.yaml", "windows11.tpl.yaml", "windows2k16.tpl.yaml",
        "windows2k19.tpl.yaml", "windows2k22.tpl.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_template(path: Path) -> None:
    c = parse_kubevirt_yaml(render(path), path.name)
    # Oracle: the templates' features.hyperv block (PR #283) and clock.timer.
    assert shape.hyperv_on(c) == {
        "relaxed": None, "vapic": None, "vpindex": None, "spinlocks": 8191, "synic": None,
        "stimer": None, "stimer-direct": None, "tlbflush": None, "frequencies": None,
        "reenlightenment": None, "ipi": None, "runtime": None, "reset": None, "time": None}
    assert shape.timers(c) == {
        "hpet": (False, None, None), "pit": (True, "delay", None),
        "rtc": (True, "catchup", None), "hypervclock": (True, None, None)}
    assert c.clock is not None and c.clock.offset == "utc"
    cores = 2 if path.name == "windows11.tpl.yaml" else 1
    assert shape.topology(c) == (2, 1, cores, 1)
    assert c.vcpus == 2 * cores
    assert c.firmware == "efi"
    assert c.memory_kib == 4 * 1024 * 1024
    assert c.guest_os_hint == "win" + path.name.removeprefix("windows").split(".")[0]
    assert c.devices is not None
    assert [(d.bus, d.device) for d in c.devices.disks] == [("sata", "disk")]
    assert [n.model for n in c.devices.nics] == ["e1000e"]
    assert c.notes == ()


def test_highperformance_multiqueue() -> None:
    c = parse_kubevirt_yaml(render(CORPUS / "windows10.tpl.yaml", workload="highperformance",
                                   multiqueue=True, cpus=4), "w10")
    assert c.devices is not None
    assert [d.bus for d in c.devices.disks] == ["virtio"]
    assert [(n.model, n.queues) for n in c.devices.nics] == [("virtio", 4)]


def test_vmi_with_unknown_hyperv_field() -> None:
    text = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: vmi1}
spec:
  domain:
    cpu: {cores: 4, model: host-passthrough}
    features:
      hyperv: {relaxed: {}, vapic: {enabled: false}, frobnicate: {}}
      kvm: {hidden: {enabled: true}}
"""
    c = parse_kubevirt_yaml(text, "vmi.yaml")
    assert shape.hyperv_on(c) == {"relaxed": None}
    assert c.hyperv is not None and c.hyperv.features["vapic"].state == "off"
    assert c.kvm_hidden is True
    assert c.cpu is not None and c.cpu.mode == "host-passthrough"
    assert [n.detail for n in c.notes] == ["features.hyperv.frobnicate"]


def test_broken_yaml_has_line() -> None:
    with pytest.raises(ContextParseError) as err:
        parse_kubevirt_yaml("kind: VirtualMachine\nspec: [\n", "bad.yaml")
    assert err.value.line == 3
