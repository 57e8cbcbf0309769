"""The guest's own note in a QEMU vmcore: a ready-made Windows dump header, when present.

The virtio-win FwCfg driver (fwcfg.sys, with the VM's ``vmcoreinfo`` device) builds an ELF
note named ``VMCOREINFO`` whose desc is a whole PAGEDU64 (0x2000 bytes, x64) or PAGEDUMP
(0x1000 bytes, x86) header made by ``KeInitializeCrashDumpHeader(DUMP_TYPE_FULL)`` when the
driver loaded; it overwrites BugcheckParameter1 with the address of a decoded KDBG copy.
QEMU copies the note into every dump format (hung-guest-dumps.md section 1.3, sources W1
and Q1 ``write_guest_note``). Its facts (DirectoryTableBase, PsLoadedModuleList, the
build, KdDebuggerDataBlock) are the guest's own and are used before any heuristic.

The header is read with the same struct formats as a MEMORY.DMP header
(formats/windows_crash_dump.ksy) and checked the same way; a note that is not a valid
header is an anomaly and is ignored.
"""

from __future__ import annotations

from types import SimpleNamespace

from dumptriage.dump.containers import header as hdr
from dumptriage.dump.containers.flat import read_flat
from dumptriage.dump.containers.sniff import KERNEL_SIGNATURES
from dumptriage.formats.windows_crash_dump_flat import DUMP_HEADER32, DUMP_HEADER64
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.header import BugCheck, OsInfo

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.dump.containers.vmcore_notes import Note


class GuestHeader:
    """The facts of a PAGEDUMP/PAGEDU64 header found in the guest note."""

    def __init__(self, h: SimpleNamespace, is_64: bool, arch: str, offset: int) -> None:
        self.is_64 = is_64
        self.arch = arch
        self.offset = offset  # file offset of the note, for messages
        self.signature = "PAGEDU64" if is_64 else "PAGEDUMP"
        self.os: OsInfo = hdr.os_info(h)
        self.pae = bool(h.pae_enabled) if arch == "x86" else None
        self.processors = int(h.number_processors)
        self.directory_table_base = hdr.optional(int(h.directory_table_base))
        self.ps_loaded_module_list = hdr.optional(int(h.ps_loaded_module_list))
        self.ps_active_process_head = hdr.optional(int(h.ps_active_process_head))
        self.pfn_database = hdr.optional(int(h.pfn_data_base))
        self.kd_debugger_data_block = hdr.optional(int(h.kd_debugger_data_block))
        self.machine = int(h.machine_image_type)
        a = [int(v) for v in h.bug_check_parameters]
        self.bugcheck = BugCheck(code=int(h.bug_check_code), args=(a[0], a[1], a[2], a[3]),
                                 width_bits=64 if is_64 else 32)


def guest_header(note: Note | None) -> tuple[GuestHeader | None, list[Anomaly]]:
    """The Windows header in the guest note, or None (with an anomaly if it is broken)."""
    if note is None:
        return None, []
    desc = note.desc
    signature = bytes(desc[:8])
    size = KERNEL_SIGNATURES.get(signature)
    if size is None:
        return None, []  # a Linux guest's vmcoreinfo text, or another guest note
    where = f"guest note {note.name.decode('ascii', 'replace')!r} at {note.offset:#x}"
    if len(desc) < size:
        return None, [anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                              f"a {signature.decode()} header needs {size:#x} bytes but the "
                              f"note holds {len(desc):#x}: ignored")]
    is_64 = size == 0x2000
    h = read_flat(DUMP_HEADER64 if is_64 else DUMP_HEADER32, desc, 8)
    arch = hdr.ARCH_BY_MACHINE.get(int(h.machine_image_type))
    # An x86 QEMU guest is x86 or x64; ARM64 or a DU64/i386 mix is no header of this guest.
    if arch not in ("x86", "x64") or (arch == "x86") == is_64:
        return None, [anomaly(AnomalyCode.HEADER_INCONSISTENT, where,
                              f"{signature.decode()} header with MachineImageType "
                              f"{int(h.machine_image_type):#x}: ignored")]
    return GuestHeader(h, is_64, str(arch), note.offset), []
