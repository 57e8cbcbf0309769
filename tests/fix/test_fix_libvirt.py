"""`fix` on domain XMLs: the story VM, every corpus XML, and libvirt itself as the oracle.

libvirt's test driver (`virsh -c test:///default`, in-process, no daemon) validates a
domain against its RNG schema (`define --validate`) and prints it back as libvirt
understands it (`dumpxml`): a patched file must pass and must come back with every
feature the fix switched on.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.errors import FixRefused
from dumptriage.fix import fix_file
from dumptriage.fix.libvirt import fix_domain_xml
from dumptriage.fix.select import Versions, choose
from tests.conftest import shared

REPO = Path(__file__).resolve().parents[2]
STORY = REPO / "samples/win7-x86-clock-watchdog"
CORPUS = shared("corpus/libvirt")
XMLS = sorted(CORPUS.glob("*.xml"))
NEW = Versions(qemu="8.2.2", libvirt="10.0.0", host_cpu_vendor="intel")
TOUCHED = re.compile(r"<(/?)(features|hyperv|clock|relaxed|vapic|spinlocks|vpindex|runtime|"
                     r"synic|stimer|frequencies|tlbflush|ipi|evmcs|timer)\b")


def test_story_vm_gets_what_qemu_2_5_and_libvirt_1_3_1_accept() -> None:
    result = fix_file(STORY / "vm113.xml", context=[STORY / "qemu-vm113.log"])
    after = parse_domain_xml(result.patched.encode(), "patched")
    assert after.hyperv is not None
    assert sorted(after.hyperv.enabled_features()) == ["relaxed", "spinlocks", "time", "vapic"]
    assert after.hyperv.enabled_features()["spinlocks"] == 8191
    assert [c.feature for c in result.changes] == ["hyperv", "relaxed", "vapic", "spinlocks",
                                                   "time"]
    assert {o.feature for o in result.left_out} == {"vpindex", "runtime", "synic", "stimer"}
    assert result.commands == (
        "virt-xml vm113 --edit --features hyperv.relaxed.state=on,hyperv.vapic.state=on,"
        "hyperv.spinlocks.state=on,hyperv.spinlocks.retries=8191 "
        "--clock timer0.name=hypervclock,timer0.present=yes",)


def test_asking_for_stimer_on_qemu_2_5_is_refused() -> None:
    with pytest.raises(FixRefused, match=r"vm113.xml: cannot switch on stimer: needs QEMU 2.6"):
        fix_file(STORY / "vm113.xml", context=[STORY / "qemu-vm113.log"], add=["stimer"])


def _only_touched_lines_differ(before: str, after: str) -> None:
    """Every original line that is gone or rewritten holds an element the fix edits."""
    a, b = before.splitlines(), after.splitlines()
    for op, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            for line in a[i1:i2]:
                assert TOUCHED.search(line), f"untouched line changed: {line!r}"


@pytest.mark.parametrize("xml", XMLS, ids=[p.name for p in XMLS])
def test_every_corpus_xml_reads_back_with_the_features_on(xml: Path) -> None:
    data = xml.read_bytes()
    before = parse_domain_xml(data, xml.name)
    result = fix_domain_xml(data, xml.name, choose("full", versions=NEW))
    after = parse_domain_xml(result.patched.encode(), xml.name)
    _only_touched_lines_differ(result.original, result.patched)
    if before.hyperv is not None and before.hyperv.mode == "passthrough":
        assert after.hyperv == before.hyperv
        return
    assert after.hyperv is not None
    wanted = set(choose("full", versions=NEW).wanted)
    assert wanted <= set(after.hyperv.enabled_features())
    # Nothing but the Hyper-V features and the hypervclock timer changed meaning.
    assert after.with_(hyperv=None, clock=None, sources=()) == \
        before.with_(hyperv=None, clock=None, sources=())


def test_a_second_fix_changes_nothing() -> None:
    first = fix_file(STORY / "vm113.xml", qemu_version="9.0", libvirt_version="10.0")
    again = fix_domain_xml(first.patched.encode(), "again.xml",
                           choose("recommended", versions=Versions(qemu="9.0", libvirt="10.0")))
    assert not again.changed and again.changes == ()
    assert set(again.unchanged) == {"relaxed", "vapic", "spinlocks", "time", "vpindex",
                                    "runtime", "synic", "stimer"}


def test_state_off_is_turned_on_and_a_valid_retry_count_is_kept() -> None:
    data = (b"<domain type='kvm'><name>w</name><features><hyperv>"
            b"<relaxed state='off'/><spinlocks state='on' retries='4096'/></hyperv></features>"
            b"<clock offset='utc'><timer name='hypervclock' present='no'/></clock></domain>")
    result = fix_domain_xml(data, "w.xml", choose("minimal", versions=NEW))
    assert {c.feature: c.action for c in result.changes} == {"relaxed": "turn on",
                                                             "vapic": "add", "time": "turn on"}
    assert "retries='4096'" in result.patched and "spinlocks" in result.unchanged


def test_evmcs_is_removed_on_an_amd_host_with_what_needs_it(tmp_path: Path) -> None:
    xml = tmp_path / "w.xml"
    xml.write_text("<domain type='kvm'>\n  <name>w</name>\n  <features>\n    <hyperv>\n"
                   "      <vapic state='on'/>\n      <evmcs state='on'/>\n    </hyperv>\n"
                   "  </features>\n</domain>\n")
    result = fix_file(xml, profile=None, host_cpu="amd", qemu_version="9.0",
                      libvirt_version="10.0")
    assert [(c.feature, c.action) for c in result.changes] == [("evmcs", "remove")]
    assert "evmcs" not in result.patched and "<vapic state='on'/>" in result.patched
    assert "this host is AMD" in result.changes[0].detail


def test_a_file_that_is_not_a_vm_config_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "qemu.log"
    log.write_text((STORY / "qemu-vm113.log").read_text())
    with pytest.raises(FixRefused, match="not a libvirt domain XML or Proxmox config"):
        fix_file(log)


VIRSH = shutil.which("virsh")


def _define(xml: Path) -> subprocess.CompletedProcess[str]:
    assert VIRSH is not None
    name = parse_domain_xml(xml.read_bytes(), xml.name).name
    return subprocess.run([VIRSH, "-c", "test:///default", f"define --validate {xml}; "
                           f"dumpxml {name}"], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.skipif(VIRSH is None, reason="virsh (libvirt-clients) is not installed")
@pytest.mark.parametrize("xml", [STORY / "vm113.xml", *XMLS[:12]],
                         ids=["vm113.xml", *[p.name for p in XMLS[:12]]])
def test_libvirt_validates_and_reads_the_patched_xml(xml: Path, tmp_path: Path) -> None:
    if _define(xml).returncode != 0:
        pytest.skip(f"this libvirt refuses the unpatched {xml.name} already")
    versions = Versions(qemu="8.2.2", libvirt="9.0.0")  # Debian 12's libvirt
    result = fix_domain_xml(xml.read_bytes(), xml.name, choose("recommended", versions=versions))
    patched = tmp_path / xml.name
    patched.write_text(result.patched)
    proc = _define(patched)
    assert proc.returncode == 0, proc.stderr
    back = parse_domain_xml(proc.stdout.split("\n", 1)[1], "dumpxml")
    assert back.hyperv is not None
    assert set(choose("recommended", versions=versions).wanted) <= \
        set(back.hyperv.enabled_features())


def test_a_nova_domain_gets_the_note_that_nova_rewrites_it(tmp_path: Path) -> None:
    from tests.knowledge.scenario_inputs import NOVA_METADATA, domain_xml

    xml = tmp_path / "instance-0000a1f3.xml"
    xml.write_text(domain_xml("instance-0000a1f3", cpu="<cpu mode='host-passthrough'/>",
                              metadata=NOVA_METADATA))
    assert parse_domain_xml(xml.read_bytes(), xml.name).stack == "nova"
    result = fix_file(xml, qemu_version="8.2.2", libvirt_version="10.0.0")
    assert result.changed and any("os_type=windows" in note for note in result.notes)
