"""SIGKILL the apply process at every step boundary, in the middle of extraction and in the
middle of config writes; the resumed run must end with exactly the tree of an uninterrupted run."""

from __future__ import annotations

import signal

import pytest

from tests.support.build_distributions import build_all
from tests.support.plans import write_seed_plan
from tests.test_apply_e2e import apply, tree_snapshot

SERVER = "server-206"
STEPS = ("preflight", "extract", "configure", "hosts")
CRASH_POINTS = (
    [f"before:{step}" for step in STEPS]
    + [f"after:{step}" for step in STEPS]
    + ["extract:half", "write:axis2.xml", "write:master-datasources.xml", "write:loadbalancer.conf",
       "write:mysql-connector-java-5.1.25-bin.jar", "write:hosts"]
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
