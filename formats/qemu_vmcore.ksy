meta:
  id: qemu_vmcore
  title: Host-side guest memory dumps written by QEMU (dump-guest-memory, virsh dump --memory-only)
  application: QEMU dump/dump.c, target/i386/arch_dump.c; makedumpfile; crash
  file-extension: [core, vmcore]
  license: MIT
  endian: le
doc: |
  The two containers QEMU's `dump-guest-memory` writes for an x86 guest, described
  piece by piece (this file has no top-level sequence; each type is read where the
  one before it says):

  * the ELF core (format `elf`): an ELF header, program headers (PT_NOTE first, then
    one PT_LOAD per guest RAM block, keyed by guest-physical address `p_paddr`), the
    notes (per vCPU an NT_PRSTATUS `CORE` note, then per vCPU a `QEMU` note holding
    QEMUCPUState, then optionally the guest's own vmcoreinfo note), then RAM;
  * the kdump-compressed file (formats `kdump-zlib|lzo|snappy`): disk_dump_header in
    block 0, kdump_sub_header in block 1 followed by the same ELF notes, two PFN
    bitmaps, one page descriptor per dumped page, then the (compressed) page data. As
    QEMU streams it, it is wrapped in the makedumpfile "flattened" format: a 4 KiB
    header and (offset, size, bytes) records with big-endian lengths.

  QEMU quirks a reader must tolerate (hung-guest-dumps.md section 1.1): e_ehsize is 8
  in QEMU 7.2, section headers may be malformed (only section 0's sh_info is read, for
  the PN_XNUM program header count), ELFCLASS64 even for 32-bit guests, and RAM data
  that is not page aligned in the file.

  The fixed-size types are flattened into struct formats (formats/flatten.js,
  dumptriage/formats/qemu_vmcore_flat.py); the reader uses those.
doc-ref:
  - https://github.com/qemu/qemu/blob/master/dump/dump.c
  - https://github.com/qemu/qemu/blob/master/include/sysemu/dump.h
  - https://github.com/qemu/qemu/blob/master/target/i386/arch_dump.c
  - System V gABI, chapter 4 (ELF header, program header, note section)
  - dumptriage reference sheet shared/reference/hung-guest-dumps.md sections 1.1-1.3, 10
types:
  elf64_header:
    doc: Elf64_Ehdr (64 bytes). QEMU 7.2 writes e_ehsize 8, so it is never validated.
    doc-ref: gABI Elf64_Ehdr; hung-guest-dumps.md section 1.1 (ELF header fields)
    seq:
      - id: magic
        -orig-id: e_ident[EI_MAG0..3]
        contents: [0x7f, 0x45, 0x4c, 0x46]
      - id: ei_class
        -orig-id: e_ident[EI_CLASS]
        type: u1
        doc: 1 ELFCLASS32, 2 ELFCLASS64.
      - id: ei_data
        -orig-id: e_ident[EI_DATA]
        type: u1
        doc: 1 ELFDATA2LSB (little-endian), the only one QEMU writes for x86.
      - id: ei_version
        -orig-id: e_ident[EI_VERSION]
        type: u1
      - id: ei_pad
        -orig-id: e_ident[EI_OSABI..]
        size: 9
      - id: e_type
        type: u2
        doc: 4 ET_CORE.
      - id: e_machine
        type: u2
        doc: 62 EM_X86_64 when vCPU 0 had EFER.LMA set, else 3 EM_386 (arch_dump.c).
      - id: e_version
        type: u4
      - id: e_entry
        type: u8
      - id: ofs_program_headers
        -orig-id: e_phoff
        type: u8
        doc: 0x40 (older QEMU), 0xC0 (7.2, after two section headers).
      - id: ofs_section_headers
        -orig-id: e_shoff
        type: u8
      - id: e_flags
        type: u4
      - id: len_header
        -orig-id: e_ehsize
        type: u2
      - id: len_program_header
        -orig-id: e_phentsize
        type: u2
      - id: num_program_headers
        -orig-id: e_phnum
        type: u2
        doc: 0xFFFF (PN_XNUM) means the count is in section header 0's sh_info.
      - id: len_section_header
        -orig-id: e_shentsize
        type: u2
      - id: num_section_headers
        -orig-id: e_shnum
        type: u2
      - id: section_names_index
        -orig-id: e_shstrndx
        type: u2

  elf32_header:
    doc: Elf32_Ehdr (52 bytes), written when every guest RAM block ends at or below 4 GiB.
    doc-ref: gABI Elf32_Ehdr
    seq:
      - id: magic
        -orig-id: e_ident[EI_MAG0..3]
        contents: [0x7f, 0x45, 0x4c, 0x46]
      - id: ei_class
        -orig-id: e_ident[EI_CLASS]
        type: u1
      - id: ei_data
        -orig-id: e_ident[EI_DATA]
        type: u1
      - id: ei_version
        -orig-id: e_ident[EI_VERSION]
        type: u1
      - id: ei_pad
        -orig-id: e_ident[EI_OSABI..]
        size: 9
      - id: e_type
        type: u2
      - id: e_machine
        type: u2
      - id: e_version
        type: u4
      - id: e_entry
        type: u4
      - id: ofs_program_headers
        -orig-id: e_phoff
        type: u4
      - id: ofs_section_headers
        -orig-id: e_shoff
        type: u4
      - id: e_flags
        type: u4
      - id: len_header
        -orig-id: e_ehsize
        type: u2
      - id: len_program_header
        -orig-id: e_phentsize
        type: u2
      - id: num_program_headers
        -orig-id: e_phnum
        type: u2
      - id: len_section_header
        -orig-id: e_shentsize
        type: u2
      - id: num_section_headers
        -orig-id: e_shnum
        type: u2
      - id: section_names_index
        -orig-id: e_shstrndx
        type: u2

  elf64_program_header:
    doc: |
      Elf64_Phdr (56 bytes). PT_NOTE (4) is index 0; each PT_LOAD (1) is one guest RAM
      block at guest-physical p_paddr. Only p_filesz == p_memsz > 0 segments hold data
      (a begin/length filter writes p_offset -1 and filesz 0 or < memsz).
    doc-ref: gABI Elf64_Phdr; dump.c write_elf64_load; hung-guest-dumps.md section 1.1
    seq:
      - id: p_type
        type: u4
      - id: p_flags
        type: u4
      - id: ofs_data
        -orig-id: p_offset
        type: u8
      - id: p_vaddr
        type: u8
      - id: p_paddr
        type: u8
      - id: len_file
        -orig-id: p_filesz
        type: u8
      - id: len_memory
        -orig-id: p_memsz
        type: u8
      - id: p_align
        type: u8

  elf32_program_header:
    doc: Elf32_Phdr (32 bytes); note the field order differs from Elf64_Phdr (p_flags sixth).
    doc-ref: gABI Elf32_Phdr; dump.c write_elf32_load
    seq:
      - id: p_type
        type: u4
      - id: ofs_data
        -orig-id: p_offset
        type: u4
      - id: p_vaddr
        type: u4
      - id: p_paddr
        type: u4
      - id: len_file
        -orig-id: p_filesz
        type: u4
      - id: len_memory
        -orig-id: p_memsz
        type: u4
      - id: p_flags
        type: u4
      - id: p_align
        type: u4

  elf64_section_header:
    doc: Elf64_Shdr (64 bytes); read for section 0's sh_info (the PN_XNUM count) only.
    doc-ref: gABI Elf64_Shdr, "Extended program header numbering"; dump.c prepare_elf_section_hdr_zero
    seq:
      - id: sh_name
        type: u4
      - id: sh_type
        type: u4
      - id: sh_flags
        type: u8
      - id: sh_addr
        type: u8
      - id: sh_offset
        type: u8
      - id: sh_size
        type: u8
      - id: sh_link
        type: u4
      - id: sh_info
        type: u4
      - id: sh_addralign
        type: u8
      - id: sh_entsize
        type: u8

  elf32_section_header:
    doc: Elf32_Shdr (40 bytes); read for section 0's sh_info only.
    doc-ref: gABI Elf32_Shdr
    seq:
      - id: sh_name
        type: u4
      - id: sh_type
        type: u4
      - id: sh_flags
        type: u4
      - id: sh_addr
        type: u4
      - id: sh_offset
        type: u4
      - id: sh_size
        type: u4
      - id: sh_link
        type: u4
      - id: sh_info
        type: u4
      - id: sh_addralign
        type: u4
      - id: sh_entsize
        type: u4

  elf_note_header:
    doc: |
      Elf32_Nhdr / Elf64_Nhdr (the same 12 bytes). The name follows, padded to 4 bytes,
      then the descriptor, padded to 4 bytes.
    doc-ref: gABI "Note Section"; hung-guest-dumps.md section 1.1 (Notes)
    seq:
      - id: len_name
        -orig-id: n_namesz
        type: u4
      - id: len_desc
        -orig-id: n_descsz
        type: u4
      - id: note_type
        -orig-id: n_type
        type: u4
        doc: 1 NT_PRSTATUS for "CORE"; 0 for "QEMU"; the guest's own for "VMCOREINFO".

  qemu_cpu_segment:
    doc: |
      QEMUCPUSegment (0x18 bytes). `flags` is QEMU's copy of the descriptor's high dword:
      P bit 15, DPL bits 13-14, S bit 12, type bits 8-11, L bit 21, D/B bit 22, G bit 23
      (limit 19:16 and base bytes appear too; mask what you test).
    doc-ref: arch_dump.c QEMUCPUSegment; hung-guest-dumps.md sections 1.1 and 10
    seq:
      - id: selector
        type: u4
      - id: limit
        type: u4
      - id: flags
        type: u4
      - id: pad
        type: u4
      - id: base
        type: u8

  qemu_cpu_state:
    doc: |
      QEMUCPUState, the desc of the per-vCPU "QEMU" note (version 1; fields are appended
      without changing the version, `len_state` says which exist). 64-bit slots for
      32-bit guests too (upper halves zero). kernel_gs_base (the KERNEL_GS_BASE MSR)
      follows at `ofs_kernel_gs_base` only when len_state >= `len_with_kernel_gs_base`
      (QEMU commit 46fac17, 2018; QEMU 3.0 and later).
    doc-ref: arch_dump.c QEMUCPUState and qemu_get_cpustate; hung-guest-dumps.md section 1.1
    seq:
      - id: version
        type: u4
      - id: len_state
        -orig-id: size
        type: u4
      - id: rax
        type: u8
      - id: rbx
        type: u8
      - id: rcx
        type: u8
      - id: rdx
        type: u8
      - id: rsi
        type: u8
      - id: rdi
        type: u8
      - id: rsp
        type: u8
      - id: rbp
        type: u8
      - id: r8
        type: u8
      - id: r9
        type: u8
      - id: r10
        type: u8
      - id: r11
        type: u8
      - id: r12
        type: u8
      - id: r13
        type: u8
      - id: r14
        type: u8
      - id: r15
        type: u8
      - id: rip
        type: u8
      - id: rflags
        type: u8
      - id: cs
        type: qemu_cpu_segment
        size: 0x18
      - id: ds
        type: qemu_cpu_segment
        size: 0x18
      - id: es
        type: qemu_cpu_segment
        size: 0x18
      - id: fs
        type: qemu_cpu_segment
        size: 0x18
      - id: gs
        type: qemu_cpu_segment
        size: 0x18
      - id: ss
        type: qemu_cpu_segment
        size: 0x18
      - id: ldt
        type: qemu_cpu_segment
        size: 0x18
      - id: tr
        type: qemu_cpu_segment
        size: 0x18
      - id: gdt
        type: qemu_cpu_segment
        size: 0x18
        doc: Only base and limit are meaningful.
      - id: idt
        type: qemu_cpu_segment
        size: 0x18
        doc: Only base and limit are meaningful.
      - id: cr
        type: u8
        repeat: expr
        repeat-expr: 5
        doc: CR0 to CR4 (CR1 is reserved, always 0).
    instances:
      ofs_kernel_gs_base:
        value: 0x1b0
      len_with_kernel_gs_base:
        value: 0x1b8

  elf_prstatus_x86_64:
    doc: |
      The desc of an x86_64 NT_PRSTATUS "CORE" note (0x150 bytes): struct elf_prstatus
      with the registers in Linux user_regs_struct order from +0x70. QEMU fills only
      pr_pid (cpu_index + 1) and pr_reg.
    doc-ref: arch_dump.c x86_64_elf_prstatus / x86_64_user_regs_struct; hung-guest-dumps.md section 1.1
    seq:
      - id: unused_signal
        -orig-id: pr_info, pr_cursig, pr_sigpend, pr_sighold
        size: 0x20
      - id: pid
        -orig-id: pr_pid
        type: u4
      - id: unused_ids_times
        -orig-id: pr_ppid .. pr_cstime
        size: 0x4c
      - id: r15
        type: u8
      - id: r14
        type: u8
      - id: r13
        type: u8
      - id: r12
        type: u8
      - id: rbp
        type: u8
      - id: rbx
        type: u8
      - id: r11
        type: u8
      - id: r10
        type: u8
      - id: r9
        type: u8
      - id: r8
        type: u8
      - id: rax
        type: u8
      - id: rcx
        type: u8
      - id: rdx
        type: u8
      - id: rsi
        type: u8
      - id: rdi
        type: u8
      - id: orig_rax
        type: u8
      - id: rip
        type: u8
      - id: cs
        type: u8
      - id: eflags
        type: u8
      - id: rsp
        type: u8
      - id: ss
        type: u8
      - id: fs_base
        type: u8
      - id: gs_base
        type: u8
      - id: ds
        type: u8
      - id: es
        type: u8
      - id: fs
        type: u8
      - id: gs
        type: u8
      - id: fpvalid
        -orig-id: pr_fpvalid
        type: u4
      - id: pad
        type: u4

  elf_prstatus_i386:
    doc: |
      The desc of an i386 NT_PRSTATUS "CORE" note (0x90 bytes), registers from +0x48 in
      user_regs_struct order. No segment bases and no control registers: the QEMU note
      has them.
    doc-ref: arch_dump.c x86_elf_prstatus / x86_user_regs_struct; hung-guest-dumps.md section 1.1
    seq:
      - id: unused_signal
        -orig-id: pr_info, pr_cursig, pr_sigpend, pr_sighold
        size: 0x18
      - id: pid
        -orig-id: pr_pid
        type: u4
      - id: unused_ids_times
        -orig-id: pr_ppid .. pr_cstime
        size: 0x2c
      - id: ebx
        type: u4
      - id: ecx
        type: u4
      - id: edx
        type: u4
      - id: esi
        type: u4
      - id: edi
        type: u4
      - id: ebp
        type: u4
      - id: eax
        type: u4
      - id: ds
        type: u4
      - id: es
        type: u4
      - id: fs
        type: u4
      - id: gs
        type: u4
      - id: orig_eax
        type: u4
      - id: eip
        type: u4
      - id: cs
        type: u4
      - id: eflags
        type: u4
      - id: esp
        type: u4
      - id: ss
        type: u4
      - id: fpvalid
        -orig-id: pr_fpvalid
        type: u4

  disk_dump_header64:
    doc: |
      DiskDumpHeader64 (packed, 0x1D0 bytes) at the start of a kdump-compressed image.
      utsname.machine (at 0x110) names QEMU's binary, not the guest (x86_64 for a 32-bit
      guest too). QEMU uses this form when the ELF class would be 64.
    doc-ref: include/sysemu/dump.h DiskDumpHeader64; dump.c create_header64; hung-guest-dumps.md section 1.2
    seq:
      - id: signature
        contents: "KDUMP   "
      - id: header_version
        type: u4
        doc: 6 as QEMU writes it.
      - id: utsname
        -orig-id: utsname (sysname, nodename, release, version, machine, domainname)
        size: 390
      - id: timestamp
        size: 22
      - id: status
        type: u4
        doc: Compression of the pages - 1 zlib, 2 lzo, 4 snappy (DUMP_DH_COMPRESSED_*).
      - id: block_size
        type: u4
      - id: sub_hdr_size
        type: u4
        doc: Blocks between block 1 (the sub header) and the bitmaps.
      - id: bitmap_blocks
        type: u4
        doc: Blocks of both bitmaps together (each is half).
      - id: max_mapnr
        type: u4
      - id: total_ram_blocks
        type: u4
      - id: device_blocks
        type: u4
      - id: written_blocks
        type: u4
      - id: current_cpu
        type: u4
      - id: nr_cpus
        type: u4

  disk_dump_header32:
    doc: DiskDumpHeader32 (packed, 0x1C4 bytes); the 10-byte timestamp moves every later field 12 bytes down.
    doc-ref: include/sysemu/dump.h DiskDumpHeader32; dump.c create_header32
    seq:
      - id: signature
        contents: "KDUMP   "
      - id: header_version
        type: u4
      - id: utsname
        size: 390
      - id: timestamp
        size: 10
      - id: status
        type: u4
      - id: block_size
        type: u4
      - id: sub_hdr_size
        type: u4
      - id: bitmap_blocks
        type: u4
      - id: max_mapnr
        type: u4
      - id: total_ram_blocks
        type: u4
      - id: device_blocks
        type: u4
      - id: written_blocks
        type: u4
      - id: current_cpu
        type: u4
      - id: nr_cpus
        type: u4

  kdump_sub_header64:
    doc: KdumpSubHeader64 (packed, 0x68 bytes) at file offset block_size; the notes follow it.
    doc-ref: include/sysemu/dump.h KdumpSubHeader64; hung-guest-dumps.md section 1.2
    seq:
      - id: phys_base
        type: u8
      - id: dump_level
        type: u4
      - id: split
        type: u4
      - id: start_pfn
        type: u8
      - id: end_pfn
        type: u8
      - id: ofs_vmcoreinfo
        -orig-id: offset_vmcoreinfo
        type: u8
      - id: len_vmcoreinfo
        -orig-id: size_vmcoreinfo
        type: u8
      - id: ofs_note
        -orig-id: offset_note
        type: u8
      - id: len_note
        -orig-id: note_size
        type: u8
      - id: ofs_eraseinfo
        -orig-id: offset_eraseinfo
        type: u8
      - id: len_eraseinfo
        -orig-id: size_eraseinfo
        type: u8
      - id: start_pfn_64
        type: u8
      - id: end_pfn_64
        type: u8
      - id: max_mapnr_64
        type: u8

  kdump_sub_header32:
    doc: KdumpSubHeader32 (packed, 0x50 bytes); its sizes are u4 where the 64-bit form has u8.
    doc-ref: include/sysemu/dump.h KdumpSubHeader32
    seq:
      - id: phys_base
        type: u4
      - id: dump_level
        type: u4
      - id: split
        type: u4
      - id: start_pfn
        type: u4
      - id: end_pfn
        type: u4
      - id: ofs_vmcoreinfo
        -orig-id: offset_vmcoreinfo
        type: u8
      - id: len_vmcoreinfo
        -orig-id: size_vmcoreinfo
        type: u4
      - id: ofs_note
        -orig-id: offset_note
        type: u8
      - id: len_note
        -orig-id: note_size
        type: u4
      - id: ofs_eraseinfo
        -orig-id: offset_eraseinfo
        type: u8
      - id: len_eraseinfo
        -orig-id: size_eraseinfo
        type: u4
      - id: start_pfn_64
        type: u8
      - id: end_pfn_64
        type: u8
      - id: max_mapnr_64
        type: u8

  kdump_page_desc:
    doc: |
      PageDescriptor (24 bytes), one per set bit of the 2nd bitmap in PFN order. All
      zero pages share one descriptor pointing at a single zero page.
    doc-ref: include/sysemu/dump.h PageDescriptor; dump.c write_dump_pages
    seq:
      - id: ofs_data
        -orig-id: offset
        type: u8
      - id: len_data
        -orig-id: size
        type: u4
      - id: flags
        type: u4
        doc: 1 zlib, 2 lzo, 4 snappy; 0 stored uncompressed (compression did not shrink it).
      - id: page_flags
        type: u8

  makedumpfile_header:
    doc: |
      MakedumpfileHeader of the flattened format: "makedumpfile" padded to 16 bytes, then
      type and version as big-endian int64 (both 1). The header block is 4096 bytes
      (MAX_SIZE_MDF_HEADER); the records start there.
    doc-ref: include/sysemu/dump.h MakedumpfileHeader; dump.c write_start_flat_header
    meta:
      endian: be
    seq:
      - id: signature
        size: 16
      - id: flat_type
        -orig-id: type
        type: s8
      - id: flat_version
        -orig-id: version
        type: s8
    instances:
      len_block:
        -orig-id: MAX_SIZE_MDF_HEADER
        value: 4096

  makedumpfile_data_header:
    doc: |
      MakedumpfileDataHeader (16 bytes, big-endian) before each record of a flattened
      stream: the record's offset in the rebuilt image and its length. offset = size = -1
      (END_FLAG_FLAT_HEADER) ends the stream.
    doc-ref: include/sysemu/dump.h MakedumpfileDataHeader; dump.c write_buffer, write_end_flat_header
    meta:
      endian: be
    seq:
      - id: ofs_image
        -orig-id: offset
        type: s8
      - id: len_data
        -orig-id: buf_size
        type: s8
