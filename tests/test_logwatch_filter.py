"""Catching up a log by searching chunks before parsing lines: the strings a pattern requires, the
lines a filter keeps, and the same results as reading every line, whatever the log looks like
(multi-line entries, stack traces, lines split across reads, CRLF, a partial last line, bytes
that are not UTF-8, over-long lines, rotation, truncation)."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from installer import launch
from installer.expectations import (
    MilestoneState,
    MilestoneWatch,
    cross_node_expectations,
    expectations_for,
)
from installer.logwatch import SAMPLE_BYTES, LineFilter, LogFollower, LogLine, required_literals
from installer.plan.check import check_plan
from installer.processes import CARBON_LOG
from tests.support.plans import write_seed_plan
from tests.test_expectations import (
    CARBON_STARTED,
    CLUSTER_VALUES,
    ELB_SEES_MANAGER,
    ELB_VALUES,
    FAILURE_CASES,
    SEED_ELB,
    SEED_ELB_SEES_WORKER1,
    SEED_WORKER1,
    WORKER1_VALUES,
    console_form,
    file_form,
    seed_form,
)

# Lines no milestone or signature wants, in the shapes a Carbon log has.
NOISE = [
    "TID: [0] [ESB] [2013-08-20 12:27:08,123]  INFO {org.apache.synapse.mediators.builtin.LogMediator} -  "
    "To: /services/echo, MessageID: urn:uuid:0000, Direction: request {org.apache.synapse.mediators.builtin.LogMediator}",
    "[2013-08-20 12:27:08,123]  INFO - DeploymentInterceptor Deploying Axis2 service: echo {super-tenant}",
    "TID: [0] [ESB] [2013-08-20 12:27:08,123]  WARN {org.apache.axis2.transport.http.HTTPSender} -  "
    "Unable to sendViaPost to url[http://localhost:9000/services/SimpleStockQuoteService]",
    "\tat org.apache.axis2.engine.AxisEngine.send(AxisEngine.java:443)",
    "\tat java.lang.Thread.run(Thread.java:662)",
    "org.apache.axis2.AxisFault: Read timed out",
    "Caused by: java.net.SocketTimeoutException: Read timed out",
    "\t... 12 more",
    "",
    "   ",
    "INFO - TribesUtil No members in current cluster",
    "[2013-08-20 12:27:08,123]  INFO - ServiceBusInitializer Starting ESB...",
]


# --- the strings a pattern requires ---------------------------------------------------------------------

def test_required_literals_of_the_shapes_a_pattern_has():
    assert required_literals(r"^Cluster domain: wso2\.esb\.domain$") == {"Cluster domain: wso2.esb.domain"}
    assert required_literals(r"(?:java\.net\.BindException|Address already in use)(?:.*?:(?P<port>\d+))?") == {
        "java.net.BindException", "Address already in use"}
    assert required_literals(r"(ab)?cd+e") == {"cd"}  # the optional group asks for nothing; "cd", "de" tie
    assert required_literals(r"x{2}yz") == {"xxyz"}
    # The parser moves a common prefix out of the branches; each gets it back.
    assert required_literals(r"ClassNotFoundException|Cannot load JDBC") == {"ClassNotFoundException",
                                                                            "Cannot load JDBC"}
    assert required_literals(r"(?i:mysql).*Connection refused") == {"Connection refused"}
    assert required_literals(r"(?i)connection refused") is None
    assert required_literals(r"ERROR|.") is None  # a branch that may match anything
    assert required_literals(r"[abc]+\d") is None
    assert required_literals(re.compile(r"x(?=yz)")) == {"x"}


TRICKY_PATTERNS = [
    r"^Receiver Server Socket bound to:[^\s/]*/127\.0\.0\.3:(?!4000$)(?P<port>\d+)$",
    r"Could not allocate|Could not create connection",
    r"ClassNotFoundException:?\s*com\.mysql\.jdbc\.Driver|Cannot load JDBC driver class .com\.mysql\.jdbc\.Driver.",
    r"(?:ab|cd)+ef",
    r"a(?i:b)c",
    r"x{2,3}yz",
    r"(?P<q>'[^']*')\s+done",
    r"é+ü",
]


@pytest.mark.parametrize("pattern", TRICKY_PATTERNS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_text_a_pattern_finds_holds_one_of_its_required_strings(pattern, data):
    text = data.draw(st.from_regex(pattern))
    strings = required_literals(pattern)
    assert strings, pattern
    if re.search(pattern, text):
        assert any(string in text for string in strings), (pattern, text, strings)


@pytest.mark.parametrize(("name", "line", "values", "hint_words", "setting_words"), FAILURE_CASES,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(FAILURE_CASES)])
def test_each_realistic_failure_line_holds_what_its_signature_requires(name, line, values, hint_words,
                                                                         setting_words):
    watch = MilestoneWatch()
    watch.add_node("node", values=values)
    assert watch.line_filter("node").may_match(line)
    assert any(event.signature.name == name for event in watch.feed("node", line))


def test_the_shipped_expectations_can_be_filtered():
    # A signature or milestone without a string it requires would make every line worth
    # parsing again: catching up a large log would cost what it did before.
    watch = MilestoneWatch()
    watch.add_node("elb", milestones=expectations_for("elb", ELB_VALUES), values=ELB_VALUES)
    watch.add_node("worker1", milestones=expectations_for("worker", WORKER1_VALUES), values=WORKER1_VALUES)
    watch.add_cross_node(cross_node_expectations(CLUSTER_VALUES))
    for node in ("elb", "worker1", "unwatched"):
        assert not watch.line_filter(node).keeps_everything, node
    assert not any(watch.line_filter("elb").may_match(line) for line in NOISE if "ERROR" not in line)


# --- the lines a filter keeps -----------------------------------------------------------------------------

def naive_spans(data: bytes, start: int, end: int, literals: list[bytes]) -> list[tuple[int, int]]:
    spans, line_start = [], start
    for part in data[start:end].split(b"\n"):
        if any(literal in part for literal in literals):
            spans.append((line_start, line_start + len(part)))
        line_start += len(part) + 1
    return spans


FRAGMENTS = [b"a", b"b", b"ab", b"ba", b"\n", b"\r\n", b" ", b"ERR", b"OR", b"ERROR", b"\xc3\xa9", b"\xff",
             b"Connection", b" refused", b"x" * 40, b"{", b"}"]


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=120),
       literals=st.lists(st.sampled_from(["ab", "ERROR", "b a", "é", "Connection refused", "}{", "a"]),
                         min_size=1, max_size=4),
       cut=st.tuples(st.integers(0, 20), st.integers(0, 20)))
def test_line_spans_are_exactly_the_lines_that_hold_a_string(pieces, literals, cut):
    data = b"".join(pieces)
    # Regions start at a line's start, as a follower hands them over.
    start = data.find(b"\n", 0, cut[0]) + 1 if b"\n" in data[:cut[0]] else 0
    end = max(start, len(data) - cut[1])
    line_filter = LineFilter(literals)
    encoded = [literal.encode() for literal in literals]
    assert line_filter.line_spans(data, start, end) == naive_spans(data, start, end, encoded)
    for text in data.decode("utf-8", "replace").split("\n"):
        assert line_filter.may_match(text) == any(literal in text for literal in literals)


def test_frequent_and_rare_bytes_alike_after_sampling():
    # Large enough to be sampled; "e" is everywhere, so strings anchored on it go to the
    # regular expression after a few checks; "Q" never occurs until the end.
    lines = [f"line {index} here is some text with letters e e e" for index in range(4000)]
    lines[1234] = "the one with the needle in it"
    lines[2345] = "QUUX at the start"
    lines[-1] = "trailing needle"
    data = "\n".join(lines).encode()
    assert len(data) > SAMPLE_BYTES
    line_filter = LineFilter(["needle", "QUUX", "the one"])
    for _ in range(2):  # the second search runs with the anchors the first one sampled
        assert line_filter.line_spans(data, 0, len(data)) == naive_spans(
            data, 0, len(data), [b"needle", b"QUUX", b"the one"])


def test_strings_that_bytes_cannot_show_are_cut_or_keep_everything():
    assert LineFilter(["abc\ndef"]).literals == {"abc"}  # a line never holds a line break
    assert LineFilter(["\ufffdabcd"]).literals == {"abcd"}  # U+FFFD may stand for other bytes
    assert LineFilter(["\ufffd"]).keeps_everything
    assert LineFilter(["ab", "xaby", "cd"]).literals == {"ab", "cd"}  # finding "ab" finds "xaby"
    assert LineFilter.combine([{"ab"}, None]).keeps_everything
    assert LineFilter.combine([{"ab"}, {"cd", "ef"}]).literals == {"ab", "cd", "ef"}
    everything = LineFilter.everything()
    assert everything.may_match("") and everything.line_spans(b"a\n\nb", 0, 4) == [(0, 1), (2, 2), (3, 4)]


# --- a follower with a filter: the same lines, offsets and numbers ------------------------------------

LITERALS = ["Receiver Server Socket bound to:", "joined application cluster", "ERROR", "Exception", "é"]


def follow_both(log: Path, only: LineFilter, **sizes: int) -> tuple[LogFollower, LogFollower]:
    return (LogFollower(log, start_offset=0, rotation_grace=0.0, **sizes),
            LogFollower(log, start_offset=0, rotation_grace=0.0, **sizes))


def drain(follower: LogFollower, only: LineFilter | None = None) -> list[LogLine]:
    lines: list[LogLine] = []
    while batch := follower.poll(only=only):
        lines.extend(batch)
    return lines


def assert_same(plain: list[LogLine], filtered: list[LogLine], only: LineFilter) -> None:
    # Exactly the lines that hold a string: text, offset, line number, generation, continues.
    assert filtered == [line for line in plain if only.may_match(line.text)]


def awkward_log(copies: int = 3) -> bytes:
    """Multi-line entries, a stack trace, CRLF, bytes that are not UTF-8, a long line, the
    lines the filter wants among them, and no newline at the end."""
    wanted = [*file_form(SEED_ELB), *console_form(SEED_ELB_SEES_WORKER1), FAILURE_CASES[2][1],
              "Caused by: java.net.BindException: Address already in use"]
    parts: list[bytes] = []
    for copy in range(copies):
        for index, line in enumerate(wanted):
            parts.append(NOISE[index % len(NOISE)].encode())
            parts.append(line.encode())
        parts.append(b"TID: [0] [ESB] [2013-08-20 12:27:08,123] ERROR {org.example.Deployer} -  Error deploying\r")
        parts.append(b"java.lang.IllegalStateException: bad state\r")
        parts.append(b"\tat org.example.Deployer.deploy(Deployer.java:12)")
        parts.append(b"bytes \xff\xfe not UTF-8, and \xc3\xa9 is")
        parts.append(b"half a character \xc3 then ERROR")
        parts.append(b"x" * (700 + copy) + b" Exception at the end of a long line")
        parts.append(b"")
    return b"\n".join(parts) + b"\nno newline yet: ERROR"


@pytest.mark.parametrize(("chunk_bytes", "batch_bytes"), [(64 * 1024, 1024 * 1024), (37, 37), (64, 300), (512, 4096)])
def test_a_filtered_catch_up_gives_the_same_lines_as_reading_every_line(tmp_path, chunk_bytes, batch_bytes):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(awkward_log())
    only = LineFilter(LITERALS)
    plain, filtered = follow_both(log, only, chunk_bytes=chunk_bytes, batch_bytes=batch_bytes)
    before = drain(plain)
    after = drain(filtered, only)
    assert_same(before, after, only)
    assert len(after) > 20 and len(after) < len(before) / 2
    # The partial last line comes once it is complete, with the same number.
    with open(log, "ab") as file:
        file.write(b" now complete\n")
    assert_same(drain(plain), drain(filtered, only), only)
    assert plain.position == filtered.position
    plain.close()
    filtered.close()


def test_over_long_lines_come_in_the_same_pieces(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(b"short ERROR\n" + b"y" * 300 + b"ERROR" + b"z" * 500 + b"\xc3\xa9" * 200 + b"\nafter\n"
                    + b"ERROR " * 50 + b"\n")  # over the limit, but short enough for one read
    only = LineFilter(["ERROR", "é"])
    sizes = {"chunk_bytes": 64, "batch_bytes": 128, "max_line_bytes": 256}
    plain, filtered = follow_both(log, only, **sizes)
    before, after = drain(plain), drain(filtered, only)
    assert any(line.continues for line in after)
    assert_same(before, after, only)


def test_rotation_and_truncation_give_the_same_lines(tmp_path):
    log = tmp_path / "wso2carbon.log"
    only = LineFilter(LITERALS)
    # Complete lines only before the rotation: see the next test for an unfinished one.
    log.write_bytes(awkward_log(1) + b"\n")
    plain, filtered = follow_both(log, only, chunk_bytes=100, batch_bytes=400)
    before, after = drain(plain), drain(filtered, only)
    steps = [
        lambda: log.rename(tmp_path / "wso2carbon.log.1"),  # rotated: the old file is finished first
        lambda: log.write_bytes(awkward_log(2)),
        lambda: log.write_bytes(b"copytruncate: ERROR\n"),  # truncated in place, shorter
        lambda: log.write_bytes(awkward_log(1) + b"\n"),  # and rewritten past the old offset
    ]
    for step in steps:
        step()
        before += drain(plain)
        after += drain(filtered, only)
        assert_same(before, after, only)
    assert {line.generation for line in after} == {0, 1, 2, 3}
    plain.close()
    filtered.close()


def test_a_rotation_after_a_long_stretch_of_unwanted_lines_is_not_missed(tmp_path):
    # The old file's rest is more than a poll's budget and holds nothing wanted: the poll must
    # go on to the new file, or it would return nothing and its caller would wait for a write
    # that may never come.
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(b"wanted first\n")
    only = LineFilter(["wanted"])
    with LogFollower(log, start_offset=0, chunk_bytes=64, batch_bytes=256) as follower:
        assert texts(follower.poll(only=only)) == ["wanted first"]
        with open(log, "ab") as file:
            file.write(b"noise\n" * 1000)
        log.rename(tmp_path / "wso2carbon.log.1")
        log.write_bytes(b"noise\nwanted in the new file\n")
        assert texts(follower.poll(only=only)) == ["wanted in the new file"]


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def test_a_rotated_files_unfinished_last_line_comes_out_with_either(tmp_path):
    # It is handed out when the old file's grace period ends, at the next poll: after however
    # many lines of the new file that poll's predecessors read, and numbered there. Reading
    # every line or only some, the lines before it differ in number, so its number may too.
    log = tmp_path / "wso2carbon.log"
    only = LineFilter(LITERALS)
    log.write_bytes(awkward_log(1))
    plain, filtered = follow_both(log, only, chunk_bytes=100, batch_bytes=400)
    before, after = drain(plain), drain(filtered, only)
    log.rename(tmp_path / "wso2carbon.log.1")
    log.write_bytes(awkward_log(2))
    before += drain(plain)
    after += drain(filtered, only)

    def by_file(lines: list[LogLine]) -> dict[int, list[tuple[str, int]]]:
        files: dict[int, list[tuple[str, int]]] = {}
        for line in lines:
            files.setdefault(line.generation, []).append((line.text, line.offset))
        return files

    assert by_file(after) == by_file([line for line in before if only.may_match(line.text)])
    assert ("no newline yet: ERROR", len(awkward_log(1)) - len("no newline yet: ERROR")) in by_file(after)[0]
    plain.close()
    filtered.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=30), min_size=1, max_size=8),
       chunk_bytes=st.integers(1, 40), extra=st.integers(0, 60))
def test_any_sequence_of_writes_gives_the_same_lines(tmp_path_factory, writes, chunk_bytes, extra):
    log = tmp_path_factory.mktemp("writes") / "wso2carbon.log"
    log.write_bytes(b"")
    only = LineFilter(["ab", "ERROR", "é", "Connection refused"])
    plain, filtered = follow_both(log, only, chunk_bytes=chunk_bytes, batch_bytes=chunk_bytes + extra,
                                  max_line_bytes=max(chunk_bytes, 64))
    before: list[LogLine] = []
    after: list[LogLine] = []
    with open(log, "ab") as file:
        for pieces in writes:
            file.write(b"".join(pieces))
            file.flush()
            before += drain(plain)
            after += drain(filtered, only)
            assert_same(before, after, only)
    plain.close()
    filtered.close()


def test_follow_with_a_filter_yields_only_the_wanted_lines(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    follower = LogFollower(log)
    stop = threading.Event()
    seen: list[str] = []

    def run() -> None:
        for line in follower.follow(stop, only=LineFilter(["wanted"])):
            seen.append(line.text)
            if len(seen) == 2:
                stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    with open(log, "a") as file:
        file.write("noise\n" * 50_000 + "the wanted one\nnoise\n")
        file.flush()
        file.write("and wanted again\n")
    thread.join(10)
    follower.close()
    assert seen == ["the wanted one", "and wanted again"]


# --- the watch: the same events as parsing every line --------------------------------------------------

def unfiltered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch as it was before filtering: every line read, parsed and matched."""
    monkeypatch.setattr(MilestoneWatch, "_filter_for", lambda self, node: LineFilter.everything())


def watch_log_lines(layout) -> bytes:
    lines = [*layout(SEED_WORKER1), *(line for _, line, *_ in FAILURE_CASES if "4001" not in line)]
    lines += ["INFO - WkaBasedMembershipScheme No responses received from WKA members"] * 2
    parts = []
    for index, line in enumerate(lines):
        parts += [NOISE[index % len(NOISE)], line]
        if index % 5 == 0:
            parts += [NOISE[3], NOISE[4], NOISE[6]]  # a stack trace after it
    text = "\r\n".join(parts) if layout is console_form else "\n".join(parts)
    return text.encode() + b"\n\xff\xfe ERROR - trailing bytes that are not UTF-8\n" + CARBON_STARTED.encode()


def run_watch(log: Path, *, filtered: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with monkeypatch.context() as patch:
        if not filtered:
            unfiltered(patch)
        watch = MilestoneWatch(use_inotify=False)
        events = []
        follower = LogFollower(log, start_offset=0, chunk_bytes=53, batch_bytes=211)
        watch.add_node("worker1", [follower], expectations_for("worker", WORKER1_VALUES), WORKER1_VALUES)
        stop = threading.Event()
        result = watch.wait(timeout=5, stop=stop, on_event=events.append)
        follower.close()
    statuses = [(s.milestone.id, s.state, s.line, s.failure and s.failure.signature.name) for s in result.milestones]
    failures = [(f.signature.name, f.line, f.hint, f.setting, f.occurrences, f.ends_wait) for f in result.failures]
    return result.outcome, statuses, failures, [repr(event) for event in events]


@pytest.mark.parametrize("layout", [seed_form, console_form, file_form], ids=["seed", "console", "file"])
def test_a_filtered_watch_sees_exactly_what_an_unfiltered_one_sees(tmp_path, monkeypatch, layout):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(watch_log_lines(layout))
    before = run_watch(log, filtered=False, monkeypatch=monkeypatch)
    after = run_watch(log, filtered=True, monkeypatch=monkeypatch)
    assert after == before
    outcome, statuses, failures, _events = after
    assert outcome == "failed"  # the first fatal signature among the failure lines ends the wait
    assert failures and any(state is MilestoneState.REACHED for _, state, _, _ in statuses)


def test_feeding_every_line_by_hand_gives_the_same_events(monkeypatch):
    lines = watch_log_lines(file_form).decode("utf-8", "replace").split("\n")

    def feed_all() -> list[str]:
        watch = MilestoneWatch()
        watch.add_node("elb", milestones=expectations_for("elb", ELB_VALUES), values=ELB_VALUES)
        watch.add_cross_node(cross_node_expectations(CLUSTER_VALUES))
        events = []
        excerpts = [*file_form(SEED_ELB), *seed_form(SEED_ELB_SEES_WORKER1), ELB_SEES_MANAGER.strip()]
        for line in [*NOISE, *excerpts, *lines]:  # the failures among the lines end it
            events += [repr(event) for event in watch.feed("elb", line)]
        return events

    after = feed_all()
    with monkeypatch.context() as patch:
        unfiltered(patch)
        before = feed_all()
    assert after == before and len(after) > 5


# --- membership from the observers' logs -----------------------------------------------------------------

def test_membership_checks_read_with_a_filter_give_the_same_outcomes(tmp_path, monkeypatch):
    distributions = {key: tmp_path / name for key, name in (("esb", "esb.zip"), ("elb", "elb.zip"),
                                                             ("jdbc_driver", "driver.jar"))}
    seed = write_seed_plan(tmp_path, distributions)
    layout = check_plan(seed.plan, check_files=False).layout
    elb, manager = layout.elb, layout.manager
    joins = [line for line in SEED_ELB_SEES_WORKER1.splitlines() if "joined" in line]
    elb_log = [*NOISE, *joins, ELB_SEES_MANAGER.strip(), *NOISE,
               "INFO - DefaultGroupManagementAgent Application member Host:127.0.0.3, Port: 4000, HTTP:8280, "
               "HTTPS:8243, Domain: wso2.esb.domain, Sub-domain:worker, Active:true left cluster",
               "INFO - RpcMembershipRequestHandler Member 127.0.0.3:4001(wso2.esb.domain) left cluster",
               "ERROR - TcpFailureDetector Member 127.0.0.9:4005 left cluster \xff", *NOISE]
    for node, lines in ((elb, elb_log), (manager, [*NOISE, *SEED_ELB_SEES_WORKER1.splitlines()])):
        path = node.home / CARBON_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")

    def outcomes() -> list:
        return [(o.name, o.status, o.detail) for o in launch.membership_checks(layout, elb.server, {})]

    after = outcomes()
    with monkeypatch.context() as patch:
        unfiltered(patch)
        patch.setattr(launch.LineFilter, "combine", classmethod(lambda cls, requirements: cls.everything()))
        before = outcomes()
    assert after == before
    assert any("left the cluster" in detail or "left it" in detail for _, _, detail in after), after


def test_a_saved_position_and_line_numbers_survive_a_filtered_catch_up(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(awkward_log(2))
    only = LineFilter(["joined application cluster"])
    with LogFollower(log, start_offset=0) as plain, LogFollower(log, start_offset=0) as filtered:
        everything = drain(plain)
        kept = drain(filtered, only)
        assert kept and all(everything[line.line_number - 1] == line for line in kept)
        assert filtered.position == plain.position == os.path.getsize(log) - len(b"no newline yet: ERROR")
