"""Name tables shared by the parsers: Hyper-V features, CPU features, device classes.

Sources: QEMU docs/system/i386/hyperv.rst (property names), libvirt docs/formatdomain.rst
"Hypervisor features" (XML element names), KubeVirt api ``FeatureHyperv`` (field names),
all as summarised in shared/reference/kvm-causes.md section 1.2.
"""

from __future__ import annotations

# libvirt <hyperv> child element -> canonical (QEMU) name.
LIBVIRT_HYPERV = {
    "relaxed": "relaxed",
    "vapic": "vapic",
    "spinlocks": "spinlocks",
    "vpindex": "vpindex",
    "runtime": "runtime",
    "synic": "synic",
    "stimer": "stimer",
    "reset": "reset",
    "vendor_id": "vendor-id",
    "frequencies": "frequencies",
    "reenlightenment": "reenlightenment",
    "tlbflush": "tlbflush",
    "ipi": "ipi",
    "evmcs": "evmcs",
    "avic": "avic",
    "emsr_bitmap": "emsr-bitmap",
    "xmm_input": "xmm-input",
}

# Nested children: <stimer><direct/></stimer>, <tlbflush><direct/><extended/></tlbflush>
# (libvirt 5.7.0 and 11.0.0) -> QEMU hv-stimer-direct, hv-tlbflush-direct, hv-tlbflush-ext.
LIBVIRT_HYPERV_NESTED = {
    ("stimer", "direct"): "stimer-direct",
    ("tlbflush", "direct"): "tlbflush-direct",
    ("tlbflush", "extended"): "tlbflush-ext",
}

# Every hv- property QEMU knows (hyperv.rst), canonical spelling without "hv-".
QEMU_HYPERV = frozenset(
    set(LIBVIRT_HYPERV.values())
    | set(LIBVIRT_HYPERV_NESTED.values())
    | {"time", "crash", "syndbg", "no-nonarch-coresharing", "enforce-cpuid", "apicv",
       "version-id-build", "version-id-major", "version-id-minor", "version-id-spack",
       "version-id-sbranch", "version-id-snumber"}
)

# QEMU accepts hv-apicv as an alias of hv-avic (hyperv.rst, "hv-avic (hv-apicv)").
QEMU_HYPERV_ALIASES = {"apicv": "avic"}

# KubeVirt spec.domain.features.hyperv field -> canonical name. KubeVirt maps
# synictimer to libvirt <stimer> and vendorid to <vendor_id> (kvm-causes.md 2.4).
KUBEVIRT_HYPERV = {
    "relaxed": "relaxed",
    "vapic": "vapic",
    "spinlocks": "spinlocks",
    "vpindex": "vpindex",
    "runtime": "runtime",
    "synic": "synic",
    "synictimer": "stimer",
    "reset": "reset",
    "vendorid": "vendor-id",
    "frequencies": "frequencies",
    "reenlightenment": "reenlightenment",
    "tlbflush": "tlbflush",
    "ipi": "ipi",
    "evmcs": "evmcs",
}


def cpu_feature_name(name: str) -> str:
    """QEMU's feat2prop(): '_' becomes '-' (target/i386/cpu.c); case is not significant."""
    return name.strip().lower().replace("_", "-")


# QEMU -device driver -> what it is.
DISK_DRIVERS = {
    "virtio-blk-pci": "virtio",
    "virtio-blk": "virtio",
    "virtio-blk-device": "virtio",
    "ide-hd": "ide",
    "ide-cd": "ide",
    "ide-drive": "ide",
    "scsi-hd": "scsi",
    "scsi-cd": "scsi",
    "scsi-block": "scsi",
    "scsi-disk": "scsi",
    "nvme": "nvme",
    "usb-storage": "usb",
}
CDROM_DRIVERS = frozenset({"ide-cd", "scsi-cd"})
NIC_DRIVERS = {
    "virtio-net-pci": "virtio",
    "virtio-net": "virtio",
    "e1000": "e1000",
    "e1000e": "e1000e",
    "rtl8139": "rtl8139",
    "vmxnet3": "vmxnet3",
    "ne2k_pci": "ne2k_pci",
}
CONTROLLER_DRIVERS = {
    "virtio-scsi-pci": "scsi:virtio-scsi",
    "lsi": "scsi:lsilogic",
    "lsi53c895a": "scsi:lsilogic",
    "megasas": "scsi:lsisas1078",
    "pvscsi": "scsi:vmpvscsi",
    "ahci": "sata",
    "ich9-ahci": "sata",
}
VIDEO_DRIVERS = {
    "VGA": "vga",
    "qxl-vga": "qxl",
    "qxl": "qxl",
    "virtio-vga": "virtio",
    "virtio-gpu-pci": "virtio",
    "cirrus-vga": "cirrus",
    "bochs-display": "bochs",
    "ramfb": "ramfb",
    "vmware-svga": "vmvga",
}
PANIC_DRIVERS = {"pvpanic": "isa", "pvpanic-pci": "pci"}
