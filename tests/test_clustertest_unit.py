"""The cluster test's reading of Carbon's log lines and carbon.xml, without running nodes (the whole
test over the stand-ins is tests/test_cluster_test.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer.clustertest import (
    ProbeEvidence,
    _worker_verdict,
    probe_name,
    probe_proxy,
    read_cluster_test,
    sync_setting_problem,
)
from installer.errors import REWRITE_CHANGED_FILES, RUN_CLUSTER_TEST
from installer.plan.derive import derive
from installer.plan.model import parse_plan
from tests.paths import REPO_DIR

TOKEN = "0123456789ab"
OTHER = "ba9876543210"
STAMP = "TID: [0] [ESB] [2026-12-01 06:00:00,123]  INFO"


def line(logger: str, message: str) -> str:
    return f"{STAMP} {{{logger}}} -  {message} {{{logger}}}"


DEPLOYED = line("org.apache.synapse.deployers.ProxyServiceDeployer",
                f"ProxyService named '{probe_name(TOKEN)}' has been deployed from file : /h/proxy-services/p.xml")
UNDEPLOYED = line("org.apache.synapse.deployers.ProxyServiceDeployer",
                  f"ProxyService named '{probe_name(TOKEN)}' has been undeployed")
RECEIVED = line("org.wso2.carbon.core.deployment.SynchronizeRepositoryRequest",
                "Received [SynchronizeRepositoryRequest{tenantId=-1234, tenantDomain='carbon.super', "
                "messageId=1f0e}] ")


def hit(number: int, token: str = TOKEN) -> str:
    return line("org.apache.synapse.mediators.builtin.LogMediator",
                f"CLUSTER_PROBE = {token}, PROBE_REQUEST = {number}, PROBE_HOST = worker.esb.wso2.com")


@pytest.fixture
def layout(tmp_path):
    text = (REPO_DIR / "assets/examples/seed.yaml").read_text().replace("/opt/wso2", str(tmp_path / "wso2"))
    plan, problems = parse_plan(text, tmp_path / "plan.yaml")
    assert plan is not None and not [p for p in problems if p.severity == "error"], problems
    return derive(plan)


def feed(node, *lines: str) -> ProbeEvidence:
    evidence = ProbeEvidence(node)
    for text in lines:
        evidence.feed(text)
    return evidence


def test_carbon_lines_are_read_into_evidence(layout):
    worker = layout.node("worker1")
    stray = line("org.apache.synapse.mediators.builtin.LogMediator",
                 f"To: /services/{probe_name(OTHER)}, MessageID: urn:uuid:1, Direction: request, Envelope: <x/>")
    evidence = feed(worker, stray, RECEIVED, DEPLOYED, hit(1), hit(4), "unrelated INFO line", UNDEPLOYED)
    assert evidence.received == 1 and evidence.sent == 0
    assert evidence.has_deployed(probe_name(TOKEN)) and evidence.has_undeployed(probe_name(TOKEN))
    assert evidence.hits == {TOKEN: {1: "worker.esb.wso2.com", 4: "worker.esb.wso2.com"}}
    assert evidence.strays == {OTHER: 1}
    assert evidence.tokens == [OTHER, TOKEN]  # the latest probe is the last one seen


def test_the_probe_is_valid_synapse_with_the_echo_and_the_log_properties():
    from lxml import etree

    root = etree.fromstring(probe_proxy(probe_name(TOKEN), TOKEN))
    ns = {"s": "http://ws.apache.org/ns/synapse"}
    assert root.get("name") == probe_name(TOKEN)
    names = [prop.get("name") for prop in root.findall("s:target/s:inSequence/s:log/s:property", ns)]
    assert names == ["CLUSTER_PROBE", "PROBE_REQUEST", "PROBE_HOST"]
    sequence = [etree.QName(child).localname for child in root.find("s:target/s:inSequence", ns)]
    assert sequence[-1] == "send" and "header" in sequence  # echo: To removed, RESPONSE true, send


@pytest.mark.parametrize(("lines", "status", "words"), [
    ((), "pending", "no cluster test"),
    ((hit(2, OTHER).replace("CLUSTER_PROBE", "x"),
      line("LogMediator", f"To: /services/{probe_name(TOKEN)}, Direction: request")),
     "failed", "got 1 request(s)"),
    ((RECEIVED,), "pending", "no cluster test"),
    ((DEPLOYED,), "failed", "logged none of its requests"),
    ((DEPLOYED, hit(3)), "failed", "has not undeployed it"),
    ((DEPLOYED, hit(3), hit(6), UNDEPLOYED), "passed", "logged 2 request(s) (#3, #6) and undeployed it"),
])
def test_a_worker_verdict_from_its_log(layout, lines, status, words):
    outcome = _worker_verdict(layout.node("worker1"), feed(layout.node("worker1"), *lines), "server-206")
    assert outcome.status == status and words in outcome.detail, outcome
    if status == "pending":
        assert outcome.remedy.action == RUN_CLUSTER_TEST and outcome.remedy.server == "server-206"


DEPSYNC = ("<DeploymentSynchronizer><Enabled>{enabled}</Enabled><AutoCommit>{commit}</AutoCommit>"
           "<AutoCheckout>{checkout}</AutoCheckout><RepositoryType>{kind}</RepositoryType></DeploymentSynchronizer>")


def write_carbon(home: Path, block: str) -> None:
    path = home / "repository/conf/carbon.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<Server xmlns="http://wso2.org/projects/carbon/carbon.xml"><Ports><Offset>0</Offset></Ports>'
                    f"{block}</Server>")


@pytest.mark.parametrize(("node", "block", "words"), [
    ("worker1", DEPSYNC.format(enabled="true", commit="false", checkout="true", kind="registry"), ""),
    ("worker1", "", "has no <DeploymentSynchronizer>"),
    ("worker1", DEPSYNC.format(enabled="false", commit="false", checkout="true", kind="registry"),
     "<Enabled>false</Enabled>"),
    ("worker1", DEPSYNC.format(enabled="true", commit="false", checkout="false", kind="registry"),
     "<AutoCheckout>false</AutoCheckout>"),
    ("manager", DEPSYNC.format(enabled="true", commit="false", checkout="true", kind="registry"),
     "<AutoCommit>false</AutoCommit>"),
    ("manager", DEPSYNC.format(enabled="true", commit="true", checkout="true", kind="svn"),
     "<RepositoryType>svn</RepositoryType>, the plan says registry"),
])
def test_the_setting_at_fault_is_read_from_the_nodes_carbon_xml(layout, node, block, words):
    write_carbon(layout.node(node).home, block)
    problem = sync_setting_problem(layout, layout.node(node))
    assert (words in problem and f"{node}'s carbon.xml" in problem) if words else problem == ""


def test_a_missing_carbon_xml_leaves_the_verdict_to_the_log(layout):
    assert sync_setting_problem(layout, layout.node("worker1")) == ""


def test_on_a_server_without_the_manager_each_worker_is_judged_from_its_own_files(layout):
    worker1, worker3 = layout.node("worker1"), layout.node("worker3")
    write_carbon(worker1.home, DEPSYNC.format(enabled="false", commit="false", checkout="true", kind="registry"))
    write_carbon(worker3.home, DEPSYNC.format(enabled="true", commit="false", checkout="true", kind="registry"))
    log = worker3.home / "repository/logs/wso2carbon.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(("old line", DEPLOYED, hit(2), UNDEPLOYED, "")))
    outcomes = {outcome.name: outcome for outcome in read_cluster_test(layout, "server-132")}
    assert outcomes["cluster test: worker1"].status == "failed"
    assert outcomes["cluster test: worker1"].remedy.action == REWRITE_CHANGED_FILES
    assert outcomes["cluster test: worker3"].status == "passed"
    # A worker that is not running is said so, before anything is read.
    stopped = read_cluster_test(layout, "server-132", running={"worker1"})
    assert [outcome.detail for outcome in stopped if outcome.name == "cluster test: worker3"] == [
        "worker3 is not running"]
