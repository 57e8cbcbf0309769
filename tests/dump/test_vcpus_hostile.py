"""Hostile vCPU registers over a real world: discovery and the per-vCPU report never raise.

The registers of a vmcore are file data: a CR3, IDT/GDT base, GS base or RIP may point
anywhere (a corrupt note, a vCPU caught mid-switch, a fuzzed file). Every step must stay
bounded and turn what it cannot read into anomalies and an "unknown" state.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumptriage.dump.crash_dump import CrashDump
from dumptriage.model.vcpu import STATES
from dumptriage.synth import BuiltDump, hung, write
from tests.vmcore_world import SynthVmcore

FIELDS = ("rip", "rsp", "rbp", "rflags", "cr0", "cr3", "cr4", "cs", "fs", "fs_base",
          "gs_base", "kernel_gs_base", "gdt_base", "gdt_limit", "idt_base", "idt_limit")
INTERESTING = st.sampled_from([0, 1, 0xFFF, 0x1000, 0x80000000, 0xFFFFFFFF,
                               0xFFFFF78000000000, 0xFFFF800000000000, (1 << 64) - 1,
                               0x7FFFFFFFFFFF, 0xFFFFF8047BA00000, 0x200000])


@cache
def _world(folder: str, arch: str) -> BuiltDump:
    spec = hung.hung_x64() if arch == "x64" else hung.hung_x86_pae()
    return write(spec, Path(folder) / f"{arch}.dmp")


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, int, dict[str, int]]:
    arch = draw(st.sampled_from(["x64", "x86"]))
    index = draw(st.integers(0, 2))
    changes = draw(st.dictionaries(st.sampled_from(FIELDS),
                                   INTERESTING | st.integers(0, (1 << 64) - 1),
                                   min_size=1, max_size=5))
    return arch, index, changes


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("worlds"))


@settings(max_examples=60, deadline=20_000,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=corruptions())
def test_corrupt_registers_give_a_report(folder: str, case: tuple[str, int, dict[str, int]]
                                         ) -> None:
    arch, index, changes = case
    built = _world(folder, arch)
    assert built.path is not None
    vcpus = list(built.vcpus)
    vcpus[index] = dataclasses.replace(vcpus[index], **changes)
    bad = dataclasses.replace(built, vcpus=tuple(vcpus))
    with CrashDump(SynthVmcore(str(built.path), bad)) as dump:
        reported = dump.vcpus
        _ = dump.all_anomalies(), dump.modules, dump.processors, dump.kernel.info
    assert [v.index for v in reported] == [v.index for v in bad.vcpus]
    assert all(v.state in STATES for v in reported)
    assert all(len(v.stack) <= 32 for v in reported)
