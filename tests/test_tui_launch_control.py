"""Node control on the Launch screen: Stop and Restart (the node of the current tab, or all),
Start not offered while Apply has steps not done, and quitting during a run asking first.

Tests marked "real nodes" run the seed's server-206 (ELB, manager, worker2) as Carbon stand-ins
on 127.0.0.2 with the suite's MariaDB: run them under the e2e lock
(``flock /tmp/wso2-e2e.lock``). The others drive the screen over a fake engine that only
records what it is asked and says what a real one would."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from installer import InstallerError, LockedError, Note, Session, Status, StepReport, StepStarted, check_plan
from screens.launch import LaunchScreen
from tests.support.build_distributions import build_all
from tests.test_launch import APP_PASSWORD, Cluster, gone
from tests.test_tui_support import make_app, painted_text, seed_plan, shows, sync, wait_for

NODES = ("elb", "manager", "worker2")  # server-206's, in start order


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("launch-control-dists"))


def text_of(app, selector):
    content = app.screen.query_one(selector).content
    return getattr(content, "plain", str(content))


def pane_text(app, node):
    return text_of(app, f"#log-{node} .milestones")


def disabled(app):
    """The Launch buttons that cannot be pressed now."""
    return {button.id for button in app.screen.query("#start-row Button") if button.disabled}


CONTROLS = {"start", "stop-node", "restart-node", "stop-all", "restart-all"}


async def open_launch(pilot):
    pilot.app.go_to("launch")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LaunchScreen)
                   and text_of(pilot.app, "#start-status").startswith("start:"))
    await pilot.pause()


async def show_tab(pilot, node):
    pilot.app.screen.query_one("#node-logs").active = f"log-{node}"
    await shows(pilot, f"Stop {node}", f"Restart {node}")


# --- a fake engine: what the screen asks, and what it is told ------------------------------------------

class FakeEngine:
    """Stands in for the node control of ``installer.Session``: every Apply step done, nodes
    "running" with made-up pids; stop / restart / start note each node as the engine does. With
    ``hold``, each node waits for ``release()`` (or the run's stop event) before it is done."""

    def __init__(self) -> None:
        self.pids: dict[str, int | None] = {"elb": 4101, "manager": 4102, "worker2": 4103}
        self.hold = False
        self.steps_go = threading.Semaphore(0)
        self.calls: list[tuple[str, tuple[str, ...] | None]] = []
        self.error: BaseException | None = None
        self.stop_outcome: dict[str, str] = {}
        self.stays_running: set[str] = set()
        self.stop_seen = threading.Event()
        self.next_pid = 5000

    def release(self, count: int = 1) -> None:
        for _ in range(count):
            self.steps_go.release()


class FakeSession:
    def __init__(self, engine: FakeEngine, real: Session, emit, stop: threading.Event | None) -> None:
        self.engine, self.real, self.emit, self.stop_event = engine, real, emit, stop

    def __getattr__(self, name):  # nodes, milestones, follow, launch_offset: the real ones
        return getattr(self.real, name)

    def check(self):
        running = all(pid is not None for pid in self.engine.pids.values())
        return [(step, StepReport.checked(Status.DONE if step != "start" or running else Status.PENDING,
                                          "fake: checked")) for step in self.real.steps]

    def node_pids(self):
        return dict(self.engine.pids)

    def _wait(self) -> None:
        if not self.engine.hold:
            return
        while not self.engine.steps_go.acquire(timeout=0.05):
            if self.stop_event is not None and self.stop_event.is_set():
                self.engine.stop_seen.set()
                raise InstallerError("stopped by the operator", "start them again", title="Stopped")

    def _names(self, names):
        return [name for name in NODES if not names or name in names]

    def stop(self, names=None, timeout=30.0):
        self.engine.calls.append(("stop", tuple(names) if names else None))
        if self.engine.error is not None:
            raise self.engine.error
        outcomes = []
        for name in reversed(self._names(names)):
            self._wait()
            outcome = self.engine.stop_outcome.get(name, "stopped")
            if name not in self.engine.stays_running:
                self.engine.pids[name] = None
            outcomes.append(f"{name}: {outcome}")
            self.emit(Note("start", f"{name}: {outcome}"))
        return outcomes

    def _start(self, names):
        started = []
        for name in self._names(names):
            if self.engine.pids[name] is not None:
                self.emit(Note("start", f"{name}: already running"))
                continue
            self._wait()
            self.engine.next_pid += 1
            self.engine.pids[name] = self.engine.next_pid
            self.emit(Note("start", f"{name}: started (pid {self.engine.next_pid}): sh bin/wso2server.sh"))
            started.append(name)
        return "started " + ", ".join(started)

    def restart(self, names=None, timeout=30.0):
        self.engine.calls.append(("restart", tuple(names) if names else None))
        self.stop(names)
        self.engine.calls.pop()
        return self._start(names)

    def apply(self):
        self.engine.calls.append(("start", None))
        self.emit(StepStarted("start"))
        return [StepReport(Status.DONE, self._start(None), step="start")]


@pytest.fixture
def fake_engine(monkeypatch):
    engine = FakeEngine()
    real_session = LaunchScreen.make_session

    def make_session(screen, emit=None, steps=("start",)):
        real = real_session(screen, None, steps)
        return FakeSession(engine, real, emit or (lambda event: None), getattr(screen.app, "stop_requested", None))

    monkeypatch.setattr(LaunchScreen, "make_session", make_session)
    yield engine
    engine.hold = False
    engine.release(10)


@pytest.fixture
def seed(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


# --- Start while Apply is not done ---------------------------------------------------------------------

@sync
async def test_start_is_not_offered_while_apply_steps_are_not_done_and_says_which(tmp_path, seed):
    app = make_app(tmp_path / "app", seed, "server-206")  # nothing applied, no password given
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        text = await shows(pilot, "Start is not offered until Apply has done every step: preflight failed; "
                                  "extract, configure, database, hosts not done",
                           "Run them on the Apply screen")
        assert "application database password is needed" in text  # why preflight failed
        assert {"start", "restart-node", "restart-all"} <= disabled(app)
        assert app.screen.check_action("start", ()) is None  # dimmed in the footer, not run
        await pilot.press("ctrl+r", "r", "R")
        await pilot.pause(0.3)
        assert text_of(app, "#start-status").startswith("start: pending")
        assert not app.screen.running and not any(worker.group == "start" for worker in app.workers)
        assert app.screen.focused is app.screen.query_one("#back")  # Enter goes back to Apply
    assert not (seed.parent / "server-206" / "wso2" / "elb").exists()


@sync
async def test_skipped_steps_do_not_hold_start_back(tmp_path, seed):
    app = make_app(tmp_path / "app", seed, "server-206", environ={"WSO2_DB_PASSWORD": APP_PASSWORD})
    app.wizard.skipped_steps.update({"database", "hosts"})
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        text = await shows(pilot, "Apply has done every step: extract, configure not done",
                           "skipped (to do by hand): database, hosts")
        assert "preflight" not in text.split("Apply has done every step:")[1].split(".")[0]
        assert "start" in disabled(app)


@sync
async def test_start_is_offered_once_every_apply_step_is_done(tmp_path, seed, fake_engine):
    fake_engine.pids = dict.fromkeys(NODES)
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await shows(pilot, "start: pending", absent=("Start is not offered",))
        assert disabled(app) == {"stop-node", "stop-all"}  # nothing runs: nothing to stop
        assert app.screen.focused is app.screen.query_one("#start")
        await pilot.press("ctrl+r")
        await shows(pilot, "start: done - started elb, manager, worker2")
        assert fake_engine.calls == [("start", None)]
        assert disabled(app) == set()


# --- Stop and Restart over the fake engine --------------------------------------------------------------

@sync
async def test_stop_all_shows_each_node_and_disables_the_buttons_while_it_runs(tmp_path, seed, fake_engine):
    fake_engine.hold = True
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await shows(pilot, "elb ●", "manager ●", "worker2 ●", "running (pid 4101)")
        await pilot.press("S")
        await shows(pilot, "Stopping: elb to stop · manager to stop · worker2 stopping…")
        assert disabled(app) == CONTROLS
        assert app.screen.query_one("#back").disabled and app.screen.query_one("#next").disabled
        fake_engine.release()
        # The guide's reverse order: workers, then the manager, then the ELB.
        await shows(pilot, "worker2 stopped", "manager stopping…", "worker2 ○")
        assert disabled(app) == CONTROLS
        fake_engine.release(2)
        await shows(pilot, "Stop all: elb stopped · manager stopped · worker2 stopped", "elb ○", "manager ○")
        assert fake_engine.calls == [("stop", None)]
        assert disabled(app) == {"stop-node", "stop-all"}  # nothing left to stop; Start is offered
        assert not app.screen.query_one("#back").disabled
        assert "running" not in pane_text(app, "elb") and pane_text(app, "elb").startswith("stopped")


@sync
async def test_stop_and_restart_act_on_the_node_of_the_current_tab(tmp_path, seed, fake_engine):
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await show_tab(pilot, "manager")
        await pilot.press("s")
        await shows(pilot, "Stop manager: manager stopped", "manager ○", "elb ●", "worker2 ●")
        assert fake_engine.calls == [("stop", ("manager",))]
        assert "stop-node" in disabled(app)  # it is stopped already
        await pilot.click("#restart-node")
        await shows(pilot, "Restart manager: manager running (pid 5001)", "manager ●")
        assert fake_engine.calls[-1] == ("restart", ("manager",))
        assert pane_text(app, "manager").startswith("running (pid 5001)")
        await pilot.press("R")
        await shows(pilot, "Restart all: elb running (pid 5002) · manager running (pid 5003) · "
                           "worker2 running (pid 5004)")


@sync
async def test_another_run_holding_the_lock_is_said_with_what_to_do(tmp_path, seed, fake_engine):
    fake_engine.error = LockedError("process 777 has been running `apply` on /opt/wso2 since 10:00",
                                    "wait for it to finish, then run this command again")
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await pilot.press("S")
        text = await shows(pilot, "Another run is in progress: process 777 has been running `apply`",
                           "What to do: wait for that run to finish (or stop it there), then press Stop all again")
        assert "run this command again" not in text  # the command line's words, not the wizard's
        assert disabled(app) == set()  # nothing changed: everything can be pressed again


@sync
async def test_a_node_that_does_not_stop_is_named_with_what_to_do(tmp_path, seed, fake_engine):
    fake_engine.stop_outcome["worker2"] = "killed after 30 s"
    fake_engine.stays_running.add("worker2")
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await show_tab(pilot, "worker2")
        await pilot.click("#stop-node")
        await shows(pilot, "A node did not stop: worker2 is still running (pid 4103) after TERM and KILL",
                    "What to do: it may have been started by another user", "worker2 ●")
        assert "worker2: killed after 30 s" in "\n".join(line.text for line in app.screen.query_one("#start-notes").lines)


@sync
async def test_a_node_the_wizard_may_not_signal_is_said_plainly(tmp_path, seed, fake_engine):
    fake_engine.error = PermissionError(1, "Operation not permitted")
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await pilot.press("S")
        await shows(pilot, "Not allowed to signal a node: Stop all: Operation not permitted",
                    "run the installer as that user", absent=("Unexpected error",))


# --- quitting while a run is in progress --------------------------------------------------------------

@sync
async def test_quitting_while_a_stop_runs_asks_first_and_stay_goes_back(tmp_path, seed, fake_engine):
    fake_engine.hold = True
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await show_tab(pilot, "worker2")
        await pilot.press("S")
        await shows(pilot, "worker2 stopping…")
        await pilot.press("ctrl+q")
        await shows(pilot, "Launch: Stop all is running. Stop the run and quit?", "Quit", "Stay", "esc Stay")
        assert app.screen.focused.id == "no"  # an Enter out of habit stays
        await pilot.press("enter")
        await shows(pilot, "worker2 stopping…", absent=("Stop the run and quit?",))
        assert isinstance(app.screen, LaunchScreen) and app.is_running and not app.stop_requested.is_set()
        assert app.screen.query_one("#node-logs").active == "log-worker2"  # where the operator was
        fake_engine.release(3)
        await shows(pilot, "Stop all: elb stopped")
        await pilot.press("ctrl+q")  # nothing runs now: no question
        await pilot.pause(0.3)
        assert not isinstance(app.screen, LaunchScreen) or not app.is_running
    assert app.return_code == 0


@sync
async def test_quit_confirmed_stops_the_run(tmp_path, seed, fake_engine):
    fake_engine.hold = True
    fake_engine.pids = dict.fromkeys(NODES)
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await pilot.press("ctrl+r")
        await shows(pilot, "Starting:")
        await pilot.press("ctrl+q")
        await shows(pilot, "Launch: Start is running. Stop the run and quit?")
        await pilot.click("#yes")  # Quit
        await pilot.pause(0.3)
    assert app.return_code == 0 and app.stop_requested.is_set()
    assert fake_engine.stop_seen.wait(5)  # the engine was told to give up


@sync
async def test_quitting_asks_while_apply_runs_and_not_otherwise(tmp_path, seed):
    app = make_app(tmp_path / "app", seed, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.go_to("apply")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ApplyScreen")
        await pilot.pause()
        app.screen.set_running(True)  # what Apply does while its steps run
        await pilot.press("ctrl+q")
        await shows(pilot, "Apply is running. Stop the run and quit?")
        await pilot.press("escape")  # Stay
        await shows(pilot, "Run the steps not done", absent=("Stop the run and quit?",))
        assert type(app.screen).__name__ == "ApplyScreen" and app.is_running
        app.screen.set_running(False)
        await pilot.press("ctrl+q")
        await pilot.pause(0.3)
        assert "Stop the run and quit?" not in painted_text(app)
    assert app.return_code == 0 and app.stop_requested.is_set()


# --- real nodes (under the e2e lock) ----------------------------------------------------------------

@pytest.fixture
def cluster(tmp_path, distributions, fresh_mariadb_state):
    made = Cluster(tmp_path, distributions, fresh_mariadb_state)
    yield made
    made.kill_everything()


def real_app(cluster, tmp_path):
    environ = {"WSO2_DB_PASSWORD": APP_PASSWORD, "WSO2_DB_ADMIN_PASSWORD": cluster.mariadb.admin_password}
    return make_app(tmp_path / "app", cluster.seed.plan, "server-206", is_root=os.geteuid() == 0, environ=environ)


@pytest.fixture
def standin_environment(cluster, monkeypatch):
    """What the stand-ins need from the wizard's environment when the wizard starts them."""
    for name, value in cluster.env("server-206").items():
        if name.startswith("CARBON_STANDIN"):
            monkeypatch.setenv(name, value)
    return cluster


def pid_of(cluster, node):
    return cluster.process_record("server-206", node)["pid"]


def running(pid):
    return not gone(pid)


@sync
async def test_real_nodes_stop_and_restart_one_node(cluster, standin_environment, tmp_path):
    applied = await asyncio.to_thread(cluster.apply, "server-206", "--skip", "verify")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    pids = {node: pid_of(cluster, node) for node in NODES}
    app = real_app(cluster, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await shows(pilot, "start: done", f"running (pid {pids['elb']})", "worker2 ●", timeout=60)
        await show_tab(pilot, "worker2")
        await pilot.press("s")
        await shows(pilot, "Stop worker2: worker2 stopped", "worker2 ○", timeout=60)
        assert gone(pids["worker2"]) and running(pids["elb"]) and running(pids["manager"])
        assert pane_text(app, "worker2").startswith("stopped") and "✓" not in pane_text(app, "worker2")

        await pilot.press("r")
        text = await shows(pilot, "Restart worker2: worker2 running (pid", "worker2 ●", timeout=60)
        new_pid = pid_of(cluster, "worker2")
        assert new_pid != pids["worker2"] and running(new_pid) and f"(pid {new_pid})" in text
        assert "-Dsetup" not in cluster.process_record("server-206", "worker2")["argv"]
        # Its log is followed again from the new launch, its milestones counted afresh.
        await wait_for(pilot, lambda: "✓ Carbon started" in pane_text(app, "worker2"), timeout=30)
        log = "\n".join(line.text for line in app.screen.query_one("#log-worker2 .log").lines)
        assert f"── launched (pid {new_pid}) ──" in log
        assert running(pids["elb"]) and running(pids["manager"])


@sync
async def test_real_nodes_stop_all_in_reverse_order_then_restart_all(cluster, standin_environment, tmp_path):
    applied = await asyncio.to_thread(cluster.apply, "server-206", "--skip", "verify")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    pids = {node: pid_of(cluster, node) for node in NODES}
    app = real_app(cluster, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await shows(pilot, "start: done", "elb ●", timeout=60)
        await pilot.press("S")  # (the buttons while it runs: see the fake engine's tests; this may be quick)
        await shows(pilot, "Stop all: elb stopped · manager stopped · worker2 stopped", "elb ○", timeout=90)
        assert all(gone(pid) for pid in pids.values())
        notes = [line.text for line in app.screen.query_one("#start-notes").lines]
        assert [note.split(":")[0] for note in notes if note.endswith(": stopped")] == ["worker2", "manager", "elb"]

        await pilot.press("R")
        text = await shows(pilot, "Restart all: elb running (pid", "manager running (pid", "worker2 running (pid",
                           timeout=120)
        for node in NODES:
            pid = pid_of(cluster, node)
            assert pid != pids[node] and running(pid) and f"{node} running (pid {pid})" in text
            await wait_for(pilot, lambda node=node: "✓ Carbon started" in pane_text(app, node), timeout=30)
        assert "-Dsetup" not in cluster.process_record("server-206", "manager")["argv"]


def never_finishes_starting(cluster, node):
    """The node's start script sleeps instead of starting Carbon: its milestones never come."""
    script = cluster.home("server-206", node) / "bin" / "wso2server.sh"
    script.write_text("sleep 600\n" + script.read_text())


@sync
async def test_real_nodes_quitting_during_start_stops_the_node_being_started(cluster, standin_environment,
                                                                              tmp_path):
    prepared = await asyncio.to_thread(cluster.apply, "server-206", "--skip", "start,verify")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    never_finishes_starting(cluster, "worker2")
    app = real_app(cluster, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_launch(pilot)
        await shows(pilot, "start: pending", absent=("Start is not offered",), timeout=60)
        await pilot.press("ctrl+r")
        await shows(pilot, "worker2 started (pid", timeout=60)
        await pilot.press("ctrl+q")
        await shows(pilot, "Launch: Start is running. Stop the run and quit?")
        quit_at = time.monotonic()
        await pilot.press("y")  # Quit
    records = cluster.state("server-206")["steps"]["start"]["processes"]
    # The start gave up at once: the node it was starting is stopped, not left half-started; the
    # nodes started before it run on.
    deadline = quit_at + 30
    while time.monotonic() < deadline and not gone(records["worker2"]["pid"]):
        await asyncio.sleep(0.1)
    assert gone(records["worker2"]["pid"]), "worker2 is still running"
    assert time.monotonic() - quit_at < 30
    assert running(records["elb"]["pid"]) and running(records["manager"]["pid"])


def test_real_nodes_a_session_stop_event_gives_up_a_start(cluster, standin_environment):
    prepared = cluster.apply("server-206", "--skip", "start,verify")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    never_finishes_starting(cluster, "manager")
    stop = threading.Event()

    def emit(event):
        if isinstance(event, Note) and event.message.startswith("manager: started (pid"):
            stop.set()  # the operator quits while the manager starts

    checked = check_plan(cluster.seed.plan, check_files=False)
    session = Session(checked, "server-206", emit=emit, stop=stop)
    with pytest.raises(InstallerError) as raised:
        session.start()
    assert raised.value.title == "Start stopped"
    assert "stopped while manager was starting" in raised.value.message
    records = cluster.state("server-206")["steps"]["start"]["processes"]
    assert running(records["elb"]["pid"]) and gone(records["manager"]["pid"])
    assert "worker2" not in records  # never started
    # Set before a start: nothing starts (a restart still stops: stopping is never given up).
    with pytest.raises(InstallerError, match="stopped before elb was started"):
        Session(checked, "server-206", stop=stop).restart(["elb"])
    assert gone(records["elb"]["pid"])
