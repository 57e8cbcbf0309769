"""WinDbg module names ("nt", "Ntfs", "qutmdrv") as the image file names a dump lists.

A debugger transcript names modules as WinDbg does: the file name without its extension,
and two aliases, ``nt`` for the kernel and ``hal`` for the HAL. The rest of dumptriage (the
driver catalogue, the rules' ``stack.*`` facts, the culprit) speaks image names, as the
loaded-module list in a dump holds them (``qutmdrv.sys``, ``ntkrpamp.exe``). Each name is
resolved once, and how it was resolved is kept for the report:

* ``lm``: the transcript's own ``lmnt`` listing gives the image name (exact);
* ``dump``: with the dump at hand, its loaded-module list (exact);
* ``kernel``: ``nt`` is the kernel; its name in the loaded-module list depends on the
  build: ``ntoskrnl.exe`` on x64 (every kernel module list of shared/corpus/modules), on
  x86 ``ntkrpamp.exe`` for multiprocessor and ``ntkrnlpa.exe`` for uniprocessor PAE kernels
  (the story dump's list; Windows 8 and later x86 kernels are PAE only; a Windows 7 x86
  guest without NX would run the non-PAE ntkrnlmp.exe, which a transcript cannot tell);
  ``hal`` is ``hal.dll`` (the loader names every HAL so, whatever file was chosen);
* ``catalogue``: ``<name>.sys`` / ``.dll`` / ``.exe`` is a file the driver catalogue knows;
* ``assumed``: anything else is taken as ``<name>.sys``, the extension of nearly every
  kernel-mode module.
"""

from __future__ import annotations

from collections.abc import Iterable

from dumptriage.catalogue.drivers import driver_table
from dumptriage.model.debugger import ListedModule, ModuleImage

_EXTENSIONS = (".sys", ".dll", ".exe")


def kernel_image(arch: str | None, processors: int | None) -> str:
    if arch == "x86":
        return "ntkrnlpa.exe" if processors == 1 else "ntkrpamp.exe"
    return "ntoskrnl.exe"


class ModuleNames:
    """Resolves WinDbg module names of one transcript; remembers each answer."""

    def __init__(self, listed: Iterable[ListedModule], arch: str | None,
                 processors: int | None, loaded: Iterable[str] = ()):
        """``loaded``: the image names of the dump the transcript belongs to, the kernel
        first (PsLoadedModuleList starts with it); they beat every guess."""
        self._listed = {m.name.lower(): m.image for m in listed if m.image}
        self._loaded: dict[str, str] = {}
        for index, image in enumerate(loaded):
            self._loaded.setdefault("nt" if index == 0 else image.rsplit(".", 1)[0].lower(),
                                    image)
            if index == 1 and image.lower().startswith("hal"):
                self._loaded.setdefault("hal", image)
        self._arch, self._processors = arch, processors
        self._seen: dict[str, ModuleImage] = {}

    def image(self, name: str) -> str:
        key = name.lower()
        if key not in self._seen:
            self._seen[key] = self._resolve(name)
        return self._seen[key].image

    def resolved(self) -> tuple[ModuleImage, ...]:
        return tuple(self._seen.values())

    def _resolve(self, name: str) -> ModuleImage:
        key = name.lower()
        listed = self._listed.get(key)
        if listed:
            return ModuleImage(name, listed, "lm")
        if key in self._loaded:
            return ModuleImage(name, self._loaded[key], "dump")
        if key == "nt":
            return ModuleImage(name, kernel_image(self._arch, self._processors), "kernel")
        if key == "hal":
            return ModuleImage(name, "hal.dll", "kernel")
        if key.endswith(_EXTENSIONS):  # "Probably caused by : qutmdrv.sys" is a file name
            return ModuleImage(name, name, "catalogue" if key in driver_table() else "assumed")
        table = driver_table()
        for extension in _EXTENSIONS:
            if key + extension in table:
                return ModuleImage(name, name + extension, "catalogue")
        return ModuleImage(name, name + ".sys", "assumed")

