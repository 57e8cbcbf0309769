"""The domain XML reader: which management stack defined the VM."""

from __future__ import annotations

from dumptriage.context.libvirt_xml import parse_domain_xml


def test_nova_metadata_makes_the_stack_nova() -> None:
    from tests.knowledge.scenario_inputs import NOVA_METADATA, domain_xml

    nova = domain_xml("instance-0000a1f3", cpu="<cpu mode='host-passthrough'/>",
                      metadata=NOVA_METADATA)
    plain = domain_xml("win10", cpu="<cpu mode='host-passthrough'/>")
    assert parse_domain_xml(nova, "nova.xml").stack == "nova"
    assert parse_domain_xml(plain, "plain.xml").stack == "libvirt"
