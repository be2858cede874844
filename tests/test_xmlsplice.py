"""The source-preserving XML editor: round trips, each edit, encodings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from installer.errors import ConfigFileError
from installer.files.xmlsplice import (
    Doctype,
    ProcessingInstruction,
    SpliceBugError,
    SpliceConflictError,
    XmlDocument,
    build_element,
    decode_entities,
    escape_attribute,
    escape_text,
)
from tests.paths import CARBON_CONFIGS_DIR


def corpus_xml_files() -> list[Path]:
    return sorted(
        path
        for path in CARBON_CONFIGS_DIR.rglob("*.xml")
        if not path.relative_to(CARBON_CONFIGS_DIR).parts[0].startswith("tmpl-")
    )


def corpus_id(path: Path) -> str:
    return str(path.relative_to(CARBON_CONFIGS_DIR))


def parse(text: str | bytes, path: str = "test.xml") -> XmlDocument:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return XmlDocument.parse(data, path=path)


def edited(doc: XmlDocument) -> str:
    return doc.to_bytes().decode(doc.encoding)


# ---- the corpus -------------------------------------------------------------------------------


def test_the_corpus_is_there(carbon_configs_dir):
    # Guards the parametrised tests below against silently running over nothing.
    assert len(corpus_xml_files()) >= 40


@pytest.mark.parametrize("path", corpus_xml_files(), ids=corpus_id)
def test_every_real_file_round_trips_byte_for_byte(path):
    data = path.read_bytes()
    doc = XmlDocument.parse(data, path=str(path))
    assert doc.to_bytes() == data
    assert doc.result() is data


@pytest.mark.parametrize("path", corpus_xml_files(), ids=corpus_id)
def test_the_tree_agrees_with_lxml(path):
    data = path.read_bytes()
    doc = XmlDocument.parse(data, path=str(path))
    tree = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    theirs = [element for element in tree.iter() if isinstance(element.tag, str)]
    ours = list(doc.root.iter())
    assert [element.local_name for element in ours] == [etree.QName(element).localname for element in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        assert {
            attribute.local_name: attribute.value
            for attribute in mine.attributes
            if not attribute.name.startswith("xmlns")
        } == {etree.QName(name).localname: value for name, value in reference.attrib.items()}
        assert mine.text == (reference.text or "") + "".join(child.tail or "" for child in reference)
    their_comments = [node.text for node in tree.iter() if isinstance(node, etree._Comment)]
    assert [comment.text.replace("\r\n", "\n") for comment in doc.root.iter_comments()] == their_comments


# ---- reading ------------------------------------------------------------------------------------

SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- prolog comment with <fake>tags</fake> inside -->
<root xmlns="urn:default" xmlns:p="urn:p">
    <item name="a" note='has > inside'>first &amp; &#65;&#x42;</item>
    <!-- <item name="commented">not an element</item> -->
    <item name="b"><![CDATA[raw <text> & more]]></item>
    <p:item name="c">prefixed</p:item>
    <empty/>
    <multi
        one="1"
        two="2">m</multi>
</root>
"""


def test_children_are_found_by_local_name_and_attributes():
    doc = parse(SAMPLE)
    items = doc.root.children_named("item")
    assert [item.get("name") for item in items] == ["a", "b", "c"]
    assert doc.root.child("item", name="c").name == "p:item"
    assert doc.root.child("item", name="commented") is None
    assert doc.root.child("missing") is None


def test_text_decodes_entities_and_cdata():
    doc = parse(SAMPLE)
    assert doc.root.child("item", name="a").text == "first & AB"
    assert doc.root.child("item", name="b").text == "raw <text> & more"
    assert doc.root.child("empty").text == ""


def test_attribute_values_are_normalised_like_a_parser_does():
    data = b'<r a="one\n\ttwo&#10;three"/>'
    doc = parse(data)
    assert doc.root.get("a") == etree.fromstring(data).get("a") == "one  two\nthree"


def test_attribute_values_may_contain_a_closing_bracket():
    doc = parse(SAMPLE)
    item = doc.root.child("item", name="a")
    assert item.get("note") == "has > inside"
    assert item.attribute("note").quote == "'"


def test_comments_are_nodes_with_spans_and_their_tags_are_not_elements():
    doc = parse(SAMPLE)
    [comment] = doc.comments(doc.root)
    assert comment.text == ' <item name="commented">not an element</item> '
    assert doc.source(comment) == f"<!--{comment.text}-->"
    assert [c.text for c in doc.all_comments()] == [
        " prolog comment with <fake>tags</fake> inside ",
        comment.text,
    ]


def test_line_numbers():
    doc = parse(SAMPLE)
    assert doc.line_of(doc.root.child("multi").start) == 9


def test_a_doctype_with_an_internal_subset_is_skipped_whole():
    text = (
        '<?xml version="1.0"?>\n'
        "<!DOCTYPE root [\n"
        '  <!ENTITY greeting "a > b">\n'
        "  <!-- ] > not the end -->\n"
        "  <?pi ] > ?>\n"
        "]>\n"
        "<root><leaf>x</leaf></root>\n"
    )
    doc = parse(text)
    [doctype] = [node for node in doc.top_level if isinstance(node, Doctype)]
    assert doctype.raw.startswith("<!DOCTYPE root [") and doctype.raw.endswith("]>")
    assert doc.root.local_name == "root"
    assert doc.root.child("leaf").text == "x"
    assert doc.to_bytes() == text.encode()


# ---- escaping helpers -------------------------------------------------------------------------


def test_escaping_round_trips_through_decoding():
    value = "jdbc:mysql://h:3306/db?a=1&b=<2>\"'\t"
    assert decode_entities(escape_text(value)) == value
    assert "]]>" not in escape_text("]]>")
    root = etree.fromstring(f'<a v="{escape_attribute(value)}">{escape_text(value)}</a>')
    assert root.get("v") == value
    assert root.text == value


def test_build_element_nests_with_four_space_levels():
    xml = build_element("member", children=[build_element("hostName", "a&b"), build_element("port", "4000")])
    assert xml == "<member>\n    <hostName>a&amp;b</hostName>\n    <port>4000</port>\n</member>"
    assert build_element("property", attributes=[("name", "x"), ("value", 'q"')]) == (
        '<property name="x" value="q&quot;"/>'
    )


# ---- edits --------------------------------------------------------------------------------------


def test_set_text_escapes_and_touches_only_the_content():
    doc = parse(SAMPLE)
    doc.set_text(doc.root.child("item", name="a"), "x < y & z")
    assert edited(doc) == SAMPLE.replace("first &amp; &#65;&#x42;", "x &lt; y &amp; z")


def test_set_text_to_the_same_value_is_no_edit():
    doc = parse(SAMPLE)
    doc.set_text(doc.root.child("item", name="a"), "first & AB")
    assert not doc.has_edits
    assert doc.result() is doc.original


def test_set_text_opens_a_self_closing_element():
    doc = parse(SAMPLE)
    doc.set_text(doc.root.child("empty"), "now full")
    assert "<empty>now full</empty>" in edited(doc)


def test_set_text_replaces_cdata():
    doc = parse(SAMPLE)
    doc.set_text(doc.root.child("item", name="b"), "plain")
    assert '<item name="b">plain</item>' in edited(doc)


def test_set_text_refuses_an_element_with_children():
    doc = parse(SAMPLE)
    with pytest.raises(ValueError):
        doc.set_text(doc.root, "x")


def test_set_attribute_keeps_quotes_and_multi_line_layout():
    doc = parse(SAMPLE)
    multi = doc.root.child("multi")
    doc.set_attribute(multi, "two", "2b")
    doc.set_attribute(multi, "three", "a&b")
    doc.set_attribute(doc.root.child("item", name="a"), "note", "it's")
    text = edited(doc)
    assert '<multi\n        one="1"\n        two="2b" three="a&amp;b">m</multi>' in text
    assert "note='it&apos;s'" in text


def test_set_attribute_on_an_element_without_attributes():
    doc = parse(SAMPLE)
    doc.set_attribute(doc.root.child("empty"), "flag", "on")
    assert '<empty flag="on"/>' in edited(doc)


def test_insert_after_goes_on_its_own_line_indented_like_the_anchor():
    doc = parse("<r>\n  <a>1</a>\n  <c>3</c>\n</r>\n")
    doc.insert_after(doc.root.child("a"), "<b>2</b>")
    assert edited(doc) == "<r>\n  <a>1</a>\n  <b>2</b>\n  <c>3</c>\n</r>\n"


def test_insert_after_leaves_a_trailing_comment_with_its_element():
    doc = parse("<r>\n    <a>1</a> <!-- about a -->\n</r>\n")
    doc.insert_after(doc.root.child("a"), "<b>2</b>")
    assert edited(doc) == "<r>\n    <a>1</a> <!-- about a -->\n    <b>2</b>\n</r>\n"


def test_insert_after_a_comment():
    doc = parse("<r>\n    <!--b>old</b-->\n    <c/>\n</r>\n")
    doc.insert_after(doc.comments(doc.root)[0], "<b>new</b>")
    assert edited(doc) == "<r>\n    <!--b>old</b-->\n    <b>new</b>\n    <c/>\n</r>\n"


def test_inserts_chained_on_new_elements_keep_their_order():
    doc = parse("<r>\n    <a/>\n    <z/>\n</r>\n")
    first = doc.insert_after(doc.root.child("a"), "<b/>")
    second = doc.insert_after(first, "<c/>")
    doc.insert_before(second, "<b2/>")
    doc.insert_after(doc.root.child("a"), "<after-a/>")  # a second, separate insertion at the same spot
    assert edited(doc) == "<r>\n    <a/>\n    <b/>\n    <b2/>\n    <c/>\n    <after-a/>\n    <z/>\n</r>\n"


def test_multi_line_fragments_take_the_files_indentation_unit():
    doc = parse("<r>\n\t<list>\n\t\t<item/>\n\t</list>\n</r>\n")
    doc.insert_after(
        doc.root.child("list").child("item"), build_element("item", children=[build_element("v", "1")])
    )
    assert (
        edited(doc)
        == "<r>\n\t<list>\n\t\t<item/>\n\t\t<item>\n\t\t\t<v>1</v>\n\t\t</item>\n\t</list>\n</r>\n"
    )


def test_blank_line_separates_blocks():
    doc = parse("<r>\n    <a/>\n</r>\n")
    doc.insert_after(doc.root.child("a"), "<b/>", blank_line=True)
    assert edited(doc) == "<r>\n    <a/>\n\n    <b/>\n</r>\n"


def test_insert_before_goes_on_its_own_line():
    doc = parse("<r>\n    <b/>\n</r>\n")
    doc.insert_before(doc.root.child("b"), "<a/>", blank_line=True)
    assert edited(doc) == "<r>\n    <a/>\n\n    <b/>\n</r>\n"


def test_append_child_after_the_last_child():
    doc = parse("<r>\n    <a/>\n    <!-- last -->\n</r>\n")
    doc.append_child(doc.root, "<b/>")
    assert edited(doc) == "<r>\n    <a/>\n    <!-- last -->\n    <b/>\n</r>\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<r>\n  <p></p>\n</r>", "<r>\n  <p>\n    <c/>\n    <d/>\n  </p>\n</r>"),
        ("<r>\n  <p>\n  </p>\n</r>", "<r>\n  <p>\n    <c/>\n    <d/>\n  </p>\n</r>"),
        ("<r>\n  <p/>\n</r>", "<r>\n  <p>\n    <c/>\n    <d/>\n  </p>\n</r>"),
    ],
    ids=["empty", "whitespace-only", "self-closing"],
)
def test_append_child_into_a_childless_element(before, after):
    doc = parse(before)
    first = doc.append_child(doc.root.child("p"), "<c/>")
    doc.insert_after(first, "<d/>")
    assert edited(doc) == after


def test_append_child_refuses_an_element_holding_text():
    doc = parse("<r><p>text</p></r>")
    with pytest.raises(ValueError):
        doc.append_child(doc.root.child("p"), "<c/>")


def test_prepend_child_goes_before_the_first_child():
    doc = parse("<r>\n    <!-- first -->\n    <a/>\n</r>\n")
    doc.prepend_child(doc.root, "<z/>")
    assert edited(doc) == "<r>\n    <z/>\n    <!-- first -->\n    <a/>\n</r>\n"


def test_remove_takes_the_line_when_the_element_is_alone_on_it():
    doc = parse("<r>\n    <a/>\n    <b>\n        <x/>\n    </b>\n    <c/>\n</r>\n")
    doc.remove(doc.root.child("b"))
    assert edited(doc) == "<r>\n    <a/>\n    <c/>\n</r>\n"


def test_remove_takes_only_the_element_when_it_shares_its_line():
    doc = parse("<r><a/><b/><c/></r>")
    doc.remove(doc.root.child("b"))
    assert edited(doc) == "<r><a/><c/></r>"


def test_replace_reindents_the_fragment():
    doc = parse("<r>\n    <old/>\n</r>\n")
    doc.replace(doc.root.child("old"), build_element("new", children=[build_element("v", "1")]))
    assert edited(doc) == "<r>\n    <new>\n        <v>1</v>\n    </new>\n</r>\n"


def test_edits_inside_a_removed_element_conflict():
    doc = parse("<r>\n    <a><b>1</b></a>\n</r>\n")
    doc.remove(doc.root.child("a"))
    doc.set_text(doc.root.child("a").child("b"), "2")
    with pytest.raises(SpliceConflictError):
        doc.to_bytes()


def test_a_broken_result_is_never_returned():
    doc = parse("<r>\n    <a/>\n</r>\n")
    doc.insert_after(doc.root.child("a"), "<unclosed>")
    with pytest.raises(SpliceBugError, match="not well-formed"):
        doc.to_bytes()


# ---- set_child_text: set the value, else insert after the commented-out form, else after an anchor --

CHILD_TEXT_SAMPLE = """<r>
    <Version>1</Version>
	<!--HostName>www.example.org</HostName-->
    <parameter name="port">80</parameter>
    <!--parameter name="prefix" locked="false">http://example</parameter-->
</r>
"""


def test_set_child_text_sets_every_match_and_inserts_nothing():
    doc = parse("<r>\n    <h>old</h>\n    <!--h>example</h-->\n    <h>stale</h>\n</r>\n")
    first = doc.root.children_named("h")[0]
    assert doc.set_child_text(doc.root, "h", "new", after_commented_out=True) is first
    # Both get the value, so a stale duplicate cannot be the one the product reads.
    assert edited(doc) == "<r>\n    <h>new</h>\n    <!--h>example</h-->\n    <h>new</h>\n</r>\n"


def test_set_child_text_matches_on_attributes_only_among_children_with_them():
    doc = parse(CHILD_TEXT_SAMPLE)
    doc.set_child_text(doc.root, "parameter", "8080", attributes=[("name", "port")])
    assert edited(doc) == CHILD_TEXT_SAMPLE.replace(">80<", ">8080<")


def test_set_child_text_to_the_value_already_there_changes_nothing():
    doc = parse(CHILD_TEXT_SAMPLE)
    found = doc.set_child_text(
        doc.root, "parameter", "80", attributes=[("name", "port")], after_commented_out=True
    )
    assert found is doc.root.child("parameter", name="port")
    assert not doc.has_edits
    assert doc.result() is doc.original


def test_set_child_text_inserts_right_after_the_commented_out_form_indented_like_it():
    doc = parse(CHILD_TEXT_SAMPLE)
    # The comment wins over the anchor; the comment's tab, not its siblings' spaces, is copied.
    doc.set_child_text(
        doc.root, "HostName", "h.example", after_commented_out=True, after=[doc.root.child("parameter")]
    )
    assert edited(doc) == CHILD_TEXT_SAMPLE.replace(
        "</HostName-->\n", "</HostName-->\n\t<HostName>h.example</HostName>\n"
    )


def test_set_child_text_finds_the_commented_out_form_by_its_attributes_and_writes_the_extra_ones():
    doc = parse(CHILD_TEXT_SAMPLE)
    doc.set_child_text(
        doc.root,
        "parameter",
        "http://x",
        attributes=[("name", "prefix")],
        extra_attributes=[("locked", "false")],
        after_commented_out=True,
        after=[doc.root.child("Version")],
    )
    assert edited(doc) == CHILD_TEXT_SAMPLE.replace(
        "</parameter-->\n",
        '</parameter-->\n    <parameter name="prefix" locked="false">http://x</parameter>\n',
    )


def test_set_child_text_does_not_use_the_extra_attributes_to_find_one():
    doc = parse('<r>\n    <parameter name="prefix">old</parameter>\n</r>\n')
    doc.set_child_text(
        doc.root, "parameter", "new", attributes=[("name", "prefix")], extra_attributes=[("locked", "false")]
    )
    assert edited(doc) == '<r>\n    <parameter name="prefix">new</parameter>\n</r>\n'


def test_set_child_text_without_its_commented_out_form_goes_after_the_first_anchor_there():
    doc = parse(CHILD_TEXT_SAMPLE)
    new = doc.set_child_text(
        doc.root, "MgtHostName", "m", after_commented_out=True, after=[None, doc.root.child("Version")]
    )
    doc.insert_after(new, "<next/>")  # the returned element anchors the next insertion
    assert edited(doc) == CHILD_TEXT_SAMPLE.replace(
        "<Version>1</Version>\n", "<Version>1</Version>\n    <MgtHostName>m</MgtHostName>\n    <next/>\n"
    )


def test_set_child_text_looks_for_the_commented_out_form_only_when_asked():
    doc = parse(CHILD_TEXT_SAMPLE)
    doc.set_child_text(doc.root, "HostName", "h", after=[doc.root.child("Version")])
    assert edited(doc) == CHILD_TEXT_SAMPLE.replace(
        "<Version>1</Version>\n", "<Version>1</Version>\n    <HostName>h</HostName>\n"
    )


@pytest.mark.parametrize(
    ("at_end", "after"),
    [
        (False, "<r>\n    <new>v</new>\n    <!-- c -->\n    <a/>\n</r>\n"),
        (True, "<r>\n    <!-- c -->\n    <a/>\n    <new>v</new>\n</r>\n"),
    ],
    ids=["first", "at-end"],
)
def test_set_child_text_without_any_anchor_goes_first_or_last(at_end, after):
    doc = parse("<r>\n    <!-- c -->\n    <a/>\n</r>\n")
    doc.set_child_text(doc.root, "new", "v", after_commented_out=True, after=[None], at_end=at_end)
    assert edited(doc) == after


@pytest.mark.parametrize(
    ("comment", "found"),
    [
        ("<!--HostName>h</HostName-->", True),
        ("<!-- <HostName>h</HostName> -->", True),
        ("<!--HostName >h</HostName-->", True),
        ("<!--HostNames>h</HostNames-->", False),
        ('<!--HostName a="1">h</HostName-->', False),
        ("<!-- the HostName element -->", False),
    ],
)
def test_commented_out_without_attributes_wants_the_tag_to_end_after_its_name(comment, found):
    doc = parse(f"<r>\n    {comment}\n</r>\n")
    assert (doc.root.commented_out("HostName") is not None) is found


@pytest.mark.parametrize(
    ("comment", "found"),
    [
        ('<!--parameter name="domain">d</parameter-->', True),
        ("<!-- <parameter name = 'domain' locked=\"false\">d</parameter> -->", True),
        ('<!--parameter name="domainName">d</parameter-->', False),
        ('<!--parameter locked="false" name="domain">d</parameter-->', False),
    ],
)
def test_commented_out_wants_the_given_attributes_first(comment, found):
    doc = parse(f"<r>\n    {comment}\n</r>\n")
    assert (doc.root.commented_out("parameter", name="domain") is not None) is found


def test_commented_out_looks_only_directly_inside():
    doc = parse("<r>\n    <a>\n        <!--HostName>h</HostName-->\n    </a>\n</r>\n")
    assert doc.root.commented_out("HostName") is None
    assert doc.root.child("a").commented_out("HostName") is doc.root.child("a").comments[0]


# ---- namespaces, newlines, encodings ----------------------------------------------------------------


def test_new_elements_land_in_the_default_namespace():
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">\n    <Version>1</Version>\n</Server>\n'
    doc = parse(text)
    assert doc.root.child("Version").text == "1"
    doc.insert_after(doc.root.child("Version"), build_element("HostName", "h"))
    tree = etree.fromstring(doc.to_bytes())
    assert tree.find("{http://wso2.org/projects/carbon/carbon.xml}HostName").text == "h"


def test_crlf_files_get_crlf_in_new_lines():
    data = b"<r>\r\n    <a>1</a>\r\n    <b/>\r\n</r>\r\n"
    doc = parse(data)
    assert doc.newline == "\r\n"
    doc.insert_after(doc.root.child("a"), build_element("n", children=[build_element("v", "x")]))
    doc.remove(doc.root.child("b"))
    doc.set_text(doc.root.child("a"), "2")
    assert doc.to_bytes() == b"<r>\r\n    <a>2</a>\r\n    <n>\r\n        <v>x</v>\r\n    </n>\r\n</r>\r\n"


def test_text_reads_crlf_as_newline():
    doc = parse(b"<r><a>x\r\ny</a></r>")
    assert doc.root.child("a").text == "x\ny"


def test_iso_8859_1_is_decoded_and_written_back_in_kind():
    data = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- café, naïve -->\n<r>\n    <a>Zürich</a>\n    <b>x</b>\n</r>\n'.encode(
        "iso-8859-1"
    )
    doc = parse(data)
    assert doc.encoding == "ISO-8859-1"
    assert doc.root.child("a").text == "Zürich"
    doc.set_text(doc.root.child("b"), "Genève €")
    result = doc.to_bytes()
    # Untouched bytes stay Latin-1; the new é is one Latin-1 byte; the euro sign, which Latin-1
    # cannot hold, becomes a character reference.
    assert result == data.replace(b"<b>x</b>", "<b>Genève &#8364;</b>".encode("iso-8859-1"))
    assert etree.fromstring(result).find("b").text == "Genève €"


def test_utf8_byte_order_mark_is_kept():
    data = b"\xef\xbb\xbf<?xml version='1.0'?>\n<r><a>\xc3\xa9</a></r>"
    doc = parse(data)
    assert isinstance(doc.top_level[0], ProcessingInstruction)  # the mark is not content
    assert doc.root.child("a").text == "é"
    doc.set_text(doc.root.child("a"), "ü")
    assert doc.to_bytes() == b"\xef\xbb\xbf<?xml version='1.0'?>\n<r><a>\xc3\xbc</a></r>"


def test_no_edits_give_back_the_same_object():
    data = SAMPLE.encode()
    doc = parse(data)
    assert doc.result() is data


def test_edits_that_cancel_out_give_back_the_original_object():
    data = b"<r><a>1</a></r>"
    doc = parse(data)
    doc.replace(doc.root.child("a"), "<a>1</a>")
    assert doc.result() is data


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ufffe"])
def test_values_xml_cannot_hold_are_refused_without_showing_them(bad):
    secret = f"Sh0wMe{bad}N0t"
    doc = parse("<r>\n    <password>old</password>\n</r>\n", path="/x/master-datasources.xml")
    for edit in (
        lambda: doc.set_text(doc.root.child("password"), secret),
        lambda: doc.set_attribute(doc.root, "p", secret),
        lambda: doc.insert_after(doc.root.child("password"), build_element("password", secret)),
    ):
        with pytest.raises(ConfigFileError) as raised:
            edit()
        assert "/x/master-datasources.xml" in raised.value.message
        assert f"U+{ord(bad):04X}" in raised.value.message
        assert "Sh0wMe" not in raised.value.message + raised.value.hint
    assert not doc.has_edits


# ---- malformed input -------------------------------------------------------------------------------


def test_malformed_xml_names_the_file_and_the_line():
    data = b'<?xml version="1.0"?>\n<root>\n    <a>\n    </b>\n</root>\n'
    with pytest.raises(ConfigFileError) as raised:
        XmlDocument.parse(data, path="/opt/wso2/manager/repository/conf/carbon.xml")
    error = raised.value
    assert "/opt/wso2/manager/repository/conf/carbon.xml" in error.message
    assert "line 4" in error.message
    assert error.hint


def test_an_empty_file_is_malformed():
    with pytest.raises(ConfigFileError, match="empty.xml"):
        XmlDocument.parse(b"", path="empty.xml")
