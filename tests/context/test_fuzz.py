"""Whatever the text, reading it either works or raises ContextParseError."""

from __future__ import annotations

import contextlib
import time
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dumptriage.context.loader import parse_text
from dumptriage.context.sniff import PARSERS
from dumptriage.errors import ContextParseError

LINES = st.sampled_from([
    "<domain type='kvm'>", "</domain>", "<vcpu current='x'>y</vcpu>", "<cpu><topology "
    "sockets='a'/></cpu>", "ostype: win10", "cores: 0", "machine: q35", "cpu: host,flags=+hv-x",
    "qemu-system-x86_64 -cpu host,hv_spinlocks=zz -smp cores=0 -m 1Q -name",
    "kind: VirtualMachine", "spec: {template: {spec: {domain: {cpu: {cores: []}}}}}",
    "2024-01-01 00:00:00.000+0000: panic hyper-v: arg1='0xzz'",
    "warning: host doesn't support requested feature: CPUID.01H:EDX.ds [bit 21]",
    "2017-03-15 06:03:48.180+0000: 1: error : f:1 : End of file from monitor",
    "processor\t: 0", "[ 1.0] kvm: unhandled rdmsr: 0x1", "", "\\",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=12), st.sampled_from(sorted(PARSERS)))
def test_parse_never_crashes(lines: list[str], kind: str) -> None:
    text = "\n".join(lines)
    with contextlib.suppress(ContextParseError):
        parse_text(text, "fuzz", kind)


# Mutations of real host files (the corpus and the story), as tests/test_fuzz.py mutates
# dumps: each case must parse or raise ContextParseError, within a second, and the whole
# run must stay under 100 MiB of Python allocations.
def _host_files() -> list[tuple[str, str]]:
    from tests.conftest import REPO, shared

    paths = sorted((REPO / "samples/win7-x86-clock-watchdog").glob("*.[lx]*"))
    corpus = shared("corpus")
    if corpus.is_dir():
        for pattern in ("libvirt/*.xml", "libvirt/*.args", "proxmox/*.conf", "proxmox/*.cmd",
                        "kubevirt/*.yaml"):
            paths += sorted(corpus.glob(pattern))[:6]
    return [(p.name, p.read_text(errors="replace")) for p in paths if p.is_file()]


HOST_FILES = _host_files()
HOSTILE = ["\x00", "\x1b]0;x\x07", "99999999999", "-1", "'", '"', "\\", "<", "&x;",
           "<!DOCTYPE x>", ",,", "=", "\n", ": ", "{", "[", "-smp", "-cpu", "hv_", "cores: ",
           "<vcpu cpuset='0-3'>99999999999</vcpu>", "<topology sockets='0'/>", "\u202e"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name, text = draw(st.sampled_from(HOST_FILES))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "flip"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(HOSTILE)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 200)):]
        elif op == "duplicate":
            text = text[:at] + text[at:at + 300] * draw(st.integers(2, 50)) + text[at:]
        elif text:
            i = min(at, len(text) - 1)
            text = text[:i] + chr(ord(text[i]) ^ (1 << draw(st.integers(0, 6)))) + text[i + 1:]
    return name, text


@settings(max_examples=250, deadline=1000, suppress_health_check=list(HealthCheck))
@given(mutated(), st.one_of(st.none(), st.sampled_from(sorted(PARSERS))))
def test_mutated_host_files(case: tuple[str, str], kind: str | None) -> None:
    name, text = case
    start = time.perf_counter()
    try:
        _, config = parse_text(text, name, kind)
    except ContextParseError as err:
        assert err.reason and str(err.source) == name
    else:
        for value in (config.vcpus, config.max_vcpus):
            assert value is None or 1 <= value <= 4096
        assert config.topology is None or config.topology.total <= 4096
    assert time.perf_counter() - start < 1.0


def test_mutation_memory_is_bounded() -> None:
    tracemalloc.start()
    try:
        for _, text in HOST_FILES:
            for hostile in HOSTILE:
                with contextlib.suppress(ContextParseError):
                    parse_text(text.replace(">", ">" + hostile, 50), "m")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024
