"""The hung guest's one-line blame (analysis/hang_culprit.py) on hand-made vCPUs."""

from __future__ import annotations

from dumptriage.analysis.hang_culprit import hang_culprit
from dumptriage.model.dump import Frame, Module
from dumptriage.model.vcpu import Vcpu

NT = Module(name="ntoskrnl.exe", base=0xFFFFF8047BA00000, size=0x1046000, timestamp=None,
            checksum=None, path=None, module_class="inbox", vendor="Microsoft")
SPIN = Module(name="spindrv.sys", base=0xFFFFF80485A00000, size=0x20000, timestamp=None,
              checksum=None, path=None, module_class="third_party", vendor="Spin Inc")
NETKVM = Module(name="netkvm.sys", base=0xFFFFF80481000000, size=0x2C000, timestamp=None,
                checksum=None, path=None, module_class="virtio", vendor="Red Hat (virtio-win)")


def _vcpu(index: int, state: str, module: Module | None, *, irq: bool = True,
          frames: tuple[Module, ...] = ()) -> Vcpu:
    stack = tuple(Frame(m.base + 0x100, None, m.name, 0x100, None, "unwind") for m in frames)
    return Vcpu(index=index, rip=(module.base if module else 0x7FF6C0101234) + 0x10,
                rsp=0xFFFF850429A05C00, cr3=0x1AA000, interrupts_enabled=irq, state=state,
                module=module.name if module else None, offset=0x10 if module else None,
                stack=stack)


def test_a_spinning_driver_with_interrupts_off_is_blamed() -> None:
    vcpus = [_vcpu(0, "idle", NT), _vcpu(1, "dpc", NETKVM),
             _vcpu(2, "spinning", SPIN, irq=False)]
    culprit = hang_culprit(vcpus, [NT, SPIN, NETKVM])
    assert culprit is not None and culprit.module == "spindrv.sys"
    assert "vCPU 2" in culprit.reason and "interrupts off" in culprit.reason
    assert "third-party" in culprit.reason and "Spin Inc" in culprit.reason


def test_a_driver_below_an_inbox_frame_is_found_on_the_stack() -> None:
    vcpus = [_vcpu(0, "spinning", NT, frames=(NT, NETKVM))]
    culprit = hang_culprit(vcpus, [NT, NETKVM])
    assert culprit is not None and culprit.module == "netkvm.sys"
    assert "spinning on a PAUSE loop" in culprit.reason


def test_idle_user_and_inbox_only_guests_blame_nobody() -> None:
    vcpus = [_vcpu(0, "idle", SPIN), _vcpu(1, "user", None), _vcpu(2, "kernel_thread", SPIN),
             _vcpu(3, "spinning", NT, frames=(NT,))]
    assert hang_culprit(vcpus, [NT, SPIN]) is None
