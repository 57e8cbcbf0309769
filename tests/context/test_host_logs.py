"""Host kernel log lines that become events: storage stalls and host memory errors.

The lines are the kernel's and daemons' own formats (kvm-causes.md 3.8 and 3.11): block
layer ``I/O error, dev`` (blk_update_request: prefix before Linux 5.x), the NFS client's
``nfs: server X not responding, still trying``, device-mapper multipath, a ceph-osd journal
line, the memory-failure handler, the MCE decoder and EDAC.
"""

from __future__ import annotations

from dumptriage.context.host_facts import parse_dmesg

JOURNAL = """\
[ 5021.118830] blk_update_request: I/O error, dev sdb, sector 81920 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0
[ 5022.004113] I/O error, dev sdc, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 2
[ 6100.250001] nfs: server nas01 not responding, still trying
[ 6101.000017] device-mapper: multipath: 253:3: Failing path 8:32.
[ 6101.000512] multipathd[1123]: mpatha: remaining active paths: 0
2024-05-02T10:15:01.123456+00:00 pve3 ceph-osd[2231]: log_channel(cluster) log [WRN] : 12 slow requests (by type [ 'delayed' : 12 ] most affected pool [ 'rbd' : 12 ])
[ 7200.881200] Memory failure: 0x3a7f21: recovery action for dirty LRU page: Recovered
[ 7200.881300] mce: [Hardware Error]: Machine check events logged
[ 7300.100000] EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x3a7f2 offset:0x100 grain:32 syndrome:0x0)
[ 7400.000000] e1000e: eno1 NIC Link is Up 1000 Mbps Full Duplex
[ 7400.100000] EDAC sbridge: Seeking for: PCI ID 8086:3ca0
"""  # noqa: E501 - real log lines are this long


def test_storage_and_memory_lines_become_events() -> None:
    events = parse_dmesg(JOURNAL, "dmesg.txt").events
    kinds = [(e.kind, e.line) for e in events]
    assert kinds == [("host-storage-stall", 1), ("host-storage-stall", 2),
                     ("host-storage-stall", 3), ("host-storage-stall", 4),
                     ("host-storage-stall", 5), ("host-storage-stall", 6),
                     ("host-memory-error", 7), ("host-memory-error", 8),
                     ("host-memory-error", 9)]
    assert events[0].time == "5021.118830"
    assert events[5].time == "2024-05-02T10:15:01.123456+00:00"
    assert events[6].detail.startswith("Memory failure: 0x3a7f21")


def test_ordinary_lines_are_not_events() -> None:
    quiet = "[ 1.0] EDAC sbridge: Seeking for: PCI ID 8086:3ca0\n[ 2.0] nfs: server nas01 OK\n"
    assert parse_dmesg(quiet, "dmesg.txt").events == ()
