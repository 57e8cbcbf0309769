meta:
  id: windows_crash_dump
  title: Windows kernel crash dump (MEMORY.DMP, Minidump, LiveKernelReports)
  application: Windows kernel (KeBugCheck2 / crashdmp.sys), WinDbg, kd
  file-extension: dmp
  license: MIT
  endian: le
doc: |
  The container Windows writes when it bugchecks: a fixed header (0x1000 bytes on
  32-bit systems, 0x2000 on 64-bit ones) whose DumpType says what follows it: physical
  memory runs (full dump), a SUMMARY_DUMP bitmap (Windows 7 and older kernel dumps), a
  BMP bitmap (Windows 8 and later kernel, automatic, active and full dumps), a
  TRIAGE_DUMP (small memory dump) or an RDMP range table (new dbgeng `.dump`).

  Every field that the writer never filled still holds the "PAGE" dword (0x45474150):
  the header is pre-filled with it. Readers must treat that value as "absent".

  The structures after the header are exposed as lazy instances; which one applies is
  decided by DumpType, and the reader only touches the one that does.
doc-ref:
  - https://github.com/0vercl0k/kdmp-parser/blob/master/src/lib/kdmp-parser-structs.h
  - Windows SDK um/mindumpdef.h (DUMP_HEADER32, DUMP_HEADER64, DUMP_TYPE)
  - ntiodump.h (SUMMARY_DUMP32/64, TRIAGE_DUMP32/64)
  - dumptriage reference sheet shared/reference/dump-format.md sections 1-3
seq:
  - id: signature
    -orig-id: Signature
    contents: PAGE
  - id: valid_dump
    -orig-id: ValidDump
    type: str
    size: 4
    encoding: ASCII
    doc: '"DUMP" for a 32-bit (x86) dump, "DU64" for a 64-bit (x64, ARM64) one.'
  - id: header
    type:
      switch-on: valid_dump
      cases:
        '"DUMP"': dump_header32
        '"DU64"': dump_header64
instances:
  is_64:
    value: valid_dump == "DU64"
  len_header:
    value: 'is_64 ? 0x2000 : 0x1000'
    doc: The header size; whatever DumpType says follows starts here.
  summary_dump:
    pos: len_header
    type: summary_dump(is_64)
    doc: DumpType 2 (Windows 7 and older kernel memory dumps).
  bitmap_dump:
    pos: len_header
    type: bitmap_dump
    doc: DumpType 5 and 6 (Windows 8 and later bitmap dumps).
  triage_dump:
    pos: len_header
    type: triage_dump(is_64)
    doc: DumpType 4 (small memory dump).
  rdmp_header:
    pos: len_header
    type: rdmp_header
    doc: |
      DumpType 8, 9 and 0xA (new dbgeng range dumps), 64-bit only: the only source
      (kdmp-parser) reads RDMP at 0x2000 in a DUMP_HEADER64 file.
types:
  dump_header32:
    doc: DUMP_HEADER32 from offset 8; offsets in comments count from the file start.
    doc-ref: mindumpdef.h DUMP_HEADER32; dump-format.md section 1.2
    seq:
      - id: major_version
        -orig-id: MajorVersion
        type: u4
        doc: 0x08. 0xF for a free build, 0xC for a checked build.
      - id: minor_version
        -orig-id: MinorVersion
        type: u4
        doc: 0x0C. The OS build number (7601, 19041...).
      - id: directory_table_base
        -orig-id: DirectoryTableBase
        type: u4
        doc: 0x10. CR3; with PAE a 32-byte aligned PDPT address.
      - id: pfn_data_base
        -orig-id: PfnDataBase
        type: u4
      - id: ps_loaded_module_list
        -orig-id: PsLoadedModuleList
        type: u4
      - id: ps_active_process_head
        -orig-id: PsActiveProcessHead
        type: u4
      - id: machine_image_type
        -orig-id: MachineImageType
        type: u4
        doc: 0x20. 0x14C (i386).
      - id: number_processors
        -orig-id: NumberProcessors
        type: u4
      - id: bug_check_code
        -orig-id: BugCheckCode
        type: u4
        doc: 0x28.
      - id: bug_check_parameters
        -orig-id: BugCheckParameter1..4
        type: u4
        repeat: expr
        repeat-expr: 4
      - id: version_user
        -orig-id: VersionUser
        size: 32
      - id: pae_enabled
        -orig-id: PaeEnabled
        type: u1
        doc: 0x5C. Non-zero when the kernel ran with PAE paging.
      - id: kd_secondary_version
        -orig-id: KdSecondaryVersion
        type: u1
      - id: spare3
        -orig-id: Spare3
        size: 2
      - id: kd_debugger_data_block
        -orig-id: KdDebuggerDataBlock
        type: u4
        doc: 0x60. Virtual address of KDDEBUGGER_DATA64.
      - id: physical_memory_block_buffer
        -orig-id: PhysicalMemoryBlockBuffer
        size: 700
        doc: 0x64. PHYSICAL_MEMORY_DESCRIPTOR32 (full dumps) or "PAGE" fill.
      - id: context_record
        -orig-id: ContextRecord
        size: 1200
        doc: 0x320. An x86 CONTEXT (0x2CC bytes) at the start of the slot.
      - id: exception
        -orig-id: Exception
        type: exception_record32
        size: 0x50
        doc: 0x7D0.
      - id: comment
        -orig-id: Comment
        size: 128
        doc: 0x820. ASCII, NUL-terminated; "PAGE" fill when absent.
      - id: attributes
        -orig-id: Attributes
        type: u4
        doc: 0x8A0. DUMP_FILE_ATTRIBUTES (newer headers only).
      - id: boot_id
        -orig-id: BootId
        type: u4
      - id: reserved0
        -orig-id: _reserved0
        size: 1760
      - id: dump_type
        -orig-id: DumpType
        type: u4
        doc: 0xF88.
      - id: mini_dump_fields
        -orig-id: MiniDumpFields
        type: u4
      - id: secondary_data_state
        -orig-id: SecondaryDataState
        type: u4
      - id: product_type
        -orig-id: ProductType
        type: u4
      - id: suite_mask
        -orig-id: SuiteMask
        type: u4
      - id: writer_status
        -orig-id: WriterStatus
        type: u4
      - id: required_dump_space
        -orig-id: RequiredDumpSpace
        type: u8
        doc: 0xFA0. Expected file size (QEMU declares it u32; the high half is then 0).
      - id: reserved2
        -orig-id: _reserved2
        size: 16
      - id: system_up_time
        -orig-id: SystemUpTime
        type: u8
        doc: 0xFB8. 100-ns ticks since boot.
      - id: system_time
        -orig-id: SystemTime
        type: u8
        doc: 0xFC0. FILETIME (100-ns ticks since 1601-01-01 UTC).
      - id: reserved3
        -orig-id: _reserved3
        size: 56
    instances:
      physical_memory_block:
        pos: 0x64
        size: 700
        type: physical_memory_descriptor32

  dump_header64:
    doc: DUMP_HEADER64 from offset 8; offsets in comments count from the file start.
    doc-ref: mindumpdef.h DUMP_HEADER64; kdmp-parser static_asserts; dump-format.md section 1.3
    seq:
      - id: major_version
        -orig-id: MajorVersion
        type: u4
      - id: minor_version
        -orig-id: MinorVersion
        type: u4
      - id: directory_table_base
        -orig-id: DirectoryTableBase
        type: u8
        doc: 0x10.
      - id: pfn_data_base
        -orig-id: PfnDataBase
        type: u8
      - id: ps_loaded_module_list
        -orig-id: PsLoadedModuleList
        type: u8
      - id: ps_active_process_head
        -orig-id: PsActiveProcessHead
        type: u8
      - id: machine_image_type
        -orig-id: MachineImageType
        type: u4
        doc: 0x30. 0x8664 (AMD64) or 0xAA64 (ARM64).
      - id: number_processors
        -orig-id: NumberProcessors
        type: u4
      - id: bug_check_code
        -orig-id: BugCheckCode
        type: u4
        doc: 0x38.
      - id: padding1
        size: 4
      - id: bug_check_parameters
        -orig-id: BugCheckParameter1..4
        type: u8
        repeat: expr
        repeat-expr: 4
        doc: 0x40.
      - id: version_user
        -orig-id: VersionUser
        size: 32
      - id: kd_debugger_data_block
        -orig-id: KdDebuggerDataBlock
        type: u8
        doc: 0x80.
      - id: physical_memory_block_buffer
        -orig-id: PhysicalMemoryBlockBuffer
        size: 0x2c0
        doc: 0x88. PHYSICAL_MEMORY_DESCRIPTOR64 (full dumps) or "PAGE" fill.
      - id: context_record
        -orig-id: ContextRecord
        size: 3000
        doc: 0x348. An AMD64 CONTEXT (0x4D0 bytes) at the start of the slot.
      - id: exception
        -orig-id: Exception
        type: exception_record64
        size: 0x98
        doc: 0xF00.
      - id: dump_type
        -orig-id: DumpType
        type: u4
        doc: 0xF98.
      - id: padding2
        size: 4
      - id: required_dump_space
        -orig-id: RequiredDumpSpace
        type: u8
        doc: 0xFA0.
      - id: system_time
        -orig-id: SystemTime
        type: u8
        doc: 0xFA8. Unlike the 32-bit header, SystemTime comes before Comment.
      - id: comment
        -orig-id: Comment
        size: 128
        doc: 0xFB0.
      - id: system_up_time
        -orig-id: SystemUpTime
        type: u8
        doc: 0x1030.
      - id: mini_dump_fields
        -orig-id: MiniDumpFields
        type: u4
      - id: secondary_data_state
        -orig-id: SecondaryDataState
        type: u4
      - id: product_type
        -orig-id: ProductType
        type: u4
        doc: 0x1040.
      - id: suite_mask
        -orig-id: SuiteMask
        type: u4
      - id: writer_status
        -orig-id: WriterStatus
        type: u4
      - id: unused1
        -orig-id: Unused1
        type: u1
      - id: kd_secondary_version
        -orig-id: KdSecondaryVersion
        type: u1
      - id: unused2
        -orig-id: Unused
        size: 2
      - id: attributes
        -orig-id: Attributes
        type: u4
        doc: 0x1050.
      - id: boot_id
        -orig-id: BootId
        type: u4
      - id: reserved0
        -orig-id: _reserved0
        size: 4008
    instances:
      physical_memory_block:
        pos: 0x88
        size: 0x2c0
        type: physical_memory_descriptor64

  physical_memory_descriptor32:
    doc: PHYSICAL_MEMORY_DESCRIPTOR32; at most 86 runs fit in the 700-byte buffer.
    doc-ref: ntiodump.h; dump-format.md section 1.2
    seq:
      - id: num_runs
        -orig-id: NumberOfRuns
        type: u4
      - id: num_pages
        -orig-id: NumberOfPages
        type: u4
    instances:
      runs:
        pos: 8
        type: physical_memory_run32
        repeat: expr
        repeat-expr: num_runs
        doc: Read only after num_runs has been checked against the buffer size.
  physical_memory_run32:
    seq:
      - id: base_page
        -orig-id: BasePage
        type: u4
      - id: page_count
        -orig-id: PageCount
        type: u4

  physical_memory_descriptor64:
    doc: PHYSICAL_MEMORY_DESCRIPTOR64; 42 runs fit in 700 bytes, 43 in the 0x2C0 union.
    doc-ref: ntiodump.h; kdmp-parser; dump-format.md section 1.3
    seq:
      - id: num_runs
        -orig-id: NumberOfRuns
        type: u4
      - id: padding
        size: 4
      - id: num_pages
        -orig-id: NumberOfPages
        type: u8
    instances:
      runs:
        pos: 0x10
        type: physical_memory_run64
        repeat: expr
        repeat-expr: num_runs
  physical_memory_run64:
    seq:
      - id: base_page
        -orig-id: BasePage
        type: u8
      - id: page_count
        -orig-id: PageCount
        type: u8

  exception_record32:
    doc: EXCEPTION_RECORD32 (0x50 bytes).
    seq:
      - id: exception_code
        -orig-id: ExceptionCode
        type: u4
      - id: exception_flags
        -orig-id: ExceptionFlags
        type: u4
      - id: exception_record
        -orig-id: ExceptionRecord
        type: u4
      - id: exception_address
        -orig-id: ExceptionAddress
        type: u4
      - id: num_parameters
        -orig-id: NumberParameters
        type: u4
      - id: exception_information
        -orig-id: ExceptionInformation
        type: u4
        repeat: expr
        repeat-expr: 15
  exception_record64:
    doc: EXCEPTION_RECORD64 (0x98 bytes).
    seq:
      - id: exception_code
        -orig-id: ExceptionCode
        type: u4
      - id: exception_flags
        -orig-id: ExceptionFlags
        type: u4
      - id: exception_record
        -orig-id: ExceptionRecord
        type: u8
      - id: exception_address
        -orig-id: ExceptionAddress
        type: u8
      - id: num_parameters
        -orig-id: NumberParameters
        type: u4
      - id: unused_alignment
        -orig-id: __unusedAlignment
        type: u4
      - id: exception_information
        -orig-id: ExceptionInformation
        type: u8
        repeat: expr
        repeat-expr: 15

  summary_dump:
    doc: |
      SUMMARY_DUMP32/64, the classic kernel memory dump of Windows 7 and older. Page P
      is stored when bit P of the bitmap is set, at file offset
      HeaderSize + (number of set bits below P) * 0x1000.
    doc-ref: ntiodump.h SUMMARY_DUMP32/64; dump-format.md section 2.3
    params:
      - id: is_64
        type: bool
    seq:
      - id: signature
        -orig-id: Signature
        contents: SDMP
      - id: valid_dump
        -orig-id: ValidDump
        contents: DUMP
      - id: dump_options
        -orig-id: DumpOptions
        type: u4
        doc: bit 0 kernel VA valid, bit 1 current user VA valid.
      - id: ofs_first_page
        -orig-id: HeaderSize
        type: u4
        doc: File offset of the first stored page.
      - id: num_bits
        -orig-id: BitmapSize
        type: u4
        doc: Number of bits in the bitmap (highest PFN + 1).
      - id: num_present_pages
        -orig-id: Pages
        type: u4
      - id: size_of_bitmap
        -orig-id: Bitmap.SizeOfBitMap
        type: u4
    instances:
      ofs_bitmap:
        value: 'is_64 ? 0x28 : 0x20'
        doc: |
          Relative to the structure. The 64-bit form keeps the RTL_BITMAP's 64-bit
          buffer pointer slot, so its bits start 8 bytes later.

  bitmap_dump:
    doc: |
      The BMP header of Windows 8 and later bitmap dumps ("SDMP" kernel, "FDMP" full).
      Page P is stored when bit P is set, at FirstPage + rank(P) * 0x1000.
    doc-ref: kdmp-parser BMP_HEADER64; volatility3 crash.py; dump-format.md section 2.3
    seq:
      - id: signature
        -orig-id: Signature
        size: 4
        doc: |
          "SDMP" or "FDMP". Raw bytes, not a string: a corrupt file must not fail on
          decoding before the reader can say which structure is wrong.
      - id: valid_dump
        -orig-id: ValidDump
        contents: DUMP
      - id: dump_options
        -orig-id: DumpOptions
        type: u4
      - id: reserved
        size: 20
      - id: ofs_first_page
        -orig-id: FirstPage
        type: u8
        doc: 0x20. File offset of the first stored page.
      - id: num_present_pages
        -orig-id: TotalPresentPages
        type: u8
        doc: 0x28. Popcount of the bitmap.
      - id: num_bits
        -orig-id: Pages
        type: u8
        doc: 0x30. Bitmap length in bits; every source that uses it agrees on 0x30.
    instances:
      ofs_bitmap:
        value: 0x38

  triage_dump:
    doc: |
      TRIAGE_DUMP32/64, the small memory dump. Every *_offset is an absolute file
      offset. Only the header is described here; the sections it points to are read
      by dumptriage.dump.containers.triage.header.
    doc-ref: ntiodump.h TRIAGE_DUMP32/64; rizin dmp_specs.h; dump-format.md sections 3.2, 3.3, 12
    params:
      - id: is_64
        type: bool
    seq:
      - id: service_pack_build
        -orig-id: ServicePackBuild
        type: u4
      - id: size_of_dump
        -orig-id: SizeOfDump
        type: u4
      - id: ofs_valid
        -orig-id: ValidOffset
        type: u4
      - id: ofs_context
        -orig-id: ContextOffset
        type: u4
      - id: ofs_exception
        -orig-id: ExceptionOffset
        type: u4
      - id: ofs_mm
        -orig-id: MmOffset
        type: u4
      - id: ofs_unloaded_drivers
        -orig-id: UnloadedDriversOffset
        type: u4
      - id: ofs_prcb
        -orig-id: PrcbOffset
        type: u4
      - id: ofs_process
        -orig-id: ProcessOffset
        type: u4
      - id: ofs_thread
        -orig-id: ThreadOffset
        type: u4
      - id: ofs_call_stack
        -orig-id: CallStackOffset
        type: u4
      - id: len_call_stack
        -orig-id: SizeOfCallStack
        type: u4
      - id: ofs_driver_list
        -orig-id: DriverListOffset
        type: u4
      - id: num_drivers
        -orig-id: DriverCount
        type: u4
      - id: ofs_string_pool
        -orig-id: StringPoolOffset
        type: u4
      - id: len_string_pool
        -orig-id: StringPoolSize
        type: u4
      - id: ofs_broken_driver
        -orig-id: BrokenDriverOffset
        type: u4
      - id: triage_options
        -orig-id: TriageOptions
        type: u4
      - id: top_of_stack
        -orig-id: TopOfStack
        type:
          switch-on: is_64
          cases:
            true: u8
            false: u4
        doc: |
          The stack pointer of the captured stack (its lowest address), not the highest
          address as ntiodump.h's comment says: verified on a real Windows 10 minidump.
      - id: architecture_specific
        -orig-id: ArchitectureSpecific
        size: 16
        if: is_64
      - id: data_page_address
        -orig-id: DataPageAddress
        type:
          switch-on: is_64
          cases:
            true: u8
            false: u4
      - id: ofs_data_page
        -orig-id: DataPageOffset
        type: u4
      - id: len_data_page
        -orig-id: DataPageSize
        type: u4
      - id: ofs_debugger_data
        -orig-id: DebuggerDataOffset
        type: u4
      - id: len_debugger_data
        -orig-id: DebuggerDataSize
        type: u4
      - id: ofs_data_blocks
        -orig-id: DataBlocksOffset
        type: u4
      - id: num_data_blocks
        -orig-id: DataBlocksCount
        type: u4

  rdmp_header:
    doc: |
      RDMP_HEADER64, the header of DumpType 8, 9 and 0xA at file offset 0x2000. The
      metadata (MetadataSize bytes) starts right after it, at 0x2020: a 0x10-byte part
      whose meaning depends on DumpType (rdmp_kernel_metadata for 8 and 9,
      rdmp_full_metadata for 0xA), then the range table at 0x2030. The page data starts
      at FirstPageOffset, which the one rule kdmp-parser checks puts right after the
      metadata: MetadataSize - 0x20 == FirstPageOffset - 0x2040, i.e. FirstPageOffset
      == 0x2020 + MetadataSize. The range table therefore holds (MetadataSize - 0x10)
      / 0x10 entries at most (inferred from that rule; it is what the real type 0xA
      file of kdmp-parser issue #27 shows: MetadataSize 0x70, six ranges, and the
      seventh "entry" kdmp-parser read was the first page).
    doc-ref:
      - kdmp-parser src/lib/kdmp-parser-structs.h RDMP_HEADER64, KERNEL_RDMP_HEADER64, FULL_RDMP_HEADER64 (commit fdbb9ef)
      - kdmp-parser src/lib/kdmp-parser.h BuildPhysicalMemoryFromDump
      - https://github.com/0vercl0k/kdmp-parser/issues/27
      - https://github.com/0vercl0k/kdmp-parser/pull/28
      - dump-format.md section 2.4
    seq:
      - id: marker
        -orig-id: Marker
        type: u4
        doc: 0x2000. 0x40 (kdmp-parser ExpectedMarker).
      - id: signature
        -orig-id: Signature
        size: 4
        doc: 0x2004. "RDMP" (0x504D4452). Raw bytes, checked by the reader.
      - id: valid_dump
        -orig-id: ValidDump
        size: 4
        doc: 0x2008. "DUMP" (0x504D5544).
      - id: unused
        -orig-id: __Unused
        type: u4
      - id: len_metadata
        -orig-id: MetadataSize
        type: u8
        doc: 0x2010. Bytes of metadata from 0x2020 (the 0x10-byte part and the ranges).
      - id: ofs_first_page
        -orig-id: FirstPageOffset
        type: u8
        doc: 0x2018. Absolute file offset of the first stored page; not page-aligned.
    instances:
      ofs_metadata:
        value: 0x20
        doc: Relative to this header.
      ofs_ranges:
        value: 0x30
        doc: Relative to this header (kdmp-parser static_assert offsetof(..., Bitmap) == 0x30).
      kernel_metadata:
        pos: 0x20
        type: rdmp_kernel_metadata
        doc: DumpType 8 and 9.
      full_metadata:
        pos: 0x20
        type: rdmp_full_metadata
        doc: DumpType 0xA.

  rdmp_kernel_metadata:
    doc: |
      The 0x10 bytes after RDMP_HEADER64 in DumpType 8 (`.dump /k`) and 9 (`.dump /ka`)
      dumps. kdmp-parser names them __Unknown1 and __Unknown2 and never reads them; the
      range table after them ends at the first range whose PFN is 0 or at the end of
      the metadata.
    doc-ref: kdmp-parser KERNEL_RDMP_HEADER64 (sizeof 0x31, Bitmap at 0x30)
    seq:
      - id: unknown1
        -orig-id: __Unknown1
        type: u8
      - id: unknown2
        -orig-id: __Unknown2
        type: u8

  rdmp_full_metadata:
    doc: |
      The 0x10 bytes after RDMP_HEADER64 in DumpType 0xA (`.dump /f`, "64-bit Kernel
      range dump"). The range table ends when the ranges add up to TotalNumberOfPages
      (kdmp-parser PR #28: MetadataSize overstates the table).
    doc-ref: kdmp-parser FULL_RDMP_HEADER64; kdmp-parser PR #28
    seq:
      - id: num_ranges
        -orig-id: NumberOfRanges
        type: u4
        doc: 0x2020. kdmp-parser declares it but does not use it.
      - id: unknown1
        -orig-id: __Unknown1
        type: u2
      - id: unknown2
        -orig-id: __Unknown2
        type: u2
      - id: num_pages
        -orig-id: TotalNumberOfPages
        type: u8
        doc: 0x2028. Pages in all ranges together.

  rdmp_range:
    doc: |
      One entry of the RDMP range table: NumberOfPages pages from PFN PageFileNumber,
      stored back to back from FirstPageOffset in table order. kdmp-parser calls the
      PFN "PageFileNumber" and stops at an entry whose PFN is 0.
    doc-ref: kdmp-parser BuildPhysicalMemoryFromDump struct PfnRange
    seq:
      - id: base_page
        -orig-id: PageFileNumber
        type: u8
      - id: num_pages
        -orig-id: NumberOfPages
        type: u8
