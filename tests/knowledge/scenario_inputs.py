"""Host-side files and dump specs for the end-to-end scenarios (test_scenarios.py).

The host files are written the way the tools write them: libvirt `virsh dumpxml` output
(element order as libvirt's formatter emits it, cf. /work/shared/corpus/libvirt/*.xml),
the QEMU log that libvirt keeps per domain (banner line, then the command line, then
QEMU's own messages, cf. samples/win7-x86-clock-watchdog/qemu-vm113.log), the host
kernel's `dmesg` lines (`[seconds.micro] ...`) and Proxmox `/etc/pve/qemu-server/VMID.conf`
(`key: value`, cf. /work/shared/corpus/proxmox/*.conf). Values are synthetic.
"""

from __future__ import annotations

from dataclasses import replace

from dumptriage.synth import presets
from dumptriage.synth.spec import DumpSpec, ModuleSpec


def domain_xml(name: str, *, vcpus: int = 4, cpu: str, features: str = "", clock: str = "",
               disk_bus: str = "virtio", on_crash: str = "restart",
               machine: str = "pc-q35-6.2", metadata: str = "") -> str:
    """A libvirt domain as `virsh dumpxml NAME` prints it."""
    target = {"virtio": "vda", "sata": "sda", "ide": "hda", "scsi": "sda"}[disk_bus]
    clock = clock or "<clock offset='localtime'>\n    <timer name='rtc' tickpolicy='catchup'/>\n" \
                     "    <timer name='pit' tickpolicy='delay'/>\n    <timer name='hpet' " \
                     "present='no'/>\n  </clock>"
    return f"""<domain type='kvm' id='7'>
  <name>{name}</name>
  <uuid>6c1a8b2e-3f4d-4e5a-9b7c-0d1e2f3a4b5c</uuid>{metadata}
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>8388608</currentMemory>
  <vcpu placement='static'>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>{features}
  </features>
  {cpu}
  {clock}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>{on_crash}</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native'/>
      <source file='/var/lib/libvirt/images/{name}.qcow2'/>
      <target dev='{target}' bus='{disk_bus}'/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:3c:91:7e'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


HYPERV = """
    <hyperv mode='custom'>
      <relaxed state='on'/>
      <vapic state='on'/>
      <spinlocks state='on' retries='8191'/>
    </hyperv>"""
HYPERV_CLOCK = """<clock offset='localtime'>
    <timer name='hypervclock' present='yes'/>
  </clock>"""


def qemu_log(name: str, libvirt: str, qemu: str, args: str, *tail: str) -> str:
    """/var/log/libvirt/qemu/NAME.log: libvirt's banner, the command line, QEMU's lines."""
    banner = (f"2024-03-04 09:12:41.318+0000: starting up libvirt version: {libvirt}, "
              f"package: {libvirt}-1 (builder), qemu version: {qemu}, kernel: 6.1.0-18-amd64, "
              f"hostname: kvm04.example.org")
    command = ("LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin "
               f"HOME=/var/lib/libvirt/qemu/domain-7-{name} /usr/bin/qemu-system-x86_64 "
               f"-name guest={name},debug-threads=on -S {args} -m 8192 -smp 4,sockets=1,cores=4,"
               "threads=1 -no-user-config -nodefaults -rtc base=localtime -no-shutdown "
               "-msg timestamp=on")
    return "\n".join([banner, command, *tail]) + "\n"


def x64_dump(build: int, bugcheck: tuple[int, tuple[int, int, int, int]],
             product_type: int = 1) -> DumpSpec:
    """A small Windows x64 kernel bitmap dump (the bitmap-kernel preset, 256 MiB)."""
    return replace(presets.win10_x64_bitmap_kernel(), build=build, memory_mib=256,
                   large_pages=(), bugcheck=bugcheck, product_type=product_type)


def netkvm_dump() -> DumpSpec:
    """The story's Win7 x86 dump as a 0x133 with NetKVM where qutmdrv.sys was: its return
    address (qutmdrv+0x4db in windbg-analyze.txt) now lies in netkvm.sys."""
    story = presets.win7_x86_pae_summary()
    assert story.modules is not None
    modules: list[ModuleSpec] = []
    for module in story.modules:
        if module.name == "netkvm.sys":
            continue
        if module.name == "qutmdrv.sys":
            module = replace(module, name="netkvm.sys", path=presets.DRV + "netkvm.sys",
                             pdb=("netkvm.pdb", "2B7C9E14-6A3D-4F08-9C51-7E0D2A4B8F63", 1))
        modules.append(module)
    # DPC_WATCHDOG_VIOLATION Arg1 0: a single DPC ran too long (0x501 ticks, limit 0x500),
    # the arguments of virtio-win #85.
    return replace(story, bugcheck=(0x133, (0, 0x501, 0x500, 0)), modules=tuple(modules))


# What nova's libvirt driver writes into <metadata> (nova/virt/libvirt/config.py,
# LibvirtConfigGuestMetaNovaInstance; namespace .../nova/1.1 since Newton).
NOVA_METADATA = """
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="25.2.1"/>
      <nova:name>win2019-app</nova:name>
      <nova:creationTime>2024-03-01 08:15:02</nova:creationTime>
      <nova:flavor name="m1.large">
        <nova:memory>8192</nova:memory>
        <nova:disk>80</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>4</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="0d3c6a1e9f8b4c2d8e7f6a5b4c3d2e1f">ops</nova:user>
        <nova:project uuid="7a6b5c4d3e2f40918273645546372819">apps</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="3b2a1908-7c6d-4e5f-8a9b-0c1d2e3f4a5b"/>
    </nova:instance>
  </metadata>"""

# What virt-install and virt-manager write for a Windows guest (virtinst/domain/metadata.py,
# the libosinfo namespace; the id is osinfo's).
LIBOSINFO_METADATA = """
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://microsoft.com/win/10"/>
    </libosinfo:libosinfo>
  </metadata>"""

# What VDSM receives from the oVirt engine in <metadata> (vdsm lib/vdsm/virt/metadata.py; its
# own test domain _TEST_XML_CLUSTER_VERSION carries the same two elements).
OVIRT_METADATA = """
  <metadata xmlns:ns1="http://ovirt.org/vm/tune/1.0" xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
    <ns1:qos/>
    <ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
      <ovirt-vm:clusterVersion>4.6</ovirt-vm:clusterVersion>
      <ovirt-vm:destroy_on_reboot type="bool">False</ovirt-vm:destroy_on_reboot>
      <ovirt-vm:launchPaused>false</ovirt-vm:launchPaused>
      <ovirt-vm:memGuaranteedSize type="int">8192</ovirt-vm:memGuaranteedSize>
      <ovirt-vm:minGuaranteedMemoryMb type="int">8192</ovirt-vm:minGuaranteedMemoryMb>
      <ovirt-vm:resumeBehavior>auto_resume</ovirt-vm:resumeBehavior>
      <ovirt-vm:startTime type="float">1714640101.5</ovirt-vm:startTime>
    </ovirt-vm:vm>
  </metadata>"""

# A KubeVirt VirtualMachine written by hand (not from common-templates): no features.hyperv,
# no clock timers; fields as in kubevirt.io/api/core/v1 (cf. /work/shared/corpus/kubevirt).
KUBEVIRT_HANDMADE_VM = """apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: win2k19-sql
  namespace: apps
  annotations:
    vm.kubevirt.io/os: windows2k19
spec:
  runStrategy: Always
  template:
    metadata:
      labels:
        kubevirt.io/domain: win2k19-sql
    spec:
      domain:
        cpu:
          sockets: 1
          cores: 4
          threads: 1
        memory:
          guest: 8Gi
        devices:
          disks:
          - name: rootdisk
            disk:
              bus: virtio
          interfaces:
          - name: default
            masquerade: {}
            model: virtio
      networks:
      - name: default
        pod: {}
      volumes:
      - name: rootdisk
        persistentVolumeClaim:
          claimName: win2k19-sql-root
"""
