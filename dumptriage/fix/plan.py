"""What a fix did to one file: the records `dumptriage fix` renders (text or JSON)."""

from __future__ import annotations

from dumptriage.fix.select import Omission
from dumptriage.model.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Change(Record):
    feature: str
    action: str  # add | turn on | set | remove
    detail: str  # the markup or config line written


class FixResult(Record):
    source: str
    platform: str  # libvirt | proxmox
    original: str
    patched: str
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]  # wanted and already right
    left_out: tuple[Omission, ...]
    notes: tuple[str, ...]
    commands: tuple[str, ...]  # virt-xml / qm set lines doing the same edit

    @property
    def changed(self) -> bool:
        return self.patched != self.original

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "platform": self.platform,
            "changed": self.changed,
            "changes": [{"feature": c.feature, "action": c.action, "detail": c.detail}
                        for c in self.changes],
            "unchanged": list(self.unchanged),
            "left_out": [{"feature": o.feature, "reason": o.reason} for o in self.left_out],
            "notes": list(self.notes),
            "commands": list(self.commands),
            "patched": self.patched,
        }
