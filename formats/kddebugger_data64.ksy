meta:
  id: kddebugger_data64
  title: KDDEBUGGER_DATA64 ("KDBG"), the kernel's table of debugger facts
  license: MIT
  endian: le
doc: |
  The block the kernel keeps for debuggers: kernel base, list heads, the processor
  block, and the offsets of KPRCB/KTHREAD fields for the running build. One layout
  serves x86 and x64: every pointer is 64 bits wide (sign-extended on x86). The block
  only grows; fields past `len_block` (Header.Size) do not exist in that build, so
  every reader must check `len_block` before using a late field.

  A crash dump holds it in clear (KeBugCheck2 decodes it before writing); a triage dump
  carries a copy at TRIAGE_DUMP.DebuggerDataOffset.
doc-ref:
  - wdbgexts.h KDDEBUGGER_DATA64
  - https://github.com/qemu/qemu/blob/master/contrib/elf2dmp/kdbg.h
  - dumptriage reference sheet shared/reference/dump-format.md section 4.1
seq:
  - id: list
    -orig-id: Header.List
    size: 16
  - id: owner_tag
    -orig-id: Header.OwnerTag
    type: str
    size: 4
    encoding: ASCII
    doc: '"KDBG" when the block is in clear.'
  - id: len_block
    -orig-id: Header.Size
    type: u4
    doc: 0x340 on Windows 7, 0x360 on 8/8.1, 0x368 RS1-RS4, 0x380 RS5 and later.
instances:
  kern_base:
    -orig-id: KernBase
    pos: 0x18
    type: u8
  ps_loaded_module_list:
    -orig-id: PsLoadedModuleList
    pos: 0x48
    type: u8
  ps_active_process_head:
    -orig-id: PsActiveProcessHead
    pos: 0x50
    type: u8
  ki_bugcheck_data:
    -orig-id: KiBugcheckData
    pos: 0x88
    type: u8
  mm_pfn_database:
    -orig-id: MmPfnDatabase
    pos: 0xc0
    type: u8
  nt_build_lab:
    -orig-id: NtBuildLab
    pos: 0x208
    type: u8
  ki_processor_block:
    -orig-id: KiProcessorBlock
    pos: 0x218
    type: u8
  mm_unloaded_drivers:
    -orig-id: MmUnloadedDrivers
    pos: 0x220
    type: u8
  mm_last_unloaded_driver:
    -orig-id: MmLastUnloadedDriver
    pos: 0x228
    type: u8
  cm_nt_csd_version:
    -orig-id: CmNtCSDVersion
    pos: 0x268
    type: u8
  offset_kthread_initial_stack:
    -orig-id: OffsetKThreadInitialStack
    pos: 0x29e
    type: u2
  size_eprocess:
    -orig-id: SizeEProcess
    pos: 0x2a8
    type: u2
  offset_eprocess_directory_table_base:
    -orig-id: OffsetEprocessDirectoryTableBase
    pos: 0x2ae
    type: u2
  size_prcb:
    -orig-id: SizePrcb
    pos: 0x2b0
    type: u2
  offset_prcb_dpc_routine:
    -orig-id: OffsetPrcbDpcRoutine
    pos: 0x2b2
    type: u2
    doc: Offset of KPRCB.DpcRoutineActive (non-zero while a DPC routine runs).
  offset_prcb_idle_thread:
    -orig-id: OffsetPrcbIdleThread
    pos: 0x350
    type: u2
    doc: Windows 8 and later (wdbgexts.h "Windows 8 addition"; hung-guest-dumps.md 3.2).
  offset_prcb_dpc_stack:
    -orig-id: OffsetPrcbDpcStack
    pos: 0x354
    type: u2
    doc: Offset of KPRCB.DpcStack, the initial stack pointer of the DPC stack (Windows 8+).
  offset_prcb_isr_stack:
    -orig-id: OffsetPrcbIsrStack
    pos: 0x356
    type: u2
    doc: Offset of KPRCB.IsrStack (Windows 8+; 0 where the architecture has none).
  offset_prcb_current_thread:
    -orig-id: OffsetPrcbCurrentThread
    pos: 0x2b4
    type: u2
  offset_prcb_proc_state_context:
    -orig-id: OffsetPrcbProcStateContext
    pos: 0x2bc
    type: u2
  offset_prcb_number:
    -orig-id: OffsetPrcbNumber
    pos: 0x2be
    type: u2
  size_ethread:
    -orig-id: SizeEThread
    pos: 0x2c0
    type: u2
  offset_prcb_context:
    -orig-id: OffsetPrcbContext
    pos: 0x338
    type: u2
    doc: Windows 7 and later (len_block > 0x338).
  offset_kthread_stack_limit:
    -orig-id: OffsetKThreadStackLimit
    pos: 0x340
    type: u4
    doc: Windows 8 and later (len_block > 0x340).
  offset_kthread_stack_base:
    -orig-id: OffsetKThreadStackBase
    pos: 0x344
    type: u4
    doc: Windows 8 and later.
  pte_base:
    -orig-id: PteBase
    pos: 0x360
    type: u8
    doc: Windows 10 RS1 and later (len_block > 0x360).
