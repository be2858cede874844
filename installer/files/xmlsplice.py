"""A source-preserving XML editor: edits are splices into the original text.

lxml re-serialises a document in its own way (single-quoted XML declaration, whitespace between
the prolog and the root dropped, multi-line attributes joined, ``<a></a>`` turned into ``<a/>``),
so a diff of a file it wrote shows far more than what we changed. This module parses the text
into a light tree that knows the character span of every tag, attribute value, text and comment,
collects edits as splices on those spans, and applies them at the end: every character outside
an edited span is byte-identical to the input.

lxml still guards both ends: it must accept the input (else :class:`ConfigFileError` naming the
file and line) and it must accept the result (else :class:`SpliceBugError`, a bug of ours: a
broken file is never handed back to be written).

Elements are matched by their *local* name, so a default namespace (carbon.xml's) is
transparent. New elements are given as XML text written with ``\\n`` line ends and four spaces
per level (see :func:`build_element`); they are re-indented to the file's own indentation and
written with the file's newline style.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from lxml import etree

from installer.errors import ConfigFileError

__all__ = [
    "Attribute",
    "CData",
    "Comment",
    "Doctype",
    "Element",
    "NewElement",
    "Node",
    "ProcessingInstruction",
    "SpliceBugError",
    "SpliceConflictError",
    "Text",
    "XmlDocument",
    "build_element",
    "decode_entities",
    "escape_attribute",
    "escape_text",
]

# The unit the callers indent fragments with; rewritten to the file's own unit on insertion.
FRAGMENT_INDENT = "    "


class SpliceBugError(RuntimeError):
    """The edited text is not well-formed XML: a bug in a patcher, never the operator's doing."""


class SpliceConflictError(RuntimeError):
    """Two edits touch overlapping text (for example editing inside a removed element)."""


# --------------------------------------------------------------------------------------------
# Escaping


_PREDEFINED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_ENTITY_RE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z_][\w.-]*);")


def decode_entities(raw: str) -> str:
    """Character and predefined entity references decoded; any other entity left as written."""

    def replace(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference.startswith("#x"):
            return chr(int(reference[2:], 16))
        if reference.startswith("#"):
            return chr(int(reference[1:]))
        return _PREDEFINED_ENTITIES.get(reference, match.group(0))

    return _ENTITY_RE.sub(replace, raw)


def escape_text(value: str) -> str:
    """``value`` as element content. ``>`` is escaped too, so ``]]>`` can never appear."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str, quote: str = '"') -> str:
    """``value`` inside ``quote``-delimited attribute quotes.

    Tabs and line breaks become character references: a parser would otherwise normalise them
    to spaces and the value read back would differ from the one written.
    """
    escaped = escape_text(value).replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return escaped.replace('"', "&quot;") if quote == '"' else escaped.replace("'", "&apos;")


# Characters XML 1.0 cannot hold at all, not even as a character reference (2.2).
_NOT_XML_CHARACTER_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _normalise_line_ends(raw: str) -> str:
    # A parser hands every line break to the application as "\n" (XML 1.0, 2.11).
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def _normalise_attribute_value(raw: str) -> str:
    # What an XML parser reports for a CDATA-typed attribute: literal whitespace characters
    # become spaces before references are expanded (XML 1.0, 3.3.3).
    return decode_entities(re.sub(r"[\t\n\r]", " ", _normalise_line_ends(raw)))


def build_element(
    tag: str,
    text: str | None = None,
    *,
    attributes: Sequence[tuple[str, str]] = (),
    children: Sequence[str] = (),
) -> str:
    """XML text of a new element, values escaped, children on their own lines.

    ``children`` are fragments built the same way; they are indented one level
    (:data:`FRAGMENT_INDENT`), which the document turns into its own indentation on insertion.
    """
    attribute_text = "".join(f' {name}="{escape_attribute(value)}"' for name, value in attributes)
    if children:
        inner = "\n".join(
            FRAGMENT_INDENT + line if line else line for child in children for line in child.split("\n")
        )
        return f"<{tag}{attribute_text}>\n{inner}\n</{tag}>"
    if text is None:
        return f"<{tag}{attribute_text}/>"
    return f"<{tag}{attribute_text}>{escape_text(text)}</{tag}>"


# --------------------------------------------------------------------------------------------
# The light tree


@dataclass(eq=False)
class Node:
    """Anything in the document; ``start``/``end`` are offsets into the decoded text."""

    start: int
    end: int
    parent: Element | None = field(default=None, repr=False)


@dataclass(eq=False)
class Text(Node):
    raw: str = ""

    @property
    def value(self) -> str:
        return decode_entities(_normalise_line_ends(self.raw))


@dataclass(eq=False)
class CData(Node):
    raw: str = ""

    @property
    def value(self) -> str:
        return _normalise_line_ends(self.raw)


@dataclass(eq=False)
class Comment(Node):
    """``<!--text-->``; ``text`` is what lies between the delimiters."""

    text: str = ""


@dataclass(eq=False)
class ProcessingInstruction(Node):
    """A processing instruction, the XML declaration included."""

    raw: str = ""


@dataclass(eq=False)
class Doctype(Node):
    raw: str = ""


@dataclass(eq=False)
class Attribute:
    """``name="value"`` of a start tag; ``value_start``/``value_end`` exclude the quotes."""

    name: str
    raw_value: str
    quote: str
    start: int
    value_start: int
    value_end: int

    @property
    def value(self) -> str:
        return _normalise_attribute_value(self.raw_value)

    @property
    def local_name(self) -> str:
        return self.name.rpartition(":")[2]


@dataclass(eq=False)
class Element(Node):
    """An element; ``content_end`` equals ``content_start`` for a self-closing one."""

    name: str = ""
    start_tag_end: int = 0
    end_tag_start: int | None = None
    name_end: int = 0
    attributes: list[Attribute] = field(default_factory=list)
    children: list[Node] = field(default_factory=list, repr=False)

    @property
    def local_name(self) -> str:
        return self.name.rpartition(":")[2]

    @property
    def is_self_closing(self) -> bool:
        return self.end_tag_start is None

    @property
    def content_start(self) -> int:
        return self.start_tag_end

    @property
    def content_end(self) -> int:
        return self.start_tag_end if self.end_tag_start is None else self.end_tag_start

    @property
    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    @property
    def comments(self) -> list[Comment]:
        """The comments directly inside this element, in document order, with their spans."""
        return [child for child in self.children if isinstance(child, Comment)]

    def attribute(self, name: str) -> Attribute | None:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of attribute ``name`` (as written, prefix included), entities decoded."""
        attribute = self.attribute(name)
        return default if attribute is None else attribute.value

    @property
    def text(self) -> str:
        """The character data directly inside, entities decoded; comments are skipped."""
        return "".join(child.value for child in self.children if isinstance(child, Text | CData))

    def children_named(self, local_name: str, **attributes: str) -> list[Element]:
        """Child elements with this local name whose attributes have the given values."""
        return [
            child
            for child in self.elements
            if child.local_name == local_name
            and all(child.get(name) == value for name, value in attributes.items())
        ]

    def child(self, local_name: str, **attributes: str) -> Element | None:
        """The first of :meth:`children_named`, or None."""
        found = self.children_named(local_name, **attributes)
        return found[0] if found else None

    def child_text(self, local_name: str) -> str | None:
        found = self.child(local_name)
        return None if found is None else found.text

    def commented_out(self, local_name: str, **attributes: str) -> Comment | None:
        """The first comment directly inside that holds a commented-out child ``<local_name>``.

        The distributions ship examples written with or without the tag's ``<``:
        ``<!--HostName>www.wso2.org</HostName-->``, ``<!--parameter name="localMemberHost">``.
        Given ``attributes`` must come first in the tag, in this order, with exactly these
        values as written; given none, the tag must end right after its name, so that
        ``<!--HostNames>`` is not taken for ``HostName``.
        """
        pattern = r"\s*<?\s*" + re.escape(local_name)
        for name, value in attributes.items():
            pattern += r"\s+" + re.escape(name) + r"\s*=\s*[\"']" + re.escape(value) + r"[\"']"
        if not attributes:
            pattern += r"\s*>"
        tag = re.compile(pattern)
        return next((comment for comment in self.comments if tag.match(comment.text)), None)

    def iter(self) -> Iterator[Element]:
        """This element and every element below it, in document order."""
        yield self
        for child in self.elements:
            yield from child.iter()

    def iter_comments(self) -> Iterator[Comment]:
        """Every comment below this element, in document order."""
        for child in self.children:
            if isinstance(child, Comment):
                yield child
            elif isinstance(child, Element):
                yield from child.iter_comments()


# --------------------------------------------------------------------------------------------
# Tokenizer (the input is known to be well-formed: lxml accepted it first)


_NAME_RE = re.compile(r"[^\s/>=<\"']+")
_ATTRIBUTE_RE = re.compile(r"\s+([^\s=/>]+)\s*=\s*([\"'])")
_START_TAG_CLOSE_RE = re.compile(r"\s*(/?)>")
_END_TAG_RE = re.compile(r"</([^\s>]+)\s*>")


class _ParseError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _skip_doctype(text: str, position: int) -> int:
    """Offset after the ``<!DOCTYPE ...>`` starting at ``position``, internal subset included."""
    index = position + len("<!DOCTYPE")
    in_subset = False
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index = text.index(char, index + 1) + 1
            continue
        if in_subset:
            if text.startswith("<!--", index):
                index = text.index("-->", index + 4) + 3
                continue
            if text.startswith("<?", index):
                index = text.index("?>", index + 2) + 2
                continue
            if char == "]":
                in_subset = False
        elif char == "[":
            in_subset = True
        elif char == ">":
            return index + 1
        index += 1
    raise _ParseError("unterminated DOCTYPE", position)


def _tokenize(text: str) -> tuple[list[Node], Element]:
    top_level: list[Node] = []
    stack: list[Element] = []
    root: Element | None = None
    position = 0
    length = len(text)

    def add(node: Node) -> None:
        if stack:
            node.parent = stack[-1]
            stack[-1].children.append(node)
        else:
            top_level.append(node)

    while position < length:
        if text[position] != "<":
            next_tag = text.find("<", position)
            end = length if next_tag < 0 else next_tag
            add(Text(position, end, raw=text[position:end]))
            position = end
        elif text.startswith("<!--", position):
            end = text.index("-->", position + 4) + 3
            add(Comment(position, end, text=text[position + 4 : end - 3]))
            position = end
        elif text.startswith("<![CDATA[", position):
            end = text.index("]]>", position + 9) + 3
            add(CData(position, end, raw=text[position + 9 : end - 3]))
            position = end
        elif text.startswith("<?", position):
            end = text.index("?>", position + 2) + 2
            add(ProcessingInstruction(position, end, raw=text[position:end]))
            position = end
        elif text.startswith("<!DOCTYPE", position):
            end = _skip_doctype(text, position)
            add(Doctype(position, end, raw=text[position:end]))
            position = end
        elif text.startswith("</", position):
            match = _END_TAG_RE.match(text, position)
            if match is None or not stack or stack[-1].name != match.group(1):
                raise _ParseError("unexpected end tag", position)
            element = stack.pop()
            element.end_tag_start = position
            element.end = match.end()
            position = match.end()
        else:
            name_match = _NAME_RE.match(text, position + 1)
            if name_match is None:
                raise _ParseError("bad start tag", position)
            element = Element(position, position, name=name_match.group(0), name_end=name_match.end())
            index = name_match.end()
            while True:
                attribute_match = _ATTRIBUTE_RE.match(text, index)
                if attribute_match is not None:
                    quote = attribute_match.group(2)
                    value_start = attribute_match.end()
                    value_end = text.index(quote, value_start)
                    element.attributes.append(
                        Attribute(
                            name=attribute_match.group(1),
                            raw_value=text[value_start:value_end],
                            quote=quote,
                            start=attribute_match.start(1),
                            value_start=value_start,
                            value_end=value_end,
                        )
                    )
                    index = value_end + 1
                    continue
                close_match = _START_TAG_CLOSE_RE.match(text, index)
                if close_match is None:
                    raise _ParseError("bad start tag", position)
                break
            element.start_tag_end = close_match.end()
            add(element)
            if root is None and not stack:
                root = element
            if close_match.group(1):
                element.end = close_match.end()
            else:
                stack.append(element)
            position = close_match.end()
    if stack or root is None:
        raise _ParseError("unclosed element", length)
    return top_level, root


# --------------------------------------------------------------------------------------------
# Encoding


_UTF8_BOM = codecs.BOM_UTF8
_DECLARATION_ENCODING_RE = re.compile(rb"^<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def _declared_encoding(data: bytes) -> str:
    match = _DECLARATION_ENCODING_RE.match(data)
    return match.group(1).decode("ascii") if match else "UTF-8"


def _lxml_problem(data: bytes) -> tuple[int | None, str] | None:
    """(line, message) of the first thing lxml finds wrong with ``data``, or None if it is fine."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.position[0] if error.position else error.lineno
        return line, str(error.msg or error)
    return None


# --------------------------------------------------------------------------------------------
# Splices


@dataclass(eq=False)
class _Splice:
    """Replace text[start:end]; insertions (start == end) may hold several new elements."""

    start: int
    end: int
    sequence: int
    replacement: str = ""
    # For insertions: each new element is written as prefix + element + suffix, in order, and
    # the whole is wrapped in lead/tail (used when an element is appended into an empty parent).
    # ``mode`` says where the insertion point sits: "after-line" (end of the anchor's line, each
    # element starts a new line), "before-line" (start of the anchor's line, each element ends
    # one) or "inline" (the anchor shares its line; new elements stay on it).
    items: list[NewElement] = field(default_factory=list)
    mode: str = "replace"
    lead: str = ""
    tail: str = ""

    def build(self) -> str:
        if not self.items:
            return self.replacement
        return self.lead + "".join(item.prefix + item.xml + item.suffix for item in self.items) + self.tail


@dataclass(eq=False)
class NewElement:
    """An element inserted by this document's edits; usable as an anchor for further inserts."""

    splice: _Splice = field(repr=False)
    xml: str
    prefix: str
    suffix: str
    indent: str
    indent_unit: str


# --------------------------------------------------------------------------------------------
# The document


_WHITESPACE_AND_COMMENTS_RE = re.compile(r"(?:\s|<!--.*?-->)*\Z", re.DOTALL)


class XmlDocument:
    """One parsed file plus the edits collected on it."""

    def __init__(self, data: bytes, *, path: str) -> None:
        self.path = path
        self.original = data
        problem = _lxml_problem(data)
        if problem is not None:
            line, message = problem
            where = f"line {line}" if line else "an unknown line"
            raise ConfigFileError(
                f"{path} is not well-formed XML ({where}: {message})",
                "The file was left as it is. Fix it by hand, or restore it from the distribution "
                "zip, and run the installer again.",
            )
        self._bom = b""
        body = data
        if data.startswith(_UTF8_BOM):
            self._bom, body = _UTF8_BOM, data[len(_UTF8_BOM) :]
        self.encoding = _declared_encoding(body)
        try:
            codecs.lookup(self.encoding)
            self.text = body.decode(self.encoding)
        except (LookupError, UnicodeDecodeError) as error:
            raise ConfigFileError(
                f"{path}: cannot read it as {self.encoding}: {error}",
                "Only files in an ASCII-compatible encoding (UTF-8, ISO-8859-1, ...) can be patched.",
            ) from error
        try:
            self.top_level, self.root = _tokenize(self.text)
        except (_ParseError, ValueError) as error:
            # lxml accepted the file, so this is a limitation of our tokenizer, not the file.
            offset = getattr(error, "offset", 0)
            raise ConfigFileError(
                f"{path}: cannot edit this XML at line {self.line_of(offset)} ({error})",
                "The file is well-formed but uses a construct the installer's editor does not "
                "handle; edit it by hand as the review shows.",
            ) from error
        self.newline = "\r\n" if self.text.count("\r\n") * 2 > self.text.count("\n") else "\n"
        self._splices: list[_Splice] = []
        self._document_indent_unit: str | None = None

    @classmethod
    def parse(cls, data: bytes, *, path: str) -> XmlDocument:
        return cls(data, path=path)

    # ---- reading -----------------------------------------------------------------------------

    def line_of(self, offset: int) -> int:
        """1-based line number of a text offset."""
        return self.text.count("\n", 0, offset) + 1

    def source(self, node: Node) -> str:
        """The original text of a node."""
        return self.text[node.start : node.end]

    def comments(self, element: Element, *, recursive: bool = False) -> list[Comment]:
        """The comments inside ``element`` (directly, or anywhere below it)."""
        return list(element.iter_comments()) if recursive else element.comments

    def all_comments(self) -> list[Comment]:
        """Every comment in the file, prolog and epilog included, in document order."""
        found: list[Comment] = []
        for node in self.top_level:
            if isinstance(node, Comment):
                found.append(node)
            elif isinstance(node, Element):
                found.extend(node.iter_comments())
        return found

    def _line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def _line_end(self, offset: int) -> int:
        """Offset of the line break ending the line that holds ``offset`` (``\\r\\n`` aware)."""
        newline = self.text.find("\n", offset)
        if newline < 0:
            return len(self.text)
        return newline - 1 if newline > offset and self.text[newline - 1] == "\r" else newline

    def _starts_line(self, node: Node) -> bool:
        return self.text[self._line_start(node.start) : node.start].strip() == ""

    def indent_of(self, node: Node) -> str:
        """The leading whitespace of the line the node starts on."""
        line_start = self._line_start(node.start)
        line = self.text[line_start : node.start]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def indent_unit(self, element: Element) -> str:
        """How much deeper than ``element`` its children are indented (the file's habit if none)."""
        own = self.indent_of(element)
        for child in element.elements:
            if self._starts_line(child):
                child_indent = self.indent_of(child)
                if child_indent.startswith(own) and len(child_indent) > len(own):
                    return child_indent[len(own) :]
        return self._file_indent_unit()

    def _file_indent_unit(self) -> str:
        if self._document_indent_unit is None:
            deltas: Counter[str] = Counter()
            for element in self.root.iter():
                own = self.indent_of(element)
                for child in element.elements:
                    if self._starts_line(child):
                        child_indent = self.indent_of(child)
                        if child_indent.startswith(own) and len(child_indent) > len(own):
                            deltas[child_indent[len(own) :]] += 1
            self._document_indent_unit = deltas.most_common(1)[0][0] if deltas else FRAGMENT_INDENT
        return self._document_indent_unit

    def _render(self, xml: str, indent: str, unit: str) -> str:
        """A fragment re-indented below ``indent`` with ``unit`` per level, in the file's newlines."""
        lines = xml.replace("\r\n", "\n").split("\n")
        rendered = [lines[0]]
        for line in lines[1:]:
            stripped = line.lstrip(" ")
            depth, extra = divmod(len(line) - len(stripped), len(FRAGMENT_INDENT))
            rendered.append(indent + unit * depth + " " * extra + stripped if stripped else "")
        return self.newline.join(rendered)

    # ---- editing ----------------------------------------------------------------------------

    def _check_characters(self, new_text: str, position: int) -> None:
        """Refuse text XML cannot store; the message names the character, never the value.

        The values come from the plan and from the operator (a password may be one of them).
        """
        bad = _NOT_XML_CHARACTER_RE.search(new_text)
        if bad is not None:
            raise ConfigFileError(
                f"{self.path}: a value to be written near line {self.line_of(position)} holds the "
                f"character U+{ord(bad.group(0)):04X}, which an XML file cannot store",
                "Host names, URLs, user names and passwords must not contain control characters; "
                "correct the value and run the installer again.",
            )

    def _add_splice(self, start: int, end: int, replacement: str = "") -> _Splice:
        self._check_characters(replacement, start)
        splice = _Splice(start, end, len(self._splices), replacement=replacement)
        self._splices.append(splice)
        return splice

    def set_text(self, element: Element, value: str) -> None:
        """Make ``value`` the whole content of a leaf element (escaped); no-op if it already is.

        The whole content is replaced, so a comment inside the element goes with the old value.
        """
        if element.elements:
            raise ValueError(f"<{element.name}> has child elements; set_text would remove them")
        if element.text == value:
            # Also when comments sit between the characters: they are left where they are.
            return
        if element.is_self_closing:
            slash = self.text.rindex("/", element.start, element.start_tag_end)
            self._add_splice(slash, element.start_tag_end, f">{escape_text(value)}</{element.name}>")
        else:
            self._add_splice(element.content_start, element.content_end, escape_text(value))

    def set_attribute(self, element: Element, name: str, value: str) -> None:
        """Set (or add, after the last attribute) an attribute; no-op if it has this value."""
        attribute = element.attribute(name)
        if attribute is not None:
            if attribute.value != value:
                self._add_splice(
                    attribute.value_start, attribute.value_end, escape_attribute(value, attribute.quote)
                )
            return
        position = element.attributes[-1].value_end + 1 if element.attributes else element.name_end
        self._add_splice(position, position, f' {name}="{escape_attribute(value)}"')

    def _insertion(self, position: int, mode: str, *, lead: str = "", tail: str = "") -> _Splice:
        splice = self._add_splice(position, position)
        splice.mode, splice.lead, splice.tail = mode, lead, tail
        return splice

    def _place(
        self, splice: _Splice, index: int, xml: str, indent: str, unit: str, blank_line: bool
    ) -> NewElement:
        gap = self.newline * (2 if blank_line else 1)
        if splice.mode == "after-line":
            prefix, suffix = gap + indent, ""
        elif splice.mode == "before-line":
            prefix, suffix = indent, gap
        else:  # "inline": the anchor shares its line with other content; stay on that line
            prefix, suffix = "", ""
        new = NewElement(splice, self._render(xml, indent, unit), prefix, suffix, indent, unit)
        splice.items.insert(index, new)
        return new

    def _unit_for_sibling(self, anchor: Node) -> str:
        return self.indent_unit(anchor.parent) if anchor.parent is not None else self._file_indent_unit()

    def insert_after(self, anchor: Node | NewElement, xml: str, *, blank_line: bool = False) -> NewElement:
        """Insert a sibling after ``anchor``, on a line of its own indented like the anchor.

        When only whitespace or comments follow the anchor on its line, the new element goes
        after that line, so the diff shows added lines only and a trailing comment stays with
        the element it describes. ``anchor`` may be an element inserted earlier.
        """
        self._check_characters(xml, anchor.splice.start if isinstance(anchor, NewElement) else anchor.start)
        if isinstance(anchor, NewElement):
            index = anchor.splice.items.index(anchor) + 1
            return self._place(anchor.splice, index, xml, anchor.indent, anchor.indent_unit, blank_line)
        indent = self.indent_of(anchor)
        unit = self._unit_for_sibling(anchor)
        line_end = self._line_end(anchor.end)
        if _WHITESPACE_AND_COMMENTS_RE.fullmatch(self.text, anchor.end, line_end):
            splice = self._insertion(line_end, "after-line")
        else:
            splice = self._insertion(anchor.end, "inline")
        return self._place(splice, 0, xml, indent, unit, blank_line)

    def insert_before(self, anchor: Node | NewElement, xml: str, *, blank_line: bool = False) -> NewElement:
        """Insert a sibling before ``anchor``, on a line of its own indented like the anchor."""
        self._check_characters(xml, anchor.splice.start if isinstance(anchor, NewElement) else anchor.start)
        if isinstance(anchor, NewElement):
            index = anchor.splice.items.index(anchor)
            return self._place(anchor.splice, index, xml, anchor.indent, anchor.indent_unit, blank_line)
        indent = self.indent_of(anchor)
        unit = self._unit_for_sibling(anchor)
        line_start = self._line_start(anchor.start)
        if self.text[line_start : anchor.start].strip() == "":
            splice = self._insertion(line_start, "before-line")
        else:
            splice = self._insertion(anchor.start, "inline")
        return self._place(splice, 0, xml, indent, unit, blank_line)

    def append_child(self, parent: Element, xml: str, *, blank_line: bool = False) -> NewElement:
        """Insert ``xml`` as the last child of ``parent`` (after its last element or comment)."""
        self._check_characters(xml, parent.start)
        last = next((child for child in reversed(parent.children) if not isinstance(child, Text)), None)
        if last is not None:
            return self.insert_after(last, xml, blank_line=blank_line)
        parent_indent = self.indent_of(parent)
        unit = self.indent_unit(parent)
        end_line = f"{self.newline}{parent_indent}"
        if parent.is_self_closing:
            slash = self.text.rindex("/", parent.start, parent.start_tag_end)
            splice = self._add_splice(slash, parent.start_tag_end)
            splice.mode, splice.lead, splice.tail = "after-line", ">", f"{end_line}</{parent.name}>"
        else:
            content = self.text[parent.content_start : parent.content_end]
            if content.strip():
                raise ValueError(f"<{parent.name}> holds text; cannot append an element to it")
            # Whitespace before the end tag already puts it on its own line: keep it.
            splice = self._insertion(parent.content_start, "after-line", tail="" if content else end_line)
        return self._place(splice, 0, xml, parent_indent + unit, unit, False)

    def prepend_child(self, parent: Element, xml: str, *, blank_line: bool = False) -> NewElement:
        """Insert ``xml`` as the first child of ``parent`` (before its first element or comment)."""
        first = next((child for child in parent.children if not isinstance(child, Text)), None)
        if first is None:
            return self.append_child(parent, xml)
        return self.insert_before(first, xml, blank_line=blank_line)

    def remove(self, node: Node) -> None:
        """Remove a node; the whole line goes with it when nothing else is on that line."""
        line_start = self._line_start(node.start)
        line_end = self._line_end(node.end)
        alone = (
            self.text[line_start : node.start].strip() == "" and self.text[node.end : line_end].strip() == ""
        )
        if alone:
            after_break = line_end
            if self.text.startswith("\r\n", line_end):
                after_break += 2
            elif self.text.startswith("\n", line_end):
                after_break += 1
            self._add_splice(line_start, after_break)
        else:
            self._add_splice(node.start, node.end)

    def set_child_text(
        self,
        parent: Element,
        tag: str,
        value: str,
        *,
        attributes: Sequence[tuple[str, str]] = (),
        extra_attributes: Sequence[tuple[str, str]] = (),
        after_commented_out: bool = False,
        after: Sequence[Node | NewElement | None] = (),
        at_end: bool = False,
    ) -> Element | NewElement:
        """Give the leaf children ``<tag>`` of ``parent`` that have ``attributes`` the text
        ``value``; when there is none, insert one. Returns the first of them, or the new one, so
        that it can anchor the next insertion.

        Every match is set, not just the first: the product reads one of them, and a stale
        duplicate must not be the one it picks.

        A new element is written with ``attributes`` then ``extra_attributes`` (those are not
        used to find one). It goes right after its commented-out form when
        ``after_commented_out`` and ``parent`` has one (see :meth:`Element.commented_out`; the
        comment stays, so the file keeps its example next to the value in use); else after the
        first of ``after`` that is not None; else as the first child of ``parent``, or as the
        last when ``at_end``.
        """
        wanted = dict(attributes)
        existing = parent.children_named(tag, **wanted)
        for element in existing:
            self.set_text(element, value)
        if existing:
            return existing[0]
        xml = build_element(tag, value, attributes=[*attributes, *extra_attributes])
        commented = parent.commented_out(tag, **wanted) if after_commented_out else None
        anchor = next((candidate for candidate in (commented, *after) if candidate is not None), None)
        if anchor is not None:
            return self.insert_after(anchor, xml)
        return self.append_child(parent, xml) if at_end else self.prepend_child(parent, xml)

    def set_child_texts(
        self, parent: Element, wanted: Sequence[tuple[str, str]], first_anchor: Element | None = None
    ) -> None:
        """Set each ``(tag, text)`` leaf child of ``parent``; a missing one is inserted after the
        previous one (the first after ``first_anchor``, else as the first child)."""
        anchor: Element | NewElement | None = first_anchor
        for tag, value in wanted:
            anchor = self.set_child_text(parent, tag, value, after=[anchor])

    def replace(self, element: Node, xml: str) -> None:
        """Replace a node by ``xml``, re-indented to where the node stands."""
        unit = self.indent_unit(element.parent) if element.parent is not None else self._file_indent_unit()
        self._add_splice(element.start, element.end, self._render(xml, self.indent_of(element), unit))

    # ---- result ------------------------------------------------------------------------------

    @property
    def has_edits(self) -> bool:
        return bool(self._splices)

    def edited_text(self) -> str:
        """The text with every splice applied (overlapping splices are a bug: raised)."""
        pieces: list[str] = []
        cursor = 0
        for splice in sorted(self._splices, key=lambda item: (item.start, item.end, item.sequence)):
            if splice.start < cursor:
                raise SpliceConflictError(
                    f"{self.path}: two edits overlap near line {self.line_of(splice.start)}"
                )
            pieces.append(self.text[cursor : splice.start])
            pieces.append(splice.build())
            cursor = splice.end
        pieces.append(self.text[cursor:])
        return "".join(pieces)

    def to_bytes(self) -> bytes:
        """The edited document in its own encoding; checked to be well-formed before returning.

        Characters the encoding cannot hold are written as character references.
        """
        data = self._bom + self.edited_text().encode(self.encoding, errors="xmlcharrefreplace")
        problem = _lxml_problem(data)
        if problem is not None:
            line, message = problem
            raise SpliceBugError(
                f"{self.path}: the edited XML is not well-formed (line {line}: {message}); "
                "nothing was written"
            )
        return data

    def result(self) -> bytes:
        """The edited bytes, or the original bytes object itself when nothing changed."""
        if not self._splices:
            return self.original
        data = self.to_bytes()
        return self.original if data == self.original else data
