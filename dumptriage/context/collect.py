"""``dumptriage collect``: gather a live VM's configuration, logs and host facts into a
tar.gz bundle that ``load_context`` reads.

Everything goes through ``virsh`` (so any libvirt URI works, including the test driver
``test:///default``) plus local files when the URI is local. A command that is missing,
unsupported by the driver, or not permitted becomes a line in ``notes.txt``; only an
unknown domain is an error. Nothing is executed through a shell.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dumptriage.errors import ContextParseError

TIMEOUT = 30
LOG_TAIL = 1024 * 1024
MAX_DOMAINS = 500
QEMU_LOG_DIR = Path("/var/log/libvirt/qemu")
LIBVIRTD_LOG = Path("/var/log/libvirt/libvirtd.log")
FACTS_HEADER = "# dumptriage host facts\n"


@dataclass
class CollectResult:
    path: Path
    notes: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    commands: list[dict[str, object]] = field(default_factory=list)

    def note(self, code: str, detail: str) -> None:
        self.notes.append(f"{code}: {detail}")


def _is_local(uri: str | None) -> bool:
    """qemu:///system and test:///default are local; qemu+ssh://host/system is not."""
    return uri is None or re.match(r"^[\w+]+:///", uri) is not None


def _run(result: CollectResult, argv: list[str], name: str | None) -> bytes | None:
    env = {**os.environ, "LC_ALL": "C"}
    entry: dict[str, object] = {"argv": argv, "file": name}
    result.commands.append(entry)
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, env=env, check=False)
    except FileNotFoundError:
        entry["rc"] = None
        result.note("command-missing", f"{argv[0]} not found")
        return None
    except (subprocess.TimeoutExpired, OSError) as err:
        entry["rc"] = None
        result.note("command-failed", f"{' '.join(argv)}: {err}")
        return None
    entry["rc"] = proc.returncode
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        result.note("command-failed", f"{' '.join(argv)}: exit {proc.returncode}: "
                    f"{reason[-1] if reason else 'no message'}")
        return None
    if name is not None:
        result.files[name] = proc.stdout
    return proc.stdout


def _read_tail(result: CollectResult, path: Path, name: str) -> None:
    try:
        with path.open("rb") as fh:
            # /proc files report size 0 and cannot seek from the end: read them whole.
            size = os.fstat(fh.fileno()).st_size
            if size > LOG_TAIL:
                fh.seek(size - LOG_TAIL)
            result.files[name] = fh.read(LOG_TAIL)
    except FileNotFoundError:
        result.note("file-missing", str(path))
    except OSError as err:
        result.note("file-unreadable", f"{path}: {err.strerror or err}")


def _virsh(virsh: str, uri: str | None, *args: str, domain: str | None = None) -> list[str]:
    """virsh argv; the domain goes after ``--`` (virsh's end of options), so a name such as
    ``--help`` is a name, never an option."""
    tail = [] if domain is None else ["--", domain]
    return [virsh, *(["-c", uri] if uri else []), *args, *tail]


MAX_NAME = 255  # a name becomes a file name (QEMU log, bundle folder): NAME_MAX on Linux


def check_domain_name(domain: str) -> str:
    """A name virsh may be given and a path may be built from, or ContextParseError.

    libvirt refuses a newline in a domain name when it is defined
    (``virXMLCheckIllegalChars("name", def->name, "\\n")`` in every driver's DefineXML);
    libvirt names the QEMU log ``/var/log/libvirt/qemu/NAME.log``, so a name holding ``/``
    or being ``.``/``..`` would leave that folder. Control characters are refused too
    (they would reach the terminal). Numeric IDs and UUIDs pass: virsh accepts them.
    """
    bad = next((c for c in domain if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if not domain or domain in (".", "..") or "/" in domain or bad is not None or len(
            domain.encode()) > MAX_NAME:
        shown = domain.encode("unicode_escape").decode()[:80]
        why = ("a control character" if bad is not None else "'/'" if "/" in domain
               else f"more than {MAX_NAME} bytes" if len(domain.encode()) > MAX_NAME
               else "an empty or dot name")
        raise ContextParseError("collect", None, f"invalid domain name {shown!r}: {why} "
                                "(libvirt domain names hold no newline; a name must not "
                                "leave its folder)")
    return domain


def _confined(folder: Path, name: str) -> Path:
    """``folder / name``, refusing anything that resolves outside ``folder``."""
    path = folder / name
    if path.parent != folder or os.path.normpath(path) != str(path):
        raise ContextParseError("collect", None, f"{name!r} would leave {folder}")
    return path


def _running_vcpus(result: CollectResult, virsh: str, uri: str | None) -> int | None:
    names = _run(result, _virsh(virsh, uri, "list", "--name"), None)
    if names is None:
        return None
    total = 0
    for dom in names.decode(errors="replace").split()[:MAX_DOMAINS]:
        info = _run(result, _virsh(virsh, uri, "dominfo", domain=dom), None)
        m = re.search(rb"^CPU\(s\):\s+(\d+)", info or b"", re.M)
        if m:
            total += int(m[1])
    return total


def local_host_facts(result: CollectResult) -> None:
    """This machine's CPU, KVM parameters and dmesg (only for a local URI)."""
    _read_tail(result, Path("/proc/cpuinfo"), "host/cpuinfo.txt")
    params = []
    for path in sorted(Path("/sys/module").glob("kvm*/parameters/*")):
        try:
            params.append(f"{path}:{path.read_text().strip()}")
        except OSError:
            continue
    if params:
        result.files["host/kvm-params.txt"] = ("\n".join(params) + "\n").encode()
    else:
        result.note("no-kvm-module", "no /sys/module/kvm*/parameters (KVM not loaded here)")
    _run(result, ["dmesg"], "host/dmesg.txt")


def _gather(result: CollectResult, domain: str, uri: str | None) -> dict[str, str]:
    facts = {"hostname": platform.node(), "kernel": platform.release()}
    virsh = shutil.which("virsh")
    if virsh is None:
        result.note("command-missing", "virsh not found; only local files were collected")
    else:
        xml = _run(result, _virsh(virsh, uri, "dumpxml", domain=domain), "domain.xml")
        if xml is None and any("failed to get domain" in n for n in result.notes):
            raise ContextParseError(domain, None, f"no domain {domain!r} at {uri or 'default URI'}")
        _run(result, _virsh(virsh, uri, "version"), "virsh-version.txt")
        _run(result, _virsh(virsh, uri, "capabilities"), "capabilities.xml")
        _run(result, _virsh(virsh, uri, "nodeinfo"), "nodeinfo.txt")
        _run(result, _virsh(virsh, uri, "domcapabilities"), "raw/domcapabilities.xml")
        _run(result, _virsh(virsh, uri, "domstate", "--reason", domain=domain),
             "raw/domstate.txt")
        running = _running_vcpus(result, virsh, uri)
        if running is not None:
            facts["running_vcpus"] = str(running)
    if not _is_local(uri):
        result.note("remote-uri", f"{uri}: host files (QEMU log, cpuinfo, dmesg) not collected")
        facts = {k: v for k, v in facts.items() if k == "running_vcpus"}
    elif uri is not None and uri.startswith("test:"):
        result.note("test-driver", "libvirt test driver: no QEMU log or host files to collect")
        facts = {k: v for k, v in facts.items() if k == "running_vcpus"}
    else:
        _read_tail(result, _confined(QEMU_LOG_DIR, f"{domain}.log"), "qemu.log")
        _read_tail(result, LIBVIRTD_LOG, "libvirtd.log")
        local_host_facts(result)
    return facts


def _write(result: CollectResult, domain: str, uri: str | None, facts: dict[str, str]) -> None:
    result.files["facts.txt"] = (FACTS_HEADER + "".join(
        f"{k}: {v}\n" for k, v in facts.items())).encode()
    result.files["notes.txt"] = ("".join(f"{n}\n" for n in result.notes)).encode()
    manifest = {"tool": "dumptriage collect", "domain": domain, "uri": uri,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "commands": result.commands}
    result.files["raw/manifest.json"] = json.dumps(manifest, indent=2).encode()
    result.path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(result.path, "w:gz") as tar:
        for name, data in sorted(result.files.items()):
            info = tarfile.TarInfo(f"{domain}/{name}")
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def collect(domain: str, output: Path, *, uri: str | None = None) -> CollectResult:
    check_domain_name(domain)
    result = CollectResult(path=output)
    facts = _gather(result, domain, uri)
    _write(result, domain, uri, facts)
    return result
