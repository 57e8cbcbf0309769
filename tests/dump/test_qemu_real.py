"""The vmcore readers against files a real QEMU wrote, checked against what QEMU reports.

The test boots a guest of its own under TCG (no KVM): a 512-byte boot sector, assembled
here from the listing below, that builds identity page tables at 0x1000 (2 MiB pages), an
IDT at 0x4000 whose gate 0 points at a HLT loop, writes "DUMPTRIA" at 0x5000, sets the GS
base MSR (0xC0000101) and KERNEL_GS_BASE (0xC0000102), enters long mode and spins on
PAUSE. vCPU 1 stays halted in SeaBIOS (32-bit protected mode). Over QMP on a UNIX socket
it stops the guest, asks QEMU for the oracle (``query-cpus-fast`` and the HMP ``info
registers -a``), saves the low 64 KiB with ``pmemsave`` and takes ``dump-guest-memory``
(paging false) as ``elf`` and ``kdump-zlib``, the two formats Debian's QEMU 7.2 offers
besides ``win-dmp`` (hung-guest-dumps.md section 6.2). ``win-dmp`` needs the guest's
FwCfg driver and its Windows header (section 5.1): QEMU refuses it for this guest, and
the test checks that it does.

Skipped, with the reason, only where qemu-system-x86_64 is not installed
(``scripts/install.sh --test`` installs Debian's qemu-system-x86); in CI (CI or
DUMPTRIAGE_SHARED set) a missing QEMU fails instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dumptriage import analyze, open_dump
from dumptriage.dump.containers import open_container
from dumptriage.dump.containers.vmcore import VmcoreContainer

QEMU = "qemu-system-x86_64"
# (bytes, instruction) as `as --32` + `ld --oformat binary -Ttext=0x7c00` assembled them
# and `objdump -m i8086` / `-m i386:x86-64` printed them; the address is in the comment.
LISTING = [
    ("fa", "cli"),  # 0x7c00
    ("31 c0", "xor ax,ax"),  # 0x7c01
    ("8e d8", "mov ds,ax"),  # 0x7c03
    ("8e c0", "mov es,ax"),  # 0x7c05
    ("8e d0", "mov ss,ax"),  # 0x7c07
    ("bc 00 70", "mov sp,0x7000"),  # 0x7c09
    ("bf 00 10", "mov di,0x1000"),  # 0x7c0c
    ("b9 00 20", "mov cx,0x2000"),  # 0x7c0f
    ("f3 ab", "rep stos WORD PTR es:[di],ax"),  # 0x7c12: zero 0x1000-0x4fff
    ("66 c7 06 00 10 03 20 00 00", "mov DWORD PTR ds:0x1000,0x2003"),  # PML4[0] -> PDPT
    ("66 c7 06 00 20 03 30 00 00", "mov DWORD PTR ds:0x2000,0x3003"),  # PDPT[0] -> PD
    ("66 c7 06 00 30 83 00 00 00", "mov DWORD PTR ds:0x3000,0x83"),  # PD[0]: 2 MiB at 0
    ("66 c7 06 08 30 83 00 20 00", "mov DWORD PTR ds:0x3008,0x200083"),  # PD[1]: at 2 MiB
    ("66 c7 06 00 40 e4 7c 08 00", "mov DWORD PTR ds:0x4000,0x87ce4"),  # IDT[0] -> 8:0x7ce4
    ("66 c7 06 04 40 00 8e 00 00", "mov DWORD PTR ds:0x4004,0x8e00"),  # present int gate
    ("66 c7 06 00 50 44 55 4d 50", "mov DWORD PTR ds:0x5000,0x504d5544"),  # "DUMP"
    ("66 c7 06 04 50 54 52 49 41", "mov DWORD PTR ds:0x5004,0x41495254"),  # "TRIA"
    ("0f 01 16 00 7d", "lgdtw ds:0x7d00"),  # 0x7c5c
    ("0f 20 e0", "mov eax,cr4"),
    ("66 83 c8 20", "or eax,0x20"),  # CR4.PAE
    ("0f 22 e0", "mov cr4,eax"),
    ("66 b8 00 10 00 00", "mov eax,0x1000"),
    ("0f 22 d8", "mov cr3,eax"),
    ("66 b9 80 00 00 c0", "mov ecx,0xc0000080"),  # EFER
    ("0f 32", "rdmsr"),
    ("66 0d 00 01 00 00", "or eax,0x100"),  # EFER.LME
    ("0f 30", "wrmsr"),
    ("0f 20 c0", "mov eax,cr0"),
    ("66 0d 01 00 00 80", "or eax,0x80000001"),  # PG | PE
    ("0f 22 c0", "mov cr0,eax"),
    ("ea 95 7c 08 00", "jmp 0x8:0x7c95"),  # 0x7c90: into the 64-bit code segment
    ("66 b8 10 00", "mov ax,0x10"),  # 0x7c95 (64-bit code from here)
    ("8e d8", "mov ds,eax"),
    ("8e c0", "mov es,eax"),
    ("8e d0", "mov ss,eax"),
    ("b9 01 01 00 c0", "mov ecx,0xc0000101"),  # IA32_GS_BASE
    ("b8 00 50 34 12", "mov eax,0x12345000"),
    ("ba 00 f8 ff ff", "mov edx,0xfffff800"),
    ("0f 30", "wrmsr"),
    ("b9 02 01 00 c0", "mov ecx,0xc0000102"),  # IA32_KERNEL_GS_BASE
    ("b8 00 d0 bc 0a", "mov eax,0xabcd000"),
    ("31 d2", "xor edx,edx"),
    ("0f 30", "wrmsr"),
    ("0f 01 1d 41 00 00 00", "lidt [rip+0x41] # 0x7d06"),  # 0x7cbe
    ("48 c7 c4 f0 6f 00 00", "mov rsp,0x6ff0"),
    ("48 b8 88 77 66 55 44 33 22 11", "movabs rax,0x1122334455667788"),
    ("48 bb ef cd ab 89 67 45 23 01", "movabs rbx,0x123456789abcdef"),
    ("f3 90", "pause"),  # 0x7ce0
    ("eb fc", "jmp 0x7ce0"),  # 0x7ce2
    ("f4", "hlt"),  # 0x7ce4: the IDT[0] handler
    ("eb fd", "jmp 0x7ce4"),
    ("90", "nop"),  # 0x7ce7: align the GDT to 8
]
GDT = ["00 00 00 00 00 00 00 00",  # 0x7ce8: null
       "ff ff 00 00 00 9a af 00",  # 0x08: 64-bit code
       "ff ff 00 00 00 92 cf 00"]  # 0x10: data
DESCRIPTORS = "17 00 e8 7c 00 00" + " ff 0f 00 40 00 00 00 00 00 00"  # GDTR at 0x7d00, IDTR
SPIN = (0x7CE0, 0x7CE4)  # pause; jmp: where vCPU 0 is caught
GS_BASE, KERNEL_GS_BASE = 0xFFFFF80012345000, 0xABCD000  # what the code wrote


def boot_sector() -> bytes:
    code = bytes.fromhex(" ".join(b for b, _ in LISTING) + " " + " ".join(GDT) + " "
                         + DESCRIPTORS)
    assert len(code) == 0x110  # 0x7c00..0x7d0f: code, GDT at 0x7ce8, GDTR, IDTR
    return code.ljust(510, b"\0") + b"\x55\xaa"


class Qmp:
    """A minimal QMP client: one JSON object per line, events skipped."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.stream = self.sock.makefile("rw")
        self._reply()  # the greeting
        self.command("qmp_capabilities")

    def _reply(self) -> dict[str, Any]:
        while True:
            line = self.stream.readline()
            if not line:
                raise ConnectionError("QMP closed the connection")
            message: dict[str, Any] = json.loads(line)
            if "event" not in message:
                return message

    def command(self, name: str, **arguments: Any) -> dict[str, Any]:
        self.stream.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.stream.flush()
        return self._reply()

    def hmp(self, line: str) -> str:
        return str(self.command("human-monitor-command", **{"command-line": line})["return"])


def _require_qemu() -> str:
    found = shutil.which(QEMU)
    if found is None:
        if os.environ.get("CI") or os.environ.get("DUMPTRIAGE_SHARED"):
            pytest.fail(f"CI must install {QEMU} (scripts/install.sh --test: qemu-system-x86)")
        pytest.skip(f"{QEMU} not installed: apt-get install qemu-system-x86")
    return found


class Run:
    """What one QEMU run produced: the dumps, the oracle and the saved low memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.elf = folder / "vm.elf"
        self.kdump = folder / "vm.kdump"
        self.low = folder / "low.bin"
        self.cpus: list[dict[str, Any]] = []
        self.registers = ""
        self.win_dmp: dict[str, Any] = {}


@contextlib.contextmanager
def _qemu(binary: str, folder: Path) -> Iterator[Qmp]:
    disk, sock = folder / "boot.img", folder / "qmp.sock"
    disk.write_bytes(boot_sector())
    process = subprocess.Popen(
        [binary, "-machine", "pc", "-accel", "tcg", "-display", "none", "-nodefaults",
         "-m", "32", "-smp", "2", "-drive", f"file={disk},format=raw,if=ide",
         "-qmp", f"unix:{sock},server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not start: {process.stderr.read()!r}"
                                   if process.stderr else f"{binary} did not start")
            time.sleep(0.05)
        yield Qmp(sock)
    finally:
        process.kill()
        process.wait(30)
        if process.stderr:
            process.stderr.close()


def _wait_for_spin(qmp: Qmp) -> None:
    """Until vCPU 0 runs the PAUSE loop (SeaBIOS boots the sector within a second or two)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"RIP=([0-9a-f]{16})", qmp.hmp("info registers"))
        if match and SPIN[0] <= int(match.group(1), 16) < SPIN[1]:
            return
        time.sleep(0.1)
    raise RuntimeError("the guest never reached its PAUSE loop")


@pytest.fixture(scope="module")
def qemu_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    binary = _require_qemu()
    run = Run(tmp_path_factory.mktemp("qemu"))
    with _qemu(binary, run.folder) as qmp:
        _wait_for_spin(qmp)
        assert qmp.command("stop") == {"return": {}}
        run.cpus = qmp.command("query-cpus-fast")["return"]
        run.registers = qmp.hmp("info registers -a")
        assert qmp.command("pmemsave", val=0, size=0x10000, filename=str(run.low)) \
            == {"return": {}}
        for path, fmt in ((run.elf, "elf"), (run.kdump, "kdump-zlib")):
            reply = qmp.command("dump-guest-memory", paging=False, protocol=f"file:{path}",
                                format=fmt)
            assert reply == {"return": {}}, reply
        run.win_dmp = qmp.command("dump-guest-memory", paging=False, format="win-dmp",
                                  protocol=f"file:{run.folder / 'vm.dmp'}")
        qmp.command("quit")
    return run


def _oracle(registers: str) -> list[dict[str, int]]:
    """Per CPU, the values `info registers -a` printed (64-bit names; EIP etc. for CPU 1)."""
    cpus = []
    for block in re.split(r"\n(?=CPU#\d+)", registers.strip()):
        values: dict[str, int] = {}
        for name, value in re.findall(r"\b([RE](?:IP|SP|AX|BX|FL))=([0-9a-f]+)", block):
            values["r" + name[1:].lower()] = int(value, 16)
        for name in ("CR0", "CR3", "CR4"):
            values[name.lower()] = int(re.search(rf"{name}=([0-9a-f]+)", block)[1], 16)  # type: ignore[index]
        for name in ("GDT", "IDT"):
            base, limit = re.search(rf"{name}=\s+([0-9a-f]+) ([0-9a-f]+)", block).groups()  # type: ignore[union-attr]
            values[name.lower() + "_base"], values[name.lower() + "_limit"] = (
                int(base, 16), int(limit, 16))
        for name in ("CS", "SS", "DS", "GS"):
            sel, base, _, flags = re.search(rf"\n{name} =([0-9a-f]{{4}}) ([0-9a-f]+) ([0-9a-f]+) "
                                            r"([0-9a-f]{8})", block).groups()  # type: ignore[union-attr]
            values[name.lower()] = int(sel, 16)
            values[name.lower() + "_base"] = int(base, 16)
            values[name.lower() + "_flags"] = int(flags, 16)
        cpus.append(values)
    return cpus


def _open(path: Path) -> VmcoreContainer:
    container = open_container(str(path))
    assert isinstance(container, VmcoreContainer)
    return container


@pytest.mark.parametrize("name", ["elf", "kdump"])
def test_notes_match_what_qemu_reports(qemu_run: Run, name: str) -> None:
    oracle = _oracle(qemu_run.registers)
    assert len(oracle) == len(qemu_run.cpus) == 2
    dump = _open(getattr(qemu_run, name))
    try:
        assert dump.info.signature == ("ELF" if name == "elf" else "makedumpfile")
        assert dump.info.processors == 2 and dump.info.arch == "x64"  # vCPU 0: long mode
        vcpus = dump.kernel_offer().vcpus
        assert [v.index for v in vcpus] == [c["cpu-index"] for c in qemu_run.cpus]
        for got, want in zip(vcpus, oracle, strict=True):
            assert (got.rip, got.rsp, got.rflags) == (want["rip"], want["rsp"], want["rfl"])
            assert (got.cr0, got.cr3, got.cr4) == (want["cr0"], want["cr3"], want["cr4"])
            assert (got.gdt_base, got.gdt_limit) == (want["gdt_base"], want["gdt_limit"])
            assert (got.idt_base, got.idt_limit) == (want["idt_base"], want["idt_limit"])
            assert (got.cs, got.ss, got.cs_flags) == (want["cs"], want["ss"], want["cs_flags"])
            assert got.gs_base == want["gs_base"]
            segments = {s[0]: s for s in got.segments}
            assert (segments["ds"][1], segments["gs"][1]) == (want["ds"], want["gs"])
            assert dict(got.general)["rax"] == want["rax"]
        first, second = vcpus
        assert (first.bits, second.bits) == (64, 32)
        assert SPIN[0] <= first.rip < SPIN[1]  # on the jmp after PAUSE (section 10)
        assert (first.gs_base, first.kernel_gs_base) == (GS_BASE, KERNEL_GS_BASE)
        assert first.interrupts_enabled is False  # the code ran cli
        assert dump.opening_anomalies() == []
    finally:
        dump.close()


@pytest.mark.parametrize("name", ["elf", "kdump"])
def test_pages_match_pmemsave(qemu_run: Run, name: str) -> None:
    low = qemu_run.low.read_bytes()
    dump = _open(getattr(qemu_run, name))
    try:
        physical = dump.physical
        assert physical is not None
        for pa in range(0, 0x10000, 0x1000):
            assert physical.read(pa, 0x1000) == low[pa : pa + 0x1000], hex(pa)
        assert physical.read(0x5000, 8) == b"DUMPTRIA"
        sector = physical.read(0x7C00, 512)
        assert sector[:0xE8] == boot_sector()[:0xE8]  # the code
        # Loading DS/ES/SS set the data descriptor's Accessed bit: 0x92 became 0x93.
        assert sector[0xE8 + 2 * 8 + 5] == 0x93
        memory = dump.kernel_offer().memory
        assert memory is not None
        assert memory.translate(0x7C00) == 0x7C00  # identity map through vCPU 0's CR3
        assert memory.read(0x201000, 16) == physical.read(0x201000, 16)  # PD[1]
    finally:
        dump.close()


def test_kdump_pages_equal_the_elf_pages(qemu_run: Run) -> None:
    elf, kdump = _open(qemu_run.elf), _open(qemu_run.kdump)
    try:
        assert elf.physical is not None and kdump.physical is not None
        assert elf.physical.index.page_count == kdump.physical.index.page_count
        pfns = random.Random(14).sample(range(32 << 8), 300)
        for pfn in pfns:
            assert elf.physical.read(pfn << 12, 0x1000) == kdump.physical.read(pfn << 12, 0x1000)
    finally:
        elf.close()
        kdump.close()


def test_win_dmp_is_refused_for_a_guest_without_the_fwcfg_header(qemu_run: Run) -> None:
    # QEMU's win_dump.c needs the guest's Windows header in the vmcoreinfo note; QEMU
    # 7.2.22 answered {"class": "GenericError", "desc": "win-dump: invalid vmcoreinfo
    # note size"}.
    assert "error" in qemu_run.win_dmp, qemu_run.win_dmp
    assert "vmcoreinfo" in qemu_run.win_dmp["error"]["desc"]
    assert not (qemu_run.folder / "vm.dmp").exists() or \
        (qemu_run.folder / "vm.dmp").stat().st_size == 0


def test_analyze_reads_the_real_files(qemu_run: Run) -> None:
    for path in (qemu_run.elf, qemu_run.kdump):
        report = analyze(path)
        assert report.source.kind == "vmcore"
        assert report.dump is not None and report.dump.processors == 2
        with open_dump(path) as dump:
            assert dump.has_bugcheck is False
