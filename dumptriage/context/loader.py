"""Files, folders and bundles -> a ``HostContext`` of one VmConfig per VM (``load_context``).

Every byte is read through ``reader.py`` (regular files only, bounded sizes, bounded
bundles). Each file is recognised by its content, parsed on its own, range-checked, and
tagged with the VM it names; ``vms.py`` then groups the files by VM.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from dumptriage.context import proxmox_cpu_models as cpu_models
from dumptriage.context import sniff
from dumptriage.context.ranges import check_ranges
from dumptriage.context.reader import (
    GZIP_MAGIC,
    MAX_FILE,
    BundleLimits,
    Skipped,
    read_file,
    walk,
)
from dumptriage.context.vms import HostContext, Parsed, group, identity
from dumptriage.errors import ContextParseError
from dumptriage.model.host import Note, VmConfig


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
        return kind, check_ranges(parser(text, source), source)
    except ContextParseError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        # A parser met content it did not expect: still one line for the user, never a
        # traceback (the CLI contract), and the file named.
        raise ContextParseError(source, None, f"could not read as {kind}: "
                                f"{type(err).__name__}: {err}") from err


class _Loader:
    def __init__(self) -> None:
        self.parsed: list[Parsed] = []
        self.notes: list[Note] = []
        self.cpu_models: list[tuple[str, cpu_models.Models]] = []

    def cpu_models_file(self, text: str, source: str) -> bool:
        """Proxmox cpu-models.conf: kept aside, resolved into the VMs that use it."""
        if cpu_models.DETECT.search(text[:65536]) is None:
            return False
        self.cpu_models.append((source, cpu_models.parse_cpu_models(text)))
        return True

    def resolved(self) -> list[Parsed]:
        out = []
        for item in self.parsed:
            config = item.config
            for source, models in self.cpu_models:
                if item.kind == "proxmox":
                    config = cpu_models.resolve(config, models, source)
            out.append(Parsed(item.kind, config, item.ids))
        return out

    def skip(self, where: str, why: str) -> None:
        self.notes.append(Note("skipped-file", where, why))

    def add(self, kind: str, config: VmConfig, text: str, source: str,
            bundle: str | None = None) -> None:
        self.parsed.append(Parsed(kind, config, identity(kind, config, text, source, bundle)))

    def file(self, path: Path, *, explicit: bool) -> None:
        try:
            data = read_file(path)
        except ContextParseError as err:
            if explicit:
                raise
            self.skip(str(path), err.reason)
            return
        if data.startswith(GZIP_MAGIC):
            self.bundle(data, str(path))
            return
        text = _decode(data)
        if explicit and self.cpu_models_file(text, str(path)):
            return
        if explicit:
            kind, config = parse_text(text, str(path))
            self.add(kind, config, text, str(path))
        else:
            self.optional(text, str(path))

    def optional(self, text: str, source: str, bundle: str | None = None) -> None:
        """In a folder or bundle an unknown file is a note, not an error."""
        if self.cpu_models_file(text, source):
            return
        kind = sniff.detect(text)
        if kind is None or sniff.parser_for(kind) is None:
            self.skip(source, "not a recognised host-side file" if kind is None
                      else f"{kind}: not read")
            return
        kind, config = parse_text(text, source, kind)
        self.add(kind, config, text, source, bundle)

    def bundle(self, data: bytes, source: str) -> None:
        """Members of a collect bundle, read in memory from the compressed stream."""
        limits = BundleLimits(source, len(data))
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
                for member in tar:
                    limits.admit(member)
                    if not member.isfile() or "raw/" in member.name:
                        continue  # raw/ is kept for people (virsh version, manifest...)
                    fh = tar.extractfile(member)
                    if fh is None:
                        continue
                    text = _decode(fh.read(MAX_FILE))
                    name = f"{source}:{member.name}"
                    # collect writes DOMAIN/...: every member of one folder is one VM's.
                    top = f"{source}:{member.name.split('/', 1)[0]}"
                    if member.name.endswith("notes.txt"):
                        self.parsed.append(Parsed("notes", _notes_file(text, name),
                                                  frozenset({"bundle:" + top})))
                        continue
                    self.optional(text, name, top)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ContextParseError(source, None, f"not a readable bundle: {err}") from err

    def folder(self, root: Path) -> None:
        for item in walk(root):
            if isinstance(item, Skipped):
                self.skip(item.path, item.reason)
            else:
                self.file(item, explicit=False)


def _notes_file(text: str, source: str) -> VmConfig:
    """collect's notes.txt: one 'code: detail' line per thing it could not gather."""
    notes = []
    for line in text.splitlines():
        code, _, detail = line.partition(": ")
        if code and detail:
            notes.append(Note(code, source, detail))
    return VmConfig(notes=tuple(notes))


def load_context(paths: Sequence[str | Path]) -> HostContext:
    """Every VM found in files, folders and collect bundles (raises ContextParseError).

    An empty result (no recognised file) is not an error here: ``HostContext.is_empty``
    says so, and the caller decides (``context`` fails, ``analyze`` warns).
    """
    loader = _Loader()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():  # named by the user: read, but links inside it are not followed
            loader.folder(path)
        else:
            loader.file(path, explicit=True)
    return group(loader.resolved(), loader.notes, [str(p) for p in paths])
