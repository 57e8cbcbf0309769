"""Names the reader does not give: Windows release names and driver classes.

The reader states facts (build 7601, CompanyName "Qihoo 360"); what they mean comes from
the catalogues (``catalogue/windows_builds.tsv``, ``catalogue/drivers.tsv``) and is added
here, in the analysis layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from dumptriage.catalogue.drivers import classify
from dumptriage.catalogue.windows_builds import product_name, windows_build
from dumptriage.model.dump import DumpInfo, Module
from dumptriage.model.record import replace

# DUMP_HEADER ProductType names (PRODUCT_TYPES in dump/containers/header.py) that are
# server products: LanManNt (a domain controller) and ServerNt.
_SERVER_TYPES = {"LanManNt": 2, "ServerNt": 3, "WinNt": 1}


def name_os(info: DumpInfo) -> DumpInfo:
    """The NT version and release name of the dump's build."""
    build = info.os.build
    row = windows_build(build)
    product = _SERVER_TYPES.get(info.os.product_type or "")
    return replace(info, os=replace(info.os, nt_version=row.nt_version if row else None,
                                    product_name=product_name(build, product)))


def classify_modules(modules: Sequence[Module]) -> list[Module]:
    """Each module's class (inbox, virtio, third party, unknown) and vendor."""
    out = []
    for module in modules:
        module_class, vendor = classify(module.name, module.company)
        out.append(replace(module, module_class=module_class, vendor=vendor))
    return out
