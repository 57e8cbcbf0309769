"""The builder's Windows kernel world written both ways: as a MEMORY.DMP and as a vmcore.

With the VMCOREINFO guest note (a DumpType 1 header, as virtio-win's FwCfg driver leaves
it: hung-guest-dumps.md section 1.3) the vmcore gives the same build, DirectoryTableBase,
KDBG and module list as the full dump of the same RAM; without it, only the vCPUs.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from dumptriage import analyze, open_dump
from dumptriage.synth import DumpSpec, build, presets
from dumptriage.synth.vmcore import write_elf
from dumptriage.synth.vmcore_world import ram_of, vmcore_from_spec, world_of

# DUMP_HEADER64 (dump-format.md section 1.3): KdDebuggerDataBlock at 0x80, MachineImageType
# at 0x30.
KDBG_BLOCK64, MACHINE64 = 0x80, 0x30


def _hung(spec: DumpSpec, kdbg_va: int) -> DumpSpec:
    """As the driver's header says it: no stop code, Arg1 = the decoded KDBG copy."""
    return dataclasses.replace(spec, bugcheck=(0, (kdbg_va, 0, 0, 0)))


@pytest.fixture(scope="module")
def win10() -> DumpSpec:
    spec = presets.win10_x64_cpus()
    kdbg = build(dataclasses.replace(spec, dump_type=1)).kdbg_va
    return _hung(spec, kdbg)


@pytest.mark.parametrize("fmt", ["elf", "kdump"])
def test_guest_header_gives_the_kernel_world(tmp_path: Path, win10: DumpSpec, fmt: str) -> None:
    core = tmp_path / "vm.core"
    built, _ = vmcore_from_spec(win10, core, fmt=fmt)  # type: ignore[arg-type]
    full = build(dataclasses.replace(win10, dump_type=1))
    dmp = tmp_path / "MEMORY.DMP"
    dmp.write_bytes(full.data or b"")
    with open_dump(core) as vm, open_dump(dmp) as ref:
        assert vm.container.kind == "vmcore"
        assert (vm.info.arch, vm.info.os.build) == ("x64", 19041)
        assert vm.info.directory_table_base == built.dtb == ref.info.directory_table_base
        assert vm.info.ps_loaded_module_list == built.ps_loaded_module_list
        assert vm.info.processors == 3  # the vCPU notes, not the header's count
        assert vm.bugcheck.code == 0 and vm.has_bugcheck is False
        assert vm.kdbg is not None and vm.kdbg.va == built.kdbg_va
        assert vm.kdbg.source == "KdDebuggerDataBlock"
        assert [m.name for m in vm.modules] == [m.name for m in ref.modules]
        assert [m.base for m in vm.modules] == [m.base for m in ref.modules]
        assert len(vm.container.kernel_offer().vcpus) == 3
        for va in (built.kernel_base, built.kdbg_va, built.ps_loaded_module_list):
            assert vm.translate(va) == ref.translate(va)
            assert vm.read_virtual(va, 64) == ref.read_virtual(va, 64)


def test_kdbg_from_the_drivers_arg1(tmp_path: Path, win10: DumpSpec) -> None:
    """KdDebuggerDataBlock still encoded (here: unreadable): the decoded copy at Arg1."""
    built, header, mem = world_of(win10)
    patched = bytearray(header)
    patched[KDBG_BLOCK64 : KDBG_BLOCK64 + 8] = struct.pack("<Q", 0xFFFFF80000001000)
    core = tmp_path / "vm.core"
    runs, pages = ram_of(mem)
    write_elf(core, runs, [{"cr3": built.dtb, "cr0": 0x80000011, "cr4": 0x20}],
              bytes(patched), pages=pages)
    with open_dump(core) as vm:
        assert vm.kdbg is not None and vm.kdbg.source == "BugCheckParameter1"
        assert vm.kdbg.va == built.kdbg_va
        assert len(vm.modules) == len(built.modules)


def test_without_guest_header(tmp_path: Path, win10: DumpSpec) -> None:
    core = tmp_path / "vm.core"
    built, _ = vmcore_from_spec(win10, core, guest_header=False)
    with open_dump(core) as vm:
        assert vm.info.os.build == 0 and vm.kdbg is None and vm.modules == []
        assert vm.info.directory_table_base == built.dtb  # vCPU 0's CR3
        assert vm.read_virtual(built.kernel_base, 2) == b"MZ"
        offer = vm.container.kernel_offer()
        assert [v.rip for v in offer.vcpus][1:] == [c.ip for c in built.cpus][1:]
        assert offer.vcpus[1].gs_base == built.prcb_vas[1] - 0x180
    report = analyze(core)
    assert report.source.kind == "vmcore"
    assert report.dump is not None and report.dump.dump_type == "vmcore_elf"


def test_broken_guest_header_is_ignored(tmp_path: Path, win10: DumpSpec) -> None:
    built, header, mem = world_of(win10)
    bad = bytearray(header)
    bad[MACHINE64 : MACHINE64 + 4] = struct.pack("<I", 0x14C)  # i386 in a DU64 header
    runs, pages = ram_of(mem)
    vcpu = {"cr3": built.dtb, "cr0": 0x80000011, "cr4": 0x20}
    for note, expect in ((bytes(bad), "MachineImageType 0x14c: ignored"),
                         (bytes(header)[:0x1000], "needs 0x2000 bytes"),
                         (b"OSRELEASE=6.1.0\nPAGESIZE=4096\n", None)):  # a Linux guest
        core = tmp_path / "vm.core"
        write_elf(core, runs, [vcpu], note, pages=pages)
        with open_dump(core) as vm:
            assert vm.info.os.build == 0 and vm.kdbg is None
            details = [a.detail for a in vm.anomalies]
            if expect is None:
                assert details == []
            else:
                assert len(details) == 1 and expect in details[0]


def test_x86_pae_world(tmp_path: Path) -> None:
    spec = dataclasses.replace(presets.win7_x86_pae_summary(), memory_mib=128, dump_type=1)
    kdbg = build(spec).kdbg_va
    core = tmp_path / "vm.kdump"
    built, _ = vmcore_from_spec(_hung(spec, kdbg), core, fmt="kdump")
    with open_dump(core) as vm:
        assert (vm.info.arch, vm.info.pae, vm.info.os.build) == ("x86", True, 7601)
        assert vm.kdbg is not None and vm.kdbg.kern_base == built.kernel_base
        assert [m.name for m in vm.modules] == [m.name for m in built.modules]
        assert all(v.bits == 32 for v in vm.container.kernel_offer().vcpus)
