"""Edit an XML file as text, so that everything the edit does not touch stays byte for byte.

An ElementTree round trip would rewrite quotes, attribute order, comments and blank lines
of a domain XML that people keep under version control. Here expat only finds where each
element starts and ends (``CurrentByteIndex``); edits are splices into the original bytes:
an attribute changed inside one start tag, a child inserted before its parent's end tag
with the indentation of its siblings, an element removed with its own line.

Expat's byte index points at the ``<`` of a start tag and of an end tag; for an empty
element (``<relaxed state='on'/>``) the end event comes with the index just past ``/>``.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from dumptriage.context.safexml import parse_xml
from dumptriage.errors import ContextParseError
from dumptriage.model.record import Record, replace


class Span(Record):
    """One element: ``start`` of its start tag, ``open_end`` just past it, ``close`` at its
    end tag's ``<`` (== open_end for an empty element) and ``end`` just past the element."""

    tag: str
    attrs: tuple[tuple[str, str], ...]
    start: int
    open_end: int
    close: int
    end: int
    empty: bool
    parent: int  # index of the parent span, -1 for the root


def _tag_end(data: bytes, start: int) -> int:
    """Index just past the ``>`` that closes the tag starting at ``start`` (quotes honoured)."""
    quote = 0
    for i in range(start + 1, len(data)):
        byte = data[i]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):  # " or '
            quote = byte
        elif byte == 0x3E:  # >
            return i + 1
    raise ValueError(f"unterminated tag at byte {start}")


def scan(data: bytes, source: str) -> list[Span]:
    """Every element of ``data`` in document order (the root first)."""
    parse_xml(data, source)  # the same refusals (DTDs, entities, size) as the readers
    parser = expat.ParserCreate()
    spans: list[Span] = []
    stack: list[int] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        begin = parser.CurrentByteIndex
        open_end = _tag_end(data, begin)
        empty = data[open_end - 2:open_end] == b"/>"
        spans.append(Span(name, tuple(attrs.items()), begin, open_end, open_end, open_end,
                          empty, stack[-1] if stack else -1))
        stack.append(len(spans) - 1)

    def end(_name: str) -> None:
        index = stack.pop()
        span = spans[index]
        if not span.empty:
            close = parser.CurrentByteIndex
            spans[index] = replace(span, close=close, end=_tag_end(data, close))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError) as err:  # parse_xml accepted it: cannot happen
        raise ContextParseError(source, None, f"XML position scan failed: {err}") from err
    return spans


class Document:
    """The bytes of one XML file and the edits made to them so far."""

    def __init__(self, data: bytes, source: str):
        self.data = data
        self.source = source
        self.spans = scan(data, source)
        self.quote = _quote_style(data)
        self.newline = b"\r\n" if b"\r\n" in data else b"\n"

    # -- finding -----------------------------------------------------------------------

    def children(self, parent: int) -> list[int]:
        return [i for i, s in enumerate(self.spans) if s.parent == parent]

    def find(self, path: str) -> int | None:
        """The span index of ``a/b/c`` below the root; ``c@name=value`` picks by attribute."""
        current = 0
        for step in path.split("/"):
            found = next((i for i in self.children(current) if _step_matches(self.spans[i], step)),
                         None)
            if found is None:
                return None
            current = found
        return current

    def attr(self, index: int, name: str) -> str | None:
        return dict(self.spans[index].attrs).get(name)

    # -- editing (each edit re-scans, so the indices of the next one are right) --------

    def _splice(self, begin: int, end: int, text: bytes) -> None:
        self.data = self.data[:begin] + text + self.data[end:]
        self.spans = scan(self.data, self.source)

    def set_attrs(self, index: int, attrs: dict[str, str]) -> None:
        """Set attributes in an element's start tag, leaving the rest of the tag alone."""
        span = self.spans[index]
        tag = self.data[span.start:span.open_end].decode("utf-8")
        for name, value in attrs.items():
            tag = _set_attr(tag, name, value, self.quote)
        self._splice(span.start, span.open_end, tag.encode("utf-8"))

    def insert_child(self, parent: int, markup: str) -> None:
        """Add ``markup`` as the parent's last child, indented like its siblings."""
        span = self.spans[parent]
        own = self._indent_of(span.start)
        kids = self.children(parent)
        inner = self._indent_of(self.spans[kids[-1]].start) if kids else own + _unit(own)
        nl = self.newline
        text = nl + inner + markup.encode("utf-8")
        if span.empty:  # <features/> becomes <features>...</features>
            head = self.data[span.start:span.open_end - 2].rstrip() + b">"
            closing = nl + own + b"</" + span.tag.encode() + b">"
            self._splice(span.start, span.open_end, head + text + closing)
            return
        # Insert after the last child (or the start tag), before the whitespace that
        # precedes the end tag, so the end tag keeps its own line and indentation.
        at = self.spans[kids[-1]].end if kids else span.open_end
        between = self.data[span.open_end:span.close]
        if not kids and between.strip() == b"" and b"\n" not in between:
            # <hyperv></hyperv> on one line: give the end tag a line of its own.
            self._splice(span.open_end, span.close, text + nl + own)
            return
        self._splice(at, at, text)

    def insert_after(self, sibling: int, markup: str) -> None:
        """Add ``markup`` right after an element, on its own line at the same indentation."""
        span = self.spans[sibling]
        text = self.newline + self._indent_of(span.start) + markup.encode("utf-8")
        self._splice(span.end, span.end, text)

    def remove(self, index: int) -> None:
        """Delete an element, and its line when it stood on a line of its own."""
        span = self.spans[index]
        begin, end = span.start, span.end
        line_start = self.data.rfind(b"\n", 0, begin) + 1
        if self.data[line_start:begin].strip() == b"":
            after = self.data[end:end + 2]
            if after.startswith(self.newline) or after.startswith(b"\n"):
                begin = line_start
                end += len(self.newline) if after.startswith(self.newline) else 1
        self._splice(begin, end, b"")

    def _indent_of(self, offset: int) -> bytes:
        line_start = self.data.rfind(b"\n", 0, offset) + 1
        prefix = self.data[line_start:offset]
        return prefix if prefix.strip() == b"" else b""

    def element(self, tag: str, attrs: dict[str, str], child: str = "") -> str:
        """``<tag a='v'/>`` in the file's quote style (``child`` nests one element)."""
        q = self.quote
        text = "".join(f" {k}={q}{_escape(v, q)}{q}" for k, v in attrs.items())
        return f"<{tag}{text}>{child}</{tag}>" if child else f"<{tag}{text}/>"


def _step_matches(span: Span, step: str) -> bool:
    tag, _, pin = step.partition("@")
    if span.tag != tag:
        return False
    if not pin:
        return True
    name, _, value = pin.partition("=")
    return dict(span.attrs).get(name) == value


def _quote_style(data: bytes) -> str:
    # libvirt's formatter writes single quotes; hand-written files often use double ones.
    singles = len(re.findall(rb"=\s*'", data[:65536]))
    doubles = len(re.findall(rb'=\s*"', data[:65536]))
    return '"' if doubles > singles else "'"


def _unit(indent: bytes) -> bytes:
    return b"\t" if indent.startswith(b"\t") else b"  "


def _escape(value: str, quote: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;")
    return value.replace(quote, "&apos;" if quote == "'" else "&quot;")


_ATTR = r"(\s{name}\s*=\s*)(['\"])(.*?)\2"


def _set_attr(tag: str, name: str, value: str, quote: str) -> str:
    found = re.search(_ATTR.format(name=re.escape(name)), tag, re.DOTALL)
    if found is not None:
        q = found.group(2)
        return tag[:found.start(3)] + _escape(value, q) + tag[found.end(3):]
    closing = 2 if tag.endswith("/>") else 1
    body = tag[:-closing].rstrip()
    return f"{body} {name}={quote}{_escape(value, quote)}{quote}{tag[-closing:]}"
