"""Tell what kind of file this is from its first bytes, before parsing anything.

Kernel dumps start with "PAGEDUMP" (32-bit) or "PAGEDU64" (64-bit). QEMU's host-side
guest memory dumps start with the ELF magic (``dump-guest-memory`` format elf), "KDUMP   "
(kdump-compressed, raw) or "makedumpfile" (the flattened stream QEMU writes for
kdump-zlib/lzo/snappy); hung-guest-dumps.md section 9 step 1. User-mode dumps ("MDMP",
or the legacy "USERDUMP"/"USERDU64") and other files are refused with a clear reason
(dump-format.md section 9).
"""

from __future__ import annotations

from dumptriage.errors import DumpFormatError, UnsupportedDump

KERNEL_SIGNATURES = {b"PAGEDUMP": 0x1000, b"PAGEDU64": 0x2000}
# First bytes of the QEMU vmcore containers -> their reader (containers/__init__.py).
VMCORE_SIGNATURES = ((b"\x7fELF", "elf"), (b"KDUMP   ", "kdump"),
                     (b"makedumpfile\0", "flattened"))
VMCORE_SNIFF_BYTES = 13

# Other files a support engineer may hand us by mistake.
_KNOWN_OTHERS = {
    b"MDMP": "a user-mode minidump (MINIDUMP_HEADER), not a kernel crash dump",
    b"USERDUMP": "a legacy user-mode dump, not a kernel crash dump",
    b"USERDU64": "a legacy user-mode dump, not a kernel crash dump",
    b"MSCF": "a CAB archive (.dump /b or a WER upload): extract the .dmp from it first",
    b"PK\x03\x04": "a ZIP archive: extract the .dmp from it first",
}


def vmcore_kind(head: bytes) -> str | None:
    """"elf", "kdump" or "flattened" for a QEMU vmcore's first bytes, else None."""
    for magic, kind in VMCORE_SIGNATURES:
        if head.startswith(magic):
            return kind
    return None


def sniff(path: str, first8: bytes, file_size: int) -> int:
    """Return the header size for a kernel dump; raise for anything else."""
    if first8 in KERNEL_SIGNATURES:
        header_size = KERNEL_SIGNATURES[first8]
        if file_size < header_size:
            raise DumpFormatError(path, "DUMP_HEADER", 0,
                                  f"truncated header: the file has {file_size:#x} bytes, "
                                  f"a {first8.decode()} header needs {header_size:#x}")
        return header_size
    for magic, what in _KNOWN_OTHERS.items():
        if first8.startswith(magic):
            raise UnsupportedDump(path, "signature", 0, f"this is {what}")
    if first8[:4] == b"PAGE":
        raise DumpFormatError(path, "DUMP_HEADER", 4,
                              f"ValidDump {first8[4:8]!r} is neither 'DUMP' nor 'DU64'")
    raise DumpFormatError(path, "DUMP_HEADER", 0,
                          f"signature {first8!r} is not PAGEDUMP or PAGEDU64")
