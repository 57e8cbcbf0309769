"""Symbol-store keys and the paths below a store's root.

Facts from ../shared/reference/pdb-symbols.md (checked there on real Microsoft files):

* PDB: ``<pdbname>/<GUID><AGE>/<pdbname>``; GUID as 32 uppercase hex digits (Data1-3 printed
  as numbers, Data4 in disk order), the age in uppercase hex without padding (age 10 is
  ``A``), the DBI age, not the PDB-info one (sheet 2.4, 2.5; Microsoft "Symbol Storage
  Format", symstore).
* Image: ``<name.sys>/<TimeDateStamp %08X><SizeOfImage %x>/<name.sys>`` (sheet 2.5, 6.1;
  the randomascii/WinDbg form; rizin's store writes it in lower case, so local lookups
  match directory names case-insensitively).
* Compressed file: the same directory, the name's last character replaced by ``_``
  (``.pd_``, ``.sy_``); a pointer: ``file.ptr`` in the same directory (sheet 6.1).
* Two-tier store (``index2.txt`` at the root): the first two letters of the file name as an
  extra level, ``nt/ntkrnlmp.pdb/<key>/ntkrnlmp.pdb`` (sheet 6.1, Microsoft P8).
"""

from __future__ import annotations

from dumptriage.model.record import Record


class StoreKey(Record):
    """One file a symbol store may hold: ``name/key/name``."""

    name: str  # the file name as the store spells it (basename of the RSDS path, image name)
    key: str  # "<GUID><AGE>" or "<TIMESTAMP><SIZE>"
    kind: str  # "pdb" or "image"

    @property
    def path(self) -> str:
        """The one-tier relative path, always with ``/``."""
        return f"{self.name}/{self.key}/{self.name}"

    @property
    def compressed_name(self) -> str:
        return compressed_name(self.name)

    def two_tier_path(self) -> str:
        return f"{self.name[:2].lower()}/{self.path}"


def compressed_name(name: str) -> str:
    """``amdppm.pdb`` -> ``amdppm.pd_`` (a name without a dot still loses its last char)."""
    return name[:-1] + "_" if name else name


def pdb_file_name(rsds_path: str) -> str:
    """The store name of a PDB: the basename of the RSDS path, split on ``\\`` and ``/``."""
    return rsds_path.replace("\\", "/").rsplit("/", 1)[-1]


def pdb_key(name: str, guid: str, age: int) -> StoreKey:
    """``guid``: 32 hex digits as ``PdbInfo.guid`` holds them (uppercase, no dashes)."""
    return StoreKey(pdb_file_name(name), f"{guid.upper()}{age:X}", "pdb")


def image_key(name: str, timestamp: int, size_of_image: int) -> StoreKey:
    """The key symbol servers index images by: ``%08X`` TimeDateStamp + ``%x`` SizeOfImage."""
    return StoreKey(pdb_file_name(name), f"{timestamp:08X}{size_of_image:x}", "image")


def debug_id(guid: str, age: int) -> str:
    """symbolic's spelling of a PDB id: ``1c19fddb-27bb-3399-d9b4-5973efeafcf3-1``."""
    g = guid.lower()
    return f"{g[:8]}-{g[8:12]}-{g[12:16]}-{g[16:20]}-{g[20:32]}-{age:x}"
