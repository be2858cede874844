"""The expectations file against the seed's own console excerpts, in the seed's form, the console
layout and the wso2carbon.log layout; the failure signatures against realistic Carbon lines;
validation; and MilestoneWatch over real followed files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from installer.expectations import (
    COMPLETED,
    DEFAULT_EXPECTATIONS_FILE,
    FAILED,
    STOPPED,
    TIMED_OUT,
    Expectations,
    ExpectationsError,
    FailureSeen,
    MilestoneReached,
    MilestoneState,
    MilestoneTimedOut,
    MilestoneWatch,
    cross_node_expectations,
    expectations_for,
    match_failure,
    parse_line,
)
from installer.logwatch import LogFollower

# --- the seed's excerpts, with concrete addresses ---------------------------------------------------------
# xxx.xxx.xxx.206 (ELB, manager, worker2) is 127.0.0.2 here, xxx.xxx.xxx.132 (worker1) 127.0.0.3.
# The manager's "Local Member 10.200.0.102" is left as the seed prints it.

SEED_ELB = """\
INFO - TribesClusteringAgent Initializing cluster...
INFO - TribesClusteringAgent Cluster domain: wso2.carbon.lb.domain
INFO - TribesClusteringAgent Using wka based membership management scheme
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.2:4000
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.2:4000
INFO - TribesClusteringAgent Local Member 127.0.0.2:4000(wso2.carbon.lb.domain)
INFO - TribesUtil No members in current cluster
INFO - TribesClusteringAgent Cluster initialization completed.
"""

SEED_MANAGER = """\
INFO - TribesClusteringAgent Initializing cluster...
INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain
INFO - TribesClusteringAgent Using wka based membership management scheme
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.2:4001
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.2:4001
INFO - TribesClusteringAgent Local Member 10.200.0.102:4001(wso2.esb.domain)
INFO - TribesUtil No members in current cluster
INFO - TribesClusteringAgent Cluster initialization completed
"""

SEED_WORKER1 = """\
INFO - TribesClusteringAgent Initializing cluster...
INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain
INFO - TribesClusteringAgent Using wka based membership management scheme
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.3:4000
INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.3:4000
INFO - WkaBasedMembershipScheme Added static member 127.0.0.2:4000(wso2.esb.domain)
INFO - WkaBasedMembershipScheme Added static member 127.0.0.2:4001(wso2.esb.domain)
INFO - TribesClusteringAgent Local Member 127.0.0.3:4000(wso2.esb.domain)
INFO - TribesUtil Members of current cluster
INFO - TribesUtil Member1 127.0.0.2:4000(wso2.esb.domain)
INFO - TribesUtil Member2 127.0.0.2:4001(wso2.esb.domain)
INFO - WkaBasedMembershipScheme Sending JOIN message to WKA members...
INFO - TribesClusteringAgent Trying to send initialization request to 127.0.0.2:4000(wso2.esb.domain)
INFO - GetConfigurationResponseCommand Received configuration initialization message
INFO - TribesClusteringAgent Cluster initialization completed.
"""

SEED_ELB_SEES_WORKER1 = """\
INFO - RpcMembershipRequestHandler Received JOIN message from 127.0.0.3:4000(wso2.esb.domain)
INFO - MembershipManager Application member 127.0.0.3:4000(wso2.esb.domain) joined group wso2.esb.domain
INFO - DefaultGroupManagementAgent Application member Host:127.0.0.3, Port: 4000, HTTP:8280, HTTPS:8243, Domain: wso2.esb.domain, Sub-domain:worker, Active:true joined application clustert
"""

SEED_MANAGER_SEES_WORKER1 = """\
INFO - RpcMembershipRequestHandler Received JOIN message from 127.0.0.3:4000(wso2.esb.domain)
INFO - RpcInitializationRequestHandler Received GetConfigurationCommand initialization request message from 127.0.0.3:4000(wso2.esb.domain)
"""

# Not in the seed's excerpts: the ELB seeing the manager join (Member.toString() as Axis2 prints
# it, Remote Host included), and the start-up line of SOURCES.md C.
ELB_SEES_MANAGER = (
    "INFO - DefaultGroupManagementAgent Application member Host:127.0.0.2, Remote Host:null, Port: 4001, "
    "HTTP:8281, HTTPS:8244, Domain: wso2.esb.domain, Sub-domain:mgt, Active:true joined application cluster\n"
)
CARBON_STARTED = "INFO - StartupFinalizerServiceComponent WSO2 Carbon started in 41 sec\n"

QUALIFIED = {
    "TribesClusteringAgent": "org.apache.axis2.clustering.tribes.TribesClusteringAgent",
    "WkaBasedMembershipScheme": "org.apache.axis2.clustering.tribes.WkaBasedMembershipScheme",
    "TribesUtil": "org.apache.axis2.clustering.tribes.TribesUtil",
    "GetConfigurationResponseCommand": "org.apache.axis2.clustering.control.GetConfigurationResponseCommand",
    "RpcMembershipRequestHandler": "org.apache.axis2.clustering.tribes.RpcMembershipRequestHandler",
    "RpcInitializationRequestHandler": "org.apache.axis2.clustering.tribes.RpcInitializationRequestHandler",
    "MembershipManager": "org.apache.axis2.clustering.tribes.MembershipManager",
    "DefaultGroupManagementAgent": "org.apache.axis2.clustering.management.DefaultGroupManagementAgent",
    "StartupFinalizerServiceComponent": "org.wso2.carbon.core.internal.StartupFinalizerServiceComponent",
    "DatabaseUtil": "org.wso2.carbon.registry.core.jdbc.dataaccess.JDBCDatabaseTransaction",
}


def seed_form(excerpt: str) -> list[str]:
    return excerpt.splitlines()


def console_form(excerpt: str) -> list[str]:
    """``[%d{ISO8601}] %5p - %c{1} %m%n``."""
    lines = []
    for index, line in enumerate(excerpt.splitlines()):
        level, rest = line.split(" - ", 1)
        lines.append(f"[2013-08-20 12:27:{index % 60:02d},123] {level:>5} - {rest}")
    return lines


def file_form(excerpt: str) -> list[str]:
    """wso2carbon.log: ``TID: [%T] [%S] [%d] %P%5p {%c} - %x %m {%c}%n`` (empty NDC)."""
    lines = []
    for index, line in enumerate(excerpt.splitlines()):
        level, rest = line.split(" - ", 1)
        short, message = rest.split(" ", 1)
        logger = QUALIFIED.get(short, f"org.example.{short}")
        lines.append(f"TID: [0] [ESB] [2013-08-20 12:27:{index % 60:02d},123] {level:>5} {{{logger}}} -  {message} {{{logger}}}")
    return lines


LAYOUTS = pytest.mark.parametrize("layout", [seed_form, console_form, file_form], ids=["seed", "console", "file"])

ELB_VALUES = {"node": "elb", "domain": "wso2.carbon.lb.domain", "member_host": "127.0.0.2", "member_port": 4000,
              "offset": 0, "servlet_http_port": 9763, "servlet_https_port": 9443,
              "transport_http_port": 80, "transport_https_port": 443}
MANAGER_VALUES = {"node": "manager", "domain": "wso2.esb.domain", "member_host": "127.0.0.2", "member_port": 4001,
                  "offset": 1, "servlet_http_port": 9764, "servlet_https_port": 9444,
                  "transport_http_port": 8281, "transport_https_port": 8244,
                  "wka_members": [{"wka_host": "127.0.0.2", "wka_port": 4000}]}
WORKER1_VALUES = {"node": "worker1", "domain": "wso2.esb.domain", "member_host": "127.0.0.3", "member_port": "4000",
                  "offset": "0", "servlet_http_port": "9763", "servlet_https_port": "9443",
                  "transport_http_port": "8280", "transport_https_port": "8243",
                  "wka_members": [{"wka_host": "127.0.0.2", "wka_port": "4000"},
                                  {"wka_host": "127.0.0.2", "wka_port": "4001"}]}
CLUSTER_VALUES = {"domain": "wso2.esb.domain", "elb_node": "elb", "manager_node": "manager",
                  "workers": [{"member_node": "worker1", "member_host": "127.0.0.3", "member_port": 4000}],
                  "managers": [{"member_node": "manager", "member_host": "127.0.0.2", "member_port": 4001}]}


def fed_watch(node: str, role: str, values: dict, lines: list[str]) -> MilestoneWatch:
    watch = MilestoneWatch()
    watch.add_node(node, milestones=expectations_for(role, values), values=values)
    for line in lines:
        watch.feed(node, line)
    return watch


def states(watch: MilestoneWatch) -> dict[str, MilestoneState]:
    return {status.milestone.id: status.state for status in watch.status().milestones}


# --- the shipped file --------------------------------------------------------------------------------------

def test_the_shipped_file_validates_and_covers_every_role():
    expectations = Expectations.load()
    assert expectations.source == str(DEFAULT_EXPECTATIONS_FILE)
    assert set(expectations.roles) == {"elb", "manager", "worker"}
    names = [signature.name for signature in expectations.failure_catalog(WORKER1_VALUES).signatures]
    assert names[-1] == "error_logged"  # the generic catch comes last: specific ones win
    assert {"port_in_use", "db_access_denied", "db_unreachable", "jdbc_driver_missing", "out_of_memory",
            "table_missing", "wka_no_response", "no_wka_members"} <= set(names)


def test_milestones_are_filled_and_expanded_per_well_known_member():
    milestones = expectations_for("worker", WORKER1_VALUES)
    ids = [milestone.id for milestone in milestones]
    assert ids == ["cluster_domain", "member_port_bound", "static_member:127.0.0.2:4000",
                   "static_member:127.0.0.2:4001", "join_sent", "configuration_received",
                   "cluster_initialized", "carbon_started"]
    bound = milestones[1]
    assert bound.label == "Clustering port 4000 bound on 127.0.0.3"
    assert all(milestone.timeout > 0 and milestone.required for milestone in milestones)


def test_values_are_escaped_in_patterns():
    milestone = expectations_for("worker", WORKER1_VALUES)[0]
    assert milestone.matches(parse_line("INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain"))
    # A '.' in the domain is a dot, not "any character".
    assert not milestone.matches(parse_line("INFO - TribesClusteringAgent Cluster domain: wso2xesbxdomain"))
    assert not milestone.matches(parse_line("INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain.other"))
    # From another logger, the same text is not the milestone.
    assert not milestone.matches(parse_line("INFO - SomethingElse Cluster domain: wso2.esb.domain"))


def test_a_missing_value_is_a_clear_error():
    values = {key: value for key, value in WORKER1_VALUES.items() if key != "member_host"}
    with pytest.raises(ExpectationsError, match="member_host"):
        expectations_for("worker", values)
    with pytest.raises(ExpectationsError, match="wka_members"):
        expectations_for("worker", {key: value for key, value in WORKER1_VALUES.items() if key != "wka_members"})
    with pytest.raises(ExpectationsError, match="elb_node"):
        cross_node_expectations({key: value for key, value in CLUSTER_VALUES.items() if key != "elb_node"})
    with pytest.raises(ExpectationsError, match="role 'broker'"):
        expectations_for("broker", WORKER1_VALUES)


# --- line layouts -------------------------------------------------------------------------------------------

def test_parse_line_understands_both_layouts_and_the_seeds_form():
    console = parse_line("[2013-08-20 12:27:08,123]  INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain")
    seed = parse_line("INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain")
    logged = parse_line(
        "TID: [0] [ESB] [2013-08-20 12:27:08,123]  INFO {org.apache.axis2.clustering.tribes.TribesClusteringAgent} "
        "-  Cluster domain: wso2.esb.domain {org.apache.axis2.clustering.tribes.TribesClusteringAgent}"
    )
    kernel = parse_line(
        "[2013-08-20 12:27:08,123]  WARN {org.apache.axis2.clustering.tribes.WkaBasedMembershipScheme} -  "
        "There are no well-known members"
    )
    for parsed in (console, seed, logged):
        assert (parsed.level, parsed.short_logger, parsed.message) == (
            "INFO", "TribesClusteringAgent", "Cluster domain: wso2.esb.domain")
    assert logged.logger == "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
    assert (kernel.level, kernel.short_logger, kernel.message) == (
        "WARN", "WkaBasedMembershipScheme", "There are no well-known members")
    trace = parse_line("\tat org.apache.catalina.tribes.transport.ReceiverBase.bind(ReceiverBase.java:186)")
    assert (trace.level, trace.logger) == (None, None)
    assert trace.message.startswith("at org.apache.catalina")


# --- the seed's excerpts satisfy the milestones ---------------------------------------------------------------

@LAYOUTS
def test_the_seeds_elb_excerpt_reaches_every_elb_milestone(layout):
    watch = fed_watch("elb", "elb", ELB_VALUES, layout(SEED_ELB + CARBON_STARTED))
    assert watch.outcome() == COMPLETED
    assert set(states(watch).values()) == {MilestoneState.REACHED}


@LAYOUTS
def test_the_seeds_manager_excerpt_reaches_every_required_manager_milestone(layout):
    watch = fed_watch("manager", "manager", MANAGER_VALUES, layout(SEED_MANAGER + CARBON_STARTED))
    assert watch.outcome() == COMPLETED
    reached = {id_ for id_, state in states(watch).items() if state is MilestoneState.REACHED}
    assert reached == {"cluster_domain", "member_port_bound", "cluster_initialized", "carbon_started"}
    # What the seed's manager excerpt leaves out is optional, and would be seen if printed.
    assert states(watch)["join_sent"] is MilestoneState.PENDING
    watch.feed("manager", "INFO - WkaBasedMembershipScheme Added static member 127.0.0.2:4000(wso2.esb.domain)")
    assert states(watch)["static_member:127.0.0.2:4000"] is MilestoneState.REACHED


@LAYOUTS
def test_the_seeds_worker_excerpt_reaches_every_worker_milestone(layout):
    watch = fed_watch("worker1", "worker", WORKER1_VALUES, layout(SEED_WORKER1 + CARBON_STARTED))
    assert watch.outcome() == COMPLETED
    assert set(states(watch).values()) == {MilestoneState.REACHED}
    reached = [status.line.text for status in watch.status().milestones]
    assert "Sending JOIN message to WKA members..." in reached[4]


def test_the_seed_excerpts_alone_leave_carbon_started_pending():
    watch = fed_watch("worker1", "worker", WORKER1_VALUES, seed_form(SEED_WORKER1))
    assert watch.outcome() == ""
    pending = [id_ for id_, state in states(watch).items() if state is MilestoneState.PENDING]
    assert pending == ["carbon_started"]


def test_the_seed_lines_do_not_satisfy_another_nodes_values():
    other = dict(WORKER1_VALUES, member_host="127.0.0.4", domain="wso2.as.domain",
                 wka_members=[{"wka_host": "127.0.0.9", "wka_port": "4000"}])
    watch = fed_watch("worker1", "worker", other, seed_form(SEED_WORKER1 + CARBON_STARTED))
    pending = {id_ for id_, state in states(watch).items() if state is MilestoneState.PENDING}
    assert pending == {"cluster_domain", "member_port_bound", "static_member:127.0.0.9:4000"}


def test_a_member_port_other_than_the_configured_one_ends_the_wait():
    moved = dict(WORKER1_VALUES, member_port="4002")
    watch = fed_watch("worker1", "worker", moved, seed_form(SEED_WORKER1))
    # Bound to 4000 where 4002 was configured: Tribes took another port because 4002 was busy.
    assert watch.outcome() == FAILED
    assert [seen.signature.name for seen in watch.status().failures] == ["member_port_moved"]
    assert states(watch)["member_port_bound"] is MilestoneState.FAILED


@LAYOUTS
def test_the_seeds_cross_node_excerpts_satisfy_the_cross_node_expectations(layout):
    cross = cross_node_expectations(CLUSTER_VALUES)
    assert [(m.observer, m.id, m.subject) for m in cross] == [
        ("elb", "elb_sees_join:worker1", "worker1"),
        ("elb", "elb_sees_join:manager", "manager"),
        ("manager", "manager_sends_configuration:worker1", "worker1"),
    ]
    watch = MilestoneWatch()
    watch.add_node("elb", values=ELB_VALUES)
    watch.add_node("manager", values=MANAGER_VALUES)
    assert watch.add_cross_node(cross) == []
    for line in layout(SEED_ELB_SEES_WORKER1 + ELB_SEES_MANAGER):
        watch.feed("elb", line)
    for line in layout(SEED_MANAGER_SEES_WORKER1):
        watch.feed("manager", line)
    assert watch.outcome() == COMPLETED
    assert set(states(watch).values()) == {MilestoneState.REACHED}


def test_the_join_line_is_checked_for_host_port_domain_and_sub_domain():
    join = cross_node_expectations(CLUSTER_VALUES)[0]  # the ELB sees worker1 join as a worker
    good = ("Application member Host:127.0.0.3, Remote Host:127.0.0.3, Port: 4000, HTTP:8280, HTTPS:8243, "
            "Domain: wso2.esb.domain, Sub-domain:worker, Active:true joined application cluster")
    assert join.matches(parse_line("INFO - DefaultGroupManagementAgent " + good))
    assert join.matches(parse_line("INFO - DefaultGroupManagementAgent " + good.replace(", ", ",  ")))
    for wrong in (good.replace("Sub-domain:worker", "Sub-domain:mgt"),
                  good.replace("Port: 4000", "Port: 4001"),
                  good.replace("Host:127.0.0.3,", "Host:127.0.0.33,"),
                  good.replace("Domain: wso2.esb.domain", "Domain: wso2.as.domain"),
                  good.replace("Active:true", "Active:false")):
        assert not join.matches(parse_line("INFO - DefaultGroupManagementAgent " + wrong)), wrong


def test_cross_node_milestones_of_an_unwatched_observer_are_handed_back():
    watch = MilestoneWatch()
    watch.add_node("manager", values=MANAGER_VALUES)
    skipped = watch.add_cross_node(cross_node_expectations(CLUSTER_VALUES))
    assert {milestone.observer for milestone in skipped} == {"elb"}


# --- failure signatures -----------------------------------------------------------------------------------------

FAILURE_CASES = [
    # (signature, line, values, words the hint must contain, words the setting must contain)
    ("member_port_moved",
     "[2013-08-20 12:27:08,123]  INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.3:4001",
     WORKER1_VALUES, ["4000", "4001", "127.0.0.3"], ["localMemberPort"]),
    ("member_port_unavailable",
     "[2013-08-20 12:27:08,123] ERROR - WkaBasedMembershipScheme Could not allocate the specified port or a port "
     "in the range 4000-5000 for local host 192.0.2.99. Check whether the IP address specified or inferred for "
     "the local member is correct.",
     WORKER1_VALUES, ["192.0.2.99"], ["address"]),
    ("port_in_use",
     "TID: [0] [ESB] [2013-08-20 12:27:08,123] ERROR {org.apache.tomcat.util.net.NioEndpoint} -  "
     "java.net.BindException: Address already in use <null>:9764 {org.apache.tomcat.util.net.NioEndpoint}",
     MANAGER_VALUES, ["9764", "servlet HTTP port", "<Offset> 1"], ["servlet HTTP port"]),
    ("port_in_use",
     "[2013-08-20 12:27:08,123] ERROR - ReceiverBase Unable to bind: java.net.BindException: Address already in "
     "use /127.0.0.3:4000",
     WORKER1_VALUES, ["4000", "localMemberPort"], ["localMemberPort"]),
    ("port_in_use",
     "Caused by: java.net.BindException: Address already in use",
     WORKER1_VALUES, ["held by another process."], ["localMemberPort", "<Offset>"]),
    ("db_access_denied",
     "[2013-08-20 12:27:08,123] ERROR - DatabaseUtil Database Error - Access denied for user "
     "'regadmin'@'127.0.0.3' (using password: YES)",
     None, ["regadmin", "127.0.0.3", "WSO2_DB_PASSWORD"], ["WSO2_DB_PASSWORD", "grants"]),
    ("unknown_host",
     "Caused by: java.net.UnknownHostException: carbondb.mysql-wso2.com",
     None, ["carbondb.mysql-wso2.com", "hosts"], ["hosts"]),
    ("db_unreachable",
     "com.mysql.jdbc.exceptions.jdbc4.CommunicationsException: Communications link failure",
     None, ["bind-address", "hosts file"], ["database address"]),
    ("db_unreachable",
     "[2013-08-20 12:27:08,123] ERROR - DatabaseUtil Cannot connect to jdbc:mysql://carbondb.mysql-wso2.com:3306/"
     "REGISTRY_DB?autoReconnect=true: java.net.ConnectException: Connection refused",
     None, ["MySQL"], ["MySQL bind-address"]),
    ("db_unknown_database",
     "com.mysql.jdbc.exceptions.jdbc4.MySQLSyntaxErrorException: Unknown database 'REGISTRY_DB'",
     None, ["REGISTRY_DB", "database step"], ["database step"]),
    ("jdbc_driver_missing",
     "[2013-08-20 12:27:08,123] ERROR - DataSourceRepository java.lang.ClassNotFoundException: com.mysql.jdbc.Driver",
     None, ["repository/components/lib"], ["jdbc_driver"]),
    ("jdbc_driver_missing",
     "org.apache.tomcat.jdbc.pool.PoolExhaustedException: Cannot load JDBC driver class 'com.mysql.jdbc.Driver'",
     None, ["repository/components/lib"], ["jdbc_driver"]),
    ("table_missing",
     "com.mysql.jdbc.exceptions.jdbc4.MySQLSyntaxErrorException: Table 'REGISTRY_DB.REG_CLUSTER_LOCK' doesn't exist",
     None, ["REGISTRY_DB.REG_CLUSTER_LOCK", "-Dsetup"], ["-Dsetup"]),
    ("out_of_memory",
     'Exception in thread "Timer-1" java.lang.OutOfMemoryError: PermGen space',
     None, ["(PermGen space)", "-XX:MaxPermSize", "bin/wso2server.sh"], ["bin/wso2server.sh"]),
    ("no_wka_members",
     "[2013-08-20 12:27:08,123]  WARN - WkaBasedMembershipScheme There are no well-known members",
     None, ["member ports", "hosts entries"], ["<members>"]),
    ("wka_no_response",
     "[2013-08-20 12:27:08,123]  INFO - WkaBasedMembershipScheme No responses received from WKA members",
     None, ["wrong domain, member port or hosts entry for the WKA members"], ["domain"]),
    ("wka_member_unreachable",
     "[2013-08-20 12:27:08,123]  INFO - WkaBasedMembershipScheme Could not connect to member "
     "127.0.0.2:4001(wso2.esb.domain)",
     None, ["127.0.0.2:4001(wso2.esb.domain)", "keeps trying"], ["<members>"]),
    ("error_logged",
     "[2013-08-20 12:27:08,123] ERROR - DeploymentEngine Error while deploying a service",
     None, ["ERROR"], []),
]


@pytest.mark.parametrize(("name", "line", "values", "hint_words", "setting_words"), FAILURE_CASES,
                         ids=[f"{case[0]}-{index}" for index, case in enumerate(FAILURE_CASES)])
def test_each_failure_signature_matches_a_realistic_line_and_gives_its_hint(
        name, line, values, hint_words, setting_words):
    found = match_failure(line, values)
    assert found is not None and found.signature.name == name
    for word in hint_words:
        assert word in found.hint, (word, found.hint)
    for word in setting_words:
        assert word in found.setting, (word, found.setting)
    assert "{" not in found.hint  # every placeholder filled
    assert found.ends_wait == (found.signature.kind == "fatal")


def test_every_signature_in_the_file_has_a_realistic_case():
    names = {signature.name for signature in Expectations.load().failure_catalog(WORKER1_VALUES).signatures}
    assert names == {case[0] for case in FAILURE_CASES}


def test_lines_that_are_not_failures():
    for line in [*seed_form(SEED_WORKER1), *console_form(SEED_ELB_SEES_WORKER1),
                 "java.net.ConnectException: Connection refused",  # Tribes, not MySQL
                 "[2013-08-20 12:27:08,123]  INFO - CarbonServerManager Starting WSO2 Carbon..."]:
        assert match_failure(line, WORKER1_VALUES) is None, line
    # Node-specific signatures need the node's values: without them, the right port is unknown.
    assert match_failure("INFO - WkaBasedMembershipScheme Receiver Server Socket bound to:/127.0.0.3:4001") is None


def test_a_fatal_failure_ends_the_wait_and_fails_what_is_about_that_node():
    watch = MilestoneWatch()
    watch.add_node("worker1", milestones=expectations_for("worker", WORKER1_VALUES), values=WORKER1_VALUES)
    watch.add_node("elb", values=ELB_VALUES)
    watch.add_cross_node(cross_node_expectations(CLUSTER_VALUES))
    watch.feed("worker1", seed_form(SEED_WORKER1)[1])
    events = watch.feed("worker1", "[2013-08-20 12:27:08,123] ERROR - DatabaseUtil Database Error - Access denied "
                                   "for user 'regadmin'@'127.0.0.3' (using password: YES)")
    assert [type(event) for event in events] == [FailureSeen]
    assert events[0].ends_wait and "WSO2_DB_PASSWORD" in events[0].hint
    assert watch.outcome() == FAILED
    result = watch.status(watch.outcome())
    assert result.failure is events[0]
    by_id = {(s.node, s.milestone.id): s for s in result.milestones}
    assert by_id[("worker1", "cluster_domain")].state is MilestoneState.REACHED
    assert by_id[("worker1", "carbon_started")].state is MilestoneState.FAILED
    assert by_id[("worker1", "carbon_started")].failure is events[0]
    assert by_id[("elb", "elb_sees_join:worker1")].state is MilestoneState.FAILED  # about worker1
    assert by_id[("elb", "elb_sees_join:manager")].state is MilestoneState.PENDING


def test_a_reported_error_does_not_end_the_wait():
    watch = MilestoneWatch()
    watch.add_node("worker1", milestones=expectations_for("worker", WORKER1_VALUES), values=WORKER1_VALUES)
    [event] = watch.feed("worker1", "[2013-08-20 12:27:08,123] ERROR - DeploymentEngine Error while deploying")
    assert isinstance(event, FailureSeen) and not event.ends_wait
    for line in seed_form(SEED_WORKER1 + CARBON_STARTED):
        watch.feed("worker1", line)
    assert watch.outcome() == COMPLETED
    assert [seen.signature.name for seen in watch.status().failures] == ["error_logged"]


def test_the_stall_signature_ends_a_wait_only_after_n_occurrences():
    stall = "[2013-08-20 12:27:08,123]  INFO - WkaBasedMembershipScheme No responses received from WKA members"
    watch = MilestoneWatch()
    watch.add_node("worker1", milestones=expectations_for("worker", WORKER1_VALUES), values=WORKER1_VALUES)
    seen = []
    for _ in range(2):
        seen += watch.feed("worker1", stall)
        assert watch.outcome() == ""
    # The same line in the node's other log (console and wso2carbon.log) is not a new attempt.
    for _ in range(2):
        seen += watch.feed("worker1", stall, source=1)
    assert watch.outcome() == ""
    seen += watch.feed("worker1", stall)
    assert [(event.occurrences, event.ends_wait) for event in seen] == [
        (1, False), (2, False), (1, False), (2, False), (3, True)]
    assert watch.outcome() == FAILED
    failure = watch.status().failures[-1]
    assert failure.ends_wait
    assert "No well-known member answered 3 JOIN messages" in failure.hint
    assert "wrong domain, member port or hosts entry for the WKA members" in failure.hint


def test_required_milestones_time_out_and_optional_ones_do_not():
    now = [1000.0]
    watch = MilestoneWatch(clock=lambda: now[0])
    watch.add_node("manager", milestones=expectations_for("manager", MANAGER_VALUES), values=MANAGER_VALUES)
    for line in seed_form(SEED_MANAGER):
        watch.feed("manager", line)
    now[0] += 300  # cluster milestones are late by now, Carbon's start is not (900 s)
    assert watch.check_timeouts() == []
    now[0] += 700
    events = watch.check_timeouts()
    assert [(type(event), event.milestone.id) for event in events] == [(MilestoneTimedOut, "carbon_started")]
    assert watch.outcome() == TIMED_OUT
    assert states(watch)["join_sent"] is MilestoneState.PENDING  # optional: never times out


# --- validation ----------------------------------------------------------------------------------------------

def shipped_text() -> str:
    return DEFAULT_EXPECTATIONS_FILE.read_text()


def test_not_yaml_names_the_file(tmp_path):
    broken = tmp_path / "expectations.yaml"
    broken.write_text("milestones: [unclosed\n")
    with pytest.raises(ExpectationsError) as caught:
        Expectations.load(broken)
    assert str(broken) in str(caught.value) and "not valid YAML" in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ExpectationsError, match="cannot be read"):
        Expectations.load(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(("old", "new", "where", "complaint"), [
    ("pattern: '^Sending JOIN message to WKA members\\.\\.\\.$'\n      timeout: 240\n    - id: configuration_received",
     "pattern: '^Sending JOIN message (to WKA'\n      timeout: 240\n    - id: configuration_received",
     "milestones.worker[3] (id 'join_sent')", "not a valid regular expression"),
    ("pattern: '^Received configuration initialization message$'\n      timeout: 300",
     "pattern: '^Received configuration initialization message$'\n      timeout: -5",
     "milestones.worker[4] (id 'configuration_received')", "'timeout' must be a positive number"),
    ("label: \"Configuration received from the cluster\"",
     "label: \"Configuration received from the cluster\"\n      timout: 3",
     "milestones.worker[4] (id 'configuration_received')", "unknown key 'timout'"),
    ("pattern: '^Cluster domain: {domain}$'", "pattern: '^Cluster domain: {domian}$'",
     "milestones.elb[0] (id 'cluster_domain')", "unknown placeholders ['domian']"),
    ("kind: stall\n    stall_after: 3\n", "kind: stall\n",
     "failures[11] (name 'wka_no_response')", "needs 'stall_after'"),
    ("  - name: error_logged\n    kind: report", "  - name: error_logged\n    kind: sometimes",
     "failures[13] (name 'error_logged')", "'kind' must be one of fatal, stall, report"),
    ("    observer: manager\n", "    observer: worker\n",
     "cross_node[2] (id 'manager_sends_configuration:{member_node}')", "'observer' must be elb or manager"),
], ids=["bad-regex", "negative-timeout", "unknown-key", "unknown-placeholder", "stall-without-count",
        "unknown-kind", "unknown-observer"])
def test_a_bad_entry_is_named_with_the_file(tmp_path, old, new, where, complaint):
    text = shipped_text()
    assert old in text, old  # the first occurrence is the entry named by ``where``
    broken = tmp_path / "expectations.yaml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ExpectationsError) as caught:
        Expectations.load(broken)
    message = str(caught.value)
    assert message.startswith(f"{broken} is not valid:")
    assert any(where in line and complaint in line for line in message.splitlines()), message


def test_every_problem_is_reported_at_once():
    text = shipped_text().replace("timeout: 600", "timeout: never").replace("version: 1", "version: 2")
    with pytest.raises(ExpectationsError) as caught:
        Expectations.from_text(text, "edited.yaml")
    problems = str(caught.value).splitlines()[1:]
    assert any(problem.strip().startswith("version:") for problem in problems)
    assert sum("'timeout' must be a positive number" in problem for problem in problems) == 2  # elb, worker


def test_a_missing_role_and_a_duplicate_id_are_reported():
    text = shipped_text()
    worker_part = text[text.index("  worker:\n"):text.index("# Lines another node prints")]
    without_worker = text.replace(worker_part, "")
    with pytest.raises(ExpectationsError, match="role 'worker' is missing"):
        Expectations.from_text(without_worker)
    duplicated = text.replace("    - id: configuration_received", "    - id: join_sent")
    with pytest.raises(ExpectationsError, match=r"milestones.worker\[4\] \(id 'join_sent'\): duplicate id"):
        Expectations.from_text(duplicated)


# --- watching real files ----------------------------------------------------------------------------------------

def write_slowly(path: Path, lines: list[str], pause: float = 0.005) -> threading.Thread:
    def run() -> None:
        for line in lines:
            with open(path, "a") as file:
                file.write(line + "\n")
            time.sleep(pause)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])
def test_wait_follows_several_logs_until_every_milestone_is_reached(tmp_path, use_inotify):
    elb_log = tmp_path / "elb" / "wso2carbon.log"
    worker_log = tmp_path / "worker1" / "wso2carbon.log"
    worker_console = tmp_path / "worker1" / "console.out"
    for path in (elb_log, worker_log):
        path.parent.mkdir(exist_ok=True)
        path.write_text("TID: [0] [ELB] [2013-08-20 12:00:00,000]  INFO {x.Old} -  from an earlier start {x.Old}\n")
    watch = MilestoneWatch(use_inotify=use_inotify)
    followers = [LogFollower(elb_log), LogFollower(worker_log), LogFollower(worker_console)]
    watch.add_node("elb", [followers[0]], values=ELB_VALUES)
    watch.add_node("worker1", followers[1:], expectations_for("worker", WORKER1_VALUES), WORKER1_VALUES)
    cross = [m for m in cross_node_expectations(CLUSTER_VALUES) if m.subject == "worker1" and m.observer == "elb"]
    assert watch.add_cross_node(cross) == []
    events = []
    writers = [
        write_slowly(worker_log, file_form(SEED_WORKER1 + CARBON_STARTED)),
        write_slowly(worker_console, console_form(SEED_WORKER1 + CARBON_STARTED)),
        write_slowly(elb_log, file_form(SEED_ELB_SEES_WORKER1), pause=0.02),
    ]
    result = watch.wait(20, on_event=events.append)
    for writer in writers:
        writer.join()
    for follower in followers:
        follower.close()
    assert result.outcome == COMPLETED and result.ok
    assert result.failures == ()
    reached = [(event.node, event.milestone.id) for event in events if isinstance(event, MilestoneReached)]
    assert len(reached) == len(set(reached)) == 9  # 8 worker milestones + the ELB seeing it, each once
    worker_order = [id_ for node, id_ in reached if node == "worker1"]
    assert worker_order == [m.id for m in expectations_for("worker", WORKER1_VALUES)]
    assert result.elapsed < 15


def test_wait_ends_at_once_on_a_failure_with_its_line_and_hint(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    watch = MilestoneWatch()
    follower = LogFollower(log)
    watch.add_node("worker1", [follower], expectations_for("worker", WORKER1_VALUES), WORKER1_VALUES)
    failing = seed_form(SEED_WORKER1)[:3] + [
        "[2013-08-20 12:27:08,123] ERROR - CarbonServerManager Failed to start the server",
        "java.lang.OutOfMemoryError: Java heap space",
        "\tat java.util.Arrays.copyOf(Arrays.java:2367)",
    ] + seed_form(SEED_WORKER1)[3:]
    writer = write_slowly(log, failing)
    result = watch.wait(30)
    writer.join()
    follower.close()
    assert result.outcome == FAILED  # ended by the failure, not by the 30 s timeout
    assert result.failure is not None
    assert result.failure.line.text == "java.lang.OutOfMemoryError: Java heap space"
    assert "(Java heap space)" in result.failure.hint
    assert result.failure.line.line_number == 5
    assert [seen.signature.name for seen in result.failures] == ["error_logged", "out_of_memory"]


def test_wait_reports_milestone_timeouts(tmp_path):
    text = shipped_text().replace("timeout: 180", "timeout: 0.3")
    expectations = Expectations.from_text(text)
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    watch = MilestoneWatch(expectations)
    follower = LogFollower(log)
    milestones = expectations.milestones_for("elb", ELB_VALUES)
    watch.add_node("elb", [follower], milestones, ELB_VALUES)
    log.write_text(seed_form(SEED_ELB)[1] + "\n")  # the domain comes; the member port never does
    events = []
    started = time.monotonic()
    result = watch.wait(3.0, on_event=lambda event: events.append((time.monotonic() - started, event)))
    elapsed = time.monotonic() - started
    follower.close()
    timed_out = [(at, event.milestone.id) for at, event in events if isinstance(event, MilestoneTimedOut)]
    assert [id_ for _, id_ in timed_out] == ["member_port_bound"]
    assert 0.25 <= timed_out[0][0] < 2.5  # at its own deadline (0.3 s), not at the end of the wait (3 s)
    by_id = {status.milestone.id: status.state for status in result.milestones}
    assert by_id["cluster_domain"] is MilestoneState.REACHED
    assert by_id["member_port_bound"] is MilestoneState.TIMED_OUT
    assert by_id["carbon_started"] is MilestoneState.PENDING
    # The wait goes on for the milestones still pending, until the overall timeout.
    assert result.outcome == TIMED_OUT and elapsed >= 2.9


def test_wait_stops_promptly_when_asked(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    watch = MilestoneWatch()
    follower = LogFollower(log)
    watch.add_node("elb", [follower], expectations_for("elb", ELB_VALUES), ELB_VALUES)
    stop = threading.Event()
    results = []
    thread = threading.Thread(target=lambda: results.append(watch.wait(None, stop)))
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(10)  # generous: without the stop the wait has no end
    follower.close()
    assert not thread.is_alive()
    assert results[0].outcome == STOPPED
    assert all(status.state is MilestoneState.PENDING for status in results[0].milestones)


def test_wait_gives_up_at_the_overall_timeout(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    watch = MilestoneWatch()
    follower = LogFollower(log)
    watch.add_node("elb", [follower], expectations_for("elb", ELB_VALUES), ELB_VALUES)
    started = time.monotonic()
    result = watch.wait(0.4)
    follower.close()
    assert result.outcome == TIMED_OUT
    assert time.monotonic() - started >= 0.35  # not before the timeout, nothing having come
