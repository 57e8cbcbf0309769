"""The analysis layer: one input in, one ``Report`` out. The CLI only renders what it returns.

The reader (``dump/``) states facts; here they are named and judged: the catalogue's
explanation of the bugcheck, release names, driver classes, the hung CPU, the culprit.
Named ``analysis``, not ``analyze`` (DESIGN.md), so that the package never shadows the
public ``dumptriage.analyze`` function.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dumptriage import __version__
from dumptriage.analysis.culprit import probable_culprit
from dumptriage.analysis.hung import mark_hung
from dumptriage.analysis.labels import classify_modules, name_os
from dumptriage.catalogue.interpret import explain
from dumptriage.dump.crash_dump import open_dump
from dumptriage.dump.kernel.modules import ModuleMap
from dumptriage.model.anomaly import Anomaly, AnomalyCode
from dumptriage.model.debugger import DebuggerRun
from dumptriage.model.dump import Module
from dumptriage.model.record import replace
from dumptriage.model.report import HostChoice, Report, Source, Tool

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.model.host import VmConfig
    from dumptriage.symbols.naming import SymbolSession

TOOL = Tool("dumptriage", __version__)


def analyze(path: str | os.PathLike[str],
            context: Sequence[str | os.PathLike[str]] = (), vm: str | None = None,
            rules: Sequence[str | os.PathLike[str]] | None = None, *,
            debugger_text: str | os.PathLike[str] | None = None, debugger: str | None = None,
            symbols: str | None = None, debugger_timeout: float = 300.0,
            symbol_downloads: bool = True,
            symbol_progress: Callable[[str, int, int | None], None] | None = None) -> Report:
    """Read a kernel dump or a saved debugger transcript (and the VM's host files), report.

    ``path`` is a dump or, recognised by its content, debugger text (a saved ``!analyze
    -v``, ``kv``, ``lmnt``): then the report holds the facts the text gives, with
    ``source.kind`` "debugger_text". ``context`` takes domain XML, QEMU command lines and
    logs, libvirtd logs, Proxmox and KubeVirt configs, host facts, folders of them and
    `dumptriage collect` bundles. Files of several VMs are never merged: ``vm`` (name, UUID
    or Proxmox VMID) picks one, else the VM with the most sources is taken and
    ``host_choice`` says so. Inputs with no recognised host file give ``host`` None and a
    ``host_choice`` whose reason says why. ``rules``: folders of extra rule files.
    ``debugger_text``: the dump's saved debugger output, merged in (its symbolised stack
    replaces ours). ``debugger``: None (the default here: not asked, no ``debugger_run``),
    "none", "auto" (run cdb/kd if one is installed) or a debugger's path;
    ``debugger_timeout`` in seconds. ``symbols``: a symbol path (folders of PDBs, stores,
    ``srv*CACHE*URL``) that names the frames from PDBs and is given to the debugger;
    ``symbol_downloads`` False keeps to what is on disk even when the path names a server
    (the CLI does so for a path taken from _NT_SYMBOL_PATH); ``symbol_progress(url,
    bytes_done, bytes_total_or_None)`` is called while a symbol file downloads.
    Raises DumpFormatError if the dump is unreadable, ContextParseError for a broken
    context file or a ``vm`` no file names, RuleFileError for a broken rule file.
    """
    from dumptriage.debugger.text import is_transcript

    host, host_choice = _host(context, vm)
    if is_transcript(path):
        from dumptriage.analysis.with_debugger import transcript_report

        report = transcript_report(path, host, host_choice, TOOL, _now())
        if debugger is not None:
            report = replace(report, debugger_run=DebuggerRun(
                _mode(debugger), "not_a_dump", None,
                "the input is debugger output already; there is no dump to run it on"))
    else:
        session = _symbol_session(symbols, symbol_downloads, symbol_progress)
        report = _read_dump(path, host, host_choice, session)
        report = _with_debugger(report, path, debugger_text, debugger, symbols,
                                debugger_timeout)
        if session is not None and report.debugger is None:  # a debugger's names stay
            named, notes = session.symbolize(report)
            report = replace(named, anomalies=(*named.anomalies, *notes))
    return _with_conclusions(report, [os.fspath(r) for r in rules or ()])


def _mode(debugger: str) -> str:
    """The JSON contract's ``debugger_run.mode``: a path given is "path"."""
    return debugger if debugger in ("auto", "none") else "path"


def _with_debugger(report: Report, path: str | os.PathLike[str],
                   text: str | os.PathLike[str] | None, debugger: str | None,
                   symbols: str | None, timeout: float) -> Report:
    if text is not None:
        from dumptriage.analysis import with_debugger as bridge

        transcript, extra = bridge.read_transcript(text)
        merged = bridge.merge(report, transcript, "text", os.fspath(text))
        return replace(merged, anomalies=merged.anomalies + tuple(extra))
    if debugger is None:
        return report
    from dumptriage.debugger.runner import run_debugger

    run, output = run_debugger(debugger, os.fspath(path), symbols, timeout)
    report = replace(report, debugger_run=run)
    if run.status in ("failed", "timed_out"):
        return replace(report, anomalies=(*report.anomalies, _failed(run)))
    if output is None:
        return report
    from dumptriage.debugger.transcript import parse_bytes

    transcript = parse_bytes(output, f"{run.executable} output")
    if transcript.bugcheck_code is None and not transcript.stack:
        failed = replace(run, status="failed",
                         detail=f"{run.detail}; its output has no bugcheck and no stack")
        return replace(report, debugger_run=failed, anomalies=(*report.anomalies,
                                                              _failed(failed)))
    from dumptriage.analysis.with_debugger import merge

    return merge(report, transcript, "run", run.executable)


def _symbol_session(search_path: str | None, downloads: bool,
                    progress: Callable[[str, int, int | None], None] | None
                    ) -> SymbolSession | None:
    """The symbol path opened once: a server in a path the user gave (``srv*CACHE*https://..``)
    is the user asking for the network; a path naming none downloads nothing."""
    if not search_path:
        return None
    from dumptriage.symbols.naming import SymbolSession

    return SymbolSession(search_path, allow_network=downloads, progress=progress)


def _failed(run: DebuggerRun) -> Anomaly:
    return Anomaly(AnomalyCode.DEBUGGER_FAILED.value, run.executable or "debugger", run.detail)


def _with_conclusions(report: Report, rule_dirs: list[str]) -> Report:
    from dumptriage.knowledge import conclude

    found = conclude(report, rule_dirs)
    return replace(report, findings=found.findings, not_evaluated=found.not_evaluated,
                   ruled_out=found.ruled_out)


def _read_dump(path: str | os.PathLike[str], host: VmConfig | None,
               host_choice: HostChoice | None, symbols: SymbolSession | None = None) -> Report:
    with open_dump(Path(path)) as dump:
        kdbg = dump.kdbg
        vmcore = dump.is_vmcore or dump.container.kind == "vmcore"
        # A vmcore's facts come from discovery (dump/kernel/discovery.py), kernel base too.
        given = dump.kernel.info if vmcore else dump.info
        base = kdbg.kern_base if kdbg and kdbg.kern_base else \
            (given.kernel_base if vmcore else None)
        info = name_os(replace(given, kernel_base=base))
        # One pass, in a fixed order: the same dump always gives the same anomalies.
        anomalies = dump.all_anomalies()
        # A hung guest's vmcore records no stop code: the report's bugcheck is null.
        bugcheck = dump.bugcheck if dump.has_bugcheck else None
        stack = dump.stack()
        if symbols is not None and stack:
            # The store's image files let x64 unwinding go where the dump has no image.
            stack = dump.kernel.walk_stack(symbols.image_source)
        modules = classify_modules(_mark_hash_timestamps(dump.modules, info.system_time))
        processors, hung_problems = (mark_hung(bugcheck, dump.processors,
                                               complete=dump.kernel.lists_every_cpu)
                                     if bugcheck is not None else (dump.processors, []))
        explanation = (explain(bugcheck.code, bugcheck.args, info.pointer_bits)
                       if bugcheck is not None else None)
        module_map = ModuleMap(modules, dump.kernel.module_map.images)
        culprit = (probable_culprit(bugcheck, stack, module_map, explanation.name)
                   if bugcheck is not None and explanation is not None else None)
        vcpus = dump.vcpus
        if culprit is None and vcpus:
            from dumptriage.analysis.hang_culprit import hang_culprit

            culprit = hang_culprit(vcpus, modules)  # a hung guest: the busy vCPUs' code
        return Report(
            # A QEMU vmcore (ELF or kdump-compressed, or any container offering vCPU
            # registers) is "vmcore"; every Windows dump container is "kernel_dump".
            source=Source(path=str(path), kind="vmcore" if vmcore else "kernel_dump"),
            dump=info,
            bugcheck=bugcheck,
            explanation=explanation,
            modules=tuple(modules),
            unloaded_modules=tuple(dump.unloaded_modules),
            processors=tuple(processors),
            stack=tuple(stack),
            vcpus=vcpus,
            culprit=culprit,
            host=host,
            host_choice=host_choice,
            anomalies=tuple(anomalies + hung_problems),
            tool=TOOL,
            generated_at=_now(),
        )


def _host(context: Sequence[str | os.PathLike[str]], vm: str | None
          ) -> tuple[VmConfig | None, HostChoice | None]:
    if not context:
        return None, None
    from dumptriage.context import load_context

    chosen = load_context([Path(p) for p in context]).select(vm)
    return chosen.config, HostChoice(chosen.vm, chosen.reason, chosen.others)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _mark_hash_timestamps(modules: list[Module], crash_time: str | None) -> list[Module]:
    """Flag TimeDateStamps later than the crash: reproducible-build hashes, not times."""
    if crash_time is None:
        return modules
    crash = datetime.fromisoformat(crash_time.replace("Z", "+00:00")).timestamp()
    return [replace(m, timestamp_is_hash=True) if m.timestamp and m.timestamp > crash else m
            for m in modules]
