"""What the catalogue says about a bugcheck and its arguments (filled by the analysis layer).

Kept apart from ``BugCheck``: the reader states the code and the arguments it found, the
analysis layer looks up what they mean (``catalogue.interpret.explain``).
"""

from __future__ import annotations

from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any


class Parameter(Record):
    index: int  # 1..4, as in WinDbg's Arg1..Arg4
    value: int | None
    meaning: str
    interpretation: str | None
    pointer_bits: int = 64
    # One line for reports ("KPRCB of the hung processor (kernel-mode address)"); not in to_dict.
    summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        digits = self.pointer_bits // 4
        value = None if self.value is None else f"0x{self.value:0{digits}x}"
        return {
            "index": self.index,
            "value": value,
            "meaning": self.meaning,
            "interpretation": self.interpretation,
        }


class Subtype(Record):
    """The value of the argument that selects a subtype, and what it means (None: unknown)."""

    arg: int
    value: int
    summary: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"arg": self.arg, "value": f"{self.value:#x}", "summary": self.summary}


class Explanation(Record):
    code: int
    name: str | None
    description: str
    parameters: tuple[Parameter, ...]
    subtype: Subtype | None
    usual_causes: tuple[str, ...]
    kvm_causes: tuple[str, ...]
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "code": self.code,
            "description": self.description,
            "parameters": [p.to_dict() for p in self.parameters],
            "subtype": None if self.subtype is None else self.subtype.to_dict(),
            "usual_causes": list(self.usual_causes),
            "kvm_causes": list(self.kvm_causes),
            "source": self.source,
        }
