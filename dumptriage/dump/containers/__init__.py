"""Dump containers: one class per on-disk kind, all behind ``protocol.Container``.

``open_container(path)`` reads the first bytes and the header once and picks the class;
nothing after this point asks which kind of container it has.
"""

from __future__ import annotations

import os

from dumptriage.dump.containers.dump_file import DumpFile
from dumptriage.dump.containers.sniff import VMCORE_SNIFF_BYTES, vmcore_kind

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dumptriage.dump.containers.protocol import Container


def open_container(path: str) -> Container:
    """The container for a PAGEDUMP/PAGEDU64 file or a QEMU vmcore (DumpFormatError if it
    is none)."""
    raw = open(path, "rb")  # noqa: SIM115 - owned by the container, closed by its close()
    try:
        # The first bytes pick the family; a kernel dump's are read again from the mapping.
        kind = vmcore_kind(os.pread(raw.fileno(), VMCORE_SNIFF_BYTES, 0))
        if kind is not None:
            return _vmcore_class(kind)(path, raw)
        file = DumpFile(path, raw)
    except BaseException:
        raw.close()
        raise
    try:
        return _container_class(file)(file)
    except BaseException:
        file.close()
        raise


def _vmcore_class(kind: str) -> Callable[[str, Any], Container]:
    # QEMU host-side dumps: the ELF core, or the kdump-compressed file (raw or flattened).
    if kind == "elf":
        from dumptriage.dump.containers.vmcore_elf import ElfVmcore

        return ElfVmcore
    from dumptriage.dump.containers.vmcore_kdump import KdumpVmcore

    return KdumpVmcore


def _container_class(file: DumpFile) -> Callable[[DumpFile], Container]:
    # Imported on demand: opening a full dump never loads the triage readers.
    dump_type = file.dump_type
    if file.encrypted:
        from dumptriage.dump.containers.header_only import HeaderOnlyDump

        return HeaderOnlyDump
    if dump_type == 1:
        from dumptriage.dump.containers.full import FullDump

        return FullDump
    if dump_type in (2, 5, 6):
        from dumptriage.dump.containers.bitmap import BitmapDump

        return BitmapDump
    if dump_type == 4:
        from dumptriage.dump.containers.triage.container import TriageDump

        return TriageDump
    if dump_type in (8, 9, 0xA) and file.is_64:  # RDMP: 64-bit only (dump-format.md 2.4)
        from dumptriage.dump.containers.rdmp import RdmpDump

        return RdmpDump
    from dumptriage.dump.containers.header_only import HeaderOnlyDump

    return HeaderOnlyDump  # 3 (header only), 7, and 32-bit files of the RDMP types


__all__ = ["open_container"]
