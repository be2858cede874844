"""The marked block in a hosts file: rendering, reading, lookups and shadowing lines."""

from __future__ import annotations

import pytest

from installer.errors import ConfigFileError
from installer.files.hosts import Shadow, read_block, render_hosts, resolve, shadowing_lines

CLUSTER = "wso2.esb.domain"

SEED_MANAGER_ENTRIES = [
    ("192.0.2.206", "carbondb.mysql-wso2.com"),
    ("192.0.2.206", "worker.esb.wso2.com"),
    ("192.0.2.206", "elb.wso2.com"),
]

SEED_MANAGER_BLOCK = (
    b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
    b"192.0.2.206 carbondb.mysql-wso2.com\n"
    b"192.0.2.206 worker.esb.wso2.com\n"
    b"192.0.2.206 elb.wso2.com\n"
    b"# END wso2-cluster-installer wso2.esb.domain\n"
)

DEBIAN_HOSTS = (
    b"127.0.0.1\tlocalhost\n"
    b"127.0.1.1\tserver-206.example.org server-206\n"
    b"\n"
    b"# The following lines are desirable for IPv6 capable hosts\n"
    b"::1     localhost ip6-localhost ip6-loopback\n"
    b"ff02::1 ip6-allnodes\n"
    b"ff02::2 ip6-allrouters\n"
)

OTHER_CLUSTER_BLOCK = (
    b"# BEGIN wso2-cluster-installer wso2.as.domain\n"
    b"192.0.2.50 as.example.org\n"
    b"# END wso2-cluster-installer wso2.as.domain\n"
)


# ---------------------------------------------------------------- render_hosts


def test_block_is_appended_after_everything_else():
    assert render_hosts(DEBIAN_HOSTS, CLUSTER, SEED_MANAGER_ENTRIES) == DEBIAN_HOSTS + SEED_MANAGER_BLOCK


def test_file_without_trailing_newline_gets_one_before_the_block():
    original = b"127.0.0.1 localhost\n# last line, no newline"
    assert render_hosts(original, CLUSTER, SEED_MANAGER_ENTRIES) == original + b"\n" + SEED_MANAGER_BLOCK


def test_empty_file_gets_just_the_block():
    assert render_hosts(b"", CLUSTER, SEED_MANAGER_ENTRIES) == SEED_MANAGER_BLOCK


def test_second_run_returns_the_same_object():
    once = render_hosts(DEBIAN_HOSTS, CLUSTER, SEED_MANAGER_ENTRIES)
    assert render_hosts(once, CLUSTER, SEED_MANAGER_ENTRIES) is once


def test_block_is_replaced_where_it_stands():
    before = (
        b"127.0.0.1 localhost\n"
        b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
        b"10.0.0.1 elb.wso2.com\n"
        b"# END wso2-cluster-installer wso2.esb.domain\n"
        b"\n"
        b"# an operator's comment below our block\n"
        b"10.0.0.9 backup.example.org\n"
    )
    after = render_hosts(before, CLUSTER, SEED_MANAGER_ENTRIES)
    assert after == (
        b"127.0.0.1 localhost\n"
        + SEED_MANAGER_BLOCK
        + b"\n# an operator's comment below our block\n10.0.0.9 backup.example.org\n"
    )


def test_entries_keep_their_order_and_duplicates_addresses():
    entries = [("192.0.2.132", "b.example"), ("192.0.2.206", "a.example"), ("192.0.2.206", "c.example")]
    out = render_hosts(b"", CLUSTER, entries)
    assert out.splitlines()[1:4] == [
        b"192.0.2.132 b.example",
        b"192.0.2.206 a.example",
        b"192.0.2.206 c.example",
    ]


def test_a_different_order_is_a_change():
    once = render_hosts(b"", CLUSTER, SEED_MANAGER_ENTRIES)
    reordered = list(reversed(SEED_MANAGER_ENTRIES))
    again = render_hosts(once, CLUSTER, reordered)
    assert again != once
    assert read_block(again, CLUSTER) == reordered


def test_other_clusters_blocks_are_untouched():
    before = OTHER_CLUSTER_BLOCK + b"127.0.0.1 localhost\n"
    after = render_hosts(before, CLUSTER, SEED_MANAGER_ENTRIES)
    assert after == before + SEED_MANAGER_BLOCK
    assert render_hosts(after, "wso2.as.domain", []) == b"127.0.0.1 localhost\n" + SEED_MANAGER_BLOCK


def test_a_cluster_id_that_extends_ours_is_another_cluster():
    longer = (
        b"# BEGIN wso2-cluster-installer wso2.esb.domain2\n"
        b"10.0.0.2 elb.wso2.com\n"
        b"# END wso2-cluster-installer wso2.esb.domain2\n"
    )
    assert read_block(longer, CLUSTER) is None
    assert render_hosts(longer, CLUSTER, SEED_MANAGER_ENTRIES) == longer + SEED_MANAGER_BLOCK


def test_comments_and_blank_lines_outside_are_preserved_byte_for_byte():
    before = b"  # indented comment\t\n\n\n127.0.0.1   localhost   # trailing\n\t\n#\xe9t\xe9 (latin-1)\n"
    after = render_hosts(before, CLUSTER, SEED_MANAGER_ENTRIES)
    assert after == before + SEED_MANAGER_BLOCK
    assert render_hosts(after, CLUSTER, []) == before


def test_empty_entries_remove_the_block_and_only_it():
    with_block = b"127.0.0.1 localhost\n" + SEED_MANAGER_BLOCK + b"10.0.0.9 after.example\n"
    assert render_hosts(with_block, CLUSTER, []) == b"127.0.0.1 localhost\n10.0.0.9 after.example\n"


def test_empty_entries_without_a_block_change_nothing():
    assert render_hosts(DEBIAN_HOSTS, CLUSTER, []) is DEBIAN_HOSTS


def test_hand_edited_block_is_rewritten_to_exactly_our_lines():
    edited = (
        b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
        b"192.0.2.206\tcarbondb.mysql-wso2.com   # tabbed by hand\n"
        b"192.0.2.206 worker.esb.wso2.com\n"
        b"192.0.2.206 elb.wso2.com\n"
        b"# END wso2-cluster-installer wso2.esb.domain\n"
    )
    assert render_hosts(edited, CLUSTER, SEED_MANAGER_ENTRIES) == SEED_MANAGER_BLOCK


def test_end_marker_without_newline_at_end_of_file():
    before = b"127.0.0.1 localhost\n" + SEED_MANAGER_BLOCK.rstrip(b"\n")
    after = render_hosts(before, CLUSTER, SEED_MANAGER_ENTRIES)
    assert after == b"127.0.0.1 localhost\n" + SEED_MANAGER_BLOCK
    assert render_hosts(after, CLUSTER, SEED_MANAGER_ENTRIES) is after


def test_crlf_file_gets_crlf_lines():
    before = b"127.0.0.1 localhost\r\n"
    after = render_hosts(before, CLUSTER, SEED_MANAGER_ENTRIES)
    assert after == before + SEED_MANAGER_BLOCK.replace(b"\n", b"\r\n")
    assert render_hosts(after, CLUSTER, SEED_MANAGER_ENTRIES) is after


@pytest.mark.parametrize(
    ("cluster_id", "entries"),
    [
        ("", SEED_MANAGER_ENTRIES),
        ("wso2 esb", SEED_MANAGER_ENTRIES),
        (CLUSTER, [("192.0.2.206", "two names")]),
        (CLUSTER, [("192.0.2.206", "")]),
        (CLUSTER, [("192.0.2.206", "name#comment")]),
        (CLUSTER, [("carbondb.mysql-wso2.com", "elb.wso2.com")]),
        (CLUSTER, [("192.0.2.300", "elb.wso2.com")]),
    ],
)
def test_values_that_are_not_one_field_are_refused(cluster_id, entries):
    with pytest.raises(ValueError):
        render_hosts(b"", cluster_id, entries)


def test_ipv6_addresses_are_accepted():
    out = render_hosts(b"", CLUSTER, [("2001:db8::6", "elb.wso2.com")])
    assert resolve(out, "elb.wso2.com") == "2001:db8::6"


# ---------------------------------------------------------------- malformed blocks


@pytest.mark.parametrize(
    ("data", "line_number", "what"),
    [
        pytest.param(
            b"127.0.0.1 localhost\n# BEGIN wso2-cluster-installer wso2.esb.domain\n10.0.0.1 elb.wso2.com\n",
            2,
            "no matching END",
            id="begin-without-end",
        ),
        pytest.param(
            b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
            b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
            b"# END wso2-cluster-installer wso2.esb.domain\n",
            2,
            "second",
            id="nested-begins",
        ),
        pytest.param(
            SEED_MANAGER_BLOCK + b"\n" + SEED_MANAGER_BLOCK,
            7,
            "second",
            id="two-blocks",
        ),
        pytest.param(
            b"\n\n# END wso2-cluster-installer wso2.esb.domain\n",
            3,
            "without a BEGIN",
            id="end-without-begin",
        ),
    ],
)
def test_malformed_block_is_an_error_with_the_line(data, line_number, what):
    for call in (
        lambda: render_hosts(data, CLUSTER, SEED_MANAGER_ENTRIES, path="/etc/hosts"),
        lambda: read_block(data, CLUSTER, path="/etc/hosts"),
        lambda: shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES, path="/etc/hosts"),
    ):
        with pytest.raises(ConfigFileError) as raised:
            call()
        assert raised.value.message.startswith(f"/etc/hosts, line {line_number}:")
        assert what in raised.value.message
        assert raised.value.hint


def test_another_clusters_broken_block_is_not_our_problem():
    broken_other = b"# BEGIN wso2-cluster-installer wso2.as.domain\n192.0.2.50 as.example.org\n"
    assert render_hosts(broken_other, CLUSTER, SEED_MANAGER_ENTRIES) == broken_other + SEED_MANAGER_BLOCK


# ---------------------------------------------------------------- read_block


def test_read_block_returns_the_pairs_in_order():
    data = render_hosts(DEBIAN_HOSTS, CLUSTER, SEED_MANAGER_ENTRIES)
    assert read_block(data, CLUSTER) == SEED_MANAGER_ENTRIES


def test_read_block_absent_and_empty():
    assert read_block(DEBIAN_HOSTS, CLUSTER) is None
    empty = b"# BEGIN wso2-cluster-installer wso2.esb.domain\n# END wso2-cluster-installer wso2.esb.domain\n"
    assert read_block(empty, CLUSTER) == []


def test_read_block_tolerates_hand_edits():
    edited = (
        b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
        b"\n"
        b"# a comment\n"
        b"192.0.2.206\telb.wso2.com mgt.esb.wso2.com  # two names\n"
        b"# END wso2-cluster-installer wso2.esb.domain"
    )
    assert read_block(edited, CLUSTER) == [
        ("192.0.2.206", "elb.wso2.com"),
        ("192.0.2.206", "mgt.esb.wso2.com"),
    ]


# ---------------------------------------------------------------- resolve


def test_resolve_takes_the_first_line_naming_the_host():
    data = b"10.0.0.1 other.example\n10.0.0.2 elb.wso2.com\n10.0.0.3 elb.wso2.com\n"
    assert resolve(data, "elb.wso2.com") == "10.0.0.2"


def test_resolve_matches_aliases_case_insensitively():
    data = b"10.0.0.1 canonical.example ELB.wso2.com\n"
    assert resolve(data, "elb.WSO2.com") == "10.0.0.1"
    assert resolve(data, "CANONICAL.example") == "10.0.0.1"


def test_resolve_skips_comments_and_unparsable_lines():
    data = (
        b"# 10.0.0.1 elb.wso2.com\n"
        b"10.0.0.2 other.example # elb.wso2.com\n"
        b"not-an-address elb.wso2.com\n"
        b"10.0.0.4\n"
        b"  10.0.0.5   elb.wso2.com\n"
    )
    assert resolve(data, "elb.wso2.com") == "10.0.0.5"


def test_resolve_unknown_name_and_partial_names():
    assert resolve(DEBIAN_HOSTS, "elb.wso2.com") is None
    assert resolve(b"10.0.0.1 elb.wso2.com.example\n", "elb.wso2.com") is None
    assert resolve(DEBIAN_HOSTS, "localhost") == "127.0.0.1"


def test_resolve_sees_our_block_like_any_other_lines():
    data = render_hosts(DEBIAN_HOSTS, CLUSTER, SEED_MANAGER_ENTRIES)
    assert resolve(data, "carbondb.mysql-wso2.com") == "192.0.2.206"


# ---------------------------------------------------------------- shadowing_lines


def test_nothing_shadows_in_a_clean_file():
    data = render_hosts(DEBIAN_HOSTS, CLUSTER, SEED_MANAGER_ENTRIES)
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == []


def test_a_line_above_with_another_address_shadows():
    data = b"127.0.0.1 localhost\n10.0.0.7 Elb.wso2.com elb\n" + SEED_MANAGER_BLOCK
    shadows = shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES)
    assert shadows == [Shadow(line_number=2, hostname="elb.wso2.com", address="10.0.0.7")]
    assert str(shadows[0]) == "line 2 maps elb.wso2.com to 10.0.0.7"
    # And it really would win for a first-line lookup.
    assert resolve(data, "elb.wso2.com") == "10.0.0.7"


def test_before_the_block_exists_every_conflicting_line_is_reported():
    data = (
        b"10.0.0.7 elb.wso2.com\n127.0.0.1 localhost\n10.0.0.8 worker.esb.wso2.com carbondb.mysql-wso2.com\n"
    )
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == [
        Shadow(1, "elb.wso2.com", "10.0.0.7"),
        Shadow(3, "carbondb.mysql-wso2.com", "10.0.0.8"),
        Shadow(3, "worker.esb.wso2.com", "10.0.0.8"),
    ]


def test_a_line_below_the_block_is_reported_too():
    # getaddrinfo gathers every line naming the host and may sort the other address first.
    data = SEED_MANAGER_BLOCK + b"10.0.0.7 elb.wso2.com\n"
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == [Shadow(6, "elb.wso2.com", "10.0.0.7")]


def test_same_address_elsewhere_does_not_shadow():
    data = b"192.0.2.206 elb.wso2.com\n" + OTHER_CLUSTER_BLOCK
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == []
    assert shadowing_lines(b"2001:db8:0::6 elb.wso2.com\n", CLUSTER, [("2001:db8::6", "elb.wso2.com")]) == []


def test_lines_inside_our_block_never_shadow():
    stale_block = (
        b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
        b"10.0.0.1 elb.wso2.com\n"
        b"# END wso2-cluster-installer wso2.esb.domain\n"
    )
    assert shadowing_lines(stale_block, CLUSTER, SEED_MANAGER_ENTRIES) == []


def test_another_clusters_block_can_shadow():
    data = (
        b"# BEGIN wso2-cluster-installer wso2.other.domain\n"
        b"10.0.0.3 carbondb.mysql-wso2.com\n"
        b"# END wso2-cluster-installer wso2.other.domain\n"
    )
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == [
        Shadow(2, "carbondb.mysql-wso2.com", "10.0.0.3")
    ]


def test_commented_out_and_unrelated_lines_do_not_shadow():
    data = b"# 10.0.0.7 elb.wso2.com\n10.0.0.8 elb.wso2.com.example notelb.wso2.com\n"
    assert shadowing_lines(data, CLUSTER, SEED_MANAGER_ENTRIES) == []


# ---------------------------------------------------------------- a file that is not a hosts file

PASSWD_LIKE = (
    b"root:x:0:0:root:/root:/bin/bash\n"
    b"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
)


@pytest.mark.parametrize(
    ("data", "line_number"),
    [
        pytest.param(PASSWD_LIKE, 1, id="passwd-like"),
        # The plan YAML itself given as its own hosts_file.
        pytest.param(b"# the seed\nversion: 1\ncluster:\n  domain: wso2.esb.domain\n", 2, id="plan-yaml"),
        pytest.param(DEBIAN_HOSTS + b"192.0.2.300 bad.example\n", 8, id="bad-ipv4"),
        pytest.param(DEBIAN_HOSTS + b"10.0.0.4\n", 8, id="address-without-name"),
        pytest.param(b"127.0.0.1 localhost\nelb.wso2.com 10.0.0.1\n", 2, id="name-first"),
        # A line of another cluster's block is an operator's line like any other.
        pytest.param(OTHER_CLUSTER_BLOCK.replace(b"192.0.2.50 ", b"192.0.2.50:"), 2, id="other-block"),
    ],
)
def test_a_file_that_does_not_parse_as_a_hosts_file_is_refused_with_its_line(data, line_number):
    with pytest.raises(ConfigFileError) as raised:
        render_hosts(data, CLUSTER, SEED_MANAGER_ENTRIES, path="/srv/plan/hosts")
    assert raised.value.message.startswith(f"/srv/plan/hosts, line {line_number}:")
    assert raised.value.hint
    # Removing our block writes the file too: the same refusal.
    with pytest.raises(ConfigFileError):
        render_hosts(data, CLUSTER, [], path="/srv/plan/hosts")


def test_hosts_syntax_accepts_what_real_hosts_files_hold():
    data = (
        b"127.0.0.1\tlocalhost\n"
        b"  ::1 localhost6   ip6-localhost # trailing comment\n"
        b"fe80::1%lo0 link-local\n"
        b"\t\n"
        b"#10.0.0.1 commented out\n"
        b"192.0.2.7 a.example b c\r\n"
    )
    assert render_hosts(data, CLUSTER, SEED_MANAGER_ENTRIES).startswith(data)


def test_our_own_block_is_rewritten_whatever_it_holds():
    # Lines inside our block are ours: replaced, never a reason to refuse.
    garbled = (
        b"127.0.0.1 localhost\n"
        b"# BEGIN wso2-cluster-installer wso2.esb.domain\n"
        b"half a line with no addr\n"
        b"# END wso2-cluster-installer wso2.esb.domain\n"
    )
    assert render_hosts(garbled, CLUSTER, SEED_MANAGER_ENTRIES) == b"127.0.0.1 localhost\n" + SEED_MANAGER_BLOCK
