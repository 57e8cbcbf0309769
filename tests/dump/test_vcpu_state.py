"""vCPU state classification on hand-made registers and code bytes (vcpu_state.py).

Byte patterns from hung-guest-dumps.md sections 4.2 and 10 (a real QEMU 7.2 dump of a
synthetic guest): a halted vCPU's RIP is just after F4; a spinning one's RIP is on the
EB FC after F3 90.
"""

from __future__ import annotations

import pytest

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel.vcpu_state import Code, CpuFacts, classify

KERNEL_CS, USER_CS = 0x10, 0x33
CR0_PROTECTED_PAGING = 0x80050033


def _regs(*, rflags: int = 0x202, cs: int = KERNEL_CS, cr0: int = CR0_PROTECTED_PAGING,
          rip: int = 0xFFFFF8047BE1A2C2) -> VcpuRegisters:
    return VcpuRegisters(index=0, bits=64, rip=rip, rsp=0xFFFF850429A15908, rbp=0,
                         rflags=rflags, cr0=cr0, cr3=0x1AA000, cr4=0x506F8, cs=cs, ss=0x18,
                         fs_base=0, gs_base=0xFFFFF8047BD00000, kernel_gs_base=0,
                         gdt_base=0, gdt_limit=0x7F, idt_base=0, idt_limit=0xFFF)


def _code(before_rip: str, from_rip: str) -> Code:
    before = bytes.fromhex(before_rip)
    return Code(before=(b"\xcc" * 16 + before)[-16:], after=(bytes.fromhex(from_rip)
                                                              + b"\xcc" * 16)[:16])


@pytest.mark.parametrize(("before", "after", "state"), [
    ("fb f4", "c3", "idle"),  # sti; hlt | ret
    ("f3 90", "eb fc", "spinning"),  # pause | jmp -4 (QEMU 7.2's spinning vCPU)
    ("", "f3 90 eb fc", "spinning"),  # RIP on the pause itself
    # pause; test [rcx],1 | jnz -9 back to the pause (a spinlock's wait loop)
    ("f3 90 f6 01 01", "75 f9", "spinning"),
    # pause; mov eax,[rcx] | jmp rel32 back to the pause
    ("f3 90 8b 01", "e9 f7 ff ff ff", "spinning"),
    ("f3 90", "eb 02", "kernel_thread"),  # the jump goes forward: no loop
    ("f3 90 eb fc 48 8b", "01 c3", "kernel_thread"),  # RIP past the loop's jump
    ("48 8b 01", "48 85 c0", "kernel_thread"),
])
def test_code_patterns(before: str, after: str, state: str) -> None:
    assert classify(_regs(), _code(before, after), CpuFacts())[0] == state


def test_halted_with_interrupts_off_says_it_cannot_wake() -> None:
    state, reason = classify(_regs(rflags=0x2), _code("fa f4", "eb fd"), CpuFacts())
    assert state == "idle" and "cannot wake up" in reason


def test_idle_thread_is_named_in_the_reason() -> None:
    facts = CpuFacts(thread=0xFFFFC00012340080, idle_thread=0xFFFFC00012340080)
    assert "in the idle thread" in classify(_regs(), _code("f4", ""), facts)[1]


def test_user_mode_wins_over_code_bytes() -> None:
    assert classify(_regs(cs=USER_CS), _code("f4", ""), CpuFacts())[0] == "user"


def test_dpc_and_interrupt_from_kprcb_facts() -> None:
    plain = _code("48 8b 01", "48 85 c0")
    assert classify(_regs(), plain, CpuFacts(dpc_active=True))[0] == "dpc"
    assert classify(_regs(), plain, CpuFacts(irql=28))[0] == "interrupt"
    assert classify(_regs(), plain, CpuFacts(irql=2))[0] == "kernel_thread"
    # Spinning inside a DPC stays "spinning"; the reason adds the DPC.
    state, reason = classify(_regs(), _code("f3 90", "eb fc"), CpuFacts(dpc_active=True))
    assert state == "spinning" and "DPC" in reason


def test_dpc_and_isr_stacks() -> None:
    plain = _code("48 8b 01", "48 85 c0")
    state, reason = classify(_regs(), plain, CpuFacts(on_dpc_stack=True, irql=2))
    assert state == "dpc" and "DPC stack" in reason and "IRQL 2" in reason
    assert classify(_regs(), plain, CpuFacts(on_isr_stack=True))[0] == "interrupt"
    assert classify(_regs(), plain, CpuFacts(on_dpc_stack=False, on_isr_stack=False,
                                             irql=0))[0] == "kernel_thread"


@pytest.mark.parametrize("regs", [_regs(cr0=0x10), _regs(cr0=0x11), _regs(rip=0)],
                         ids=["real-mode", "paging-off", "rip-0"])
def test_unusable_registers_are_unknown(regs: VcpuRegisters) -> None:
    assert classify(regs, _code("f4", ""), CpuFacts())[0] == "unknown"


def test_code_not_in_the_dump_is_unknown() -> None:
    state, reason = classify(_regs(), Code(before=None, after=None), CpuFacts())
    assert state == "unknown" and "not in the dump" in reason
