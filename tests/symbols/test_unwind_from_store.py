"""x64 frames of a minidump unwound with the store's image files, then named from PDBs.

A triage minidump holds no module images, so the walk cannot use .pdata; with
``--symbols`` the walker borrows amdppm.sys and Wdf01000.sys from the corpus store (matched
by TimeDateStamp + SizeOfImage) and unwinds from the CONTEXT record that Arg4 of
0x1000007E names (Microsoft, "Bug Check 0x7E": Arg4 = context record address).

Oracle: rizin's `dbt` of this dump with the kernel PDBs from Microsoft's symbol server
(shared/corpus/dumps/triage_x64.expected.json, "stack": [address, sp, module, symbol]).
rizin prints each frame's SP after the return (the slot + 8); we report the slot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dumptriage import analyze
from tests.conftest import shared

DUMP = shared("corpus/dumps/triage_x64.dmp")
STORE = shared("corpus/symbols")
EXPECTED = shared("corpus/dumps/triage_x64.expected.json")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _rizin_frames() -> list[tuple[int, int, str, str | None]]:
    rows = json.loads(Path(EXPECTED).read_text())["stack"]
    return [(int(a, 16), int(sp, 16), module, symbol) for a, sp, module, symbol in rows]


def _from_exception(report: dict[str, object]) -> list[dict[str, str]]:
    stack: list[dict[str, str]] = report["stack"]  # type: ignore[assignment]
    first = next(i for i, f in enumerate(stack) if f["method"] == "exception_context")
    return stack[first:]


def test_exception_context_then_unwound_frames_match_rizin() -> None:
    report = analyze(DUMP, symbols=str(STORE)).to_dict()
    ours = _from_exception(report)
    # rizin's frames from the faulting instruction (amdppm) to nt!IofCallDriver: the
    # modules whose images the store has (amdppm, Wdf01000), and the first nt frame they
    # return to.
    theirs = [f for f in _rizin_frames() if f[0] >= 0xFFFFF8048B500000 or f[2] == "Wdf01000"]
    theirs.append(next(f for f in _rizin_frames() if f[3] == "IofCallDriver+85"))
    assert int(ours[0]["address"], 16) == theirs[0][0] == 0xFFFFF8048B58334C
    for mine, (address, sp, _module, _symbol) in zip(ours[1:], theirs[1:], strict=False):
        assert mine["method"] == "unwind"
        assert int(mine["address"], 16) == address
        assert int(mine["stack_address"], 16) == sp - 8
    assert [f["method"] for f in ours[: len(theirs)]] == \
        ["exception_context"] + ["unwind"] * (len(theirs) - 1)


def test_unwound_amdppm_frames_carry_rizins_pdb_names() -> None:
    report = analyze(DUMP, symbols=str(STORE)).to_dict()
    names = [f["symbol"] for f in _from_exception(report)[:6]]
    # rizin prints decimal offsets: WriteIoMemRawEx+112 is +0x70, and so on.
    assert names == ["amdppm!WriteIoMemRawEx+0x70", "amdppm!WriteGenAddrEx+0x6b",
                     "amdppm!WriteGenAddrMaybeHiddenEx+0x18", "amdppm!InitAcpiCpc+0x317",
                     "amdppm!ProcLibDeviceStart+0x886",
                     "amdppm!EvtDevicePrepareHardware+0xd2"]


def test_without_the_store_the_exception_context_is_found_and_the_rest_is_scanned() -> None:
    report = analyze(DUMP).to_dict()
    ours = _from_exception(report)
    assert ours[0]["module"] == "amdppm.sys" and ours[0]["offset"] == "0x334c"
    # No image to unwind amdppm with: the stack is scanned from the CONTEXT's RSP on.
    assert {f["method"] for f in ours[1:]} == {"scan"}
    assert int(ours[1]["stack_address"], 16) >= 0xFFFF850429892120
    # The frames before it are the crash registers' walk, below the CONTEXT's RSP.
    before = report["stack"][1 : report["stack"].index(ours[0])]  # type: ignore[attr-defined]
    assert before and all(int(f["stack_address"], 16) < 0xFFFF850429892120 for f in before)


def test_the_culprit_and_signature_use_the_unwound_function_names() -> None:
    from dumptriage import signature_of

    report = analyze(DUMP, symbols=str(STORE))
    assert report.culprit is not None and report.culprit.module == "amdppm.sys"
    signature = signature_of(report)
    assert "WriteIoMemRawEx" in signature.signature
