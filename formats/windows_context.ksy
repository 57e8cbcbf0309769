meta:
  id: windows_context
  title: Windows CONTEXT records (x86 and AMD64), the registers a dump saves per CPU
  license: MIT
  endian: le
doc: |
  The CONTEXT a crash dump keeps in its header (ContextRecord, the CPU that wrote the
  dump), behind each KPRCB's Context pointer, and inside KPRCB.ProcessorState. Only the
  fields dumptriage uses are named; the rest are skipped by size. Parse with the right
  type for the dump's architecture: `context_x86` (0x2CC bytes) or `context_amd64`
  (0x4D0 bytes).
doc-ref:
  - winnt.h CONTEXT (x86 and AMD64)
  - https://github.com/qemu/qemu/blob/master/include/qemu/win_dump_defs.h (WinContext32/64)
  - dumptriage reference sheet shared/reference/dump-format.md section 6.4
seq:
  - id: x86
    type: context_x86
    if: false
  - id: amd64
    type: context_amd64
    if: false
types:
  context_x86:
    doc: x86 CONTEXT, 0x2CC bytes; ContextFlags 0x10000 marks i386.
    seq:
      - id: context_flags
        -orig-id: ContextFlags
        type: u4
      - id: debug_registers
        -orig-id: Dr0..Dr7
        size: 0x18
      - id: float_save
        -orig-id: FloatSave
        size: 0x70
      - id: seg_gs
        -orig-id: SegGs
        type: u4
      - id: seg_fs
        -orig-id: SegFs
        type: u4
      - id: seg_es
        -orig-id: SegEs
        type: u4
      - id: seg_ds
        -orig-id: SegDs
        type: u4
      - id: edi
        -orig-id: Edi
        type: u4
      - id: esi
        -orig-id: Esi
        type: u4
      - id: ebx
        -orig-id: Ebx
        type: u4
      - id: edx
        -orig-id: Edx
        type: u4
      - id: ecx
        -orig-id: Ecx
        type: u4
      - id: eax
        -orig-id: Eax
        type: u4
      - id: ebp
        -orig-id: Ebp
        type: u4
        doc: 0xB4.
      - id: eip
        -orig-id: Eip
        type: u4
        doc: 0xB8.
      - id: seg_cs
        -orig-id: SegCs
        type: u4
      - id: eflags
        -orig-id: EFlags
        type: u4
      - id: esp
        -orig-id: Esp
        type: u4
        doc: 0xC4.
      - id: seg_ss
        -orig-id: SegSs
        type: u4
  context_amd64:
    doc: AMD64 CONTEXT, 0x4D0 bytes; ContextFlags 0x100000 marks AMD64.
    seq:
      - id: home_registers
        -orig-id: P1Home..P6Home
        size: 0x30
      - id: context_flags
        -orig-id: ContextFlags
        type: u4
        doc: 0x30.
      - id: mx_csr
        -orig-id: MxCsr
        type: u4
      - id: segments
        -orig-id: SegCs, SegDs, SegEs, SegFs, SegGs, SegSs
        size: 12
      - id: eflags
        -orig-id: EFlags
        type: u4
      - id: debug_registers
        -orig-id: Dr0..Dr7
        size: 0x30
      - id: rax
        -orig-id: Rax
        type: u8
        doc: 0x78.
      - id: rcx
        -orig-id: Rcx
        type: u8
      - id: rdx
        -orig-id: Rdx
        type: u8
      - id: rbx
        -orig-id: Rbx
        type: u8
      - id: rsp
        -orig-id: Rsp
        type: u8
        doc: 0x98.
      - id: rbp
        -orig-id: Rbp
        type: u8
        doc: 0xA0.
      - id: rsi
        -orig-id: Rsi
        type: u8
      - id: rdi
        -orig-id: Rdi
        type: u8
      - id: r8_to_r15
        -orig-id: R8..R15
        type: u8
        repeat: expr
        repeat-expr: 8
      - id: rip
        -orig-id: Rip
        type: u8
        doc: 0xF8.
