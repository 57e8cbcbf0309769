"""The report: everything dumptriage found about one input, as one serialisable value."""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

    from dumptriage.model.anomaly import Anomaly
    from dumptriage.model.debugger import DebuggerRun, DebuggerSummary
    from dumptriage.model.dump import Frame, Module, Processor, UnloadedModule
    from dumptriage.model.explanation import Explanation
    from dumptriage.model.findings import Finding, NotEvaluated, RuledOut
    from dumptriage.model.header import BugCheck, DumpInfo
    from dumptriage.model.host import VmConfig
    from dumptriage.model.vcpu import Vcpu

SCHEMA_VERSION = 1


class Culprit(Record):
    module: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "reason": self.reason}


class Source(Record):
    path: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind}


class Tool(Record):
    """Which program wrote the report (the ``tool`` block of the JSON contract)."""

    name: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


class HostChoice(Record):
    """Which VM of the host-side files the report's ``host`` is, and how it was chosen.

    Files of several VMs are never merged: each VM gets its own ``VmConfig`` and one of
    them is picked (``--vm NAME``, else the one with the most sources).
    """

    vm: str | None
    reason: str
    others: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"vm": self.vm, "reason": self.reason, "others": list(self.others)}


class Report(Record):
    """Everything dumptriage found about one input: the library's one result type."""

    source: Source
    dump: DumpInfo | None
    bugcheck: BugCheck | None
    # What the catalogue says about the bugcheck: filled by the analysis layer.
    explanation: Explanation | None = None
    anomalies: tuple[Anomaly, ...] = ()
    modules: tuple[Module, ...] = ()
    unloaded_modules: tuple[UnloadedModule, ...] = ()
    processors: tuple[Processor, ...] = ()
    stack: tuple[Frame, ...] = ()
    # A host-side memory dump (QEMU vmcore): what each vCPU was doing (model/vcpu.py).
    vcpus: tuple[Vcpu, ...] = ()
    culprit: Culprit | None = None
    host: VmConfig | None = None  # the VM's virtual hardware, from --context files
    host_choice: HostChoice | None = None
    tool: Tool | None = None
    generated_at: str | None = None  # ISO 8601 UTC, when the analysis ran
    # The knowledge base's conclusions (dumptriage.knowledge), most likely first.
    findings: tuple[Finding, ...] = ()
    not_evaluated: tuple[NotEvaluated, ...] = ()
    ruled_out: tuple[RuledOut, ...] = ()
    # A debugger's own analysis (a saved transcript, or cdb/kd run on the dump) and which
    # way --debugger went.
    debugger: DebuggerSummary | None = None
    debugger_run: DebuggerRun | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": None if self.tool is None else self.tool.to_dict(),
            "generated_at": self.generated_at,
            "source": self.source.to_dict(),
            "dump": None if self.dump is None else self.dump.to_dict(),
            "bugcheck": _bugcheck_dict(self.bugcheck, self.explanation),
            "modules": [m.to_dict() for m in self.modules],
            "unloaded_modules": [m.to_dict() for m in self.unloaded_modules],
            "processors": [p.to_dict() for p in self.processors],
            "stack": [f.to_dict() for f in self.stack],
            "vcpus": [v.to_dict() for v in self.vcpus],
            "culprit": None if self.culprit is None else self.culprit.to_dict(),
            "host": None if self.host is None else self.host.to_dict(),
            "host_choice": None if self.host_choice is None else self.host_choice.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "not_evaluated": [n.to_dict() for n in self.not_evaluated],
            "ruled_out": [r.to_dict() for r in self.ruled_out],
            "anomalies": [a.to_dict() for a in self.anomalies],
            "debugger": None if self.debugger is None else self.debugger.to_dict(),
            "debugger_run": None if self.debugger_run is None else self.debugger_run.to_dict(),
        }


def _bugcheck_dict(bugcheck: BugCheck | None, explanation: Explanation | None
                   ) -> dict[str, Any] | None:
    """The report's ``bugcheck`` key: the dump's facts, then the catalogue's words."""
    if bugcheck is None:
        return None
    facts = bugcheck.to_dict()
    data: dict[str, Any] = {"code": facts["code"], "code_hex": facts["code_hex"],
                            "name": explanation.name if explanation else None,
                            "args": facts["args"]}
    if explanation is not None:
        explained = explanation.to_dict()
        for key in ("description", "parameters", "subtype", "usual_causes", "kvm_causes"):
            data[key] = explained[key]
    return data
