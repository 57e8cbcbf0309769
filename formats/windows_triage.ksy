meta:
  id: windows_triage
  title: Sections of a Windows triage dump (small memory dump, DumpType 4)
  application: Windows kernel (KeBugCheck2 / crashdmp.sys triage writer), WinDbg, kd
  file-extension: dmp
  license: MIT
  endian: le
doc: |
  The tables a TRIAGE_DUMP32/64 header (formats/windows_crash_dump.ksy, type
  triage_dump) points at. Every one sits at an absolute file offset the header gives
  (DriverListOffset, StringPoolOffset, UnloadedDriversOffset, DataBlocksOffset), so this
  file has no top-level sequence: each type is read where the header says, 32-bit forms
  for "DUMP" files and 64-bit forms (x64 and ARM64) for "DU64" ones.

  The kernel's own MmUnloadedDrivers ring entry (UNLOADED_DRIVERS32/64) is described here
  too: the minidump's DUMP_UNLOADED_DRIVERS is the writer's copy of it (name, start, end,
  with an inline copy of the name instead of the unload time), and both readers take
  their layout from this one file.

  The fixed-size types are also flattened into struct formats (formats/flatten.js,
  dumptriage/formats/windows_triage_flat.py) for the table walks.
doc-ref:
  - ntiodump.h DUMP_DRIVER_ENTRY32/64, DUMP_STRING, DUMP_UNLOADED_DRIVERS32/64, TRIAGE_DATA_BLOCK
  - https://github.com/rizinorg/rizin/blob/dev/librz/bin/format/dmp/dmp_specs.h
  - dumptriage reference sheet shared/reference/dump-format.md sections 3.6, 5.3 and 12.1
types:
  dump_driver_entry32:
    doc: |
      DUMP_DRIVER_ENTRY32, one entry of the driver list at DriverListOffset (DriverCount
      entries, in load order). Only the head is described here: the entry continues with
      a copy of the driver's KLDR_DATA_TABLE_ENTRY32 at `ofs_ldr_entry`, whose field
      offsets are a kernel structure kept per build in
      dumptriage/dump/kernel/layouts/kernel.toml ([ldr.x86]), the same table the
      PsLoadedModuleList walk reads. The writer zeroes the copy's links and names, so the
      name comes only from the string pool.
    doc-ref: ntiodump.h DUMP_DRIVER_ENTRY32; dump-format.md section 3.6
    seq:
      - id: ofs_driver_name
        -orig-id: DriverNameOffset
        type: u4
        doc: File offset of the driver's dump_string in the string pool.
    instances:
      ofs_ldr_entry:
        -orig-id: LdrEntry
        value: 4
        doc: Where the KLDR_DATA_TABLE_ENTRY32 copy starts inside the entry.

  dump_driver_entry64:
    doc: |
      DUMP_DRIVER_ENTRY64 (x64 and ARM64): DriverNameOffset, 4 bytes of alignment, then a
      copy of the KLDR_DATA_TABLE_ENTRY64 at `ofs_ldr_entry` (field offsets per build in
      dumptriage/dump/kernel/layouts/kernel.toml, [ldr.x64]). The sources disagree on
      the entry's size (0x90, 0x98, 0xA8); 0x90 is settled for build 19041 only, so the
      reader derives the stride from the data (section 3.6).
    doc-ref: ntiodump.h DUMP_DRIVER_ENTRY64; dump-format.md sections 3.6 and 12.1
    seq:
      - id: ofs_driver_name
        -orig-id: DriverNameOffset
        type: u4
        doc: File offset of the driver's dump_string in the string pool.
      - id: alignment
        size: 4
        doc: Zero; puts the KLDR copy on an 8-byte boundary.
    instances:
      ofs_ldr_entry:
        -orig-id: LdrEntry
        value: 8
        doc: Where the KLDR_DATA_TABLE_ENTRY64 copy starts inside the entry.

  dump_string:
    doc: |
      DUMP_STRING, one entry of the string pool at StringPoolOffset (StringPoolSize
      bytes; each string 8-byte aligned). ntiodump.h's comment says Length is in bytes;
      the real Windows 10 minidump and two parsers count UTF-16 characters (section
      12.1), so readers try characters first and bytes second: `is_len_in_bytes` says
      which reading this is. Either way a NUL character follows the text.
    doc-ref: ntiodump.h DUMP_STRING; dump-format.md sections 3.6 and 12.1
    params:
      - id: is_len_in_bytes
        type: bool
    seq:
      - id: len_text
        -orig-id: Length
        type: u4
      - id: text
        -orig-id: Buffer
        size: 'is_len_in_bytes ? len_text : len_text * 2'
        type: str
        encoding: UTF-16LE
      - id: terminator
        contents: [0, 0]

  unicode_string32:
    doc: UNICODE_STRING on 32-bit kernels; Buffer is a virtual address.
    doc-ref: dump-format.md section 5.1
    seq:
      - id: len_string
        -orig-id: Length
        type: u2
        doc: Bytes, without a NUL.
      - id: len_max
        -orig-id: MaximumLength
        type: u2
      - id: buffer
        -orig-id: Buffer
        type: u4

  unicode_string64:
    doc: UNICODE_STRING on 64-bit kernels; Buffer is a virtual address.
    doc-ref: dump-format.md section 5.1
    seq:
      - id: len_string
        -orig-id: Length
        type: u2
        doc: Bytes, without a NUL.
      - id: len_max
        -orig-id: MaximumLength
        type: u2
      - id: padding
        size: 4
      - id: buffer
        -orig-id: Buffer
        type: u8

  unloaded_drivers32:
    doc: |
      UNLOADED_DRIVERS32, one slot of the kernel's MmUnloadedDrivers ring (KDBG+0x220
      holds the variable's address; the variable points at the array). An empty slot has
      a zero name.
    doc-ref: ntiodump.h UNLOADED_DRIVERS32; dump-format.md section 5.3
    seq:
      - id: name
        -orig-id: Name
        size: 8
        type: unicode_string32
      - id: start_address
        -orig-id: StartAddress
        type: u4
      - id: end_address
        -orig-id: EndAddress
        type: u4
      - id: current_time
        -orig-id: CurrentTime
        type: u8
        doc: When the driver was unloaded (FILETIME).

  unloaded_drivers64:
    doc: UNLOADED_DRIVERS64, one slot of MmUnloadedDrivers on x64 and ARM64.
    doc-ref: ntiodump.h UNLOADED_DRIVERS64; dump-format.md section 5.3
    seq:
      - id: name
        -orig-id: Name
        size: 16
        type: unicode_string64
      - id: start_address
        -orig-id: StartAddress
        type: u8
      - id: end_address
        -orig-id: EndAddress
        type: u8
      - id: current_time
        -orig-id: CurrentTime
        type: u8
        doc: When the driver was unloaded (FILETIME).

  dump_unloaded_drivers32:
    doc: |
      DUMP_UNLOADED_DRIVERS32, the minidump's copy of an UNLOADED_DRIVERS32 slot. The
      writer zeroes Name.Buffer and keeps an inline copy of the first 12 characters.
    doc-ref: ntiodump.h DUMP_UNLOADED_DRIVERS32; dump-format.md section 3.6
    seq:
      - id: name
        -orig-id: Name
        size: 8
        type: unicode_string32
      - id: driver_name
        -orig-id: DriverName
        size: 24
        doc: |
          WCHAR[12], NUL-padded; not NUL-terminated when the name is 12 characters long
          (mcupdate.dll). Longer names are cut to 12 characters, as WinDbg shows them.
      - id: start_address
        -orig-id: StartAddress
        type: u4
      - id: end_address
        -orig-id: EndAddress
        type: u4

  dump_unloaded_drivers64:
    doc: DUMP_UNLOADED_DRIVERS64 (x64 and ARM64), the copy of an UNLOADED_DRIVERS64 slot.
    doc-ref: ntiodump.h DUMP_UNLOADED_DRIVERS64; dump-format.md sections 3.6 and 12.1
    seq:
      - id: name
        -orig-id: Name
        size: 16
        type: unicode_string64
      - id: driver_name
        -orig-id: DriverName
        size: 24
        doc: WCHAR[12], as in dump_unloaded_drivers32.
      - id: start_address
        -orig-id: StartAddress
        type: u8
      - id: end_address
        -orig-id: EndAddress
        type: u8

  dump_unloaded_drivers_list32:
    doc: |
      The section at UnloadedDriversOffset on 32-bit: a count, then the entries. The
      count's width is open on x86 (section 3.6): u32 here because dbgeng's writer
      reserves sizeof(ULONG) for it; the reader also tries a u64.
    doc-ref: ntiodump.h; dump-format.md section 3.6
    seq:
      - id: num_entries
        type: u4
      - id: entries
        type: dump_unloaded_drivers32
        repeat: expr
        repeat-expr: num_entries

  dump_unloaded_drivers_list64:
    doc: The section at UnloadedDriversOffset on 64-bit; the count is a u64 (section 12.1).
    doc-ref: ntiodump.h; dump-format.md sections 3.6 and 12.1
    seq:
      - id: num_entries
        type: u8
      - id: entries
        type: dump_unloaded_drivers64
        repeat: expr
        repeat-expr: num_entries

  triage_data_block32:
    doc: TRIAGE_DATA_BLOCK on 32-bit, one entry of the table at DataBlocksOffset.
    doc-ref: ntiodump.h TRIAGE_DATA_BLOCK; dump-format.md section 3.6
    seq:
      - id: address
        -orig-id: Address
        type: u4
        doc: Virtual address of the saved bytes.
      - id: ofs_data
        -orig-id: Offset
        type: u4
        doc: File offset of the saved bytes.
      - id: len_data
        -orig-id: Size
        type: u4

  triage_data_block64:
    doc: |
      TRIAGE_DATA_BLOCK on 64-bit. The real Windows 10 minidump has 1831 of them,
      unsorted, non-overlapping, their contents packed after the table (section 12.1).
    doc-ref: ntiodump.h TRIAGE_DATA_BLOCK; dump-format.md sections 3.6 and 12.1
    seq:
      - id: address
        -orig-id: Address
        type: u8
        doc: Virtual address of the saved bytes.
      - id: ofs_data
        -orig-id: Offset
        type: u4
        doc: File offset of the saved bytes.
      - id: len_data
        -orig-id: Size
        type: u4
