"""Verify has three outcomes per check: passed, failed, pending. Members on a server not started
yet are pending, never counted as passed; only an all-passed verify exits 0 and is remembered as
done, so that the wizard stops offering Resume."""

from __future__ import annotations

import json

import pytest

from installer.state import State
from tests.test_launch import Cluster, distributions  # noqa: F401 (the fixture, shared)
from tests.test_tui_support import make_app, shows, sync


@pytest.fixture
def cluster(tmp_path, distributions, fresh_mariadb_state):  # noqa: F811
    made = Cluster(tmp_path, distributions, fresh_mariadb_state)
    yield made
    made.kill_everything()


def state_of(cluster, server):
    return State.load(cluster.seed.install_dir(server) / ".wso2-cluster" / f"state-{server}.json", server)


def test_members_not_started_yet_are_pending_not_passed(cluster, tmp_path):
    first = cluster.apply("server-206")
    # The first server of two: everything it can do is done; the cluster is not verified yet.
    assert first.returncode == 0, first.stdout + first.stderr
    assert "verify pending" in first.stdout
    assert state_of(cluster, "server-206").step_status("verify") == "pending"

    result = cluster.cli("verify", "server-206", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 4, result.stdout + result.stderr
    assert report["ok"] is False and report["status"] == "pending"
    by_status = {}
    for check in report["checks"]:
        by_status.setdefault(check["status"], []).append(check)
    assert "failed" not in by_status, by_status.get("failed")
    pending_text = " ".join(check["detail"] for check in by_status["pending"])
    assert "worker1" in pending_text and "worker3" in pending_text  # the members on server-132
    assert all(check["ok"] is False for check in by_status["pending"])
    assert state_of(cluster, "server-206").step_status("verify") == "pending"

    table = cluster.cli("verify", "server-206")
    assert table.returncode == 4 and "pending" in table.stdout
    assert "checks passed" in table.stdout and "the cluster holds" not in table.stdout

    # The other server started: every check passes, exit 0, and the state remembers it.
    assert cluster.apply("server-132").returncode == 0
    green = cluster.cli("verify", "server-206", "--json")
    assert green.returncode == 0, green.stdout
    assert json.loads(green.stdout)["status"] == "passed"
    assert state_of(cluster, "server-206").step_status("verify") == "done"


@sync
async def test_welcome_offers_resume_until_verify_is_green(tmp_path):
    from tests.support.build_distributions import build_all
    from tests.support.plans import LOOPBACK_ADDRESSES, write_seed_plan

    seed = write_seed_plan(tmp_path / "cluster", build_all(tmp_path / "dists"), addresses=LOOPBACK_ADDRESSES)
    state = State.load(seed.install_dir("server-206") / ".wso2-cluster" / "state-server-206.json", "server-206")
    for name in ("preflight", "extract", "configure", "database", "hosts", "start"):
        state.mark(name, "done", "")
    state.mark("verify", "pending", "17 of 19 checks passed, 2 pending")
    state.save()
    app = make_app(tmp_path, seed.plan, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await shows(pilot, "Resume server-206", "2 pending")

    state.mark("verify", "done", "19 of 19 checks passed")
    state.save()
    app = make_app(tmp_path, seed.plan, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await shows(pilot, "server-206: installed and verified", "Continue with this plan", absent=("Resume",))


def test_the_engine_checklist_has_every_step_and_check_with_remedies_not_words(tmp_path):
    from installer import START_NODE, Session
    from tests.support.build_distributions import build_all
    from tests.support.plans import LOOPBACK_ADDRESSES, write_seed_plan

    seed = write_seed_plan(tmp_path / "cluster", build_all(tmp_path / "dists"), addresses=LOOPBACK_ADDRESSES)
    items = Session.open(seed.plan, "server-206", check_files=False).checklist(skipped={"database"})
    steps = {item.name: item.status for item in items if item.kind == "step"}
    assert list(steps) == ["preflight", "extract", "configure", "database", "hosts", "start", "verify"]
    assert steps["database"] == "skipped" and steps["verify"] == "failed"  # nothing is running
    checks = [item for item in items if item.kind == "check"]
    assert any(item.remedy is not None and item.remedy.action == START_NODE and item.remedy.node == "elb"
               for item in checks)
    assert not any("wso2-cluster" in item.hint or "--" in item.hint for item in checks)  # words are the front end's
