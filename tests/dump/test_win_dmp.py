"""``virsh dump --format win-dmp`` (QMP dump-guest-memory win-dmp) and elf2dmp output.

Both write a DumpType 1 PAGEDU64 full dump (hung-guest-dumps.md section 5.1; QEMU
dump/win_dump.c ``create_win_dump``, ``patch_header``, ``patch_bugcheck_data``,
``check_kdbg``, ``patch_and_save_context``, ``write_runs``; contrib/elf2dmp): the guest
driver's header (the VMCOREINFO note's desc, which must be exactly 0x2000 bytes), in which
QEMU sets
RequiredDumpSpace, the stop code (0x161 LIVE_SYSTEM_DUMP when the guest has not
crashed, arguments from KiBugcheckData) and, when the block there is encoded,
KdDebuggerDataBlock = the driver's decoded copy; then every run's pages in run order; each
CPU's registers are written into its KPRCB's Context. elf2dmp leaves the header's
ContextRecord zero and writes the comment "Hello from elf2dmp!". The reader's full-dump
container opens such files unchanged; this pins it on files of that shape, written from
the same synthetic kernel world as the vmcores, offsets from synth/layout.py HEADER64.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from dumptriage import analyze, open_dump
from dumptriage.synth import build, presets
from dumptriage.synth.vmcore_world import vmcore_from_spec

CONTEXT_RECORD64, CONTEXT_SIZE = 0x348, 3000  # DUMP_HEADER64.ContextRecord (dump-format.md 1.3)
REQUIRED_DUMP_SPACE64 = 0xFA0


@pytest.mark.parametrize("writer", ["qemu", "elf2dmp"])
def test_win_dmp_opens_as_a_full_dump(tmp_path: Path, writer: str) -> None:
    spec = dataclasses.replace(
        presets.win10_x64_cpus(), dump_type=1, bugcheck=(0x161, (0, 0, 0, 0)),
        comment="Hello from elf2dmp!" if writer == "elf2dmp" else None)
    built = build(spec)
    data = bytearray(built.data or b"")
    assert struct.unpack_from("<Q", data, REQUIRED_DUMP_SPACE64)[0] == len(data)
    if writer == "elf2dmp":
        data[CONTEXT_RECORD64 : CONTEXT_RECORD64 + CONTEXT_SIZE] = bytes(CONTEXT_SIZE)
    win = tmp_path / "vm.dmp"
    win.write_bytes(bytes(data))
    core = tmp_path / "vm.core"
    vmcore_from_spec(spec, core)  # the same RAM as the host's ELF dump of that guest
    with open_dump(win) as dump, open_dump(core) as vm:
        assert dump.container.kind == "full" and dump.info.dump_type == "full"
        assert (dump.bugcheck.code, dump.has_bugcheck) == (0x161, True)
        assert dump.info.comment == ("Hello from elf2dmp!" if writer == "elf2dmp" else None)
        assert dump.kdbg is not None and dump.kdbg.va == built.kdbg_va
        assert [m.name for m in dump.modules] == [m.name for m in vm.modules]
        # Per-CPU registers come from each KPRCB's Context, not the header's ContextRecord.
        assert [p.index for p in dump.processors] == [0, 1, 2]
        for processor, cpu in zip(dump.processors, built.cpus, strict=True):
            assert processor.prcb == cpu.prcb
        assert dump.read_physical(built.dtb, 0x1000) == vm.read_physical(built.dtb, 0x1000)
        codes = [a.code for a in dump.all_anomalies()]
        assert "dump_size_mismatch" not in codes and "dump_truncated" not in codes
    report = analyze(win)
    assert report.source.kind == "kernel_dump"
    assert report.explanation is not None and report.explanation.name == "LIVE_SYSTEM_DUMP"
