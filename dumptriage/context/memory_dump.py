"""``dumptriage collect DOMAIN --memory``: the hung guest's memory, taken from the host.

``virsh dump --memory-only`` asks QEMU for ``dump-guest-memory`` (libvirt's manual: "dump
the domain's memory only"; formats elf, kdump-zlib, kdump-lzo, kdump-snappy, win-dmp).
The domain is paused while the file is written and resumed afterwards, so a large guest
stops for the whole write: the caller is told how large the file will be and where it
goes before anything starts (``plan_memory_dump``), then ``take_memory_dump`` runs virsh
with an argument list (no shell) and checks what it wrote.

An ELF or win-dmp file is as large as the guest's memory (every RAM block is a PT_LOAD
segment); the kdump formats compress each page and leave zero pages out
(hung-guest-dumps.md 1.1, 1.2), so their size is an upper bound only. win-dmp needs an x64
Windows guest with virtio-win's FwCfg driver and the VM's vmcoreinfo device
(kvm-causes.md section 4), and libvirt 7.4.0 or later.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from dumptriage.context.collect import _confined, check_domain_name
from dumptriage.errors import ContextParseError
from dumptriage.model.record import Record

FORMATS = ("elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp")
# Full-size formats: one byte of file per byte of guest RAM (plus headers and notes).
_UNCOMPRESSED = ("elf", "win-dmp")
_HEADROOM = 1.02  # notes, headers and alignment on top of the RAM itself
DEFAULT_TIMEOUT = 3600.0  # seconds: a 64 GiB guest on a slow disk takes many minutes
INFO_TIMEOUT = 30.0
# What each format's file starts with (QEMU dump/dump.c; win_dump.c writes a PAGEDU64).
_MAGICS = {"elf": (b"\x7fELF",), "win-dmp": (b"PAGEDU64", b"PAGEDUMP"),
           "kdump-zlib": (b"KDUMP   ", b"makedumpfile"),
           "kdump-lzo": (b"KDUMP   ", b"makedumpfile"),
           "kdump-snappy": (b"KDUMP   ", b"makedumpfile")}


class MemoryDumpPlan(Record):
    """What a memory dump will do, said before it starts."""

    domain: str
    path: str
    format: str
    memory_bytes: int  # the guest's memory ("Max memory" of virsh dominfo)
    expected_bytes: int  # the file's size (an upper bound for the kdump formats)
    free_bytes: int  # free space where the file goes
    argv: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.free_bytes >= self.expected_bytes

    def warning(self) -> str:
        """The sentence the user reads before the guest is paused."""
        size = _size(self.expected_bytes)
        bound = "at most " if self.format not in _UNCOMPRESSED else "about "
        return (f"virsh dump --memory-only pauses {self.domain} while it writes {bound}"
                f"{size} ({self.format}) to {self.path}; the guest resumes when it is "
                f"written ({_size(self.free_bytes)} free there)")


class MemoryDump(Record):
    """What was written."""

    path: str
    format: str
    size: int
    state_after: str | None  # virsh domstate once the dump finished ("running", "paused")


def plan_memory_dump(domain: str, path: Path, *, uri: str | None = None,
                     fmt: str = "elf") -> MemoryDumpPlan:
    """Check the domain and the target, and say what the dump will cost."""
    check_domain_name(domain)
    if fmt not in FORMATS:
        raise ContextParseError("collect --memory", None,
                                f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    virsh = _virsh_path()
    info = _dominfo(virsh, uri, domain)
    state = _field(info, "State") or "unknown"
    if state not in ("running", "paused", "idle", "in shutdown"):
        raise ContextParseError(domain, None, f"the domain is {state}: a memory dump needs "
                                "a running (or paused) guest")
    memory = _kib(_field(info, "Max memory")) or _kib(_field(info, "Used memory"))
    if memory is None:
        raise ContextParseError(domain, None, "virsh dominfo gave no memory size")
    folder = path.resolve().parent
    free = shutil.disk_usage(folder if folder.is_dir() else Path.cwd()).free
    target = str(_confined(folder, path.name))
    argv = (virsh, *(["-c", uri] if uri else []), "dump", "--memory-only", "--format", fmt,
            "--", domain, target)
    return MemoryDumpPlan(domain, target, fmt, memory, int(memory * _HEADROOM), free, argv)


def take_memory_dump(plan: MemoryDumpPlan, *, timeout: float = DEFAULT_TIMEOUT,
                     force: bool = False) -> MemoryDump:
    """Run the planned ``virsh dump``; ContextParseError (one line) when it cannot be done."""
    if not plan.fits and not force and plan.format in _UNCOMPRESSED:
        raise ContextParseError(plan.domain, None, f"{_size(plan.expected_bytes)} needed for "
                                f"{plan.path}, {_size(plan.free_bytes)} free; choose another "
                                "folder, --memory-format kdump-zlib, or --force")
    env = {**os.environ, "LC_ALL": "C"}
    try:
        proc = subprocess.run(list(plan.argv), capture_output=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired as err:
        raise ContextParseError(plan.domain, None, f"virsh dump did not finish in {timeout:g} s;"
                                f" the job may still run: virsh domjobinfo {plan.domain}, "
                                f"and virsh resume {plan.domain} if it stays paused") from err
    except OSError as err:
        raise ContextParseError(plan.domain, None, f"{plan.argv[0]}: {err}") from err
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ContextParseError(plan.domain, None, f"virsh dump failed (exit "
                                f"{proc.returncode}): {lines[-1] if lines else 'no message'}")
    return MemoryDump(plan.path, plan.format, _check_written(plan), _state(plan))


def _check_written(plan: MemoryDumpPlan) -> int:
    try:
        with open(plan.path, "rb") as fh:
            head = fh.read(16)
            size = os.fstat(fh.fileno()).st_size
    except OSError as err:
        raise ContextParseError(plan.domain, None, f"virsh dump wrote no {plan.path}: "
                                f"{err.strerror or err}") from err
    if not head.startswith(_MAGICS[plan.format]):
        raise ContextParseError(plan.domain, None, f"{plan.path} does not start like a "
                                f"{plan.format} dump (first bytes {head[:8].hex()})")
    return size


def _state(plan: MemoryDumpPlan) -> str | None:
    argv = [*plan.argv[: plan.argv.index("dump")], "domstate", "--", plan.domain]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=INFO_TIMEOUT, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return None
    text = proc.stdout.decode(errors="replace").strip()
    return (text or None) if proc.returncode == 0 else None


def _virsh_path() -> str:
    found = shutil.which("virsh")
    if found is None:
        raise ContextParseError("collect --memory", None, "virsh not found (Debian package "
                                "libvirt-clients): it takes the memory dump")
    return found


def _dominfo(virsh: str, uri: str | None, domain: str) -> str:
    argv = [virsh, *(["-c", uri] if uri else []), "dominfo", "--", domain]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=INFO_TIMEOUT, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except (subprocess.TimeoutExpired, OSError) as err:
        raise ContextParseError(domain, None, f"virsh dominfo: {err}") from err
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ContextParseError(domain, None, f"no domain {domain!r} at {uri or 'default URI'}"
                                f" ({lines[-1] if lines else 'virsh dominfo failed'})")
    return proc.stdout.decode(errors="replace")


def _field(info: str, name: str) -> str | None:
    found = re.search(rf"^{re.escape(name)}:\s*(.+?)\s*$", info, re.M)
    return found[1] if found else None


def _kib(text: str | None) -> int | None:
    found = re.match(r"(\d+)\s*KiB$", text or "")
    return int(found[1]) * 1024 if found else None


def _size(count: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.1f} {unit}"
    return f"{count} bytes"
