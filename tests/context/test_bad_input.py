"""Hostile and broken input: entity attacks refused, errors carry file and line."""

from __future__ import annotations

import pytest

from dumptriage.context.libvirt_xml import parse_domain_xml
from dumptriage.errors import ContextParseError

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<domain type='kvm'><name>&lol3;</name></domain>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<domain type='kvm'><name>&xxe;</name></domain>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY % ext SYSTEM "http://example.invalid/x.dtd"> %ext;]>
<domain type='kvm'/>"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, XXE, PARAMETER_ENTITY],
                         ids=["entity-expansion", "external-entity", "parameter-entity"])
def test_entities_refused(text: str) -> None:
    with pytest.raises(ContextParseError) as err:
        parse_domain_xml(text, "evil.xml")
    assert err.value.source == "evil.xml"
    assert err.value.line == 2
    assert "refused" in err.value.reason
    assert "lol" not in str(err.value) and "root:" not in str(err.value)


def test_broken_xml_has_line() -> None:
    with pytest.raises(ContextParseError) as err:
        parse_domain_xml("<domain type='kvm'>\n  <name>x</name>\n  <vcpu>2</cpu>\n</domain>",
                         "broken.xml")
    assert (err.value.source, err.value.line) == ("broken.xml", 3)
    assert str(err.value).startswith("broken.xml:3: not well-formed XML")


def test_not_a_domain() -> None:
    with pytest.raises(ContextParseError) as err:
        parse_domain_xml("<network><name>default</name></network>", "net.xml")
    assert "not <domain>" in err.value.reason


def test_unknown_elements_are_notes() -> None:
    xml = """<domain type='kvm'>
  <features>
    <hyperv><relaxed state='on'/><frobnicate state='on'/></hyperv>
    <warp-drive/>
  </features>
  <devices><flux-capacitor/></devices>
</domain>"""
    c = parse_domain_xml(xml, "odd.xml")
    assert [(n.code, n.where, n.detail) for n in c.notes] == [
        ("unrecognised", "odd.xml:3", "<hyperv><frobnicate>"),
        ("unrecognised", "odd.xml:4", "<features><warp-drive>"),
        ("unrecognised", "odd.xml:6", "<devices><flux-capacitor>"),
    ]
    assert c.hyperv is not None and c.hyperv.is_on("relaxed")


def test_proxmox_bad_number() -> None:
    from dumptriage.context.proxmox import parse_proxmox_conf

    with pytest.raises(ContextParseError, match="cores: 'two' is not a number"):
        parse_proxmox_conf("ostype: win10\ncores: two\n", "100.conf")


def test_kubevirt_bad_number() -> None:
    from dumptriage.context.kubevirt import parse_kubevirt_yaml

    text = "kind: VirtualMachineInstance\nspec:\n  domain:\n    cpu: {sockets: '{{ n }}'}\n"
    with pytest.raises(ContextParseError, match=r"cpu\.sockets"):
        parse_kubevirt_yaml(text, "vmi.yaml")


def test_bad_tsc_frequency_is_a_note() -> None:
    from dumptriage.context.qemu_argv import parse_cpu

    arg = parse_cpu("host,tsc-frequency=fast", "t")
    assert arg.cpu.tsc_frequency is None
    assert [n.code for n in arg.notes] == ["bad-value"]
