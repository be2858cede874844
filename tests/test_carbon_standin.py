"""The Carbon stand-in, end to end: the seed's cluster as real processes on two loopback "servers"
(127.0.0.2 and 127.0.0.3), homes prepared by the installer's own CLI, a real MariaDB.

The cluster (ELB, manager with -Dsetup, three workers with -DworkerNode=true) is started once for
the module, in the seed's order; tests that need a broken or extra node start a copy of a home
with its own offset and member port, so that they do not disturb the others whatever the order.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support.build_distributions import AXIS2_XML, MASTER_DATASOURCES_XML
from tests.support.carbon_standin.config import read_axis2_xml, read_carbon_xml, read_loadbalancer_conf
from tests.support.carbon_standin.errors import StartupFailure
from tests.support.plans import SeedCluster
from tests.support.standin_nodes import (
    APP_PASSWORD,
    DOMAIN,
    ELB_ADDRESS,
    ELB_HTTP,
    ELB_HTTPS,
    MGT_HOST,
    STARTED,
    WORKER_HOST,
    WORKER_LAYOUT,
    Launcher,
    StartedNode,
    assert_in_order,
    copy_home,
    get,
    moved,
    prepare_seed,
    start_seed_cluster,
)

# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed(tmp_path_factory, mariadb) -> SeedCluster:
    """The seed's homes, databases and hosts files, prepared by ``wso2-cluster apply`` on both servers."""
    return prepare_seed(tmp_path_factory.mktemp("standin"), mariadb)


@pytest.fixture(scope="module")
def launcher(seed) -> Iterator[Launcher]:
    launcher = Launcher(seed)
    yield launcher
    launcher.kill_all()


@pytest.fixture(scope="module")
def cluster(seed, launcher) -> dict[str, StartedNode]:
    """The seed's cluster, started in the seed's order: ELB, manager (-Dsetup), workers."""
    return start_seed_cluster(seed, launcher)


def cluster_start(domain: str, address: str, port: int) -> list[tuple[str, str]]:
    return [("TribesClusteringAgent", "Initializing cluster..."),
            ("TribesClusteringAgent", f"Cluster domain: {domain}"),
            ("TribesClusteringAgent", "Using wka based membership management scheme"),
            ("WkaBasedMembershipScheme", f"Receiver Server Socket bound to:/{address}:{port}"),
            ("WkaBasedMembershipScheme", f"Receiver Server Socket bound to:/{address}:{port}")]


def esb_member(address: str, port: int) -> str:
    return f"{address}:{port}({DOMAIN})"


def application_member(address: str, member_port: int, offset: int, sub_domain: str) -> str:
    return (f"Host:{address}, Remote Host:null, Port: {member_port}, HTTP:{8280 + offset}, HTTPS:{8243 + offset}, "
            f"Domain: {DOMAIN}, Sub-domain:{sub_domain}, Active:true")


# --- the seed's cluster --------------------------------------------------------------------------------


def test_every_role_logs_the_seed_lines_on_the_console_and_in_wso2carbon_log(cluster):
    elb_start = [*cluster_start("wso2.carbon.lb.domain", ELB_ADDRESS, 4000),
                 ("TribesClusteringAgent", "Local Member 127.0.0.2:4000(wso2.carbon.lb.domain)"),
                 ("TribesUtil", "No members in current cluster"),
                 ("TribesClusteringAgent", "Cluster initialization completed."),
                 ("StartupFinalizerServiceComponent", "Server           :  WSO2 Elastic Load Balancer-2.0.3"),
                 ("CarbonUIServiceComponent", f"Mgt Console URL  : https://{ELB_ADDRESS}:9443/carbon/")]
    manager_start = [("DatabaseCreator", "Registry and user manager tables of REGISTRY_LOCAL1 already exist: "
                                         "-Dsetup leaves them as they are"),
                     *cluster_start(DOMAIN, ELB_ADDRESS, 4001),
                     ("WkaBasedMembershipScheme", f"Added static member {esb_member(ELB_ADDRESS, 4000)}"),
                     ("TribesClusteringAgent", f"Local Member {esb_member(ELB_ADDRESS, 4001)}"),
                     ("TribesUtil", "Members of current cluster"),
                     ("TribesUtil", f"Member1 {esb_member(ELB_ADDRESS, 4000)}"),
                     ("WkaBasedMembershipScheme", "Sending JOIN message to WKA members..."),
                     ("TribesClusteringAgent", "Cluster initialization completed."),
                     ("StartupFinalizerServiceComponent", "Server           :  WSO2 Enterprise Service Bus-4.7.0"),
                     ("CarbonUIServiceComponent", f"Mgt Console URL  : https://{MGT_HOST}:9444/carbon/")]
    expected = {"elb": elb_start, "manager": manager_start}
    for name, (address, member_port, offset) in WORKER_LAYOUT.items():
        # Worker 1's lines in "Starting the ESB server" of the seed, with our addresses.
        expected[name] = [
            ("CarbonServerManager", "Starting as a worker node (-DworkerNode=true): this node is read-only and "
                                    "refuses deployment changes"),
            *cluster_start(DOMAIN, address, member_port),
            ("WkaBasedMembershipScheme", f"Added static member {esb_member(ELB_ADDRESS, 4000)}"),
            ("WkaBasedMembershipScheme", f"Added static member {esb_member(ELB_ADDRESS, 4001)}"),
            ("TribesClusteringAgent", f"Local Member {esb_member(address, member_port)}"),
            ("TribesUtil", "Members of current cluster"),
            ("TribesUtil", f"Member1 {esb_member(ELB_ADDRESS, 4000)}"),
            ("TribesUtil", f"Member2 {esb_member(ELB_ADDRESS, 4001)}"),
            ("WkaBasedMembershipScheme", "Sending JOIN message to WKA members..."),
            ("TribesClusteringAgent", f"Trying to send initialization request to {esb_member(ELB_ADDRESS, 4000)}"),
            ("GetConfigurationResponseCommand", "Received configuration initialization message"),
            ("TribesClusteringAgent", "Cluster initialization completed."),
            ("CarbonUIServiceComponent", f"Mgt Console URL  : https://{WORKER_HOST}:{9443 + offset}/carbon/"),
        ]
    for name, lines in expected.items():
        node = cluster[name]
        console, from_file = node.console_events(), node.file_events()
        assert_in_order(console, lines)
        # Both outputs get every line, the file with the fully-qualified logger names.
        assert from_file[:len(console)] == console[:len(from_file)] and len(from_file) >= len(lines)
        assert ("{org.apache.axis2.clustering.tribes.TribesClusteringAgent} -  Cluster initialization completed. "
                "{org.apache.axis2.clustering.tribes.TribesClusteringAgent}") in node.log_text()
        assert f"Repository       : {node.home}/repository/deployment/server/" in node.log_text()
        assert (node.home / "wso2carbon.pid").read_text().strip() == str(node.process.pid)
    assert "TID: [0] [ELB] [" in cluster["elb"].log_text() and "TID: [0] [ESB] [" in cluster["worker1"].log_text()


def test_elb_sees_the_manager_and_each_worker_join_its_sub_domain(cluster):
    elb = cluster["elb"]
    for sub_domain in ("mgt", "worker"):
        elb.wait_for(f"Managing group application domain:{DOMAIN}, sub-domain:{sub_domain} using agent class "
                     "org.apache.axis2.clustering.management.DefaultGroupManagementAgent")
    joined = [(ELB_ADDRESS, 4001, 1, "mgt")] + [(*layout, "worker") for layout in WORKER_LAYOUT.values()]
    for address, member_port, offset, sub_domain in joined:
        elb.wait_for(f"Received JOIN message from {esb_member(address, member_port)}")
        elb.wait_for(f"Application member {esb_member(address, member_port)} joined group {DOMAIN}")
        elb.wait_for(f"Application member {application_member(address, member_port, offset, sub_domain)} "
                     "joined application cluster")


def test_manager_receives_each_workers_join_and_initialization_request(cluster):
    manager = cluster["manager"]
    for address, member_port, _ in WORKER_LAYOUT.values():
        manager.wait_for(f"Received JOIN message from {esb_member(address, member_port)}")
        manager.wait_for("Received GetConfigurationCommand initialization request message from "
                         f"{esb_member(address, member_port)}")


def test_worker_host_is_routed_round_robin_over_the_workers(cluster):
    answers = [get(ELB_ADDRESS, ELB_HTTP, WORKER_HOST) for _ in range(6)]
    assert all(status == 200 for status, _, _ in answers), answers
    nodes = [node for _, node, _ in answers]
    assert set(nodes[:3]) == {"worker1", "worker2", "worker3"} and nodes[3:] == nodes[:3], nodes
    for _, node, body in answers:
        address, _, offset = WORKER_LAYOUT[node]
        assert f"on {address}:{8280 + offset} (Pass-through HTTP)" in body
    status, node, body = get(ELB_ADDRESS, ELB_HTTPS, f"{WORKER_HOST}:{ELB_HTTPS}")
    assert status == 200 and node in WORKER_LAYOUT
    assert f":{8243 + WORKER_LAYOUT[node][2]} (Pass-through HTTPS)" in body


def test_mgt_host_reaches_the_manager_servlet_ports_through_port_mapping(cluster):
    status, node, body = get(ELB_ADDRESS, ELB_HTTP, MGT_HOST, path="/carbon/")
    assert (status, node) == (200, "manager")
    assert f"on {ELB_ADDRESS}:9764 (servlet HTTP)" in body  # port.mapping.<ELB HTTP port> = 9764
    status, node, body = get(ELB_ADDRESS, ELB_HTTPS, MGT_HOST, path="/carbon/")
    assert (status, node) == (200, "manager") and f"on {ELB_ADDRESS}:9444 (servlet HTTPS)" in body


def test_every_port_answers_with_the_node_name_and_unknown_hosts_get_404(cluster):
    ports = {"elb": (ELB_ADDRESS, [ELB_HTTP, ELB_HTTPS, 9763, 9443]),
             "manager": (ELB_ADDRESS, [8281, 8244, 9764, 9444])}
    for name, (address, _, offset) in WORKER_LAYOUT.items():
        ports[name] = (address, [8280 + offset, 8243 + offset, 9763 + offset, 9443 + offset])
    for name, (address, node_ports) in ports.items():
        for port in node_ports:
            status, node, body = get(address, port)
            assert (status, node) == (200, name), (address, port, body)
            assert f"{address}:{port}" in body
    status, node, body = get(ELB_ADDRESS, ELB_HTTP, "unknown.example.org")
    assert (status, node) == (404, "elb") and "unknown.example.org" in body
    # A host loadbalancer.conf fronts (the pack's sample appserver service) with no member joined.
    status, node, body = get(ELB_ADDRESS, ELB_HTTP, "appserver.cloud-test.wso2.com")
    assert (status, node) == (503, "elb") and "No application members available" in body


def test_worker_refuses_deployment_changes_and_the_manager_takes_them(cluster):
    status, node, body = get("127.0.0.3", 9763, method="POST", path="/carbon/proxyservices/add")
    assert (status, node) == (403, "worker1") and "-DworkerNode=true" in body
    assert get(ELB_ADDRESS, 9764, method="POST", path="/carbon/proxyservices/add")[:2] == (200, "manager")


def test_killed_worker_leaves_the_cluster_and_is_no_longer_routed(seed, launcher, cluster):
    home = copy_home(seed, "server-206", "worker2", "worker4", moved(4004, 4, from_port=4002, from_offset=2))
    worker4 = launcher.start("server-206", home, "-DworkerNode=true")
    worker4.wait_for(STARTED)
    elb, manager = cluster["elb"], cluster["manager"]
    elb.wait_for(f"Application member {application_member(ELB_ADDRESS, 4004, 4, 'worker')} joined application cluster")
    assert "worker4" in {get(ELB_ADDRESS, ELB_HTTP, WORKER_HOST)[1] for _ in range(4)}

    os.killpg(worker4.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    elb.wait_for(f"Member {esb_member(ELB_ADDRESS, 4004)} left cluster", timeout=10)
    elb.wait_for(f"Application member {application_member(ELB_ADDRESS, 4004, 4, 'worker')} left cluster.")
    manager.wait_for(f"Member {esb_member(ELB_ADDRESS, 4004)} left cluster", timeout=10)
    assert time.monotonic() - killed < 5
    answers = [get(ELB_ADDRESS, ELB_HTTP, WORKER_HOST) for _ in range(8)]
    assert {status for status, _, _ in answers} == {200}
    assert {node for _, node, _ in answers} == {"worker1", "worker2", "worker3"}


def test_worker_of_another_domain_never_joins_and_stops_cleanly(seed, launcher, cluster):
    edits = moved(4005, 5, from_port=4000, from_offset=0)
    edits[AXIS2_XML].append((f'<parameter name="domain">{DOMAIN}</parameter>',
                             '<parameter name="domain">wso2.other.domain</parameter>'))
    worker5 = launcher.start("server-132", copy_home(seed, "server-132", "worker1", "worker5", edits),
                             "-DworkerNode=true")
    # Neither WKA member answers a JOIN of a domain it does not have: the worker retries every 5 s.
    worker5.wait_for("No responses received from WKA members", count=2, timeout=15)
    assert "Cluster initialization completed." not in worker5.log_text()
    assert STARTED not in worker5.log_text()
    assert "127.0.0.3:4005" not in cluster["elb"].log_text()
    assert "127.0.0.3:4005" not in cluster["manager"].log_text()

    worker5.process.send_signal(signal.SIGTERM)
    assert worker5.wait_for_exit(timeout=5) == 0
    assert_in_order(worker5.console_events(), [("CarbonServerManager", "Shutdown hook triggered...."),
                                               ("TribesClusteringAgent", "Stopping Tribes channel..."),
                                               ("CarbonServerManager", "Shutdown complete")])


# --- failures -----------------------------------------------------------------------------------------


def test_busy_member_port_is_a_bind_exception_and_the_node_exits(seed, launcher, cluster):
    # A copy of worker1 with its own offset but worker1's localMemberPort, on the same address.
    home = copy_home(seed, "server-132", "worker1", "worker6", moved(4000, 6, from_port=4000, from_offset=0))
    worker6 = launcher.start("server-132", home, "-DworkerNode=true")
    assert worker6.wait_for_exit() != 0
    console = worker6.console_text()
    assert "INFO - ReceiverBase Unable to bind server socket to:/127.0.0.3:4000 throwing error." in console
    assert "ERROR - TribesClusteringAgent Error starting Tribes channel" in console
    assert "Caused by: java.net.BindException: Address already in use" in console
    assert "java.net.BindException: Address already in use" in worker6.log_text()
    assert "Cluster initialization completed." not in console


DENIED = "Access denied for user 'regadmin'@'127.0.0.3' (using password: YES)"
LINK_FAILURE = "com.mysql.jdbc.exceptions.jdbc4.CommunicationsException: Communications link failure"


@pytest.mark.parametrize("name, broken, error_line, exception", [
    ("worker7", (f"<password>{APP_PASSWORD}</password>", "<password>wrong</password>"),
     f"ERROR - DatabaseUtil Database Error - {DENIED}", [f"java.sql.SQLException: {DENIED}"]),
    # Port 9 (discard): nothing listens there.
    ("worker11", ("carbondb.mysql-wso2.com:{port}/", "carbondb.mysql-wso2.com:9/"),
     "ERROR - DatabaseUtil Database Error - Communications link failure",
     [LINK_FAILURE, "Caused by: java.net.ConnectException: Connection refused"]),
    # The hosts file maps other.example.org to 10.9.9.9: the stand-in refuses to leave loopback.
    ("worker12", ("carbondb.mysql-wso2.com:", "other.example.org:"),
     "ERROR - DatabaseUtil Database Error - refusing to connect datasource REGISTRY_LOCAL2 to other.example.org "
     "(10.9.9.9)", ["java.net.ConnectException: Connection refused"]),
], ids=["wrong-password", "unreachable", "not-loopback"])
def test_datasource_failures_are_reported_as_carbon_does_and_the_node_exits(seed, launcher, mariadb, name,
                                                                            broken, error_line, exception):
    old, new = (text.format(port=mariadb.port) for text in broken)
    home = copy_home(seed, "server-132", "worker3", name, {MASTER_DATASOURCES_XML: [(old, new)]})
    node = launcher.start("server-132", home, "-DworkerNode=true")
    assert node.wait_for_exit() != 0
    assert error_line in node.console_text()
    for line in exception:  # the exception's lines follow the ERROR line in both outputs
        assert line in node.console_text() and line in node.log_text()
    assert "{org.wso2.carbon.user.core.util.DatabaseUtil} -  Database Error - " in node.log_text()
    assert "Initializing cluster..." not in node.console_text()


def test_missing_jdbc_driver_is_a_class_not_found_exception(seed, launcher):
    home = copy_home(seed, "server-132", "worker3", "worker8", {})
    for jar in (home / "repository/components/lib").glob("*.jar"):
        jar.unlink()
    worker8 = launcher.start("server-132", home, "-DworkerNode=true")
    assert worker8.wait_for_exit() != 0
    assert "java.lang.ClassNotFoundException: com.mysql.jdbc.Driver" in worker8.console_text()


def test_missing_registry_tables_stop_the_start_unless_setup_creates_them(seed, launcher, mariadb):
    with mariadb.connect() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE REGISTRY_LOCAL9")
        cursor.execute("GRANT ALL PRIVILEGES ON REGISTRY_LOCAL9.* TO 'regadmin'@'127.0.0.3'")
    # Clustering off, so that this node never joins the cluster of the other tests.
    edits = moved(4009, 9, from_port=4000, from_offset=0)
    edits[AXIS2_XML].append(('TribesClusteringAgent" enable="true"', 'TribesClusteringAgent" enable="false"'))
    edits[MASTER_DATASOURCES_XML] = [("/REGISTRY_LOCAL2?", "/REGISTRY_LOCAL9?")]
    home = copy_home(seed, "server-132", "worker1", "worker9", edits)

    first = launcher.start("server-132", home)
    assert first.wait_for_exit() != 0
    assert "Table 'REGISTRY_LOCAL9.REG_PATH' doesn't exist" in first.console_text()

    second = launcher.start("server-132", home, "-Dsetup")
    second.wait_for(STARTED)
    assert "Creating registry and user manager tables in REGISTRY_LOCAL9" in second.log_text()
    with mariadb.connect(database="REGISTRY_LOCAL9") as admin, admin.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        assert {"REG_PATH", "UM_USER"} <= {row[0] for row in cursor.fetchall()}
    assert "Initializing cluster..." not in second.log_text()
    second.process.send_signal(signal.SIGTERM)
    assert second.wait_for_exit(timeout=5) == 0


def test_malformed_axis2_xml_stops_the_start_with_a_parse_error(seed, launcher):
    home = copy_home(seed, "server-132", "worker1", "worker10", {AXIS2_XML: [("</clustering>", "</clusterin>")]})
    node = launcher.start("server-132", home)
    assert node.wait_for_exit() != 0
    console = node.console_text()
    assert "ERROR - AxisConfigBuilder Error while reading the Axis2 configuration" in console
    assert "javax.xml.stream.XMLStreamException: ParseError at [row,col]:[" in console


def test_well_known_member_outside_loopback_is_refused_not_contacted(seed, launcher):
    edits = moved(4013, 13, from_port=4000, from_offset=0)
    edits[AXIS2_XML] += [("<hostName>elb.wso2.com</hostName>", "<hostName>other.example.org</hostName>"),
                         ("<hostName>mgt.esb.wso2.com</hostName>", "<hostName>other.example.org</hostName>")]
    node = launcher.start("server-132", copy_home(seed, "server-132", "worker1", "worker13", edits))
    node.wait_for("No responses received from WKA members")
    assert_in_order(node.console_events(), [
        ("WkaBasedMembershipScheme", "Could not connect to member 10.9.9.9:4000(wso2.esb.domain)"),
        ("TribesUtil", "No members in current cluster"),
        ("WkaBasedMembershipScheme", "Sending JOIN message to WKA members...")])
    assert ("ERROR - WkaBasedMembershipScheme Refusing to contact other.example.org (10.9.9.9): the Carbon "
            "stand-in only talks to loopback addresses") in node.console_text()
    node.process.send_signal(signal.SIGTERM)
    assert node.wait_for_exit(timeout=5) == 0


# --- the configuration readers on real files of the era (../shared/carbon-configs) ---------------------


def test_readers_take_the_real_files_as_carbon_does(carbon_configs_dir):
    esb = read_axis2_xml(carbon_configs_dir / "esb-4.7.0")
    assert (esb.http_port, esb.https_port) == (8280, 8243)
    assert esb.clustering is not None and not esb.clustering.enabled
    assert (esb.clustering.membership_scheme, esb.clustering.domain) == ("multicast", "wso2.carbon.domain")
    elb = read_axis2_xml(carbon_configs_dir / "elb-2.0.4")
    assert elb.clustering is not None and elb.clustering.enabled and elb.clustering.members == ()
    assert (elb.clustering.membership_scheme, elb.clustering.local_member_port) == ("wka", 4000)
    worker = read_axis2_xml(carbon_configs_dir / "af-as-5.0.2-devcloud")
    assert worker.clustering is not None and worker.clustering.domain == "dev-cloud"
    assert [(m.host_name, m.port) for m in worker.clustering.members] == [("127.0.0.1", 4000)]
    assert read_carbon_xml(carbon_configs_dir / "apim-1.4.0", {}).product == "WSO2 API Manager-1.4.0"
    assert read_carbon_xml(carbon_configs_dir / "af-as-5.0.2-devcloud", {"portOffset": "5"}).offset == 5

    stock = read_loadbalancer_conf(carbon_configs_dir / "elb-2.0.4/repository/conf/loadbalancer.conf")
    assert ("esb", "wso2.esb.domain", "__$default", ("esb.cloud-test.wso2.com",)) in [
        (d.service, d.domain, d.sub_domain, d.hosts) for d in stock]
    sub_domains = read_loadbalancer_conf(
        carbon_configs_dir / "testdata-lb-common-4.1.3/mediator.autoscale/src/test/resources/loadbalancer.conf")
    assert [(d.domain, d.sub_domain) for d in sub_domains] == [
        ("wso2.as1.domain", "worker"), ("wso2.as1.domain", "mgt"), ("wso2.as2.domain", "mgt")]
    # ELB 2.0.5's file lacks the "}" closing services: refused, as a strict reader must.
    with pytest.raises(StartupFailure) as malformed:
        read_loadbalancer_conf(carbon_configs_dir / "elb-2.0.5/repository/conf/loadbalancer.conf")
    assert "block 'services' is not closed" in malformed.value.exception[0]
