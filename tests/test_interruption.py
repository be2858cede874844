"""SIGKILL the apply process at every step boundary, in the middle of extraction and in the
middle of config writes; the resumed run must end with exactly the tree of an uninterrupted run."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import yaml

from installer.files.base import sha256_bytes
from installer.state import state_path
from tests.support.build_distributions import build_all
from tests.support.plans import write_seed_plan
from tests.test_apply_e2e import apply, run_cli, status_lines, tree_snapshot

SERVER = "server-206"
STEPS = ("preflight", "extract", "configure", "hosts")
CRASH_POINTS = (
    [f"before:{step}" for step in STEPS]
    + [f"after:{step}" for step in STEPS]
    + ["extract:half", "write:axis2.xml", "write:master-datasources.xml", "write:loadbalancer.conf",
       "write:mysql-connector-java-5.1.25-bin.jar", "write:hosts",
       # after the rename, before the state save
       "written:axis2.xml", "written:loadbalancer.conf", "written:hosts"]
)


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, distributions):
    cluster = write_seed_plan(tmp_path_factory.mktemp("reference"), distributions)
    result = apply(cluster, SERVER)
    assert result.returncode == 0, result.stderr
    return tree_snapshot(cluster.install_dir(SERVER)), cluster.hosts_file(SERVER).read_bytes()


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_apply_resumes_to_the_same_tree(crash_at, tmp_path, distributions, reference):
    cluster = write_seed_plan(tmp_path, distributions)
    killed = apply(cluster, SERVER, crash_at=crash_at)
    assert killed.returncode == -signal.SIGKILL, f"the crash point {crash_at} was never reached:\n{killed.stdout}"

    if crash_at.startswith("write:") or crash_at == "extract:half":
        # Nothing half-written under a final name: every XML file present parses.
        from lxml import etree

        for path in cluster.install_dir(SERVER).rglob("*.xml"):
            etree.parse(str(path))

    resumed = apply(cluster, SERVER)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    tree, hosts = reference
    assert tree_snapshot(cluster.install_dir(SERVER)) == tree
    assert cluster.hosts_file(SERVER).read_bytes() == hosts
    assert not list(cluster.install_dir(SERVER).glob(".*.partial"))


def _pin_worker2_member_port(data):
    next(node for node in data["servers"][0]["nodes"] if node["name"] == "worker2")["member_port"] = 4005


def _rename_database_host(data):
    data["database"]["hostname"] = "carbondb2.mysql-wso2.com"


# A plan change that makes the next run rewrite the file of the crash point.
PLAN_CHANGES = {
    "written:axis2.xml": _pin_worker2_member_port,  # worker2's axis2.xml
    "written:hosts": _rename_database_host,  # the hosts block (and the datasource URLs)
}


@pytest.mark.parametrize("crash_at", sorted(PLAN_CHANGES))
def test_killed_between_rename_and_state_save_is_no_drift(crash_at, tmp_path, distributions):
    # The state still holds the fingerprint of the previous write while the file already holds
    # the new content: that used to be "changed by hand" with an empty diff, and apply refused.
    edit = PLAN_CHANGES[crash_at]
    cluster = write_seed_plan(tmp_path / "changed", distributions)
    assert apply(cluster, SERVER).returncode == 0
    data = yaml.safe_load(cluster.plan.read_text())
    edit(data)
    cluster.plan.write_text(yaml.safe_dump(data, sort_keys=False))

    killed = apply(cluster, SERVER, crash_at=crash_at)
    assert killed.returncode == -signal.SIGKILL, f"the crash point {crash_at} was never reached:\n{killed.stdout}"
    status = run_cli("status", "--plan", cluster.plan, "--server", SERVER)
    assert "drifted" not in status.stdout, status.stdout

    resumed = apply(cluster, SERVER)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    fresh = write_seed_plan(tmp_path / "fresh", distributions, edit=edit)
    assert apply(fresh, SERVER).returncode == 0
    assert tree_snapshot(cluster.install_dir(SERVER)) == tree_snapshot(fresh.install_dir(SERVER))
    assert cluster.hosts_file(SERVER).read_bytes() == fresh.hosts_file(SERVER).read_bytes()
    lines = status_lines(run_cli("status", "--plan", cluster.plan, "--server", SERVER).stdout)
    assert "done" in lines["configure"] and "done" in lines["hosts"], lines
    # The resumed run recorded what the killed one wrote (configure's fingerprints are whole files).
    state = json.loads(state_path(cluster.install_dir(SERVER), SERVER).read_text())
    recorded = state["steps"]["configure"]["files"]
    assert recorded and recorded == {path: sha256_bytes(Path(path).read_bytes()) for path in recorded}
