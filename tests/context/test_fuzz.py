"""Whatever the text, reading it either works or raises ContextParseError."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
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
