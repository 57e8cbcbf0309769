"""'Probably caused by': fault-address arguments first, then trusted frames, then the scan."""

from __future__ import annotations

from dumptriage.analysis.culprit import fault_address_args, probable_culprit
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.model.dump import BugCheck, Frame, Module

NT = Module("ntkrpamp.exe", 0x83C13000, 0x412000, None, None, None, "inbox", "Microsoft")
NTFS = Module("Ntfs.sys", 0x8C06D000, 0x133000, None, None, None, "inbox", "Microsoft")
QUTM = Module("qutmdrv.sys", 0x93768000, 0x12000, None, None, None, "third_party", "Qihoo 360")
NETKVM = Module("netkvm.sys", 0x8C3A0000, 0x2C000, None, None, None, "virtio", "Red Hat")
MODULES = ModuleMap([NT, NTFS, QUTM, NETKVM])


def _bug(code: int, *args: int) -> BugCheck:
    padded = (*args, 0, 0, 0, 0)[:4]
    return BugCheck(code, padded, 32)  # type: ignore[arg-type]


def _frame(address: int, method: str) -> Frame:
    return Frame(address, 0x807FC000, None, None, None, method)


def test_fault_address_argument_blames_even_an_inbox_module() -> None:
    # 0x1000007E: Arg2 is the exception address (Microsoft's bug check page).
    culprit = probable_culprit(_bug(0x1000007E, 0xC0000005, 0x8C06D000 + 0x1234),
                               [_frame(0x93768000 + 0x4DB, "frame_pointer")], MODULES)
    assert culprit is not None and culprit.module == "Ntfs.sys"
    assert "Arg2" in culprit.reason and "+0x1234" in culprit.reason


def test_trusted_frames_beat_scanned_ones() -> None:
    frames = [_frame(0x83C13000 + 0x10, "context"), _frame(0x8C3A0000 + 0x20, "scan"),
              _frame(0x93768000 + 0x4DB, "frame_pointer")]
    culprit = probable_culprit(_bug(0x101, 0x61, 0, 0x807A3120, 1), frames, MODULES)
    assert culprit is not None and culprit.module == "qutmdrv.sys"
    assert culprit.reason == ("qutmdrv.sys (Qihoo 360) is the only third-party module on the "
                              "crashing thread's stack")


def test_scan_only_suspect_is_named_with_a_caveat() -> None:
    frames = [_frame(0x83C13000 + 0x10, "context"), _frame(0x8C3A0000 + 0x20, "scan")]
    culprit = probable_culprit(_bug(0x101), frames, MODULES)
    assert culprit is not None and culprit.module == "netkvm.sys"
    assert "stale" in culprit.reason


def test_only_inbox_frames_give_no_culprit() -> None:
    frames = [_frame(0x83C13000 + 0x10, "context"), _frame(0x8C06D000 + 0x20, "frame_pointer")]
    assert probable_culprit(_bug(0x101), frames, MODULES) is None


def test_fault_address_outside_modules_falls_back_to_frames() -> None:
    frames = [_frame(0x93768000 + 0x4DB, "frame_pointer")]
    culprit = probable_culprit(_bug(0xD1, 0x10, 2, 0, 0x12345678), frames, MODULES)
    assert culprit is not None and culprit.module == "qutmdrv.sys"


def test_fault_address_table() -> None:
    table = fault_address_args()
    assert table[0xD1][0] == 4 and table[0x1E][0] == 2 and table[0x50][0] == 3
    assert all(1 <= arg <= 4 for arg, _ in table.values())
