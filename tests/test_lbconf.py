"""loadbalancer.conf: lossless round trip, the ELB's reading of it, syntax errors, and the patch."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer.errors import ConfigFileError
from installer.files.lbconf import (
    Block,
    Property,
    decode,
    parse_loadbalancer,
    patch_loadbalancer,
    read_services,
    semantic_tree,
)
from installer.files.settings import LbServiceDomain, LoadBalancerSettings
from tests.paths import CARBON_CONFIGS_DIR, real_config_files

GOLDEN_DIR = Path(__file__).parent / "golden" / "lbconf"

# loadbalancer1.conf / loadbalancer2.conf are ELB parser test inputs too: include them.
REAL_LB_CONFS = real_config_files("loadbalancer*.conf")
ELB_2_0_5 = CARBON_CONFIGS_DIR / "elb-2.0.5" / "repository" / "conf" / "loadbalancer.conf"
LB_COMMON_TESTDATA = (
    CARBON_CONFIGS_DIR
    / "testdata-lb-common-4.1.3"
    / "lb.common"
    / "src"
    / "test"
    / "resources"
    / "loadbalancer.conf"
)

SEED_SETTINGS = LoadBalancerSettings(
    service_name="esb",
    domains=(
        LbServiceDomain("wso2.esb.domain", ("mgt.esb.wso2.com",), "mgt", "*"),
        LbServiceDomain("wso2.esb.domain", ("worker.esb.wso2.com",), "worker", "*"),
    ),
)

SEED_ESB_BLOCK = """\
    esb {
        domains   {
            wso2.esb.domain {
                hosts mgt.esb.wso2.com;
                sub_domain mgt;
                tenant_range    *;
            }
            wso2.esb.domain {
                hosts worker.esb.wso2.com;
                sub_domain worker;
                tenant_range    *;
            }
        }
    }
"""


def corpus_id(path: Path) -> str:
    return str(path.relative_to(CARBON_CONFIGS_DIR))


def esb_domains(data: bytes) -> list[tuple[str, tuple[str, ...], str | None, str | None]]:
    (esb,) = [service for service in read_services(data) if service.name == "esb"]
    return [(domain.name, domain.hosts, domain.sub_domain, domain.tenant_range) for domain in esb.domains]


SEED_ESB_DOMAINS = [
    ("wso2.esb.domain", ("mgt.esb.wso2.com",), "mgt", "*"),
    ("wso2.esb.domain", ("worker.esb.wso2.com",), "worker", "*"),
]


# ---------------------------------------------------------------- the corpus is there


def test_corpus_has_the_real_loadbalancer_confs(carbon_configs_dir):
    # Without this, an empty parametrization below would pass by skipping everything.
    names = {corpus_id(path) for path in REAL_LB_CONFS}
    assert "elb-2.0.4/repository/conf/loadbalancer.conf" in names
    assert "elb-2.0.5/repository/conf/loadbalancer.conf" in names
    assert "af-elb-2.0.3/repository/conf/loadbalancer.conf" in names
    assert len(names) == 7
    assert not any(name.startswith("tmpl-") for name in names)


# ---------------------------------------------------------------- lossless round trip


@pytest.mark.parametrize("path", REAL_LB_CONFS, ids=corpus_id)
def test_every_real_file_round_trips_byte_for_byte(path):
    data = path.read_bytes()
    conf = parse_loadbalancer(decode(data), path=str(path))
    assert conf.render().encode("utf-8", "surrogateescape") == data
    # The tree really is a tree: the services block was found as a block, not trivia.
    assert conf.services_block() is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "services {\n}",  # no newline at the end
        "services {\r\n    esb {\r\n    }\r\n}\r\n",  # CRLF
        "a {\n\tb\t c ;  # note { with a brace\n   }   # trailing\n\n\n",
        "   \n#\n# only comments\n",
    ],
)
def test_unusual_layouts_round_trip(text):
    assert parse_loadbalancer(text).render() == text


def test_crlf_lines_are_read_like_lf_lines():
    conf = parse_loadbalancer("services {\r\n    esb {\r\n        hosts a.example;\r\n    }\r\n}\r\n")
    assert [service.properties for service in read_services(conf)] == [{"hosts": "a.example"}]


# ---------------------------------------------------------------- how the ELB reads it


def test_missing_final_brace_is_forgiven_with_a_warning():
    data = ELB_2_0_5.read_bytes()
    conf = parse_loadbalancer(decode(data), path="elb/loadbalancer.conf")
    assert len(conf.warnings) == 1
    assert "elb/loadbalancer.conf, line 45" in conf.warnings[0]
    assert "'services'" in conf.warnings[0]
    assert conf.services_block().close_line is None
    # Everything inside the unclosed block is still read.
    assert [service.name for service in read_services(data)] == ["appserver", "esb", "governance", "identity"]


def test_nested_unclosed_blocks_each_get_a_warning():
    conf = parse_loadbalancer("a {\n  b {\n    c d;\n")
    assert len(conf.warnings) == 2
    assert "line 1" in conf.warnings[0] and "'a'" in conf.warnings[0]
    assert "line 2" in conf.warnings[1] and "'b'" in conf.warnings[1]


def test_a_well_formed_file_has_no_warnings():
    assert parse_loadbalancer("a {\n  b c;\n}\n").warnings == []


def test_comment_after_a_value_is_not_part_of_it():
    conf = parse_loadbalancer(
        "loadbalancer {\n    server_startup_delay 180000; #default will be 60000ms\n}\n"
    )
    (block,) = conf.blocks("loadbalancer")
    assert block.properties() == {"server_startup_delay": "180000"}


def test_tabs_separate_key_and_value():
    conf = parse_loadbalancer("loadbalancer {\n    server_startup_delay\t\t15000;\n    instances\t1;\n}\n")
    assert conf.blocks()[0].properties() == {"server_startup_delay": "15000", "instances": "1"}


def test_duplicate_domain_blocks_are_kept_in_order():
    text = (
        "services {\n esb {\n  domains {\n"
        "   wso2.esb.domain {\n    sub_domain mgt;\n   }\n"
        "   wso2.esb.domain {\n    sub_domain worker;\n   }\n"
        "  }\n }\n}\n"
    )
    conf = parse_loadbalancer(text)
    domains_block = conf.services_block().blocks("esb")[0].blocks("domains")[0]
    assert [block.name for block in domains_block.blocks()] == ["wso2.esb.domain", "wso2.esb.domain"]
    (esb,) = read_services(text)
    assert [(domain.name, domain.sub_domain) for domain in esb.domains] == [
        ("wso2.esb.domain", "mgt"),
        ("wso2.esb.domain", "worker"),
    ]


def test_an_exact_copy_of_a_block_counts_once_as_in_the_elb():
    domain = "   wso2.esb.domain {\n    sub_domain mgt;\n   }\n"
    text = "services {\n esb {\n  domains {\n" + domain + domain.replace("  ", "\t") + "  }\n }\n}\n"
    (esb,) = read_services(text)
    assert [domain.sub_domain for domain in esb.domains] == ["mgt"]


def test_real_parser_testdata_is_read_as_the_elb_reads_it():
    appserver, esb = read_services(LB_COMMON_TESTDATA.read_bytes())
    assert appserver.name == "appserver"
    assert appserver.hosts == ("appserver.cloud-test.wso2.com", "as.cloud-test.wso2.com")
    assert [(d.name, d.hosts, d.sub_domain, d.tenant_range) for d in appserver.domains] == [
        # own hosts and sub_domain override the service's
        ("wso2.as1.domain", ("as2.cloud-test.wso2.com",), "worker", "1-5"),
        # nothing of its own: the service's hosts and sub_domain
        ("wso2.as2.domain", ("appserver.cloud-test.wso2.com", "as.cloud-test.wso2.com"), "worker1", "7"),
        # the same domain name twice: two entries
        ("wso2.as3.domain", ("appserver.cloud-test.wso2.com", "as.cloud-test.wso2.com"), "nirmal", "10-20"),
        ("wso2.as3.domain", ("appserver.cloud-test.wso2.com", "as.cloud-test.wso2.com"), "nirmal2", "21-25"),
        ("wso2.esb.domain", ("appserver.cloud-test.wso2.com", "as.cloud-test.wso2.com"), "nirmal", "*"),
    ]
    assert esb.domains[0].hosts == ("esb.cloud-test.wso2.com", "mgt.as.cloud-test.wso2.com")
    assert esb.domains[0].sub_domain == "mgt"
    # Values from the defaults block reach every domain unless overridden.
    assert appserver.domains[1].properties["max_app_instances"] == "5"
    assert appserver.domains[0].properties["min_app_instances"] == "0"
    assert appserver.domains[1].properties["min_app_instances"] == "1"


def test_defaults_is_not_a_service_and_no_services_means_none():
    assert [service.name for service in read_services("services {\n defaults {\n  a b;\n }\n}\n")] == []
    assert read_services("loadbalancer {\n instances 1;\n}\n") == []


def test_domain_without_sub_domain_or_hosts_anywhere():
    (service,) = read_services(
        "services {\n s {\n  domains {\n   d {\n    tenant_range *;\n   }\n  }\n }\n}\n"
    )
    assert service.domains[0].hosts == ()
    assert service.domains[0].sub_domain is None
    assert service.domains[0].tenant_range == "*"


def test_semantic_tree_ignores_layout_and_comments_but_not_values():
    first = parse_loadbalancer("a {\n  hosts x, y;\n  # note\n  b {\n  }\n}\n").children
    second = parse_loadbalancer("# head\na   {   # c\n\thosts x,y;\n\tb {\n}\n}").children
    third = parse_loadbalancer("a {\n  hosts x, z;\n  b {\n  }\n}\n").children
    assert semantic_tree(first) == semantic_tree(second)
    assert semantic_tree(first) != semantic_tree(third)


def test_node_types():
    conf = parse_loadbalancer("a {\n  k v w;\n}\n")
    (block,) = conf.children
    assert isinstance(block, Block)
    (prop,) = block.children
    assert isinstance(prop, Property)
    # The value is everything between the key and ';', as the ELB takes it.
    assert (prop.key, prop.value, prop.line.number) == ("k", "v w", 2)


# ---------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        pytest.param("a {\n}\n}\n", 3, id="unexpected-closing-brace"),
        pytest.param(
            "services {\n    esb {\n        hosts a.example\n        domains {\n",
            3,
            id="missing-semicolon-before-block",
        ),
        pytest.param("a {\n  hosts a.example\n}\n", 2, id="missing-semicolon"),
        pytest.param("a {\n  b c; }\n", 2, id="brace-after-value"),
        pytest.param("a {\n  b c;\n  } }\n", 3, id="two-closing-braces"),
        pytest.param("a { b {\n}\n", 1, id="text-after-opening-brace"),
        pytest.param("a {\n  key;\n}\n", 2, id="property-without-value"),
        pytest.param("a {\n  b c; d e;\n}\n", 2, id="two-statements"),
        pytest.param("\n\nlocation /x {\n}\n", 3, id="block-name-with-space"),
        pytest.param("a {\n  {\n  }\n}\n", 2, id="block-without-name"),
    ],
)
def test_syntax_errors_name_the_file_and_line(text, line_number):
    with pytest.raises(ConfigFileError) as raised:
        parse_loadbalancer(text, path="/opt/wso2/elb/repository/conf/loadbalancer.conf")
    assert raised.value.message.startswith(
        f"/opt/wso2/elb/repository/conf/loadbalancer.conf, line {line_number}:"
    )
    assert raised.value.hint


def test_patch_reports_syntax_errors_with_the_path():
    with pytest.raises(ConfigFileError, match=r"^conf/lb.conf, line 3:"):
        patch_loadbalancer(b"services {\n}\n}\n", SEED_SETTINGS, path="conf/lb.conf")


def test_a_variable_with_braces_is_a_value():
    conf = parse_loadbalancer("a {\n  payload ${HOME}/x;\n}\n")
    assert conf.blocks()[0].properties() == {"payload": "${HOME}/x"}


# ---------------------------------------------------------------- the patch: golden files


@pytest.mark.parametrize("name", ["existing_service", "missing_service", "no_services", "unclosed_services"])
def test_patch_golden(name):
    before = (GOLDEN_DIR / f"{name}.before.conf").read_bytes()
    after = (GOLDEN_DIR / f"{name}.after.conf").read_bytes()
    assert patch_loadbalancer(before, SEED_SETTINGS) == after
    assert patch_loadbalancer(after, SEED_SETTINGS) is after


def test_golden_replacement_is_exactly_the_seed_shape():
    after = (GOLDEN_DIR / "existing_service.after.conf").read_text()
    # The esb block's own opening line (with its comment) is kept; the body is the seed's.
    assert SEED_ESB_BLOCK.replace("    esb {\n", "    esb {   # the cluster the installer manages\n") in after


def test_indentation_follows_the_file():
    tabbed = (GOLDEN_DIR / "missing_service.after.conf").read_text()
    assert "\tesb {\n\t\tdomains   {\n\t\t\twso2.esb.domain {\n\t\t\t\thosts mgt.esb.wso2.com;\n" in tabbed
    two_spaces = (GOLDEN_DIR / "no_services.after.conf").read_text()
    assert "\nservices {\n  esb {\n    domains   {\n      wso2.esb.domain {\n" in two_spaces


def test_without_any_indentation_hint_four_spaces_are_used():
    out = patch_loadbalancer(b"# nothing here yet\n", SEED_SETTINGS).decode()
    assert out == "# nothing here yet\n\nservices {\n" + SEED_ESB_BLOCK + "}\n"
    assert patch_loadbalancer(b"", SEED_SETTINGS).decode() == "services {\n" + SEED_ESB_BLOCK + "}\n"


# ---------------------------------------------------------------- the patch: behaviour


def test_no_change_when_the_values_already_hold_despite_layout_and_comments():
    already = (
        b"services {\n"
        b"\tesb {\n"
        b"\t\t# set up by hand\n"
        b"\t\tdomains {\n"
        b"\t\t\twso2.esb.domain {   # manager\n"
        b"\t\t\t\thosts\tmgt.esb.wso2.com ;\n"
        b"\t\t\t\tsub_domain mgt;\n"
        b"\t\t\t\ttenant_range *;\n"
        b"\t\t\t}\n"
        b"\t\t\twso2.esb.domain {\n"
        b"\t\t\t\thosts worker.esb.wso2.com;\n"
        b"\t\t\t\tsub_domain   worker;\n"
        b"\t\t\t\ttenant_range *;\n"
        b"\t\t\t}\n"
        b"\t\t}\n"
        b"\t}\n"
        b"}"
    )
    assert patch_loadbalancer(already, SEED_SETTINGS) is already


@pytest.mark.parametrize(
    "esb_block",
    [
        pytest.param(SEED_ESB_BLOCK.replace("sub_domain worker", "sub_domain workers"), id="other-value"),
        pytest.param(
            SEED_ESB_BLOCK.replace("        domains", "        hosts esb.example;\n        domains"),
            id="extra-property",
        ),
        pytest.param(
            SEED_ESB_BLOCK.replace("mgt", "TEMPORARY")
            .replace("worker", "mgt")
            .replace("TEMPORARY", "worker"),
            id="domains-swapped",
        ),
        pytest.param(
            SEED_ESB_BLOCK.replace(
                "            wso2.esb.domain {\n                hosts worker.esb.wso2.com;\n"
                "                sub_domain worker;\n                tenant_range    *;\n            }\n",
                "",
            ),
            id="one-domain-missing",
        ),
    ],
)
def test_any_semantic_difference_is_rewritten(esb_block):
    before = ("services {\n" + esb_block + "}\n").encode()
    assert before != ("services {\n" + SEED_ESB_BLOCK + "}\n").encode()
    assert patch_loadbalancer(before, SEED_SETTINGS) == ("services {\n" + SEED_ESB_BLOCK + "}\n").encode()


def test_domains_follow_the_settings_order_and_count():
    settings = LoadBalancerSettings(
        "esb",
        (
            LbServiceDomain("wso2.esb.domain", ("worker.esb.wso2.com", "w2.esb.wso2.com"), "worker", "1-10"),
            LbServiceDomain("wso2.esb.domain", ("mgt.esb.wso2.com",), "mgt", "*"),
            LbServiceDomain("other.domain", ("x.example",), "worker", "*"),
        ),
    )
    out = patch_loadbalancer((GOLDEN_DIR / "existing_service.before.conf").read_bytes(), settings)
    assert esb_domains(out) == [
        ("wso2.esb.domain", ("worker.esb.wso2.com", "w2.esb.wso2.com"), "worker", "1-10"),
        ("wso2.esb.domain", ("mgt.esb.wso2.com",), "mgt", "*"),
        ("other.domain", ("x.example",), "worker", "*"),
    ]
    assert "hosts worker.esb.wso2.com,w2.esb.wso2.com;" in out.decode()


def test_another_service_name_leaves_esb_alone():
    before = (GOLDEN_DIR / "existing_service.before.conf").read_bytes()
    settings = LoadBalancerSettings("esb2", SEED_SETTINGS.domains)
    out = patch_loadbalancer(before, settings)
    services = {service.name: service for service in read_services(out)}
    assert services["esb"] == {service.name: service for service in read_services(before)}["esb"]
    assert [domain.sub_domain for domain in services["esb2"].domains] == ["mgt", "worker"]


def test_two_blocks_for_the_service_are_refused():
    twice = ("services {\n" + SEED_ESB_BLOCK + SEED_ESB_BLOCK + "}\n").encode()
    with pytest.raises(ConfigFileError, match=r"2 'esb' blocks \(lines 2, 16\)"):
        patch_loadbalancer(twice, SEED_SETTINGS)


def test_crlf_file_gets_crlf_lines():
    before = b"services {\r\n    appserver {\r\n        domains {\r\n            d {\r\n            }\r\n        }\r\n    }\r\n}\r\n"
    out = patch_loadbalancer(before, SEED_SETTINGS)
    assert out.count(b"\n") == out.count(b"\r\n")
    assert out.startswith(before[: before.rindex(b"}")])
    assert esb_domains(out) == SEED_ESB_DOMAINS


def test_bytes_that_are_not_utf8_survive():
    before = b"# caf\xe9 (latin-1 in a comment)\nservices {\n}\n"
    out = patch_loadbalancer(before, SEED_SETTINGS)
    assert out.startswith(b"# caf\xe9 (latin-1 in a comment)\nservices {\n")
    assert patch_loadbalancer(out, SEED_SETTINGS) is out


@pytest.mark.parametrize(
    "settings",
    [
        LoadBalancerSettings("esb", ()),
        LoadBalancerSettings("", SEED_SETTINGS.domains),
        LoadBalancerSettings("esb", (LbServiceDomain("wso2.esb.domain", ("a.example; b",), "mgt", "*"),)),
        LoadBalancerSettings("esb", (LbServiceDomain("wso2 esb", ("a.example",), "mgt", "*"),)),
        LoadBalancerSettings("esb", (LbServiceDomain("wso2.esb.domain", ("a.example",), "mgt", "#"),)),
    ],
)
def test_settings_that_cannot_be_written_are_refused(settings):
    with pytest.raises(ValueError):
        patch_loadbalancer(b"services {\n}\n", settings)


# ---------------------------------------------------------------- conformance over the corpus


def _lines_outside(text: str, first: int, last: int) -> list[str]:
    return [line for number, line in enumerate(text.splitlines(), start=1) if not first <= number <= last]


def _is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(any(candidate == needle for candidate in remaining) for needle in needles)


def _is_esb(node: object) -> bool:
    return isinstance(node, Block) and node.name == "esb"


@pytest.mark.parametrize("path", REAL_LB_CONFS, ids=corpus_id)
def test_patch_conforms_on_every_real_file(path):
    original = path.read_bytes()
    result = patch_loadbalancer(original, SEED_SETTINGS, path=str(path))

    # The result parses, and the ELB would see exactly the asked esb domains.
    result_conf = parse_loadbalancer(decode(result))
    assert esb_domains(result) == SEED_ESB_DOMAINS

    # Every comment line outside the replaced esb block is still there, in order.
    original_text = decode(original)
    original_esb = parse_loadbalancer(original_text).services_block().blocks("esb")
    first, last = (
        (original_esb[0].open_line.number, original_esb[0].close_line.number) if original_esb else (0, -1)
    )
    comments = [line for line in _lines_outside(original_text, first, last) if line.strip().startswith("#")]
    assert _is_subsequence(comments, decode(result).splitlines())

    # Every other service, and everything outside services, means what it meant.
    assert [service for service in read_services(result) if service.name != "esb"] == [
        service for service in read_services(original) if service.name != "esb"
    ]
    original_conf = parse_loadbalancer(original_text)
    assert semantic_tree(
        [node for node in result_conf.services_block().children if not _is_esb(node)]
    ) == semantic_tree([node for node in original_conf.services_block().children if not _is_esb(node)])
    assert semantic_tree(
        [node for node in result_conf.children if node is not result_conf.services_block()]
    ) == (
        semantic_tree([node for node in original_conf.children if node is not original_conf.services_block()])
    )

    # A second run changes nothing.
    assert patch_loadbalancer(result, SEED_SETTINGS, path=str(path)) is result


# ---------------------------------------------------------------- unbalanced braces: refused, never appended twice

ELB_CONFS_TO_BREAK = [
    CARBON_CONFIGS_DIR / "af-elb-2.0.3" / "repository" / "conf" / "loadbalancer.conf",
    CARBON_CONFIGS_DIR / "elb-2.0.4" / "repository" / "conf" / "loadbalancer.conf",
]


def _insert_after(data: bytes, opening: bytes, new_line: bytes) -> tuple[bytes, int]:
    """``data`` with ``new_line`` inserted after the first line that reads ``opening``; its line number."""
    lines = data.splitlines(keepends=True)
    index = next(number for number, line in enumerate(lines) if line.strip() == opening)
    return b"".join([*lines[: index + 1], new_line, *lines[index + 1 :]]), index + 2


def _line_of(data: bytes, text: bytes) -> int:
    return next(number for number, line in enumerate(data.splitlines(), start=1) if line.strip() == text)


@pytest.mark.parametrize("path", ELB_CONFS_TO_BREAK, ids=corpus_id)
def test_an_extra_brace_outside_services_is_refused_with_the_unclosed_block(path):
    # The extra '{' swallows the 'loadbalancer' block's '}': services ends up inside it, the file
    # has no top-level services, and each run used to append one more (never reaching done).
    broken, extra_line = _insert_after(path.read_bytes(), b"loadbalancer {", b"    extra {\n")
    with pytest.raises(ConfigFileError) as raised:
        patch_loadbalancer(broken, SEED_SETTINGS, path="/opt/wso2/elb/loadbalancer.conf")
    message = raised.value.message
    assert message.startswith(
        f"/opt/wso2/elb/loadbalancer.conf, line {_line_of(broken, b'loadbalancer {')}: "
        "block 'loadbalancer' is never closed"
    )
    assert f"closes 'extra' (line {extra_line})" in message
    assert raised.value.hint


@pytest.mark.parametrize("path", ELB_CONFS_TO_BREAK, ids=corpus_id)
def test_an_extra_brace_inside_services_is_refused(path):
    # Balanced but for one: the file's last '}' (at the start of its line, where a top-level block
    # ends) now closes 'extra', and every service after it is read inside 'extra'.
    broken, extra_line = _insert_after(path.read_bytes(), b"services {", b"    extra {\n")
    with pytest.raises(ConfigFileError) as raised:
        patch_loadbalancer(broken, SEED_SETTINGS, path="lb.conf")
    assert raised.value.message.startswith(
        f"lb.conf, line {_line_of(broken, b'services {')}: block 'services' is never closed"
    )
    assert f"closes 'extra' (line {extra_line})" in raised.value.message


@pytest.mark.parametrize("path", ELB_CONFS_TO_BREAK, ids=corpus_id)
def test_a_missing_final_brace_is_read_as_the_elb_does_and_patched_once(path):
    # As shipped in ELB 2.0.5: the ELB closes 'services' at the end of the file. Our block goes
    # inside it, and the result is a fixed point: a second run is a no-op, never a second block.
    original = path.read_bytes()
    broken = original.rstrip()
    assert broken.endswith(b"}")
    broken = broken[:-1]
    once = patch_loadbalancer(broken, SEED_SETTINGS)
    assert patch_loadbalancer(once, SEED_SETTINGS) is once
    assert once.count(b"services {") == 1 and once.count(b" esb {") == 1
    assert esb_domains(once) == SEED_ESB_DOMAINS
    assert [service for service in read_services(once) if service.name != "esb"] == [
        service for service in read_services(original) if service.name != "esb"
    ]


def test_nested_unclosed_blocks_are_all_named():
    with pytest.raises(ConfigFileError) as raised:
        patch_loadbalancer(b"services {\n    esb {\n        domains {\n", SEED_SETTINGS, path="lb.conf")
    message = raised.value.message
    assert message.startswith("lb.conf, line 1: block 'services' is never closed")
    assert "'esb' (line 2)" in message and "'domains' (line 3)" in message


def test_an_unparsable_file_is_refused_before_any_write(tmp_path):
    from installer.files.base import FilePatch

    target = tmp_path / "loadbalancer.conf"
    broken, _ = _insert_after(ELB_CONFS_TO_BREAK[0].read_bytes(), b"loadbalancer {", b"    extra {\n")
    target.write_bytes(broken)
    patch = FilePatch(path=target, label="elb: loadbalancer.conf",
                      transform=lambda original: patch_loadbalancer(original, SEED_SETTINGS, path=str(target)))
    for call in (lambda: patch.check(None), patch.apply):
        with pytest.raises(ConfigFileError, match=rf"^{target}, line \d+: block 'loadbalancer' is never closed"):
            call()
    assert target.read_bytes() == broken
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loadbalancer.conf"]


def test_a_result_that_would_not_read_back_as_patched_is_refused(monkeypatch):
    # The second line of defence, should a structure slip past the brace check: the patch
    # verifies that its own output is already patched, so a run can never append twice.
    from installer.files import lbconf

    monkeypatch.setattr(lbconf, "_check_balanced", lambda conf: None)
    broken, _ = _insert_after(ELB_CONFS_TO_BREAK[0].read_bytes(), b"loadbalancer {", b"    extra {\n")
    with pytest.raises(ConfigFileError, match=r"^lb.conf: the patched file would not read back as patched"):
        patch_loadbalancer(broken, SEED_SETTINGS, path="lb.conf")
