"""The transcript reader on the layouts real WinDbg/cdb/kd output takes in public tickets.

Each transcript in transcripts/ was written for these tests with its own values; none is a
copy of someone's output. Each reproduces the layout and quirks of a real, public output,
named (URL) in the test that reads it and in transcripts/SOURCES.md. A transcript carries no
header comment: the first lines of real output matter to the reader (and to the sniffing
that tells a transcript from a dump).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from dumptriage import analyze
from dumptriage.debugger.text import is_transcript
from dumptriage.debugger.transcript import parse, parse_bytes
from dumptriage.model.debugger import Transcript

HERE = Path(__file__).parent / "transcripts"
SCHEMA = json.loads((Path(__file__).parents[2] / "schema" / "report-v1.schema.json").read_text())


def read(name: str) -> Transcript:
    return parse_bytes((HERE / name).read_bytes(), name)


def details(t: Transcript) -> list[str]:
    return [a.detail for a in t.anomalies]


def test_windbg6_full_analyze_x64() -> None:
    """A full 6.x-era session (banner, first summary, !analyze -v) with a 64-bit STACK_TEXT
    in the ``Child-SP RetAddr : Args to Child : Call Site`` layout. Reproduces: the 6.x
    !analyze of https://www.nickles.de/thread_cache/537872389.html (FAULTING_IP and the
    like with the value on the next line, DEBUG_FLR_IMAGE_TIMESTAMP), the "Page ... not
    present in the dump file" lines of https://github.com/dokan-dev/dokan-dotnet/issues/120,
    "Unable to load image ..., Win32 error 0n2" with "*** WARNING: Unable to verify
    timestamp" of https://github.com/microsoft/WinDbg-Feedback/issues/218, the 2008 R2 x64
    kv layout of https://github.com/virtio-win/kvm-guest-drivers-windows/issues/193."""
    t = read("windbg6-x64-analyze.txt")
    assert t.debugger_version == "6.12.0002.633"
    assert (t.product, t.build, t.service_pack, t.arch, t.processors) == (
        "Windows 7", 7601, "Service Pack 1", "x64", 4)
    assert (t.product_type, t.suites) == ("LanManNt", ("Enterprise", "TerminalServer",
                                                       "SingleUserTS"))
    assert (t.kernel_base, t.ps_loaded_module_list) == (0xFFFFF80001657000, 0xFFFFF8000189CE90)
    assert t.uptime_seconds == 2 * 86400 + 3 * 3600 + 14 * 60 + 15.926
    assert t.machine_name is None  # "Machine Name:" with nothing after it
    assert (t.bugcheck_code, t.bugcheck_name) == (0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL")
    assert t.bugcheck_args == (0xFFFFFA8004A2C010, 2, 0, 0xFFFFF88001A3B2C4)
    assert len(t.stack) == 8
    assert [f.call_site for f in t.stack][2:6] == [
        "nt!KiPageFault+0x260", "viostor+0x32c4", "viostor+0x25f0",
        "storport!RaidpAdapterDpcRoutine+0x52"]
    frame = t.stack[3]
    assert (frame.module, frame.symbol, frame.offset) == ("viostor", None, 0x32C4)
    assert (frame.child_sp, frame.return_address) == (0xFFFFF88002F1C830, 0xFFFFF88001A3A5F0)
    assert frame.args == (0xFFFFFA8003E51B40, 0xFFFFFA8003E50010, 0, 0)
    assert t.stack[-1].return_address == 0
    assert t.probably_caused_by == "viostor.sys"
    assert t.missing_symbols == ("viostor.sys",)
    assert t.image_load_errors == ("viostor.sys",)
    assert t.key("FAULTING_IP") == "viostor+32c4"  # the value sits on the next line in 6.x
    assert t.key("DEBUG_FLR_IMAGE_TIMESTAMP") == "4f1e2a0c"
    assert t.key("FAILURE_BUCKET_ID") == "X64_0xD1_viostor+32c4"
    assert t.key("DEFAULT_BUCKET_ID") == "VISTA_DRIVER_FAULT"
    assert t.key("NOTE") is None  # "NOTE: The trap frame does not contain all registers."
    assert t.anomalies == ()


def test_windbg10_key_value_blocks() -> None:
    """10.x !analyze -v with the ``KEY_VALUES_STRING`` block, ``BUGCHECK_P1`` lines, Arg
    lines without a description, a five-digit stop code and the tail of 10.x keys
    (IMAGE_VERSION, OSNAME, FAILURE_ID_HASH). Reproduces HYPERVISOR_ERROR (20001) of
    https://github.com/microsoft/WSL/issues/5288, DUMP_FILE_ATTRIBUTES with its continuation
    line of https://github.com/microsoft/WSL/issues/13492, the ``Key : Failure.Bucket`` /
    ``Failure.Hash`` keys of https://github.com/HoShiMin/Kernel-Bridge/issues/62 and the
    "Symbol Loading Error Summary" table of
    https://github.com/microsoft/WinDbg-Feedback/issues/218."""
    t = read("windbg10-keyvalues-x64.txt")
    assert t.debugger_version == "10.0.25877.1004"
    assert t.dump_kind == "Kernel Bitmap Dump File"
    assert (t.build, t.arch, t.processors, t.build_string) == (
        20348, "x64", 8, "20348.1.amd64fre.fe_release.210507-1500")
    assert (t.bugcheck_code, t.bugcheck_name) == (0x20001, "HYPERVISOR_ERROR")
    assert t.bugcheck_args == (0x11, 0x3A9C02, 0xC1F, 0xFFFFE80000B2D6C0)
    assert t.analysis_key("Failure.Bucket") == "0x20001_11_nt!HvlSkCrashdumpCallbackRoutine"
    assert t.analysis_key("Bugcheck.Code.LegacyAPI") == "0x20001"
    assert t.analysis_key("Hypervisor.RootFlags.IsHyperV") == "1"
    assert len(t.analysis_keys) == 7
    assert t.key("FAILURE_ID_HASH") == "{5d2a8e44-0b1c-7f33-a9e2-3c6b10d4e7f1}"
    assert (t.key("OSNAME"), t.key("IMAGE_VERSION"), t.key("OS_VERSION")) == (
        "Windows 10", "10.0.20348.2461", "10.0.20348.1")
    assert t.key("DUMP_FILE_ATTRIBUTES") == "0x1808"
    assert t.key("PROCESS_NAME") == "vmmem"
    assert len(t.stack) == 7
    assert t.stack[2].args[0] == 0x8A0000044913396B
    assert [(f.module, f.symbol, f.offset) for f in t.stack[5:]] == [
        ("Vid", "VidInterceptPreprocess", 0x2CC), ("Vid", "VidRunVirtualProcessor", 0x1A2)]
    assert t.missing_symbols == ("vmbusr",)
    assert t.anomalies == ()


def test_email_quoted_bugcheck_command_and_knl() -> None:
    """A reply quoting an earlier mail (``> ``) that holds ``.bugcheck`` and ``knL``: the
    x64 ``# Child-SP RetAddr Call Site`` layout without argument columns, frame numbers
    00..0c in hex. Reproduces https://github.com/virtio-win/kvm-guest-drivers-windows/issues/85
    (e-mail reply, .bugcheck, knL of a DPC_WATCHDOG_VIOLATION in netkvm)."""
    t = read("knl-bugcheck-email.txt")
    assert t.bugcheck_code == 0x133
    assert t.bugcheck_args == (0, 0x501, 0x500, 0xFFFFF8063E8FB320)
    assert [f.number for f in t.stack] == list(range(13))
    assert all(f.args == () for f in t.stack)
    assert t.stack[1].call_site == "nt!KeAccumulateTicks+0x1d69dc"
    assert [(f.module, f.offset) for f in t.stack[8:12]] == [
        ("netkvm", 0x8443), ("netkvm", 0x92A5), ("netkvm", 0x9477), ("netkvm", 0x9B7C)]
    assert t.stack[12].return_address == 0xFFFFF8063E1F1E82
    assert t.anomalies == ()


def test_k_with_inline_frames_and_source_lines() -> None:
    """``k`` in a markdown fence with 10.x's wider RetAddr column, inline frames
    ``(Inline Function) --------`--------``, ``[file @ line]`` source after the call site,
    ``nt! ?? ::FNODOBFM::`string'+0x...`` and template names with spaces. Reproduces
    https://github.com/virtio-win/kvm-guest-drivers-windows/pull/197."""
    t = read("k-inline-source.txt")
    assert len(t.stack) == 13
    inline = [f.number for f in t.stack if f.inline]
    assert inline == [7, 8, 10]
    assert t.stack[7].child_sp is None
    # inline rows repeat the return address of the row above: they run at the same address
    assert t.stack[7].return_address == t.stack[8].return_address == 0xFFFFF80B5EC19E55
    assert (t.stack[8].module, t.stack[8].symbol, t.stack[8].offset) == (
        "netkvm", "CNBL::NBComplete", 0xE)
    assert t.stack[8].source == "c:\\build\\netkvm\\common\\parandis-tx.cpp @ 440"
    assert t.stack[8].call_site == "netkvm!CNBL::NBComplete+0xe"
    assert (t.stack[4].module, t.stack[4].symbol, t.stack[4].offset) == (
        "nt", "?? ::FNODOBFM::`string'", 0x6C1E)
    assert t.stack[11].symbol == "CParaNdisTX::DoWithTXLock<<lambda_0f3c2b> >"
    assert t.stack[11].offset == 0x45
    assert details(t) == ["no bugcheck code in the text"]


def test_kv_x64_with_inline_rows_and_trap_frame_suffix() -> None:
    """``1kv`` without frame numbers: x64 rows with ``: Args to Child :`` columns, inline rows
    whose argument columns are dashes, ``(Inline Function @ ...)`` and ``(TrapFrame @ ...)``
    after the call site. Reproduces
    https://github.com/virtio-win/kvm-guest-drivers-windows/issues/52 and
    https://github.com/virtio-win/kvm-guest-drivers-windows/issues/193."""
    t = read("kv-inline-x64.txt")
    assert len(t.stack) == 6
    assert [f.inline for f in t.stack] == [False, False, True, True, False, False]
    assert t.stack[2].args == () and t.stack[2].return_address == 0xFFFFF8005C00942D
    assert (t.stack[2].module, t.stack[2].symbol, t.stack[2].offset) == (
        "netkvm", "CNdisSpinLock::Lock", 0xA)
    assert t.stack[2].source == "c:\\build\\netkvm\\common\\parandis-util.h @ 71"
    assert t.stack[4].args == (1, 0xFFFFE000B1658650, 0, 0)
    assert (t.stack[5].symbol, t.stack[5].offset) == ("KiNmiInterrupt", 0x134)


def test_windbg10_x86_stack_text_then_kv() -> None:
    """A 10.x debugger on a 32-bit Windows 7 minidump: Arg lines without description,
    ``BUGCHECK_P2: ffffffff801ca000`` (sign-extended on x86), STACK_OVERFLOW,
    "WARNING: Frame IP not in any known module" inside STACK_TEXT, a bare ``0x82a8c4b9`` call
    site, then ``kv`` with ``(FPO: ...)``/``(CONV: ...)``. Reproduces
    https://github.com/86Box/86Box/issues/4082 (double fault on 32-bit Vista/7) and the kv
    layout of Microsoft's k documentation."""
    text = (HERE / "windbg10-x86-analyze-kv.txt").read_text()
    t = parse(text, "x86.txt")
    assert (t.product, t.build, t.arch, t.processors) == ("Windows 7", 7601, "x86", 2)
    assert t.dump_kind == "Mini Kernel Dump File"
    assert (t.bugcheck_code, t.bugcheck_name) == (0x7F, "UNEXPECTED_KERNEL_MODE_TRAP")
    assert t.bugcheck_args == (8, 0x801CA000, 0, 0)  # not 0xffffffff801ca000
    assert t.key("STACK_OVERFLOW") == ("Stack Limit: 8e34e000. Use (kF) and (!stackusage) to "
                                       "investigate stack usage.")
    assert t.missing_symbols == ("vioscsi.sys",)
    # the kv after !analyze replaces STACK_TEXT
    assert [f.call_site for f in t.stack] == [
        "nt!KiTrap0E+0xb (FPO: [0,0] TrapFrame @ 8e34e1f4)",
        "nt!MiDispatchFault+0x3cb (FPO: [Non-Fpo])", "vioscsi+0x1e8a (CONV: stdcall)",
        "vioscsi+0x2d0c", "nt!IofCallDriver+0x63 (CONV: fastcall)"]
    assert [(f.module, f.symbol, f.offset) for f in t.stack[1:3]] == [
        ("nt", "MiDispatchFault", 0x3CB), ("vioscsi", None, 0x1E8A)]
    assert t.stack[0].args == (8, 0x801CA000, 0)
    assert t.anomalies == ()
    analysis = parse(text[: text.index("1: kd> kv")], "x86.txt")
    assert len(analysis.stack) == 6  # the WARNING line inside STACK_TEXT is not a frame
    assert analysis.stack[-1].call_site == "0x82a8c4b9"
    assert (analysis.stack[-1].module, analysis.stack[-1].offset) == (None, None)


def test_x86_kl_without_arguments() -> None:
    """``kL`` on x86: ``ChildEBP RetAddr`` with nothing after, an unwind warning under the
    header, frames without arguments, one unsymbolised ``0x6bfa357``, under a ``~*k`` thread
    line. Reproduces https://github.com/dotnet/runtime/pull/98397."""
    t = read("kL-x86-user.txt")
    assert len(t.stack) == 5
    assert all(f.args == () for f in t.stack)
    assert (t.stack[0].child_sp, t.stack[0].return_address) == (0x0834F824, 0x7192329E)
    assert (t.stack[2].call_site, t.stack[2].module) == ("0x6bfa357", None)
    assert (t.stack[3].module, t.stack[3].symbol, t.stack[3].offset) == (
        "kernel32", "BaseThreadInitThunk", 0x12)


def test_lmnt_10x_with_reproducible_build_hashes() -> None:
    """10.x ``lmnt``: "Browse full module list", date + (stamp) rows, rows whose stamp is
    "a reproducible build file hash, not a timestamp", a name longer than its column,
    ``unavailable (00000000)``, then "Unloaded modules:". Reproduces
    https://github.com/virtio-win/kvm-guest-drivers-windows/issues/1582."""
    t = read("lmnt-10x.txt")
    assert [(m.name, m.image, m.timestamp, m.reproducible) for m in t.modules] == [
        ("nt", "ntkrnlmp.exe", 0x677F9A65, False),
        ("storport", "storport.sys", 0x215080D8, True),
        ("viostor", "viostor.sys", 0x686EAE32, False),
        ("EhStorClass", "EhStorClass.sys", 0x5F0B6E1A, True),
        ("netkvm", "netkvm.sys", 0x686E8E8F, False),
        ("vioser", "vioser.sys", 0, False)]
    assert (t.modules[2].start, t.modules[2].end) == (0xFFFFF80584C80000, 0xFFFFF80584C93000)
    assert all(m.symbols is None for m in t.modules)


def test_vertarget_of_windows_xp_and_lm() -> None:
    """``vertarget`` of a uniprocessor XP ("UP Free x86 compatible", no processor count),
    ``.bugcheck`` of a 0x1000007E, ``lm`` with symbol states and pdb paths. Reproduces
    https://github.com/nixawk/Awesome-Windows-Debug/issues/9 and, for vertarget's lines,
    https://github.com/MicrosoftDocs/windows-driver-docs/issues/2036."""
    t = read("vertarget-xp-lm.txt")
    assert (t.product, t.build, t.service_pack, t.processors, t.arch) == (
        "Windows XP", 2600, "Service Pack 3", 1, "x86")
    assert t.build_string == "2600.xpsp_sp3_qfe.100216-1510"
    assert t.kernel_base == 0x804D7000
    assert t.session_time == "Fri Oct 13 09:02:44.512 2017 (UTC - 7:00)"
    assert (t.bugcheck_code, t.bugcheck_args) == (
        0x1000007E, (0xC0000005, 0xF7A1C3D2, 0xF78D2B4C, 0xF78D2848))
    assert [(m.name, m.symbols) for m in t.modules] == [
        ("nt", "(pdb symbols)"), ("viostor", "(no symbols)"), ("netkvm", "(deferred)")]
    assert details(t) == ["no stack in the text"]


def test_mini_kernel_dump_banner_and_a_cut_off_paste() -> None:
    """A 10.x Mini Kernel Dump banner (no "Built by" line, "Press ctrl-c ..." inside the
    symbol loading dots, Arg1 continued on a tab-indented line) whose paste stops in the
    middle of a STACK_TEXT row. Reproduces the banner of
    https://github.com/tandasat/SimpleSvmHook/issues/10, the 0x139 analysis of
    https://github.com/tandasat/SimpleSvmHook/issues/2 and
    https://github.com/cutecatsandvirtualmachines/SKLib/issues/10."""
    t = read("minidump-10x-cutoff.txt")
    assert t.dump_kind == "Mini Kernel Dump File"
    assert t.banner == "Mini Kernel Dump File: Only registers and stack trace are available"
    assert (t.build, t.processors, t.build_string) == (19041, 6, None)
    assert t.uptime_seconds == 41 * 60 + 12.88
    assert (t.bugcheck_code, t.bugcheck_args) == (
        0x139, (4, 0xFFFFF8041A8AC510, 0xFFFFF8041A8AC468, 0))
    assert [f.call_site for f in t.stack] == ["nt!KeBugCheckEx", "nt!KiBugCheckDispatch+0x69"]
    assert t.key("FAILURE_BUCKET_ID") is None
    assert t.analysis_key("Failure.Bucket") == "0x139_MISSING_GSFRAME_nt!KiFastFailDispatch"
    assert [a.code for a in t.anomalies] == ["debugger_text_incomplete"] * 2
    assert details(t) == [
        "the text ends in the middle of a stack row: 'fffff804`1a8ac330 fffff804`1081092'",
        "the !analyze output stops before its end (no Followup: line after the Bugcheck "
        "Analysis banner)"]


def test_github_comment_with_markdown_damage() -> None:
    """A GitHub comment: HTML-escaped prompt (``15: kd&gt; vertarget``), backticks eaten by
    markdown (``0xfffff8041b400000``), ``**\\*`` escapes, ``[...]`` where the poster cut, and a
    quoted STACK_TEXT whose backticks are escaped (``ffffd001\\`528e3fb0``). Reproduces
    https://github.com/MicrosoftDocs/windows-driver-docs/issues/2036,
    https://github.com/microsoft/WinDbg-Feedback/issues/42, https://github.com/sahlberg/libnfs/issues/39,
    https://github.com/86Box/86Box/issues/4082 and https://github.com/dokan-dev/dokany/issues/207."""
    t = read("github-markdown-paste.txt")
    assert (t.build, t.processors, t.arch) == (18362, 16, "x64")
    assert t.machine_name == "HV-NODE07"
    assert (t.kernel_base, t.ps_loaded_module_list) == (0xFFFFF8041B400000, 0xFFFFF8041B843290)
    assert t.missing_symbols == ("ntkrnlmp.exe",)
    assert t.bugcheck_code == 0x1E
    assert t.bugcheck_args == (0xFFFFFFFFC0000005, 0xFFFFF8041B6A3E10, 0, 0xFFFFFFFFFFFFFFFF)
    assert len(t.stack) == 3
    assert t.stack[0].child_sp == 0xFFFFD001528E3FB0
    assert t.stack[2].source == "e:\\src\\dokany\\sys\\except.c @ 43"
    assert t.stack[2].call_site == "dokan1!DokanExceptionFilter+0x74"
    assert details(t) == ["the paste leaves text out here ('[...]')"]


def test_rows_wrapped_by_a_mail_client() -> None:
    """Mail clients and some forums wrap long lines at spaces (RFC 3676 format=flowed
    wraps at 78 columns): a 10.x x64 STACK_TEXT row then spans two lines. Each is joined
    with its continuation."""
    text = (HERE / "windbg10-keyvalues-x64.txt").read_text()
    wrapped = "\n".join(part for line in text.splitlines()
                        for part in (textwrap.wrap(line, 78, break_long_words=False,
                                                   break_on_hyphens=False) or [""]))
    assert max(len(line) for line in wrapped.splitlines()) <= 100
    t = parse(wrapped, "wrapped.txt")
    straight = read("windbg10-keyvalues-x64.txt")
    assert [(f.child_sp, f.return_address, f.args, f.call_site) for f in t.stack] == [
        (f.child_sp, f.return_address, f.args, f.call_site) for f in straight.stack]


def test_a_source_line_wrapped_off_its_row() -> None:
    text = ("STACK_TEXT:\nfffff800`4f47e5c0 fffff80c`dce255cc : ffff880f`c49d5c00 "
            "fffff80c`dce2eec9 ffff880f`c49d5d80 fffff800`4f47e660 : netkvm!RxDPCWorkBody+0x30\n"
            "[C:\\build\\NetKVM\\Common\\ParaNdis_Common.cpp @ 1674]\n")
    t = parse(text, "wrapped.txt")
    assert len(t.stack) == 1 and t.stack[0].source.endswith("ParaNdis_Common.cpp @ 1674")


def test_small_variants_seen_in_tickets() -> None:
    """``Unknown bugcheck code (1aa)`` (https://github.com/MicrosoftDocs/windows-driver-docs/issues/3194),
    ``***** Kernel symbols are WRONG`` (https://www.nickles.de/thread_cache/537872389.html),
    ``Probably caused by : memory_corruption`` (https://github.com/tandasat/SimpleSvmHook/issues/2),
    and a paste that lost its Child-SP column, ``RetAddr : Args to Child : Call Site``
    (https://github.com/virtio-win/kvm-guest-drivers-windows/issues/80)."""
    t = parse("Unknown bugcheck code (1aa)\nUnknown bugcheck description\nArguments:\n"
              "Arg1: 00000039d76edad0\nArg2: 0000000000000003\nArg3: ffffd680fd09e900\n"
              "Arg4: fffffc03cd5b1598\n\n***** Kernel symbols are WRONG. Please fix symbols "
              "to do analysis.\nProbably caused by : memory_corruption\n"
              "RetAddr           : Args to Child                          : Call Site\n"
              "00 fffff802`b1d68de9 : 00000000`0000007f 00000000`00000008 fffff802`b335fe70 "
              "fffff802`b3350f80 : nt!KeBugCheckEx\n"
              "07 (Inline Function) : --------`-------- --------`-------- --------`-------- "
              "--------`-------- : NDIS!ndisMSendNBLToMiniportInternal+0xe7\n", "small.txt")
    assert (t.bugcheck_code, t.bugcheck_name) == (0x1AA, None)
    assert t.bugcheck_args == (0x39D76EDAD0, 3, 0xFFFFD680FD09E900, 0xFFFFFC03CD5B1598)
    assert t.missing_symbols == ("nt",)
    assert t.probably_caused_by == "memory_corruption"
    assert [(f.number, f.child_sp, f.return_address, f.inline) for f in t.stack] == [
        (0, None, 0xFFFFF802B1D68DE9, False), (7, None, 0xFFFFF802B1D68DE9, True)]
    assert t.stack[0].args[0] == 0x7F and t.stack[1].module == "NDIS"


ALL = sorted(p.name for p in HERE.glob("*.txt"))


@pytest.mark.parametrize("name", ALL)
def test_every_layout_is_a_transcript_and_a_valid_report(name: str) -> None:
    path = HERE / name
    assert is_transcript(path)
    report = analyze(path).to_dict()
    jsonschema.validate(report, SCHEMA)
    assert report["source"]["kind"] == "debugger_text"
    t = read(name)
    if t.stack:
        assert [f["method"] for f in report["stack"]] == ["debugger"] * len(t.stack)
    if t.bugcheck_code is not None:
        assert report["bugcheck"]["code"] in (t.bugcheck_code, f"{t.bugcheck_code:#x}",
                                              f"0x{t.bugcheck_code:08X}")


@pytest.mark.parametrize("name", ALL)
def test_every_layout_survives_crlf_utf16_and_quoting(name: str) -> None:
    text = (HERE / name).read_text()
    plain = parse(text, name)
    quoted = "".join(f"> {line}\r\n" for line in text.splitlines())
    for data in (quoted.encode("utf-16"), text.replace("\n", "\r\n").encode("utf-16-le")):
        t = parse_bytes(data, name)
        assert (t.bugcheck_code, t.bugcheck_args, t.build) == (
            plain.bugcheck_code, plain.bugcheck_args, plain.build)
        assert [f.call_site for f in t.stack] == [f.call_site for f in plain.stack]
        assert t.modules == plain.modules


@pytest.mark.parametrize("size", [10, 100_000])
def test_new_row_patterns_stay_linear(size: int) -> None:
    """Inline rows, wrapped-row joining and RetAddr-only rows on hostile long lines."""
    lines = ["STACK_TEXT:", "(Inline Function) " * size, "fffff800`00000000 " * size,
             "00 " + "--------`-------- " * size, "fffff800`00000000 fffff800`00000000",
             "0" * size + " : " * size, "[" + " @ 1" * size + "]", "Key  : " + "x" * size]
    t = parse("\n".join(lines) + "\n", "long")
    assert len(t.stack) <= len(lines)  # junk may read as rows; what matters is time
