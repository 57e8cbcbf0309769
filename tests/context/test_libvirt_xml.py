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


# vdsm's own test domain (lib/vdsm/virt/metadata.py tests, _TEST_XML_CLUSTER_VERSION): the
# metadata the oVirt engine sends with every VM it starts.
OVIRT_METADATA = """
  <metadata>
    <ovirt-tune:qos xmlns:ovirt-tune="http://ovirt.org/vm/tune/1.0"/>
    <ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
      <ovirt-vm:version type="float">4.2</ovirt-vm:version>
      <ovirt-vm:clusterVersion>4.2</ovirt-vm:clusterVersion>
      <ovirt-vm:custom>
        <ovirt-vm:foo>bar</ovirt-vm:foo>
      </ovirt-vm:custom>
    </ovirt-vm:vm>
  </metadata>"""


def test_ovirt_metadata_makes_the_stack_ovirt() -> None:
    from tests.knowledge.scenario_inputs import domain_xml

    ovirt = domain_xml("win2019", cpu="<cpu mode='custom'><model>Skylake-Server</model></cpu>",
                       metadata=OVIRT_METADATA)
    assert parse_domain_xml(ovirt, "ovirt.xml").stack == "ovirt"
    # oVirt's QoS element alone (no <ovirt-vm:vm>) is not enough to say who built the XML.
    tune_only = OVIRT_METADATA.split("<ovirt-vm:vm")[0] + "</metadata>"
    plain = domain_xml("win2019", cpu="<cpu mode='host-model'/>", metadata=tune_only)
    assert parse_domain_xml(plain, "plain.xml").stack == "libvirt"
