"""The Verify screen's Cluster test: the button and its key, the progress while the engine runs,
each check with its mark and what to do, the one-line verdict, the report; first over a fake
Session (no nodes, fast), then once end to end over the seed's two servers with the stand-ins."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace

import pytest
from textual.widgets import Button

from installer import (
    REWRITE_CHANGED_FILES,
    RUN_CLUSTER_TEST,
    CheckOutcome,
    InstallerError,
    Remedy,
    ReportItem,
)
from installer.verify import VerifyReport
from screens.verify import VerifyScreen, cluster_test_items
from tests.support.build_distributions import build_all
from tests.test_tui_support import SIZE, make_app, seed_plan, settle, shows, sync, wait_for

SMALL = (80, 24)  # the smallest terminal the wizard is made for
TALL = (100, 60)  # every check of the cluster test painted at once
WAIT = 10.0  # seconds a fake engine waits for the test to let it go on


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("tui-cluster-test-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


class FakeSession:
    """Stands in for installer.Session on the Verify screen: a short checklist, and a cluster
    test that reports progress and waits, phase by phase, until the test lets it go on."""

    def __init__(self, server: str, checks: tuple[CheckOutcome, ...] = (), *, phases: int = 0,
                 error: BaseException | None = None) -> None:
        self.server = SimpleNamespace(name=server)
        self.checks = checks
        self.error = error
        self.go_on = [threading.Event() for _ in range(phases)]
        self.calls = 0
        self.outcome = ""
        self.finished = threading.Event()

    def checklist(self, skipped):
        # As long as the real one: the cluster test's section, below it, is out of view at first.
        return [ReportItem("preflight", "done", "ready"), ReportItem("verify", "done", "12 of 12 checks passed"),
                *(ReportItem(f"check {number}", "ok", "holds", kind="check") for number in range(1, 13))]

    def cluster_test(self, *, probe_timeout=None, progress=None):
        self.calls += 1
        try:
            for number, event in enumerate(self.go_on, 1):
                progress(f"phase {number} of the fake cluster test")
                assert event.wait(WAIT), f"the test never let phase {number} end"
            if self.error is not None:
                raise self.error
            self.outcome = "returned"
            return VerifyReport(self.server.name, self.checks)
        except BaseException as error:
            self.outcome = repr(error)
            raise
        finally:
            self.finished.set()


def use(monkeypatch, session: FakeSession) -> None:
    monkeypatch.setattr(VerifyScreen, "make_session", lambda screen: session)


def style_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content.style)


async def at_verify(pilot, timeout: float = 20.0) -> None:
    pilot.app.go_to("verify")
    await pilot.pause()
    await shows(pilot, "Cluster test", absent=("checking…",), timeout=timeout)


MIXED = (
    CheckOutcome("cluster test: manager deploys the probe", True, "manager deployed wso2ClusterProbe0a1b"),
    CheckOutcome("cluster test: worker2 receives the probe", False,
                 "worker2's carbon.xml has <AutoCheckout>false</AutoCheckout>: it never checks out what the "
                 "manager shares", "rewrite the changed carbon.xml with the configure step, then restart worker2",
                 remedy=Remedy(REWRITE_CHANGED_FILES, step="configure", server="server-206")),
    CheckOutcome("cluster test: worker2 hits", True, "worker2 logged 4 of the 4 requests (#1, #2, #3, #4)"),
    CheckOutcome("cluster test: probe removed", True, "wso2ClusterProbe0a1b undeployed from manager"),
)


@sync
async def test_progress_while_it_runs_then_each_check_what_to_do_and_a_red_verdict(tmp_path, plan, monkeypatch):
    session = FakeSession("server-206", MIXED, phases=2)
    use(monkeypatch, session)
    app = make_app(tmp_path / "app", plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await at_verify(pilot)
        # The button and its key in the footer; the section is below the checklist, out of view.
        await shows(pilot, "^k Cluster test", "check 1: holds", absent=("Deploys a probe proxy",))
        button = app.screen.query_one("#cluster-test", Button)
        await pilot.press("ctrl+k")
        # Scrolled to it: on the manager's server, what the test does here, and its progress.
        await shows(pilot, "Deploys a probe proxy on the manager, sends requests through the ELB", "▶ running",
                    "phase 1 of the fake cluster test", "quitting now waits until the probe is removed")
        assert button.disabled and app.screen.query_one("#back", Button).disabled
        # Pressed again (key or button) while it runs: nothing happens, the first run goes on.
        await pilot.press("ctrl+k")
        button.press()
        await pilot.pause()
        assert session.calls == 1
        session.go_on[0].set()
        await shows(pilot, "phase 2 of the fake cluster test", absent=("phase 1 of",))
        assert button.disabled
        session.go_on[1].set()
        text = await shows(pilot, "The cluster test failed: 1 of 4 checks did not pass", absent=("▶ running",))
        assert style_of(app, "#cluster-status") == "bold red"
        assert "✓ cluster test: worker2 hits: worker2 logged 4 of the 4 requests" in text
        assert "✓ cluster test: probe removed" in text
        # The failed one: its detail, then what to do, the engine's hint and its remedy the wizard's way.
        assert "✗ cluster test: worker2 receives the probe: worker2's carbon.xml has <AutoCheckout>false" in text
        assert ("what to do: rewrite the changed carbon.xml with the configure step, then restart worker2; the "
                "Review screen shows the diffs; Force lets the installer rewrite its values") in text
        assert not button.disabled and not app.screen.query_one("#back", Button).disabled

        # The report has the checklist and the cluster test's checks.
        await pilot.press("ctrl+e")
        await settle(pilot)
        await shows(pilot, "report-server-206.md")
    folder = plan.parent / "server-206" / "wso2" / ".wso2-cluster"
    document = json.loads((folder / "report-server-206.json").read_text())
    items = {item["name"]: item for item in document["items"]}
    assert items["preflight"]["status"] == "done"
    hits = items["cluster test: worker2 hits"]
    assert (hits["status"], hits["kind"], hits["hint"]) == ("ok", "check", "")
    assert hits["detail"] == "worker2 logged 4 of the 4 requests (#1, #2, #3, #4)"
    assert items["cluster test: worker2 receives the probe"]["status"] == "failed"
    assert "the Review screen shows the diffs" in items["cluster test: worker2 receives the probe"]["hint"]
    markdown = (folder / "report-server-206.md").read_text()
    assert "| ✗ | cluster test: worker2 receives the probe | failed |" in markdown


@sync
async def test_all_passed_is_a_green_verdict(tmp_path, plan, monkeypatch):
    passed = tuple(check for check in MIXED if check.ok)
    use(monkeypatch, FakeSession("server-206", passed))
    app = make_app(tmp_path / "app", plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await at_verify(pilot)
        await pilot.click("#cluster-test")
        text = await shows(pilot, "The cluster test passed in", "requests through the ELB reached the workers")
        assert style_of(app, "#cluster-status") == "bold green"
        assert "✓ cluster test: worker2 hits" in text
        assert "what to do" not in app.screen.query_one("#cluster-checks").content.plain


@sync
async def test_on_a_server_without_the_manager_it_reads_the_logs_and_pending_says_where_to_run_it(
        tmp_path, plan, monkeypatch):
    # What the engine says on server-132 before the manager's server ran the test.
    pending = tuple(CheckOutcome.waiting(f"cluster test: {worker}", f"no cluster test in {worker}'s log yet",
                                         "run the cluster test on server-206 first, then here again",
                                         remedy=Remedy(RUN_CLUSTER_TEST, server="server-206"))
                    for worker in ("worker1", "worker3"))
    use(monkeypatch, FakeSession("server-132", pending))
    app = make_app(tmp_path / "app", plan, "server-132")
    async with app.run_test(size=SIZE) as pilot:
        await at_verify(pilot)
        await shows(pilot, "Reads this server's workers' logs for the probe the manager's server (server-206) sent",
                    absent=("Deploys a probe proxy",))
        await pilot.press("ctrl+k")
        text = await shows(pilot, "The cluster test is not complete: 2 check(s) pending",
                           "run the cluster test on the manager's server (server-206) first, then here again",
                           "· cluster test: worker1: no cluster test in worker1's log yet", "· cluster test: worker3",
                           absent=("quitting now waits",))
        assert style_of(app, "#cluster-status") == "bold yellow"
        # What to do names the wizard's button, said once, and never the command line's flag.
        assert "what to do: run the cluster test on server-206 first, then here again" in text
        assert "--cluster-test" not in text and "on the Verify screen" not in text


def test_a_remedy_the_hint_already_says_is_not_repeated():
    pending = CheckOutcome.waiting("cluster test: worker1", "no cluster test in worker1's log yet",
                                   "run the cluster test on server-206 first, then here again",
                                   remedy=Remedy(RUN_CLUSTER_TEST, server="server-206"))
    (item,) = cluster_test_items((pending,), "server-132")
    assert item.hint == "run the cluster test on server-206 first, then here again"
    # Without the hint saying it, the remedy is worded the wizard's way.
    (bare,) = cluster_test_items((CheckOutcome.waiting("x", "y", remedy=Remedy(RUN_CLUSTER_TEST, server="server-206")),),
                                 "server-132")
    assert bare.hint == "press Cluster test on the Verify screen (in the installer on server-206)"
    # A remedy that is not already said stays; passed checks keep their remedy out of the hint too.
    started = CheckOutcome("cluster test", False, "manager is not running", "start manager first",
                           remedy=Remedy("start_node", node="manager", server="server-206"))
    (item,) = cluster_test_items((started,), "server-206")
    assert item.hint == "start manager first; start manager from the Launch screen" and item.status == "failed"


@sync
async def test_an_engine_error_is_shown_as_its_message_and_the_button_comes_back(tmp_path, plan, monkeypatch):
    error = InstallerError("the state file is not readable", "move it away and run again", title="State problem")
    use(monkeypatch, FakeSession("server-206", error=error))
    app = make_app(tmp_path / "app", plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await at_verify(pilot)
        await pilot.press("ctrl+k")
        await shows(pilot, "State problem", "the state file is not readable", "move it away and run again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "VerifyScreen")
        await shows(pilot, "The cluster test could not run: the state file is not readable", absent=("Traceback",))
        assert not app.screen.query_one("#cluster-test", Button).disabled

        use(monkeypatch, FakeSession("server-206", error=ZeroDivisionError("a bug in the probe")))
        await pilot.press("ctrl+k")
        await shows(pilot, "Unexpected error", str(tmp_path / "app" / "tui.log"), absent=("Traceback",))
    assert "ZeroDivisionError: a bug in the probe" in (tmp_path / "app" / "tui.log").read_text()


@sync
async def test_quitting_while_it_runs_lets_the_engine_finish_and_says_so(tmp_path, plan, monkeypatch, capsys):
    session = FakeSession("server-206", MIXED, phases=2)
    use(monkeypatch, session)
    app = make_app(tmp_path / "app", plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await at_verify(pilot)
        await pilot.press("ctrl+k")
        await shows(pilot, "phase 1 of the fake cluster test")
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    # The terminal is given back at once: the operator is told why the installer has not ended.
    assert "waiting for the cluster test to end: it removes its probe proxy" in capsys.readouterr().err
    # The engine was not stopped half-way: let go, it runs to its end (where it removes the probe),
    # its progress after the screen has gone dropped without harm.
    assert not session.finished.is_set()
    for event in session.go_on:
        event.set()
    assert session.finished.wait(WAIT)
    assert session.outcome == "returned"


# --- end to end ------------------------------------------------------------------------------------------

@sync
async def test_cluster_test_on_the_seed_servers_with_the_standins(tmp_path, distributions, fresh_mariadb_state):
    """Both servers applied and started from the command line; the wizard's Cluster test on
    server-206 (the probe through the ELB), then on server-132 (its workers' logs)."""
    from tests.test_cluster_test import SERVERS, probes_left
    from tests.test_launch import Cluster

    cluster = Cluster(tmp_path / "cluster", distributions, fresh_mariadb_state)
    try:
        for server in SERVERS:
            applied = await asyncio.to_thread(cluster.apply, server)
            assert applied.returncode == 0, applied.stdout + applied.stderr

        app = make_app(tmp_path / "app-206", cluster.seed.plan, "server-206", environ=cluster.env("server-206"))
        async with app.run_test(size=TALL) as pilot:
            await at_verify(pilot, timeout=120)
            await pilot.press("ctrl+k")
            text = await shows(pilot, "The cluster test passed in", "✓ cluster test: worker2 hits: worker2 logged",
                               "✓ cluster test: probe removed: wso2ClusterProbe", absent=("▶ running",), timeout=300)
            assert style_of(app, "#cluster-status") == "bold green", text
            assert "undeployed from manager, worker2" in text
            assert "✗" not in app.screen.query_one("#cluster-checks").content.plain
        assert probes_left(cluster) == []

        app = make_app(tmp_path / "app-132", cluster.seed.plan, "server-132", environ=cluster.env("server-132"))
        async with app.run_test(size=TALL) as pilot:
            await at_verify(pilot, timeout=120)
            await pilot.press("ctrl+k")
            await shows(pilot, "The cluster test passed: requests through the ELB reached this server's "
                        "workers (worker1, worker3)", "✓ cluster test: worker1: worker1 deployed wso2ClusterProbe",
                        "✓ cluster test: worker3: worker3 deployed", timeout=120)
    finally:
        cluster.kill_everything()
