"""The host side: libvirt, QEMU, Proxmox and KubeVirt configs and logs -> one VmConfig per VM.

``load_context(paths)`` accepts files, folders (files recognised by content, not name)
and bundles written by ``dumptriage collect``, and returns a ``HostContext``: every VM it
found, each its own ``VmConfig`` (files of two VMs are never merged), and
``select(vm)`` to choose the one a dump belongs to. Nothing here reads dumps, applies
rules or prints.
"""

from __future__ import annotations

from dumptriage.context.loader import load_context, parse_text
from dumptriage.context.vms import HostContext, VmSelection
from dumptriage.model.host import VmConfig

__all__ = ["HostContext", "VmConfig", "VmSelection", "load_context", "parse_text"]
