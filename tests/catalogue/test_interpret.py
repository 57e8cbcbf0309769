"""One test per interpretation function, with real values where we have them (oracle comments)."""

from __future__ import annotations

from dumptriage.catalogue import kinds
from dumptriage.catalogue.interpret import explain, summary_lines
from dumptriage.catalogue.statuses import fast_fail_name, ntstatus_name

# Oracle: shared/story/windbg-analyze.txt, WinDbg 6.11 `!analyze -v` on the story's Win7 x86 dump:
#   CLOCK_WATCHDOG_TIMEOUT (101)
#   Arg1: 00000061, Clock interrupt time out interval in nominal clock ticks.
#   Arg2: 00000000, 0.
#   Arg3: 807a3120, The PRCB address of the hung processor.
#   Arg4: 00000001, 0.
STORY_ARGS = [0x61, 0x0, 0x807A3120, 0x1]


def test_story_0x101() -> None:
    exp = explain(0x101, STORY_ARGS, pointer_bits=32)
    assert exp.name == "CLOCK_WATCHDOG_TIMEOUT"
    assert summary_lines(exp) == [
        "Arg1 0x61: clock interrupt time-out interval, 97 ticks",
        "Arg2 0x0: Zero (reserved)",
        "Arg3 0x807a3120: KPRCB of the hung processor (kernel-mode address)",
        "Arg4 0x1: index of the hung processor: 1",
    ]
    assert any("§3.1" in note for note in exp.kvm_causes)
    assert exp.to_dict()["parameters"][2]["value"] == "0x807a3120"  # 8 digits on x86


def test_ticks() -> None:
    assert kinds.ticks(0x61, 32) == "97 ticks"


def test_address() -> None:
    assert kinds.address(0, 64) == "NULL pointer"
    assert kinds.address(0xFFFFF80812345678, 64) == "kernel-mode address"
    assert kinds.address(0x00007FF612345678, 64) == "user-mode address"
    assert kinds.address(0x0000800000000000, 64) == "non-canonical address"
    assert kinds.address(0x807A3120, 32) == "kernel-mode address"  # story Arg3
    assert kinds.address(0x7FFE0000, 32) == "user-mode address"


def test_irql() -> None:
    assert kinds.irql(2, 64) == "IRQL 2 (DISPATCH_LEVEL)"
    assert kinds.irql(0xF, 64) == "IRQL 15 (HIGH_LEVEL / PROFILE_LEVEL)"
    # Oracle: story windbg-analyze.txt prints "CURRENT_IRQL:  1c" on the x86 dump.
    assert kinds.irql(0x1C, 32) == "IRQL 28 (CLOCK_LEVEL)"
    assert kinds.irql(5, 64) == "IRQL 5 (device IRQL (DIRQL))"
    assert kinds.irql(0x40, 64) == "IRQL 64 (not a valid IRQL)"


def test_access() -> None:
    assert kinds.access(0, 64) == "read access"
    assert kinds.access(1, 64) == "write access"
    assert kinds.access(8, 64) == "execute (instruction fetch)"
    assert kinds.access(2, 64) == "execute (instruction fetch)"  # 0xD1 documents 2 as execute


def test_pf_access() -> None:
    assert kinds.pf_access(0, 64) == "read access"
    assert kinds.pf_access(2, 64) == "write access"
    assert kinds.pf_access(0x10, 64) == "execute (instruction fetch)"
    assert kinds.pf_access(7, 64) == "unknown access type 0x7"


def test_ntstatus() -> None:
    # Values named in issue 4 and kvm-causes.md §3.5/§3.6/§3.11.
    assert ntstatus_name(0xC0000005) == "STATUS_ACCESS_VIOLATION"
    assert ntstatus_name(0xC000000E) == "STATUS_NO_SUCH_DEVICE"
    assert ntstatus_name(0xC0000185) == "STATUS_IO_DEVICE_ERROR"
    assert ntstatus_name(0xC000009C) == "STATUS_DEVICE_DATA_ERROR"
    assert ntstatus_name(0xC000016A) == "STATUS_DISK_OPERATION_FAILED"
    assert ntstatus_name(0xC0000034) == "STATUS_OBJECT_NAME_NOT_FOUND"
    assert ntstatus_name(0xC0000096) == "STATUS_PRIVILEGED_INSTRUCTION"
    assert kinds.ntstatus(0xFFFFFFFFC0000005, 64) == "STATUS_ACCESS_VIOLATION"  # sign-extended
    assert kinds.ntstatus(1, 64) is None
    assert kinds.ntstatus(0xC0DEC0DE, 64) == "NTSTATUS 0xc0dec0de (name not in our table)"


def test_fast_fail() -> None:
    assert fast_fail_name(3) == "FAST_FAIL_CORRUPT_LIST_ENTRY"
    assert kinds.fast_fail(2, 64) == "FAST_FAIL_STACK_COOKIE_CHECK_FAILURE"
    assert kinds.fast_fail(16, 64) == "unknown FAST_FAIL code 16"


def test_count_processor_time() -> None:
    assert kinds.count(1280, 64) == "1280"
    assert kinds.processor(1, 32) == "processor 1"
    assert kinds.milliseconds(7000, 64) == "7000 ms (7 s)"
    assert kinds.seconds(0x258, 32) == "600 s"


def test_file_line() -> None:
    assert kinds.file_line(0x001902FE, 64) == "source file id 0x19, line 766"


def test_enum_value() -> None:
    assert kinds.enum_value("trap_number", 8).startswith("double fault")
    assert kinds.enum_value("pg_region", 7) == "a critical MSR was modified"
    assert kinds.enum_value("whea_source", 0x42) == "value 0x42 not in our table"


def test_0xd1_from_the_issue() -> None:
    exp = explain(0xD1, [0, 2, 0, 0xFFFFF80812345678])
    texts = [p.interpretation for p in exp.parameters]
    assert texts == [
        "referenced address (NULL pointer)",
        "IRQL 2 (DISPATCH_LEVEL)",
        "read access",
        "faulting instruction (kernel-mode address)",
    ]


def test_0x133_single_dpc_vs_cumulative() -> None:
    # Oracle: Microsoft's 0x133 page, `!analyze -v`: Arg1 0, Arg2 0x501 time count, Arg3 0x500.
    single = explain(0x133, [0, 0x501, 0x500, 0])
    assert single.subtype is not None and "single DPC" in (single.subtype.summary or "")
    assert single.parameters[1].meaning == "DPC time count, in ticks"
    assert single.parameters[2].interpretation == "1280 ticks"
    cumulative = explain(0x133, [1, 0x1E00, 0, 0xFFFFF80312345678])
    assert cumulative.subtype is not None and "cumulatively" in (cumulative.subtype.summary or "")
    assert cumulative.parameters[1].meaning == "Watchdog period, in ticks"


def test_0x9f_subtype_overrides_arguments() -> None:
    # Oracle: Microsoft's 0x9F page, `!analyze -v` example with Arg1 3 and Arg4 the blocked IRP.
    exp = explain(0x9F, [3, 0xFFFFFA8007B13440, 0xFFFFF8000386C3D8, 0xFFFFFA800AB61BD0])
    assert exp.parameters[3].meaning == "The blocked IRP"
    assert exp.parameters[1].interpretation == "kernel-mode address"


def test_0x1a_subtype_table() -> None:
    exp = explain(0x1A, [0x41790, 0xFFFFFA8000C0FFEE, 0, 0])
    assert exp.subtype is not None and exp.subtype.value == 0x41790
    assert "page table page" in (exp.subtype.summary or "")
    unknown = explain(0x1A, [0x12345678, 0, 0, 0])
    assert unknown.subtype is not None and unknown.subtype.summary is None


def test_0x7f_trap_number() -> None:
    exp = explain(0x7F, [8, 0, 0, 0])
    assert exp.subtype is not None and (exp.subtype.summary or "").startswith("double fault")


def test_0x109_region_type() -> None:
    exp = explain(0x109, [0, 0, 0, 7])
    assert exp.parameters[3].interpretation == "a critical MSR was modified"


def test_0x124_whea_source() -> None:
    exp = explain(0x124, [0, 0xFFFFE0001234A028, 0xBE000000, 0x800400])
    assert exp.subtype is not None and exp.subtype.summary == "machine check exception (MCE)"


def test_0x139_fast_fail() -> None:
    exp = explain(0x139, [3, 0xFFFFF80312345000, 0xFFFFF80312344F58, 0])
    assert exp.subtype is not None and exp.subtype.summary == "FAST_FAIL_CORRUPT_LIST_ENTRY"


def test_0xc4_0x91() -> None:
    exp = explain(0xC4, [0x91, 0, 0, 0])
    assert exp.subtype is not None and "switched stacks" in (exp.subtype.summary or "")
    assert any("§3.4" in note for note in exp.kvm_causes)


def test_m_variant_takes_base_arguments() -> None:
    base, twin = explain(0x7E), explain(0x1000007E)
    assert [p.meaning for p in twin.parameters] == [p.meaning for p in base.parameters]
    assert twin.name == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"


def test_code_without_parameters_and_unknown_code() -> None:
    exp = explain(0x2, [1])
    assert exp.name == "DEVICE_QUEUE_NOT_BUSY" and exp.parameters[0].interpretation is None
    unknown = explain(0x7FFFFFFF)
    assert unknown.name is None and unknown.parameters == ()


def test_values_masked_to_pointer_width() -> None:
    exp = explain(0xD1, [0xFFFFFFFF807A3120, 2, 0, 0], pointer_bits=32)
    assert exp.parameters[0].value == 0x807A3120


def test_to_dict_shape() -> None:
    d = explain(0x101, STORY_ARGS, 32).to_dict()
    assert set(d) >= {
        "name",
        "code",
        "description",
        "parameters",
        "subtype",
        "usual_causes",
        "kvm_causes",
    }
    assert set(d["parameters"][0]) == {"index", "value", "meaning", "interpretation"}
    assert d["code"] == 0x101
