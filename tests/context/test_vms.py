"""One VmConfig per VM (issue 9) and empty host inputs said, never shown as facts (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dumptriage.cli import main
from dumptriage.context import load_context
from dumptriage.context.vms import identity
from dumptriage.errors import ContextParseError
from dumptriage.model.host import VmConfig
from dumptriage.render.host_text import render_text

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "win7-x86-clock-watchdog"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_story_folder_reports_the_crashed_vm(capsys: pytest.CaptureFixture[str]) -> None:
    # The folder holds vm113.xml + qemu-vm113.log (the crashed VM) and ps-vm84-after-fix.txt
    # (another VM, after the fix, with hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,...).
    code, out, err = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context",
                         str(SAMPLE), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    host, choice = report["host"], report["host_choice"]
    assert choice == {"vm": "vm113", "reason": "most sources (2 of 3)", "others": ["vm84"]}
    assert host["name"] == "vm113"
    assert host["uuid"] == "3fec386e-23ee-4853-b46a-37feb9ee3cf9"  # vm113.xml <uuid>
    assert sorted(Path(s).name for s in host["source"]) == ["qemu-vm113.log", "vm113.xml"]
    # vm113.xml has no <hyperv> and qemu-vm113.log's -cpu no hv_*: none, the cause.
    assert host["hyperv"] is None
    assert host["cpu"]["mode"] == "custom" and host["cpu"]["model"] == "SandyBridge"
    assert host["kvm_hidden"] is None  # kvm=off is vm84's, not vm113's
    notes = {n["code"]: n["detail"] for n in host["notes"]}
    assert notes["several-vms"].startswith("host files of 2 VMs, each read on its own: "
                                           "vm113 (2 sources); vm84 (1 source)")
    assert notes["vm-chosen"] == ("vm113 chosen: most sources (2 of 3); use --vm NAME to "
                                  "choose another")
    assert "not read as vm113's" in notes["host-wide-sources"]


def test_story_folder_vm_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context", str(SAMPLE),
                       "--vm", "vm84", "--json")
    report = json.loads(out)
    assert code == 0 and report["host_choice"]["vm"] == "vm84"
    assert report["host_choice"]["reason"] == "--vm vm84"
    assert report["host"]["hyperv"]["features"]["spinlocks"]["value"] == 0x1FFF
    # --vm is certain, so host-wide libvirtd.log joins (its "libvirt version: 1.3.1").
    assert report["host"]["libvirt_version"] == "1.3.1"
    # By UUID too (vm113.xml <uuid>), in upper case.
    code, out, _ = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context", str(SAMPLE),
                       "--vm", "3FEC386E-23EE-4853-B46A-37FEB9EE3CF9", "--json")
    assert json.loads(out)["host_choice"]["vm"] == "vm113"


def test_unknown_vm_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context",
                         str(SAMPLE), "--vm", "vm999")
    assert (code, out) == (2, "")
    assert err == ("dumptriage: error: --vm: no VM 'vm999' in the host files "
                   "(VMs found: vm113, vm84)\n")


def test_context_shows_every_vm(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "context", str(SAMPLE), "--json")
    assert (code, err) == (0, "")
    vms = json.loads(out)["vms"]
    assert [v["vm"] for v in vms] == ["vm113", "vm84", "(host-wide)"]
    assert vms[0]["config"]["hyperv"] is None
    assert vms[1]["config"]["hyperv"]["features"]["relaxed"]["state"] == "on"
    assert [Path(s).name for s in vms[2]["config"]["source"]] == ["libvirtd.log"]
    code, out, _ = run(capsys, "context", str(SAMPLE), "--vm", "vm84")
    assert code == 0 and out.startswith("VM          vm84 (kvm, qemu)\n")
    assert "== VM" not in out


def test_identities() -> None:
    c = VmConfig(sources=("x",))
    # libvirt names the QEMU log /var/log/libvirt/qemu/NAME.log.
    assert identity("qemu-log", c, "", "/var/log/libvirt/qemu/win11.log") == {"name:win11"}
    assert identity("proxmox", c, "", "/etc/pve/qemu-server/8006.conf") == {"vmid:8006"}
    # Proxmox's kvm command line starts "-id 8006 -name spiceusb3" (corpus spice-win.conf.cmd).
    assert identity("qemu-argv", c.with_(name="spiceusb3"), "/usr/bin/kvm \\\n  -id 8006 \\\n",
                    "x.cmd") == {"name:spiceusb3", "vmid:8006"}
    assert identity("libvirtd-log", c, "", "libvirtd.log") == frozenset()


def test_proxmox_conf_and_cmd_are_one_vm(corpus: Path) -> None:
    # spice-win.conf has "name: spiceusb3"; its .cmd "-id 8006 -name spiceusb3".
    ctx = load_context([corpus / "proxmox/spice-win.conf", corpus / "proxmox/spice-win.conf.cmd"])
    assert list(ctx.vms) == ["spiceusb3"]
    assert len(ctx.vms["spiceusb3"].sources) == 2
    assert ctx.select("8006").vm == "spiceusb3"


# Issue 17: an input that yields nothing is said, never rendered as facts.

def test_context_empty_dir_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "context", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (f"dumptriage: error: {tmp_path}: no recognised host-side file (domain XML, "
                   "QEMU command line or log, libvirtd log, Proxmox config, KubeVirt YAML, "
                   "host facts)\n")


def test_context_dir_of_unknown_files_is_exit_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "b.md").write_text("# notes\n")
    code, _, err = run(capsys, "context", str(tmp_path))
    assert code == 2 and err.endswith("host facts); 2 files skipped\n")
    assert len(err.splitlines()) == 1


def test_analyze_empty_context_warns_and_has_no_host(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context",
                         str(tmp_path))
    assert code == 0
    assert err == (f"dumptriage: warning: --context: {tmp_path}: no recognised host-side file "
                   "(domain XML, QEMU command line or log, libvirtd log, Proxmox config, "
                   "KubeVirt YAML, host facts); no Host section\n")
    # No host facts are shown (the knowledge base's conclusions after them may name rules
    # about Hyper-V, which are not facts).
    facts_part = out.split("\nFindings")[0]
    assert "Host (from --context)" not in facts_part and "Hyper-V" not in facts_part
    code, out, _ = run(capsys, "analyze", str(SAMPLE / "MEMORY.DMP"), "--context",
                       str(tmp_path), "--json")
    report = json.loads(out)
    assert report["host"] is None and report["host_choice"]["vm"] is None


def test_symlink_loop_not_followed(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "self").symlink_to(tmp_path / "self")
    (tmp_path / "vm113.xml").write_bytes((SAMPLE / "vm113.xml").read_bytes())
    ctx = load_context([tmp_path])
    assert list(ctx.vms) == ["vm113"]
    assert sorted((Path(n.where).name, n.detail.split(":")[0]) for n in ctx.notes) == [
        ("loop", "symlink to a folder"), ("self", "broken or looping symlink")]


def test_unknown_fields_print_as_unknown() -> None:
    # Host facts only: nothing says anything about Hyper-V, the clock or the CPU.
    text = render_text(VmConfig(sources=("facts.txt",), libvirt_version="1.3.1"))
    assert "none" not in text and "default" not in text
    assert text.splitlines()[0] == "Sources     facts.txt"
    # A definition that has no <hyperv> really means none.
    defined = render_text(VmConfig(sources=("vm.xml",), stack="libvirt", name="vm"))
    rows = dict(line.split(None, 1) for line in defined.splitlines() if " " in line)
    assert rows["Hyper-V"].strip() == "none" and rows["CPU"].strip() == "?"
    assert rows["Devices"].strip() == "?" and rows["Memory"].strip() == "?"


def test_no_vm_named_host_facts_only(tmp_path: Path) -> None:
    (tmp_path / "facts.txt").write_text("# dumptriage host facts\nhostname: sc7\n")
    chosen = load_context([tmp_path]).select()
    assert chosen.vm is None and chosen.config is not None
    assert chosen.config.host is not None and chosen.config.host.hostname == "sc7"
    assert chosen.reason == "no source names a VM: host-wide facts only"


def test_explicit_unknown_vm_raises() -> None:
    with pytest.raises(ContextParseError, match="no VM 'x'"):
        load_context([SAMPLE / "vm113.xml"]).select("x")


def test_bundle_without_domain_xml_is_its_folders_vm(tmp_path: Path) -> None:
    import io
    import tarfile

    bundle = tmp_path / "b.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in {"win7/facts.txt": b"# dumptriage host facts\nhostname: h1\n",
                           "win7/notes.txt": b"command-missing: virsh not found\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ctx = load_context([bundle])
    assert list(ctx.vms) == ["win7"]
    chosen = ctx.select()
    assert chosen.config is not None and chosen.config.host is not None
    assert chosen.config.host.hostname == "h1"
