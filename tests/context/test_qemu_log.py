"""A modern libvirt QEMU log: multi-line command, timestamps, panic, MCE, shutdown."""

from __future__ import annotations

from dumptriage.context.qemu_log import parse_qemu_log
from tests.conftest import SAMPLE_STORY, shared
from tests.context import shape

ARGS = shared("corpus/libvirt/hyperv.x86_64-latest.args")

BANNER = ("2024-05-01 10:00:00.000+0000: starting up libvirt version: 10.0.0, package: "
          "1ubuntu1 (Ubuntu), qemu version: 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1), kernel: "
          "6.8.0-31-generic, hostname: hv01.example.org")
TAIL = (
    "char device redirected to /dev/pts/3 (label charserial0)\n"
    "2024-05-01T10:00:01.123456Z qemu-system-x86_64: warning: host doesn't support "
    "requested feature: CPUID.07H:EBX.hle [bit 4]\n"
    "2024-05-01T10:00:01.123457Z qemu-system-x86_64: warning: host doesn't support "
    "requested feature: CPUID.07H:EBX.hle [bit 4]\n"
    "2024-05-01 12:34:56.789+0000: panic hyper-v: arg1='0x101', arg2='0x61', arg3='0x0', "
    "arg4='0x807a3120', arg5='0x1'\n"
    "2024-05-01T12:35:00.000000Z qemu-system-x86_64: Guest MCE Memory Error at QEMU addr "
    "0x7f00 and GUEST addr 0x1000 of type BUS_MCEERR_AR injected\n"
    "2024-05-01 12:35:01.000+0000: shutting down, reason=crashed\n"
)


def test_modern_log() -> None:
    text = f"{BANNER}\n{ARGS.read_text()}{TAIL}"
    c = parse_qemu_log(text, "win.log")
    assert (c.libvirt_version, c.qemu_version) == ("10.0.0", "8.2.2")
    assert c.host is not None
    assert (c.host.hostname, c.host.kernel) == ("hv01.example.org", "6.8.0-31-generic")
    # The command (lines 2-33, continued with backslashes) is the corpus hyperv argv.
    assert shape.hyperv_on(c)["spinlocks"] == 0x2FFF
    assert c.name == "QEMUGuest1"
    assert [(e.kind, e.detail) for e in c.events] == [
        ("vm-start", "libvirt 10.0.0, qemu 8.2.2"),
        ("cpu-feature-missing", "hle (CPUID.07H:EBX bit 4)"),
        ("guest-panic", "bugcheck 0x101 (0x61, 0x0, 0x807a3120, 0x1)"),
        ("guest-mce", "Guest MCE Memory Error at QEMU addr 0x7f00 and GUEST addr 0x1000 of "
                      "type BUS_MCEERR_AR injected"),
        ("vm-shutdown", "reason=crashed"),
    ]
    panic = c.events[2]
    assert (panic.time, panic.line) == ("2024-05-01 12:34:56.789+0000", 37)


def test_two_starts_use_the_last() -> None:
    story = (SAMPLE_STORY / "qemu-vm113.log").read_text()
    text = f"{story}{BANNER}\n{ARGS.read_text()}"
    c = parse_qemu_log(text, "two.log")
    assert c.cpu is not None and c.cpu.model == "qemu64"
    assert c.qemu_version == "8.2.2"
    assert [n.code for n in c.notes] == ["several-starts"]
