"""The story case's crashing-thread stack, rebuilt from the WinDbg `kb` output.

Oracle: /work/shared/story/windbg-analyze.txt, WinDbg 6.11 `!analyze -v` STACK_TEXT of the
guest's MEMORY.DMP (Windows 7 SP1 x86, 7601.18205, bugcheck 0x101). Each row there is
"ChildEBP RetAddr Args-to-Child(3) symbol". For an x86 EBP frame that means:
[ChildEBP] = the caller's EBP (the next row's ChildEBP), [ChildEBP+4] = RetAddr,
[ChildEBP+8..+0x10] = the first three arguments.
"""

from __future__ import annotations

from dumptriage.synth.spec import StackSpec

# (ChildEBP, RetAddr, Arg1, Arg2, Arg3, symbol as WinDbg printed it)
KB_ROWS: tuple[tuple[int, int, int, int, int, str], ...] = (
    (0x807FC5E4, 0x83C8E117, 0x00000101, 0x00000061, 0x00000000, "nt!KeBugCheckEx+0x1e"),
    (0x807FC620, 0x83C8D763, 0x00026160, 0x00000000, 0x0011A800, "nt!KeAccumulateTicks+0x242"),
    (0x807FC660, 0x83C8D610, 0x83C4A2BE, 0x2E50D92A, 0x00000000, "nt!KeUpdateRunTime+0x145"),
    (0x807FC6B8, 0x83C8CE13, 0x8736E71B, 0x8736E71B, 0x000000D1, "nt!KeUpdateSystemTime+0x613"),
    (0x807FC6B8, 0x83C4A2BE, 0x8736E71B, 0x8736E71B, 0x000000D1,
     "nt!KeUpdateSystemTimeAssist+0x13"),
    (0x807FC75C, 0x83C93268, 0x94484000, 0x00000000, 0x807FC7B4,
     "nt!KeFlushMultipleRangeTb+0x2d5"),
    (0x807FC770, 0x83C70CA0, 0x00001000, 0x876424E8, 0x00000000, "nt!MiFlushPteList+0x22"),
    (0x807FC838, 0x83C9ACDB, 0x94485000, 0x00001000, 0x94272250,
     "nt!MmSetAddressRangeModified+0x205"),
    (0x807FC8CC, 0x8C0EBD3F, 0x8763F998, 0x00000000, 0x00000000, "nt!CcFlushCache+0x294"),
    (0x807FC91C, 0x8C0F2DFC, 0x87604DA8, 0x942670F8, 0x00000000, "Ntfs+0x7ed3f"),
    (0x807FC990, 0x8C0ECD92, 0x87604DA8, 0x87BAA428, 0x0C757330, "Ntfs+0x85dfc"),
    (0x807FC9F8, 0x83C49C1E, 0x87361020, 0x87BAA428, 0x87BAA428, "Ntfs+0x7fd92"),
    (0x807FCA10, 0x843CE20C, 0x8735A300, 0x87BAA428, 0x00000000, "nt!IofCallDriver+0x63"),
    (0x807FCA34, 0x843CE3CB, 0x807FCA54, 0x8735A300, 0x00000000,
     "FLTMGR!FltpLegacyProcessingAfterPreCallbacksCompleted+0x2aa"),
    (0x807FCA6C, 0x83C49C1E, 0x8735A300, 0x87BAA428, 0x874E9DB0, "FLTMGR!FltpDispatch+0xc5"),
    (0x807FCA84, 0x937684DB, 0x807FCAA4, 0x83C49C1E, 0x874E9DB0, "nt!IofCallDriver+0x63"),
    (0x807FCA8C, 0x83C49C1E, 0x874E9DB0, 0x87BAA428, 0x87BAA428, "qutmdrv+0x4db"),
    (0x807FCAA4, 0x83E3DBE9, 0x87BAA428, 0x87646C98, 0x00000000, "nt!IofCallDriver+0x63"),
    (0x807FCAC4, 0x83E1C4BB, 0x874E9DB0, 0x87646C98, 0x00000000,
     "nt!IopSynchronousServiceTail+0x1f8"),
    (0x807FCB30, 0x83C508C6, 0x87F0A590, 0x807FCBC8, 0x807FCBD0, "nt!NtFlushBuffersFile+0x1d7"),
    (0x807FCB30, 0x83C4E7AD, 0x87F0A590, 0x807FCBC8, 0x807FCBD0, "nt!KiSystemServicePostCall"),
    (0x807FCBB0, 0x83E22B5D, 0x80000564, 0x807FCBC8, 0x863E7798, "nt!ZwFlushBuffersFile+0x11"),
    (0x807FCBD0, 0x83EAB328, 0x8CE1A740, 0x00000000, 0x00000000, "nt!CmpFileFlush+0x5a"),
    (0x807FCC00, 0x83C9014B, 0x00000000, 0x00000000, 0x863E7798, "nt!CmpLazyFlushWorker+0x35"),
    (0x807FCC50, 0x83E1C12B, 0x00000001, 0xB2D8E202, 0x00000000, "nt!ExpWorkerThread+0x10d"),
    (0x807FCC90, 0x83CC3559, 0x83C9003E, 0x00000001, 0x00000000,
     "nt!PspSystemThreadStartup+0x9e"),
    # the last row, "00000000 ... nt!KiThreadStartup+0x19", has no frame on this stack
)

STACK_LOW, STACK_HIGH = 0x807FA000, 0x807FD000  # a 12 KiB x86 kernel stack around the frames
# Synthetic: WinDbg does not print KeBugCheckEx's address. Eip = KeBugCheckEx+0x1e with
# KeBugCheckEx placed at nt+0xDDB00; Esp 0x1c below the frame's EBP (its locals).
KE_BUGCHECK_EX = 0x83CF0B00
STORY_EIP = KE_BUGCHECK_EX + 0x1E
STORY_EBP = KB_ROWS[0][0]
STORY_ESP = STORY_EBP - 0x1C


def story_slots() -> dict[int, int]:
    """Stack address -> dword, following the EBP chain of KB_ROWS.

    Two pairs of rows share a ChildEBP (trap-frame transitions WinDbg prints twice). The
    first row owns the frame; the second row's RetAddr is put at ChildEBP-4 so every
    return address WinDbg showed is on the stack.
    """
    slots: dict[int, int] = {}
    distinct = [row for i, row in enumerate(KB_ROWS) if i == 0 or row[0] != KB_ROWS[i - 1][0]]
    for i, (ebp, ret, a1, a2, a3, _) in enumerate(distinct):
        caller = distinct[i + 1][0] if i + 1 < len(distinct) else 0
        for off, value in ((0, caller), (4, ret), (8, a1), (12, a2), (16, a3)):
            prev = slots.setdefault(ebp + off, value)
            if prev != value:
                raise AssertionError(f"WinDbg rows disagree at {ebp + off:#x}")
    for i in range(1, len(KB_ROWS)):
        if KB_ROWS[i][0] == KB_ROWS[i - 1][0]:
            slots[KB_ROWS[i][0] - 4] = KB_ROWS[i][1]
    return slots


def story_stack() -> StackSpec:
    slots = story_slots()
    top = max(slots) + 4
    values = tuple(slots.get(va, 0) for va in range(STORY_ESP, top, 4))
    return StackSpec(low=STACK_LOW, high=STACK_HIGH, sp=STORY_ESP, ip=STORY_EIP,
                     bp=STORY_EBP, values=values)


# CPU 1, the hung processor (Arg4 = 1, Arg3 = its KPRCB 0x807a3120). WinDbg's output shows
# nothing of it: this state is synthetic. It spins inside nt (nt+0x3E8A5, a wait loop with
# interrupts off, which is what a 0x101 hung CPU looks like) on its own 12 KiB stack, with
# a two-frame EBP chain back into nt.
CPU1_LOW, CPU1_HIGH = 0x807B0000, 0x807B3000
CPU1_EIP = 0x83C13000 + 0x3E8A5
CPU1_ESP, CPU1_EBP = 0x807B2D30, 0x807B2D48
CPU1_FRAMES: tuple[tuple[int, int], ...] = (  # (ChildEBP, RetAddr)
    (CPU1_EBP, 0x83C13000 + 0x7A210),
    (0x807B2D80, 0x83C13000 + 0x4F0C1),
)


def cpu1_stack() -> StackSpec:
    slots: dict[int, int] = {}
    for i, (ebp, ret) in enumerate(CPU1_FRAMES):
        slots[ebp] = CPU1_FRAMES[i + 1][0] if i + 1 < len(CPU1_FRAMES) else 0
        slots[ebp + 4] = ret
    top = max(slots) + 4
    values = tuple(slots.get(va, 0) for va in range(CPU1_ESP, top, 4))
    return StackSpec(low=CPU1_LOW, high=CPU1_HIGH, sp=CPU1_ESP, ip=CPU1_EIP, bp=CPU1_EBP,
                     values=values)
