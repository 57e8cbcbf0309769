#!/usr/bin/env python3
"""A stand-in for virsh in `collect --memory` tests: it says so, logs its argv to
$VIRSH_STANDIN_LOG, and answers dominfo, domstate, dump --memory-only and dumpxml for one
domain, "win7" (2 vCPUs, 1 GiB). `dump` writes a file that starts like the format asked
for (QEMU's magic) and, with VIRSH_STANDIN_SLEEP, first waits that many seconds."""

import json
import os
import sys
import time

args = sys.argv[1:]
with open(os.environ["VIRSH_STANDIN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:1] == ["-c"]:
    args = args[2:]
command, rest = args[0], args[1:]
positional = rest[rest.index("--") + 1 :] if "--" in rest else []
if positional[:1] not in (["win7"], []):
    sys.stderr.write(f"error: failed to get domain '{positional[0]}'\n")
    sys.exit(1)
if command == "dominfo":
    print("Id:             3\nName:           win7\nState:          "
          + os.environ.get("VIRSH_STANDIN_STATE", "running")
          + "\nCPU(s):         2\nMax memory:     1048576 KiB\nUsed memory:    1048576 KiB")
elif command == "domstate":
    print("running")
elif command == "dump":
    fmt = rest[rest.index("--format") + 1]
    time.sleep(float(os.environ.get("VIRSH_STANDIN_SLEEP", "0")))
    magic = {"elf": b"\x7fELF\x02\x01\x01", "win-dmp": b"PAGEDU64"}.get(fmt, b"KDUMP   ")
    with open(positional[1], "wb") as out:
        out.write(magic + b"\0" * 4088)
    print(f"\nDomain '{positional[0]}' dumped to {positional[1]}")
elif command == "dumpxml":
    print("<domain type='kvm'><name>win7</name><vcpu>2</vcpu>"
          "<memory unit='KiB'>1048576</memory></domain>")
else:
    sys.stderr.write(f"error: the stand-in has no '{command}'\n")
    sys.exit(1)
