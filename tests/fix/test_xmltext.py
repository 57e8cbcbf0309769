"""The text-level XML editor: each edit changes only its own bytes."""

from __future__ import annotations

import pytest

from dumptriage.errors import ContextParseError
from dumptriage.fix.xmltext import Document

DOMAIN = b"""<domain type='kvm'>
  <!-- kept as written -->
  <name>w</name>
  <features>
    <acpi/>
    <hyperv mode='custom'>
      <relaxed state='off'/>
    </hyperv>
  </features>
  <clock offset='utc'/>
</domain>
"""


def test_spans_find_by_path_and_pinned_attribute() -> None:
    doc = Document(b"<d><clock><timer name='rtc'/><timer name='hypervclock'/></clock></d>", "t")
    index = doc.find("clock/timer@name=hypervclock")
    assert index is not None and doc.attr(index, "name") == "hypervclock"
    assert doc.find("clock/timer@name=hpet") is None
    assert doc.find("features") is None


def test_set_attrs_changes_one_value_and_keeps_the_rest() -> None:
    doc = Document(DOMAIN, "t")
    index = doc.find("features/hyperv/relaxed")
    assert index is not None
    doc.set_attrs(index, {"state": "on"})
    assert doc.data == DOMAIN.replace(b"<relaxed state='off'/>", b"<relaxed state='on'/>")


def test_set_attrs_adds_a_missing_attribute_in_the_files_quote_style() -> None:
    doc = Document(b'<d>\n  <spinlocks state="on"/>\n</d>\n', "t")
    doc.set_attrs(1, {"retries": "8191"})
    assert doc.data == b'<d>\n  <spinlocks state="on" retries="8191"/>\n</d>\n'


def test_insert_child_uses_the_siblings_indentation() -> None:
    doc = Document(DOMAIN, "t")
    hyperv = doc.find("features/hyperv")
    assert hyperv is not None
    doc.insert_child(hyperv, "<vapic state='on'/>")
    assert doc.data == DOMAIN.replace(b"<relaxed state='off'/>\n",
                                      b"<relaxed state='off'/>\n      <vapic state='on'/>\n")


def test_insert_child_opens_an_empty_element() -> None:
    doc = Document(DOMAIN, "t")
    clock = doc.find("clock")
    assert clock is not None
    doc.insert_child(clock, "<timer name='hypervclock' present='yes'/>")
    assert doc.data == DOMAIN.replace(
        b"<clock offset='utc'/>",
        b"<clock offset='utc'>\n    <timer name='hypervclock' present='yes'/>\n  </clock>")


def test_insert_child_into_an_element_written_open_and_closed_on_one_line() -> None:
    doc = Document(b"<d>\n  <hyperv></hyperv>\n</d>\n", "t")
    doc.insert_child(1, "<relaxed state='on'/>")
    assert doc.data == b"<d>\n  <hyperv>\n    <relaxed state='on'/>\n  </hyperv>\n</d>\n"


def test_insert_after_and_remove_keep_lines_whole() -> None:
    doc = Document(DOMAIN, "t")
    name = doc.find("name")
    assert name is not None
    doc.insert_after(name, "<vcpu>2</vcpu>")
    assert b"  <name>w</name>\n  <vcpu>2</vcpu>\n  <features>" in doc.data
    relaxed = doc.find("features/hyperv/relaxed")
    assert relaxed is not None
    doc.remove(relaxed)
    assert b"relaxed" not in doc.data and b"<hyperv mode='custom'>\n    </hyperv>" in doc.data


def test_crlf_files_get_crlf_lines() -> None:
    data = DOMAIN.replace(b"\n", b"\r\n")
    doc = Document(data, "t")
    hyperv = doc.find("features/hyperv")
    assert hyperv is not None
    doc.insert_child(hyperv, "<vapic state='on'/>")
    assert b"<relaxed state='off'/>\r\n      <vapic state='on'/>\r\n" in doc.data
    assert doc.data.count(b"\n") == doc.data.count(b"\r\n")


def test_a_doctype_is_refused_like_the_readers_refuse_it() -> None:
    with pytest.raises(ContextParseError, match="DOCTYPE"):
        Document(b"<!DOCTYPE d [<!ENTITY a 'b'>]><d>&a;</d>", "evil.xml")
