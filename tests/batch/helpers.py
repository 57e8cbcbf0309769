"""Small inputs for the batch tests, made with dumptriage.synth (never read from a corpus)."""

from __future__ import annotations

import shutil
from pathlib import Path

from dumptriage.synth import DumpSpec, write

REPO = Path(__file__).resolve().parents[2]
STORY = REPO / "samples" / "win7-x86-clock-watchdog"


def small_dump(path: Path, i: int = 0, code: int = 0x133) -> Path:
    """A 16 MiB sparse x64 bitmap dump (a few KiB on disk) with distinct arguments."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = (i % 2, 0x501 + i, 0x500, 0xFFFFF80400000000 + i * 0x1000)
    write(DumpSpec(arch="x64", dump_type=5, build=19041, memory_mib=16, sparse=True,
                   bugcheck=(code, args)), path)
    return path


def story_folder(dest: Path) -> Path:
    """The story sample's dump and host files (vm113) in a folder of their own."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("MEMORY.DMP", "vm113.xml", "qemu-vm113.log"):
        shutil.copy(STORY / name, dest / name)
    return dest


def make_share(root: Path, scratch: Path) -> Path:
    """A small share: the story VM's folder, three synthetic dumps of two kinds, a damaged
    MEMORY.DMP and a WER-style zip. (No transcript: its report comes from the
    debugger-text reader, which has goldens of its own.)"""
    import zipfile

    story_folder(root / "vm113")
    small_dump(root / "vm200" / "a.dmp", 0, 0x133)
    small_dump(root / "vm200" / "b.dmp", 1, 0x133)
    small_dump(root / "vm201" / "Minidump" / "c.dmp", 2, 0x1000007E)
    (root / "vm202").mkdir()
    (root / "vm202" / "MEMORY.DMP").write_bytes(b"PAGEDU64" + bytes(100))  # truncated header
    with zipfile.ZipFile(root / "wer.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Report.wer", "Version=1\r\n")
        zf.write(small_dump(scratch / "z.dmp", 3, 0x133), "Minidump/z.dmp")
    shutil.rmtree(scratch)
    return root
