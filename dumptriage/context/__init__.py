"""The host side: libvirt, QEMU, Proxmox and KubeVirt configs and logs -> one VmConfig.

``load_context(paths)`` accepts files, folders (files recognised by content, not name)
and bundles written by ``dumptriage collect``. Nothing here reads dumps, applies rules or
prints.
"""

from __future__ import annotations

from dumptriage.context.loader import load_context, parse_text
from dumptriage.model.host import VmConfig

__all__ = ["VmConfig", "load_context", "parse_text"]
