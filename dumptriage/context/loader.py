"""Files, folders and bundles -> VmConfig (see ``load_context``)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from dumptriage.context import sniff
from dumptriage.context.merge import merge
from dumptriage.errors import ContextParseError
from dumptriage.model.host import Note, VmConfig

MAX_FILE = 64 * 1024 * 1024  # host-side text files are small; a log tail is enough
MAX_MEMBERS = 500
GZIP_MAGIC = b"\x1f\x8b"


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def parse_text(text: str, source: str, kind: str | None = None) -> tuple[str, VmConfig]:
    """Parse one file's text; ``kind`` is detected from the content when not given."""
    kind = kind or sniff.detect(text)
    parser = None if kind is None else sniff.parser_for(kind)
    if kind is None or parser is None:
        raise ContextParseError(source, None, "not a recognised host-side file (domain XML, "
                                "QEMU command line or log, libvirtd log, Proxmox config, "
                                "KubeVirt YAML, host facts)")
    try:
        return kind, parser(text, source)
    except ContextParseError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        # A parser met content it did not expect: still one line for the user, never a
        # traceback (the CLI contract), and the file named.
        raise ContextParseError(source, None, f"could not read as {kind}: "
                                f"{type(err).__name__}: {err}") from err


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_FILE)
    except OSError as err:
        raise ContextParseError(path, None, err.strerror or str(err)) from err


def _bundle(data: bytes, source: str) -> list[tuple[str, VmConfig]]:
    """Members of a collect bundle, read in memory (nothing is extracted to disk)."""
    out: list[tuple[str, VmConfig]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile()][:MAX_MEMBERS]
            for member in sorted(members, key=lambda m: m.name):
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                text = _decode(fh.read(MAX_FILE))
                name = f"{source}:{member.name}"
                if "raw/" in member.name:
                    continue  # kept for people, not parsed (virsh version, manifest...)
                if member.name.endswith("notes.txt"):
                    out.append(("notes", _notes_file(text, name)))
                    continue
                out.extend(_optional(text, name))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ContextParseError(source, None, f"not a readable bundle: {err}") from err
    return out


def _notes_file(text: str, source: str) -> VmConfig:
    """collect's notes.txt: one 'code: detail' line per thing it could not gather."""
    notes = []
    for line in text.splitlines():
        code, _, detail = line.partition(": ")
        if code and detail:
            notes.append(Note(code, source, detail))
    return VmConfig(notes=tuple(notes))


def _optional(text: str, source: str) -> list[tuple[str, VmConfig]]:
    """In a folder or bundle an unknown file is a note, not an error."""
    kind = sniff.detect(text)
    if kind is None or sniff.parser_for(kind) is None:
        what = "not a recognised host-side file" if kind is None else f"{kind}: not read"
        return [("skipped", VmConfig(notes=(Note("skipped-file", source, what),)))]
    return [parse_text(text, source, kind)]


def _load_one(path: Path) -> list[tuple[str, VmConfig]]:
    if path.is_dir():
        out: list[tuple[str, VmConfig]] = []
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            data = _read(child)
            if data.startswith(GZIP_MAGIC):
                out.extend(_bundle(data, str(child)))
            else:
                out.extend(_optional(_decode(data), str(child)))
        return out
    if not path.exists():
        raise ContextParseError(path, None, "no such file or directory")
    data = _read(path)
    if data.startswith(GZIP_MAGIC):
        return _bundle(data, str(path))
    return [parse_text(_decode(data), str(path))]


def load_context(paths: Sequence[str | Path]) -> VmConfig:
    """One VmConfig from files, folders and collect bundles (raises ContextParseError)."""
    parsed: list[tuple[str, VmConfig]] = []
    for path in paths:
        parsed.extend(_load_one(Path(path)))
    return merge(parsed)
