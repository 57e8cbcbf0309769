"""Issue 18, host side: every hostile input gives a one-line error or a bounded result,
within a second and under 100 MiB (measured here with tracemalloc and a clock)."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dumptriage.cli import main
from dumptriage.context import load_context
from dumptriage.context.collect import check_domain_name, collect
from dumptriage.context.loader import parse_text
from dumptriage.context.reader import MAX_FILE, read_file
from dumptriage.errors import ContextParseError

MIB = 1024 * 1024
REPO = Path(__file__).resolve().parents[2]
VM113 = (REPO / "samples/win7-x86-clock-watchdog/vm113.xml").read_bytes()


@contextmanager
def bounded(seconds: float = 1.0, mib: int = 100) -> Iterator[None]:
    """The block must finish within ``seconds`` and allocate under ``mib`` at its peak."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < mib * MIB, f"peak {peak / MIB:.0f} MiB"


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def make_bundle(path: Path, members: Iterator[tuple[str, bytes]] | list[tuple[str, bytes]],
                ) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# Non-regular files never block: os.stat before open, O_NONBLOCK.

@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _no_hang(call: Callable[[], object]) -> None:
    done = threading.Event()

    def target() -> None:
        try:
            call()
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    assert done.wait(2), "blocked"


def test_fifo_given_directly(fifo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with bounded():
        err = one_line_error(capsys, "context", str(fifo))
    assert err == (f"dumptriage: error: {fifo}: not a regular file (a FIFO): only regular "
                   "host-side files are read\n")
    with bounded():
        err = one_line_error(capsys, "analyze", str(REPO / "samples/win7-x86-clock-watchdog"
                                                    "/MEMORY.DMP"), "--context", str(fifo))
    assert "not a regular file (a FIFO)" in err


def test_fifo_read_file_never_blocks(fifo: Path) -> None:
    def call() -> None:
        with pytest.raises(ContextParseError, match="FIFO"):
            read_file(fifo)

    _no_hang(call)


def test_fifo_in_folder_is_skipped(fifo: Path) -> None:
    (fifo.parent / "vm113.xml").write_bytes(VM113)
    with bounded():
        ctx = load_context([fifo.parent])
    assert list(ctx.vms) == ["vm113"]
    assert [(Path(n.where).name, n.detail) for n in ctx.notes] == [
        ("fifo", "not a regular file (a FIFO): only regular host-side files are read")]


def test_character_device(capsys: pytest.CaptureFixture[str]) -> None:
    # /dev/zero never ends; /dev/null is empty: both are refused before open.
    for dev in ("/dev/zero", "/dev/null"):
        assert stat.S_ISCHR(os.stat(dev).st_mode)
        with bounded():
            err = one_line_error(capsys, "context", dev)
        assert err == (f"dumptriage: error: {dev}: not a regular file (a character device): "
                       "only regular host-side files are read\n")


# Size limits are reported as such, never a silent cut.

def test_file_over_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.xml"
    with big.open("wb") as fh:  # sparse: 60 MiB of apparent size, nothing written
        fh.truncate(60 * MIB)
    with bounded():
        err = one_line_error(capsys, "context", str(big))
    assert err == (f"dumptriage: error: {big}: file larger than {MAX_FILE // MIB} MiB "
                   "(the limit for a host-side file)\n")


def test_big_xml_under_the_file_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 15 MiB of valid domain XML: read (under 16 MiB) but refused before any tree is built.
    body = b"<domain type='kvm'><name>big</name>" + b"<description>x</description>" * (
        15 * MIB // 28) + b"</domain>"
    path = tmp_path / "big.xml"
    path.write_bytes(body)
    with bounded():
        err = one_line_error(capsys, "context", str(path))
    assert err == (f"dumptriage: error: {path}: XML larger than 4 MiB (the limit for a "
                   "host-side XML file)\n")


# Bundles: member count, total expanded bytes and ratio, checked as headers arrive.

def test_bundle_of_zeros_stops_at_total(tmp_path: Path) -> None:
    # 20 members of 15 MiB of zeros (about 300 MiB expanded from 300 kB).
    path = make_bundle(tmp_path / "zeros.tar.gz",
                       ((f"vm/z{i:02}.log", bytes(15 * MIB)) for i in range(20)))
    assert path.stat().st_size < 1 * MIB
    with bounded(), pytest.raises(ContextParseError) as err:
        load_context([path])
    # z00 (15 MiB) is still under 100x the 300 kB; z01 is not.
    assert err.value.reason == ("bundle refused at member 'vm/z01.log': expands more than "
                                f"100x ({path.stat().st_size} bytes compressed)")


def test_bundle_total_limit_names_the_member(tmp_path: Path) -> None:
    # Random text of two letters (about 8x compression, under the ratio limit): the total
    # of 32 MiB is the limit that trips, at the 32nd member of 1 MiB.
    chunk = os.urandom(MIB).translate(bytes(b"ab"[i & 1] for i in range(256)))
    path = tmp_path / "big.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(40):
            info = tarfile.TarInfo(f"vm/m{i:02}")
            info.size = len(chunk)
            tar.addfile(info, io.BytesIO(chunk))
    assert path.stat().st_size < MAX_FILE
    with bounded(), pytest.raises(ContextParseError) as err:
        load_context([path])
    assert err.value.reason == "bundle refused at member 'vm/m31': more than 32 MiB expanded"


def test_bundle_many_empty_members(tmp_path: Path) -> None:
    # 300,000 empty members: refused at the 501st header, not after reading them all.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(20000):
            tar.addfile(tarfile.TarInfo(f"e{i}"))
    path = tmp_path / "many.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue()))
    with bounded(), pytest.raises(ContextParseError) as err:
        load_context([path])
    assert err.value.reason == "bundle refused at member 'e500': more than 500 members"


def test_bundle_member_over_file_limit(tmp_path: Path) -> None:
    path = make_bundle(tmp_path / "one.tar.gz", [("vm/huge.log", bytes(17 * MIB))])
    with bounded(), pytest.raises(ContextParseError) as err:
        load_context([path])
    assert err.value.reason == "bundle refused at member 'vm/huge.log': member larger than 16 MiB"


def test_good_bundle_still_reads(tmp_path: Path) -> None:
    path = make_bundle(tmp_path / "ok.tar.gz", [("vm113/domain.xml", VM113)])
    with bounded():
        ctx = load_context([path])
    assert list(ctx.vms) == ["vm113"]


# Absurd numbers are dropped with a note, never shown.

def test_proxmox_absurd_cores(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = "ostype: win10\ncores: 99999999999\nsockets: 99999999999\nmemory: 4096\n"
    with bounded():
        _, c = parse_text(conf, "100.conf", "proxmox")
    assert c.vcpus is None and c.max_vcpus is None and c.topology is None
    assert c.memory_kib == 4096 * 1024
    details = [n.detail for n in c.notes if n.code == "absurd-value"]
    assert details[0] == ("vcpus 999999...(22 digits) is outside 1..4096 (KVM_MAX_VCPUS): "
                          "not used")
    path = tmp_path / "100.conf"
    path.write_text(conf)
    assert main(["context", str(path)]) == 0
    out = capsys.readouterr().out
    # The file's own numbers may be quoted in a note; their 22-digit product never is.
    assert "vCPUs       ?\n" in out and "9" * 12 not in out


def test_libvirt_absurd_vcpu_with_cpuset() -> None:
    # <vcpu cpuset=...> used to expand into one pinning entry per vCPU.
    xml = ("<domain type='kvm'><name>x</name><vcpu cpuset='0-3'>99999999999</vcpu>"
           "<memory unit='TiB'>999999</memory></domain>")
    with bounded():
        _, c = parse_text(xml, "x.xml", "libvirt-xml")
    assert (c.vcpus, c.topology, c.memory_kib, dict(c.vcpu_pinning)) == (None, None, None, {})
    assert [n.code for n in c.notes].count("absurd-value") == 4


def test_qemu_smp_absurd() -> None:
    with bounded():
        _, c = parse_text("qemu-system-x86_64 -name x -m 1024 -smp 5000,sockets=5000 -cpu host",
                          "ps", "qemu-argv")
    assert c.vcpus is None and c.topology is None and c.memory_kib == 1024 * 1024


# collect: names validated, "--" before the domain, paths confined.

@pytest.mark.parametrize(("name", "why"), [
    ("../../x", "'/'"), ("a\nb", "a control character"), ("", "an empty or dot name"),
    ("..", "an empty or dot name"), ("\x1b]0;pwned\x07", "a control character"),
    ("x" * 256, "more than 255 bytes"),
])
def test_collect_refuses_bad_names(name: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(ContextParseError) as err:
        collect(name, tmp_path / "b.tar.gz", uri="test:///default")
    assert f": {why} (libvirt domain names" in err.value.reason
    assert "\n" not in str(err.value) and "\x1b" not in str(err.value)
    assert not (tmp_path / "b.tar.gz").exists()
    check_domain_name("vm-113_ok.name")  # ordinary names pass


def test_collect_cli_bad_name_is_exit_2(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, "collect", "../../x")
    assert err.startswith("dumptriage: error: collect: invalid domain name '../../x': '/'")
    assert list(tmp_path.iterdir()) == []


def test_collect_passes_double_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in virsh that records its argv: "--help" must come after "--".
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "argv.log"
    virsh = bindir / "virsh"
    virsh.write_text(f"#!/bin/sh\nprintf '%s|' \"$@\" >> {log}\necho >> {log}\nexit 1\n")
    virsh.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    collect("--help", tmp_path / "b.tar.gz", uri="test:///default")
    calls = log.read_text().splitlines()
    assert calls[0] == "-c|test:///default|dumpxml|--|--help|"
    assert "-c|test:///default|domstate|--reason|--|--help|" in calls
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert all(n.startswith("--help/") for n in tar.getnames())
