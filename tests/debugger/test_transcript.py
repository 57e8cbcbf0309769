"""The transcript reader on the story's real WinDbg 6.11 output and on the other layouts.

The story file is real (shared/story/windbg-analyze.txt). The files in transcripts/ were
written for these tests, each reproducing a layout WinDbg documents (the k, lm and !analyze pages of
learn.microsoft.com/windows-hardware/drivers/debugger) with synthetic values; none is a
copy of someone's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dumptriage.debugger.transcript import parse, parse_bytes
from tests.conftest import shared

STORY = shared("story/windbg-analyze.txt")

HERE = Path(__file__).parent / "transcripts"
# WinDbg 10.x on a minidump: KEY: value block, 64-bit STACK_TEXT, lmnt listing.
WINDBG10_X64 = (HERE / "windbg10-minidump-x64.txt").read_text()
# kv on x86: three arguments, (FPO: ...) after the call site.
KV_X86 = (HERE / "kv-x86.txt").read_text()


def test_the_story_transcript() -> None:
    t = parse_bytes(STORY.read_bytes(), "windbg-analyze.txt")
    assert (t.bugcheck_code, t.bugcheck_args) == (0x101, (0x61, 0, 0x807A3120, 1))
    assert t.bugcheck_name == "CLOCK_WATCHDOG_TIMEOUT"
    assert (t.product, t.build, t.service_pack, t.arch, t.processors) == (
        "Windows 7", 7601, "Service Pack 1", "x86", 2)
    assert t.build_string == "7601.18205.x86fre.win7sp1_gdr.130708-1532"
    assert t.dump_kind == "Kernel Summary Dump File"
    assert (t.kernel_base, t.ps_loaded_module_list) == (0x83C13000, 0x83D5C4D0)
    assert t.uptime_seconds == 18052.74  # 0 days 5:00:52.740
    assert len(t.stack) == 27
    sites = [f.call_site for f in t.stack]
    i = sites.index("qutmdrv+0x4db")
    assert sites[i - 1] == "nt!IofCallDriver+0x63" and sites[i - 2] == "FLTMGR!FltpDispatch+0xc5"
    assert sites[i + 1] == "nt!IofCallDriver+0x63"
    assert (t.stack[i].module, t.stack[i].offset, t.stack[i].return_address) == (
        "qutmdrv", 0x4DB, 0x83C49C1E)
    assert t.key("FAILURE_BUCKET_ID") == "CLOCK_WATCHDOG_TIMEOUT_2_PROC_ANALYSIS_INCONCLUSIVE"
    assert t.key("BUGCHECK_STR") == "CLOCK_WATCHDOG_TIMEOUT_2_PROC"
    assert t.missing_symbols == ("Ntfs.sys", "qutmdrv.sys")
    assert t.anomalies == ()


def test_windbg10_minidump_x64() -> None:
    t = parse(WINDBG10_X64, "x64.txt")
    assert t.dump_kind == "Mini Kernel Dump File"
    assert (t.build, t.arch, t.processors) == (19041, "x64", 4)
    assert t.build_string == "19041.1.amd64fre.vb_release.191206-1406"
    assert t.kernel_base == 0xFFFFF80316A00000
    assert t.uptime_seconds == 93784.005
    assert (t.bugcheck_code, t.bugcheck_args[3]) == (0xD1, 0xFFFFF8031F2A11B3)
    assert [f.call_site for f in t.stack][:2] == ["nt!KeBugCheckEx", "nt!KiBugCheckDispatch+0x69"]
    assert t.stack[3].module == "netkvm" and t.stack[3].offset == 0x11B3
    assert len(t.stack[0].args) == 4 and t.stack[0].args[0] == 0xA
    assert t.probably_caused_by == "netkvm.sys"
    assert t.missing_symbols == ("netkvm.sys",)
    assert t.key("IMAGE_NAME") == "netkvm.sys"
    assert [(m.name, m.image) for m in t.modules] == [("nt", "ntkrnlmp.exe"),
                                                      ("netkvm", "netkvm.sys")]
    assert t.anomalies == ()


def test_kv_frames_with_fpo_suffix() -> None:
    t = parse(KV_X86, "kv.txt")
    assert [f.call_site.split(" ")[0] for f in t.stack] == [
        "nt!KeBugCheckEx+0x1e", "nt!KeAccumulateTicks+0x242", "qutmdrv+0x4db"]
    assert t.stack[0].symbol == "KeBugCheckEx" and t.stack[0].args == (0x101, 0x61, 0)


def test_email_quoting_crlf_and_utf16() -> None:
    quoted = "".join(f"> {line}\r\n" for line in KV_X86.splitlines())
    for data in (quoted.encode("utf-16"), quoted.encode("utf-16-le"), quoted.encode()):
        t = parse_bytes(data, "mail.txt")
        assert len(t.stack) == 3 and t.stack[2].module == "qutmdrv"


def test_markdown_fence_and_a_cut_off_paste() -> None:
    text = "```\n" + WINDBG10_X64[: WINDBG10_X64.index("nt!KiPageFault")] + "\n"
    t = parse(text, "cut.txt")
    assert t.bugcheck_code == 0xD1 and len(t.stack) == 2  # the cut line is not a frame
    assert t.key("FAILURE_BUCKET_ID") is None


def test_disagreeing_bugcheck_arguments_are_an_anomaly() -> None:
    text = "BugCheck 101, {61, 0, 807a3120, 1}\nCLOCK_WATCHDOG_TIMEOUT (101)\n" \
           "Arguments:\nArg1: 00000061, x\nArg2: 00000000, x\nArg3: 807a3120, x\n" \
           "Arg4: 00000000, x\n"
    t = parse(text, "odd.txt")
    assert t.bugcheck_args == (0x61, 0, 0x807A3120, 1)
    assert [a.code for a in t.anomalies] == ["debugger_disagrees", "debugger_text_incomplete"]


def test_nothing_useful_is_said_not_raised() -> None:
    t = parse_bytes(b"\x00\xff" * 1000, "junk.bin")
    assert t.bugcheck_code is None
    assert {a.detail for a in t.anomalies} == {"no bugcheck code in the text",
                                              "no stack in the text"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    parse_bytes(data, "fuzz")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(WINDBG10_X64)), st.text(max_size=40))
def test_mutated_transcripts_never_raise(cut: int, junk: str) -> None:
    parse(WINDBG10_X64[:cut] + junk + WINDBG10_X64[cut:], "fuzz")


@pytest.mark.parametrize("size", [1, 100_000])
def test_long_lines_stay_linear(size: int) -> None:
    parse("STACK_TEXT:\n" + "8" * size + " " + "a" * size + "\n", "long")
