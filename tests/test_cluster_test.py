"""The guide's "Testing the cluster" through the real CLI: ``verify --cluster-test`` on the seed's two
loopback servers, with the Carbon stand-ins, a real MariaDB and deployment synchronisation
through the REGISTRY_DB mount the installer writes."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_launch import Cluster, distributions  # noqa: F401 (fixtures)

SERVERS = ("server-206", "server-132")
PROXY_SERVICES = "repository/deployment/server/synapse-configs/default/proxy-services"
NODES = {"server-206": ("elb", "manager", "worker2"), "server-132": ("worker1", "worker3")}


@pytest.fixture
def cluster(tmp_path, distributions, fresh_mariadb_state):  # noqa: F811
    made = Cluster(tmp_path, distributions, fresh_mariadb_state)
    yield made
    made.kill_everything()


def started(cluster):
    for server in SERVERS:
        result = cluster.apply(server)
        assert result.returncode == 0, result.stdout + result.stderr


def cluster_test(cluster, server, *extra):
    result = cluster.cli("verify", server, "--cluster-test", "--json", *extra)
    report = json.loads(result.stdout)
    return result, {check["name"]: check for check in report["checks"] if check["name"].startswith("cluster test")}


def probes_left(cluster):
    """Probe files in any node's proxy-services folder, on either server."""
    return [str(path) for server, nodes in NODES.items() for node in nodes
            for path in (cluster.home(server, node) / PROXY_SERVICES).glob("wso2ClusterProbe*")]


def logged_hits(cluster, server, node):
    text = (cluster.home(server, node) / "repository/logs/wso2carbon.log").read_text()
    return re.findall(r"LogMediator\} - .*CLUSTER_PROBE = ([0-9a-f]+), PROBE_REQUEST = (\d+), "
                      r"PROBE_HOST = worker\.esb\.wso2\.com", text)


def test_seed_cluster_test_is_green_on_both_servers_and_every_worker_logged_probes(cluster):
    started(cluster)

    on_206, checks = cluster_test(cluster, "server-206")
    assert on_206.returncode == 0, on_206.stdout + on_206.stderr
    assert all(check["status"] == "passed" for check in checks.values()), checks
    assert {"cluster test: manager deploys the probe", "cluster test: manager shares the probe",
            "cluster test: worker2 receives the probe", "cluster test: worker2 hits",
            "cluster test: probe removed"} <= set(checks)
    # Progress went to stderr, phase by phase.
    assert "waiting for manager to deploy it" in on_206.stderr and "sending" in on_206.stderr

    on_132, checks_132 = cluster_test(cluster, "server-132")
    assert on_132.returncode == 0, on_132.stdout + on_132.stderr
    assert set(checks_132) == {"cluster test: worker1", "cluster test: worker3"}
    assert all("undeployed it" in check["detail"] for check in checks_132.values()), checks_132

    # Every worker logged at least one request of the same probe, with the worker host name.
    tokens = set()
    for server, node in (("server-206", "worker2"), ("server-132", "worker1"), ("server-132", "worker3")):
        hits = logged_hits(cluster, server, node)
        assert hits, f"{node} logged no probe request"
        tokens |= {token for token, _number in hits}
    assert len(tokens) == 1
    # The manager took none of them: the worker host name is routed to workers only.
    assert logged_hits(cluster, "server-206", "manager") == []
    assert probes_left(cluster) == []

    # A second run uses a new probe, and is green again.
    again, _ = cluster_test(cluster, "server-206")
    assert again.returncode == 0, again.stdout
    assert len({token for token, _ in logged_hits(cluster, "server-206", "worker2")}) == 2


def test_deployment_sync_disabled_on_one_worker_fails_naming_it_and_the_setting(cluster):
    started(cluster)
    carbon_xml = cluster.home("server-132", "worker1") / "repository/conf/carbon.xml"
    text = carbon_xml.read_text()
    # The active block is the installer's, last in <Server> (the fixture's example is a comment).
    before, block, after = text.rpartition("<DeploymentSynchronizer>\n        <Enabled>true</Enabled>")
    assert block and "-->" not in after
    carbon_xml.write_text(before + block.replace("true", "false") + after)
    restarted = cluster.cli("restart", "server-132", "--node", "worker1")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr

    on_206, checks = cluster_test(cluster, "server-206", "--probe-timeout", "15")
    assert on_206.returncode == 1, on_206.stdout
    requests = checks["cluster test: requests to worker.esb.wso2.com"]
    assert requests["status"] == "failed" and "not answered by the probe" in requests["detail"]
    assert "server-132" in requests["hint"]
    assert checks["cluster test: probe removed"]["status"] == "passed"

    on_132, checks_132 = cluster_test(cluster, "server-132")
    assert on_132.returncode == 1
    worker1 = checks_132["cluster test: worker1"]
    assert worker1["status"] == "failed"
    assert "worker1's carbon.xml" in worker1["detail"] and "<Enabled>false</Enabled>" in worker1["detail"]
    assert checks_132["cluster test: worker3"]["status"] == "passed"
    # Pass or fail, the probe is gone from every node.
    assert probes_left(cluster) == []


def test_cluster_test_before_the_manager_ran_it_is_pending_on_the_other_server(cluster):
    started(cluster)
    on_132, checks = cluster_test(cluster, "server-132")
    assert on_132.returncode == 4, on_132.stdout
    assert {check["status"] for check in checks.values()} == {"pending"}
    assert all("verify --cluster-test" in check["hint"] and "server-206" in check["hint"] for check in checks.values())


def test_probe_timeout_needs_the_cluster_test(cluster):
    result = cluster.cli("verify", "server-206", "--probe-timeout", "5")
    assert result.returncode == 2
    assert "--probe-timeout only applies with --cluster-test" in result.stderr
