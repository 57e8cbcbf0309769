"""Windows without symbols from a vmcore's memory and vCPUs, against the builder's truth.

The worlds (synth/hung.py) are read through a test-only vmcore container
(tests/vmcore_world.py) that offers what the QEMU ELF/kdump containers will: physical
memory, vCPU registers, no KDBG, no bugcheck, no build. Every expected value below is what
the builder wrote (BuiltDump.vcpus, .modules, .kernel_dtb) or a constant of synth/hung.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dumptriage import analyze
from dumptriage.synth import BuiltDump, DumpSpec, hung
from tests.vmcore_world import Opener, vmcore_opener

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schema" /
                     "report-v1.schema.json").read_text())


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    with vmcore_opener(monkeypatch) as opener:
        yield opener


def _report(make: Opener, tmp_path: Path, spec: DumpSpec) -> tuple[BuiltDump, dict[str, Any]]:
    built, path = make(spec, tmp_path / "vm.core")
    report = analyze(path).to_dict()
    jsonschema.validate(report, SCHEMA)
    return built, report


def _codes(report: dict[str, Any]) -> list[str]:
    return [a["code"] for a in report["anomalies"]]


def _hex(value: int) -> str:
    return f"{value:#x}"


def _with_guest(spec: DumpSpec, **changes: Any) -> DumpSpec:
    assert spec.guest is not None
    return replace(spec, guest=replace(spec.guest, **changes))


def test_x64_kernel_modules_build_and_every_vcpu(make: Opener, tmp_path: Path) -> None:
    built, report = _report(make, tmp_path, hung.hung_x64())
    dump = report["dump"]
    assert report["source"]["kind"] == "vmcore" and report["bugcheck"] is None
    # Kernel base from IDT[0]'s handler scanned back to MZ; build from KUSER_SHARED_DATA.
    assert dump["kernel_base"] == _hex(hung.NT64)
    assert dump["os"]["build"] == 19041 and dump["os"]["product_type"] == "WinNt"
    assert dump["ps_loaded_module_list"] == _hex(hung.NT64 + hung.PSL64_RVA)
    # vCPU 0 holds a KVA-shadow user CR3: the kernel root is vCPU 1's (GS bit 63 set).
    assert dump["directory_table_base"] == _hex(built.kernel_dtb)
    assert built.vcpus[0].cr3 != built.kernel_dtb
    assert _codes(report) == ["paging_root_fallback"]
    # The kernel's identity offline: RSDS PDB id and the image key.
    assert dump["kernel_image_key"] == "5F8A6A7E1046000"
    nt = report["modules"][0]
    assert nt["pdb"] == {"name": "ntkrnlmp.pdb", "guid": "B4C1F7A29E354D08A1C63F2E8D7B5A90",
                         "age": 1}
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    vcpus = report["vcpus"]
    assert [v["state"] for v in vcpus] == ["user", "idle", "spinning", "kernel_thread", "dpc"]
    assert [v["if"] for v in vcpus] == [True, True, False, True, True]
    assert [(v["module"], v["offset"]) for v in vcpus] == [
        (None, None), ("ntoskrnl.exe", _hex(hung.IDLE_RVA + 2)),
        ("spindrv.sys", _hex(hung.SPIN_RIP)), ("ntoskrnl.exe", _hex(hung.WORK_RVA)),
        ("ntoskrnl.exe", _hex(hung.DPC_RVA))]
    # The encoded KDBG decoded with the keys KdCopyDataBlock names: where it lives, and
    # its OffsetPrcbDpcRoutine is what showed vCPU 4 in its DPC.
    assert dump["kd_debugger_data_block"] == _hex(built.kdbg_va)
    for ours, truth in zip(vcpus, built.vcpus, strict=True):
        assert (ours["kpcr"], ours["prcb"], ours["thread"]) == (
            _hex(truth.kpcr), _hex(truth.prcb), _hex(truth.thread))
        assert (ours["rip"], ours["rsp"], ours["cr3"]) == (
            _hex(truth.rip), _hex(truth.rsp), _hex(truth.cr3))
        assert ours["irql"] is None  # x64: CR8 is not in the note
    assert "idle thread" in vcpus[1]["reason"] and "in the idle thread" in vcpus[1]["reason"]
    # The spinning vCPU's stack: .pdata unwinding from spindrv into nt, after its CALL.
    spin = [(f["method"], f["module"], f["offset"]) for f in vcpus[2]["stack"]]
    assert spin[:2] == [("context", "spindrv.sys", _hex(hung.SPIN_RIP)),
                        ("unwind", "ntoskrnl.exe", _hex(hung.RET_INTO_NT))]
    assert vcpus[0]["stack"] == []  # user mode: not walked
    # processors: one per vCPU, from the same KPRCBs.
    assert [(p["prcb"], p["thread"]) for p in report["processors"]] == [
        (_hex(v.prcb), _hex(v.thread)) for v in built.vcpus]
    assert report["stack"] == []  # no crashing thread in a hung guest
    # No bugcheck to blame from: the driver the IF=0 spinning vCPU runs is the culprit.
    assert report["culprit"]["module"] == "spindrv.sys"
    assert "vCPU 2" in report["culprit"]["reason"]


def test_x64_win7_dpc_and_halted_with_interrupts_off(make: Opener, tmp_path: Path) -> None:
    _, report = _report(make, tmp_path, hung.hung_x64_win7())
    # Windows 7 has no KUSER NtBuildNumber: the kernel's FileVersion 6.1.7601.24214 gives it.
    assert report["dump"]["os"]["build"] == 7601
    assert report["dump"]["os"]["nt_version"] == "6.1"
    vcpus = report["vcpus"]
    assert [v["state"] for v in vcpus] == ["dpc", "idle"]
    assert vcpus[0]["module"] == "netkvm.sys" and "DpcRoutineActive" in vcpus[0]["reason"]
    assert vcpus[1]["if"] is False and "cannot wake up" in vcpus[1]["reason"]
    assert _codes(report) == []


def test_x86_pae_kdversionblock_irql_and_ebp_chain(make: Opener, tmp_path: Path) -> None:
    built, report = _report(make, tmp_path, hung.hung_x86_pae())
    dump = report["dump"]
    # KPCR (GDT 0x30) -> KdVersionBlock -> KernBase, PsLoadedModuleList and the build.
    assert (dump["kernel_base"], dump["ps_loaded_module_list"]) == ("0x83c13000", "0x83d5c4d0")
    assert dump["os"]["build"] == 7601 and dump["pae"] is True
    assert dump["arch"] == "x86"
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    vcpus = report["vcpus"]
    assert [v["state"] for v in vcpus] == ["interrupt", "spinning", "user", "dpc"]
    assert [v["irql"] for v in vcpus] == [0x1C, 2, 0, 2]
    assert "DPC stack" in vcpus[3]["reason"]  # KPRCB.DpcStack (ntdiff Win7 x86 0x1908)
    assert [v["kpcr"] for v in vcpus] == [_hex(v.kpcr) for v in built.vcpus]
    assert [v["thread"] for v in vcpus] == [_hex(v.thread) for v in built.vcpus]
    assert vcpus[1]["module"] == "qutmdrv.sys" and "IRQL 2" in vcpus[1]["reason"]
    # EBP chain: [ebp+4] is nt!IofCallDriver+0x63 (the story's return address).
    chain = [(f["method"], f["symbol"]) for f in vcpus[1]["stack"]]
    assert ("frame_pointer", "nt!IofCallDriver+0x63") in chain
    assert report["culprit"]["module"] == "qutmdrv.sys"
    assert _codes(report) == []


def test_the_world_has_no_plain_kdbg(make: Opener, tmp_path: Path) -> None:
    built, _ = _report(make, tmp_path, hung.hung_x64())
    assert built.path is not None and b"KDBG" not in built.path.read_bytes()


def test_nothing_needs_the_kdbg(make: Opener, tmp_path: Path) -> None:
    # Scrambled beyond any key: everything but the DPC (whose KPRCB offset on this build
    # only the KDBG gives) comes out the same, with no anomaly about it.
    built, report = _report(make, tmp_path, _with_guest(hung.hung_x64(), kdbg="scrambled"))
    assert [v["state"] for v in report["vcpus"]] == [
        "user", "idle", "spinning", "kernel_thread", "kernel_thread"]
    assert report["dump"]["kd_debugger_data_block"] is None
    assert report["dump"]["kernel_base"] == _hex(hung.NT64)
    assert [m["name"] for m in report["modules"]] == [m.name for m in built.modules]
    assert _codes(report) == ["paging_root_fallback"]


def test_broken_self_pointer_is_an_anomaly(make: Opener, tmp_path: Path) -> None:
    spec = hung.hung_x64()
    assert spec.guest is not None
    vcpus = list(spec.guest.vcpus)
    vcpus[3] = replace(vcpus[3], break_kpcr=True)
    _, report = _report(make, tmp_path, _with_guest(spec, vcpus=tuple(vcpus)))
    assert "kpcr_invalid" in _codes(report)
    bad = report["vcpus"][3]
    assert (bad["kpcr"], bad["prcb"], bad["thread"]) == (None, None, None)
    assert bad["state"] == "kernel_thread"  # the code at RIP still tells
    assert report["vcpus"][2]["state"] == "spinning"


def test_idt_pointing_nowhere_falls_back_to_a_kernel_rip(make: Opener, tmp_path: Path) -> None:
    _, report = _report(make, tmp_path, _with_guest(hung.hung_x64(), idt_handler_rva=None))
    assert report["dump"]["kernel_base"] == _hex(hung.NT64)  # from vCPU 1's RIP in nt
    assert "kernel_not_found" not in _codes(report)


def test_no_kernel_found_still_reports_every_vcpu(make: Opener, tmp_path: Path) -> None:
    spec = _with_guest(hung.hung_x64_win7(), idt_handler_rva=None)
    guest = spec.guest
    assert guest is not None
    # Both vCPUs outside the kernel image: nothing leads to it.
    vcpus = (guest.vcpus[0], replace(guest.vcpus[1], rip=hung.NETKVM + 0x3002))
    _, report = _report(make, tmp_path, replace(spec, guest=replace(guest, vcpus=vcpus)))
    codes = _codes(report)
    assert "kernel_not_found" in codes and "build_not_found" in codes
    assert report["modules"] == [] and report["dump"]["kernel_base"] is None
    assert [v["module"] for v in report["vcpus"]] == [None, None]
    assert report["vcpus"][1]["state"] == "idle"  # cli; hlt is still in memory


def test_missing_pages_give_anomalies_and_unknown_state(make: Opener, tmp_path: Path) -> None:
    spec = hung.hung_x64()
    built_first, _ = _report(make, tmp_path, spec)
    kpcr3 = built_first.vcpus[3].kpcr
    dropped = _with_guest(spec, drop_pages=(hung.SPINDRV + hung.SPIN_RIP, kpcr3))
    _, report = _report(make, tmp_path, dropped)
    assert "kpcr_invalid" in _codes(report)
    detail = next(a["detail"] for a in report["anomalies"] if a["code"] == "kpcr_invalid")
    assert "not in the dump" in detail
    spinner = report["vcpus"][2]
    assert spinner["state"] == "unknown" and "not in the dump" in spinner["reason"]
    assert spinner["module"] == "spindrv.sys"  # the module list still places RIP


def test_x86_broken_gdt_entry(make: Opener, tmp_path: Path) -> None:
    spec = hung.hung_x86_pae()
    assert spec.guest is not None
    vcpus = (replace(spec.guest.vcpus[0], break_kpcr=True), *spec.guest.vcpus[1:])
    _, report = _report(make, tmp_path, _with_guest(spec, vcpus=vcpus))
    assert _codes(report) == ["kpcr_invalid"]
    assert report["vcpus"][0]["irql"] is None and report["vcpus"][0]["state"] == "kernel_thread"
    # KdVersionBlock is still reached through vCPU 1's KPCR.
    assert report["dump"]["kernel_base"] == "0x83c13000"


def test_ordinary_dumps_get_no_vcpus(tmp_path: Path) -> None:
    from dumptriage.synth import build, presets

    path = tmp_path / "MEMORY.DMP"
    path.write_bytes(build(presets.win10_x64_cpus()).data or b"")
    report = analyze(path).to_dict()
    assert report["vcpus"] == [] and report["source"]["kind"] == "kernel_dump"
    assert "kernel_image_key" not in report["dump"]



def test_crash_dumps_import_none_of_the_vmcore_code() -> None:
    # The open path stays as cheap as before (bench/, model/record.py): discovery, the
    # vCPU classifier and its renderer load only for a dump that offers vCPUs.
    import subprocess
    import sys

    sample = Path(__file__).resolve().parents[2] / "samples" / "win10-x64-full" / "MEMORY.DMP"
    probe = (
        "import sys\n"
        "from dumptriage import analyze\n"
        "from dumptriage.render.text import render_text\n"
        f"render_text(analyze({str(sample)!r}))\n"
        "names = ('discovery', 'guest_paging', 'kernel_image', 'kpcr', 'vcpu_state',\n"
        "         'vcpus', 'guest_info', 'vcpu_text')\n"
        "print(sorted(m for m in sys.modules if m.rsplit('.', 1)[-1] in names))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_x86_without_pae_uses_two_level_paging(make: Opener, tmp_path: Path) -> None:
    # CR4.PAE clear: the same world through 2-level page tables (hung-guest-dumps.md 2.1).
    built, report = _report(make, tmp_path, replace(hung.hung_x86_pae(), pae=False))
    assert not built.vcpus[0].cr4 & 0x20
    assert report["dump"]["pae"] is False and report["dump"]["kernel_base"] == "0x83c13000"
    assert [v["state"] for v in report["vcpus"]] == ["interrupt", "spinning", "user", "dpc"]
    assert _codes(report) == []


def test_anomalies_come_in_one_order_whatever_is_read_first(make: Opener,
                                                            tmp_path: Path) -> None:
    from dumptriage.dump.crash_dump import open_dump

    spec = _with_guest(hung.hung_x64(), idt_handler_rva=None, kdbg="scrambled",
                       drop_pages=(hung.SPINDRV + hung.SPIN_RIP,))
    _, path = make(spec, tmp_path / "vm.core")
    with open_dump(path) as dump:
        _ = dump.vcpus, dump.processors
        first = dump.all_anomalies()
    with open_dump(path) as dump:
        second = dump.all_anomalies()
        assert dump.vcpus[2].state == "unknown"
    assert first == second and first[0].code == "paging_root_fallback"


def test_a_vcpu_still_in_firmware_is_unknown_without_a_kpcr_anomaly(make: Opener,
                                                                   tmp_path: Path) -> None:
    # An AP that Windows never started sits in real mode (hung-guest-dumps.md 4.1): CR0.PE
    # and PG clear, CS 0xF000-ish. It has no KPCR to look for.
    built = make(hung.hung_x64_win7(), tmp_path / "fw.core")[0]
    from dumptriage.dump.crash_dump import CrashDump
    from tests.vmcore_world import SynthVmcore

    assert built.path is not None
    reset = replace(built.vcpus[1], cr0=0x60000010, cr3=0, cs=0xF000, rip=0xFFF0,
                    gs_base=0, kernel_gs_base=0)
    world = replace(built, vcpus=(built.vcpus[0], reset))
    with CrashDump(SynthVmcore(str(built.path), world)) as dump:
        states = [v.state for v in dump.vcpus]
        codes = [a.code for a in dump.all_anomalies()]
    assert states == ["dpc", "unknown"]
    assert "kpcr_invalid" not in codes
