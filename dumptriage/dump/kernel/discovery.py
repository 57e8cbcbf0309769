"""Windows without symbols or a KDBG: what a host-side memory dump's vCPUs lead to.

A QEMU vmcore of a hung guest holds guest-physical memory and each vCPU's registers, and
nothing else: no DirectoryTableBase, no PsLoadedModuleList, no build, and on Windows 8+
x64 an encoded KDBG that nothing here depends on. Discovery finds, in this order
(``../shared/reference/hung-guest-dumps.md`` sections 2 and 3; each step's source in its
module):

1. the kernel's paging root (guest_paging.py, section 2.1);
2. each vCPU's KPCR/KPRCB (kpcr.py, section 3.3);
3. the kernel image (kernel_image.py, section 2.2: KdVersionBlock on x86, IDT handlers,
   kernel-mode RIPs), its PDB id and image key (section 2.3);
4. PsLoadedModuleList: KdVersionBlock (x86) or the kernel's export table (section 3.1),
   accepted only when its first entry is the kernel image;
5. the build: DBGKD_GET_VERSION64.MinorVersion (section 3.4), KUSER_SHARED_DATA
   NtBuildNumber (Windows 10+), or the kernel's FileVersion resource;
6. x64 only, optional: the encoded KDBG, decoded with keys read from KdCopyDataBlock's code
   (kdbg_decode.py, section 3.2). It adds its offsets and lists; nothing needs it.

Every step is bounded and gives an anomaly rather than an exception when it fails.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from dumptriage.dump.containers.vcpu import VcpuRegisters
from dumptriage.dump.kernel import kernel_image as K
from dumptriage.dump.kernel.guest_paging import PagingRoot, choose_root
from dumptriage.dump.kernel.kdbg import Kdbg
from dumptriage.dump.kernel.kdbg_decode import decode_kdbg, find_keys
from dumptriage.dump.kernel.kpcr import GuestCpu, locate
from dumptriage.dump.kernel.layouts import (
    DbgkdVersionLayout,
    dbgkd_version_layout,
    kpcr_layout,
    kuser_layout,
    ldr_layout,
)
from dumptriage.dump.kernel.modules import read_pointer
from dumptriage.dump.kernel.pe_image import PeImage, exports, read_pe, version_info
from dumptriage.dump.memory.physical import PhysicalMemory
from dumptriage.errors import PageNotPresent
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly
from dumptriage.model.record import Record

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from dumptriage.dump.containers.protocol import VirtualMemory

ReadBytes = Callable[[int, int], bytes | None]

_CR0_PG = 1 << 31
_FREE_OR_CHECKED = (0xF, 0xC)  # DBGKD_GET_VERSION64.MajorVersion: free / checked build
_MACHINE = {64: 0x8664, 32: 0x14C}


class KdVersion(Record):
    """The fields of DBGKD_GET_VERSION64 discovery uses."""

    build: int
    kern_base: int
    ps_loaded_module_list: int


class Known(Record):
    """What the container already states (a guest header's DUMP_HEADER or KDBG, the
    ``VMCOREINFO`` note of virtio-win's FwCfg driver): tried first, method A of section
    2.2, then checked like everything else."""

    dtb: int | None = None
    kernel_base: int | None = None
    ps_loaded_module_list: int | None = None
    build: int | None = None


class Discovery(Record):
    """What was found; None where a step failed (its anomaly says why)."""

    memory: VirtualMemory | None
    root: PagingRoot | None
    cpus: tuple[GuestCpu, ...]
    kernel: PeImage | None
    kernel_found_by: str | None  # "KdVersionBlock", "IDT handler", "vCPU n RIP"
    ps_loaded_module_list: int | None
    build: int | None
    build_source: str | None
    product_type: int | None  # KUSER_SHARED_DATA.NtProductType (1 WinNt, 2 LanManNt, 3 Server)
    suite_mask: int | None
    anomalies: tuple[Anomaly, ...]
    kdbg: Kdbg | None = None  # x64: decoded with keys from KdCopyDataBlock (optional)

    @property
    def image_key(self) -> str | None:
        return K.image_key(self.kernel) if self.kernel is not None else None


def reader(memory: VirtualMemory | None) -> ReadBytes:
    """``read(va, size)`` giving None for bytes that are not in the dump."""
    if memory is None:
        return lambda va, size: None
    read = memory.read

    def read_or_none(va: int, size: int) -> bytes | None:
        try:
            return read(va, size)
        except PageNotPresent:
            return None

    return read_or_none


def discover(vcpus: Sequence[VcpuRegisters], physical: PhysicalMemory | None,
             offered: VirtualMemory | None, arch: str, known: Known | None = None
             ) -> Discovery:
    known = known or Known()
    bits = 64 if arch == "x64" else 32
    kuser = kuser_layout()
    kuser_va = kuser.x64_va if bits == 64 else kuser.x86_va
    problems: list[Anomaly] = []
    root = None
    if physical is not None:
        root, found = choose_root(physical, vcpus, arch, kuser_va, known.dtb)
        problems += found
    memory = root.memory if root is not None else offered
    read = reader(memory)
    layout = kpcr_layout(arch)
    cpus: list[GuestCpu] = []
    for regs in vcpus:
        if layout is None:
            break
        if not regs.cr0 & _CR0_PG:
            # Firmware, or an AP Windows never started: no KPCR to look for (its state
            # says "unknown" with the reason).
            cpus.append(GuestCpu(regs.index, None, None, "paging off"))
            continue
        cpu, problem = locate(regs, read, layout, bits)
        cpus.append(cpu)
        problems += [problem] if problem else []
    version = _kd_version(read, cpus, bits, dbgkd_version_layout())
    kernel, how = _kernel(read, vcpus, version, bits, known.kernel_base)
    if kernel is None:
        problems.append(anomaly(
            AnomalyCode.KERNEL_NOT_FOUND, "kernel image",
            "no Windows kernel image found from KdVersionBlock, the IDT handlers or the "
            "vCPUs' kernel-mode RIPs"))
    kdbg = _decoded_kdbg(read, kernel, problems) if kernel is not None and bits == 64 else None
    head = (_module_list(read, kernel, version, kdbg, bits, problems, known)
            if kernel else None)
    build, source = (known.build, "the container") if known.build else \
        _build(read, kernel, version, kuser_va)
    if build is None:
        problems.append(anomaly(
            AnomalyCode.BUILD_NOT_FOUND, "build",
            "no KdVersionBlock, KUSER_SHARED_DATA.NtBuildNumber or kernel version "
            "resource gave the Windows build"))
    product = _u32(read, kuser_va + kuser.nt_product_type)
    return Discovery(
        memory=memory, root=root, cpus=tuple(cpus), kernel=kernel, kernel_found_by=how,
        ps_loaded_module_list=head, build=build, build_source=source,
        product_type=product if product in (1, 2, 3) else None,
        suite_mask=_u32(read, kuser_va + kuser.suite_mask) if product in (1, 2, 3) else None,
        anomalies=tuple(problems), kdbg=kdbg)


def _decoded_kdbg(read: ReadBytes, kernel: PeImage, problems: list[Anomaly]) -> Kdbg | None:
    keys = find_keys(read, kernel)
    if keys is None:
        return None  # the usual case without a debugger's help: nothing to report
    found = decode_kdbg(read, keys)
    if found is None:
        problems.append(anomaly(
            AnomalyCode.KDBG_UNAVAILABLE, "KdDebuggerDataBlock",
            f"KdCopyDataBlock names the block at {keys.data_block:#x}, but it does not "
            "decode to a 'KDBG' header with the keys it names"))
    return found


def _u32(read: ReadBytes, va: int) -> int | None:
    blob = read(va, 4)
    return None if blob is None else int(struct.unpack("<I", blob)[0])


def _kd_version(read: ReadBytes, cpus: Sequence[GuestCpu], bits: int,
                layout: DbgkdVersionLayout) -> KdVersion | None:
    """DBGKD_GET_VERSION64 behind the first KPCR.KdVersionBlock that reads as one."""
    mask = (1 << bits) - 1  # x86 keeps these 64-bit fields sign-extended
    for block in dict.fromkeys(c.kd_version_block for c in cpus if c.kd_version_block):
        assert block is not None
        blob = read(block, layout.size)
        if blob is None:
            continue
        major, minor = struct.unpack_from("<HH", blob, layout.major_version)
        machine = struct.unpack_from("<H", blob, layout.machine_type)[0]
        if major not in _FREE_OR_CHECKED or machine != _MACHINE[bits]:
            continue
        base = struct.unpack_from("<Q", blob, layout.kern_base)[0] & mask
        head = struct.unpack_from("<Q", blob, layout.ps_loaded_module_list)[0] & mask
        return KdVersion(minor, base, head)
    return None


def _kernel(read: ReadBytes, vcpus: Sequence[VcpuRegisters], version: KdVersion | None,
            bits: int, known_base: int | None) -> tuple[PeImage | None, str | None]:
    if known_base:
        # A guest header's KDBG names the base itself: a PE image of the guest's machine
        # there is enough (no kernel PDB name needed).
        image = read_pe(read, known_base)
        if image is not None and image.machine == _MACHINE[bits]:
            return image, "the container's kernel base"
    if version is not None:
        image = K.check_kernel_at(read, version.kern_base, bits)
        if image is not None:
            return image, "KdVersionBlock"
    hints: list[tuple[int, str]] = []
    for regs in {r.idt_base: r for r in vcpus}.values():
        hints += [(h, f"IDT handler (vCPU {regs.index})")
                  for h in K.idt_handlers(read, regs.idt_base, regs.idt_limit, bits)]
    hints += [(r.rip, f"vCPU {r.index} RIP") for r in vcpus if r.cpl == 0]
    image, hint = K.find_kernel(read, (h for h, _ in hints), bits)
    how = next((label for h, label in hints if h == hint), None)
    return image, how


def _module_list(read: ReadBytes, kernel: PeImage, version: KdVersion | None,
                 kdbg: Kdbg | None, bits: int, problems: list[Anomaly],
                 known: Known) -> int | None:
    candidates: list[tuple[int, str]] = []
    if known.ps_loaded_module_list:
        candidates.append((known.ps_loaded_module_list, "the container"))
    if version is not None and version.ps_loaded_module_list:
        candidates.append((version.ps_loaded_module_list, "KdVersionBlock"))
    export = next((rva for rva, name in exports(read, kernel) if name == "PsLoadedModuleList"),
                  None)
    if export is not None:
        candidates.append((kernel.base + export, "the kernel's export table"))
    if kdbg is not None and kdbg.ps_loaded_module_list:
        candidates.append((kdbg.ps_loaded_module_list, "the decoded KDBG"))
    ldr = ldr_layout("x64" if bits == 64 else "x86")
    for head, _ in candidates:
        first = read_pointer(read, head, bits)
        base = read_pointer(read, first + ldr.dll_base, bits) if first and ldr else None
        if base == kernel.base:
            return head
    tried = "; ".join(f"{how} gave {head:#x}" for head, how in candidates)
    problems.append(anomaly(
        AnomalyCode.MODULE_LIST_NOT_FOUND, "PsLoadedModuleList",
        f"{tried}, whose first entry is not the kernel at {kernel.base:#x}" if tried else
        "neither KdVersionBlock nor the kernel's export table names it"))
    return None


def _build(read: ReadBytes, kernel: PeImage | None, version: KdVersion | None,
           kuser_va: int) -> tuple[int | None, str | None]:
    if version is not None and version.build:
        return version.build, "DBGKD_GET_VERSION64"
    kuser = kuser_layout()
    major = _u32(read, kuser_va + kuser.nt_major_version)
    number = _u32(read, kuser_va + kuser.nt_build_number)
    # NtBuildNumber exists from Windows 10 (NT 10.0) on; the low 16 bits are the build.
    if major is not None and major >= 10 and number:
        return number & 0xFFFF, "KUSER_SHARED_DATA"
    found = version_info(read, kernel) if kernel is not None else None
    parts = found.file_version.split(".") if found else []
    if len(parts) == 4 and parts[2].isdigit() and int(parts[2]) > 0:
        return int(parts[2]), "the kernel's version resource"
    return None, None
