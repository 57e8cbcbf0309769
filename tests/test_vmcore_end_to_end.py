"""End to end: a synth hung-guest world written as a QEMU vmcore (ELF core and kdump) by
synth/vmcore.py, then `dumptriage analyze FILE --json`: every vCPU as the builder made it.

No test-only container here: the file goes through the real sniffing and the vmcore
containers (dump/containers/vmcore*.py) to the kernel discovery of dump/kernel/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dumptriage.cli import main
from dumptriage.synth import BuiltDump, BuiltVcpu, DumpSpec, hung
from dumptriage.synth.builder import guest_memory
from dumptriage.synth.vmcore import write_elf, write_kdump

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schema" /
                     "report-v1.schema.json").read_text())


def _note_registers(v: BuiltVcpu) -> dict[str, int]:
    names = ("rip", "rsp", "rbp", "rflags", "cr0", "cr3", "cr4", "cs", "ss", "fs",
             "fs_base", "gs_base", "kernel_gs_base", "gdt_base", "gdt_limit", "idt_base",
             "idt_limit", "bits")
    return {name: getattr(v, name) for name in names}


def _analyze(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    assert main(["analyze", "--json", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    report: dict[str, Any] = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    return report


def _check(report: dict[str, Any], built: BuiltDump, states: list[str]) -> None:
    assert report["source"]["kind"] == "vmcore" and report["bugcheck"] is None
    assert report["dump"]["kernel_base"] == f"{built.kernel_base:#x}"
    assert report["dump"]["os"]["build"] == built.spec.build
    assert report["dump"]["directory_table_base"] == f"{built.kernel_dtb:#x}"
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    vcpus = report["vcpus"]
    assert [v["state"] for v in vcpus] == states
    for ours, truth in zip(vcpus, built.vcpus, strict=True):
        assert (ours["index"], ours["rip"], ours["rsp"], ours["cr3"]) == (
            truth.index, f"{truth.rip:#x}", f"{truth.rsp:#x}", f"{truth.cr3:#x}")
        assert ours["if"] == bool(truth.rflags & 0x200)
        assert (ours["kpcr"], ours["thread"]) == (f"{truth.kpcr:#x}", f"{truth.thread:#x}")


WORLDS: list[tuple[Callable[[], DumpSpec], list[str]]] = [
    (hung.hung_x64, ["user", "idle", "spinning", "kernel_thread", "dpc"]),
    (hung.hung_x86_pae, ["interrupt", "spinning", "user", "dpc"]),
]


@pytest.mark.parametrize(("world", "states"), WORLDS, ids=["x64", "x86-pae"])
@pytest.mark.parametrize("container", ["elf", "kdump"])
def test_world_to_vmcore_to_report(world: Callable[[], DumpSpec], states: list[str],
                                   container: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    built, runs, pages = guest_memory(world())
    registers = [_note_registers(v) for v in built.vcpus]
    path = tmp_path / f"vm.{container}"
    writer = write_elf if container == "elf" else write_kdump
    writer(path, runs, registers, pages=pages)
    _check(_analyze(capsys, path), built, states)


def test_a_guest_header_is_used_first(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # virtio-win's FwCfg driver leaves a DUMP_HEADER in the VMCOREINFO note (14A's world
    # writer puts the world's own there). Its kernel base, PsLoadedModuleList and build are
    # taken first, before any heuristic: a world with no KPCRs, no KUSER_SHARED_DATA and a
    # kernel image without a kernel PDB name still gets its kernel and modules.
    from dumptriage.synth import presets
    from dumptriage.synth.vmcore_world import vmcore_from_spec

    path = tmp_path / "hdr.core"
    built, _ = vmcore_from_spec(presets.win10_x64_cpus(), path, guest_header=True)
    report = _analyze(capsys, path)
    assert report["dump"]["kernel_base"] == f"{built.kernel_base:#x}"
    assert report["dump"]["os"]["build"] == 19041
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    codes = {a["code"] for a in report["anomalies"]}
    assert not codes & {"kernel_not_found", "module_list_not_found", "build_not_found"}
    # Without the note the same world gives no kernel: nothing else leads to it there.
    bare = tmp_path / "bare.core"
    vmcore_from_spec(presets.win10_x64_cpus(), bare, guest_header=False)
    assert "kernel_not_found" in {a["code"] for a in _analyze(capsys, bare)["anomalies"]}


def test_a_hung_vmcore_with_its_host_files_concludes(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # The story VM's host files (2 vCPUs, no <hyperv> block) beside a hung x64 world whose
    # vCPU 2 spins with IF=0 in spindrv.sys: the hang rules decide on both sides.
    story = Path(__file__).resolve().parent.parent / "samples" / "win7-x86-clock-watchdog"
    built, runs, pages = guest_memory(hung.hung_x64())
    path = tmp_path / "vm.core"
    write_elf(path, runs, [_note_registers(v) for v in built.vcpus], pages=pages)
    assert main(["analyze", "--json", str(path), "--context", str(story / "vm113.xml"),
                 "--context", str(story / "qemu-vm113.log")]) == 0
    report = json.loads(capsys.readouterr().out)
    found = [f["rule"] for f in report["findings"]]
    assert found[:2] == ["KVM-HANG-DRIVER-IF-OFF", "KVM-HANG-SPIN-NO-HV-SPINLOCKS"]
    assert not any(rule.startswith("KVM-0101") for rule in found)
    assert report["culprit"]["module"] == "spindrv.sys"
    from dumptriage import signature_of

    assert signature_of(report).signature == "hang spindrv"
