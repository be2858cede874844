"""The engine's front door: one server of a plan, with this run's passwords.

Every front end (the CLI, the wizard, the wizard's child process) works through a
:class:`Session`: it checks, previews and applies the steps, starts, stops and follows the nodes,
verifies the cluster and says which passwords are still needed. Front ends only present what it
returns; none of them orchestrates steps, follows logs or decides which passwords matter.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from installer import launch, processes
from installer.clustertest import Timeouts
from installer.contract import Status, StepReport
from installer.database import Probe, probe_database
from installer.engine import Installer
from installer.errors import CHOOSE_SERVER, GIVE_PASSWORD, InstallerError, Remedy, SecretError, UsageError
from installer.events import EventSink, ignore_events
from installer.expectations import FailureSeen, Milestone, MilestoneReached, MilestoneWatch, expectations_for
from installer.lock import locked_state
from installer.logwatch import ChangeWaiter, LogFollower, LogLine
from installer.plan.check import CheckedPlan, check_plan
from installer.plan.derive import Layout, NodeLayout, ServerLayout
from installer.plan.model import Plan
from installer.processes import CARBON_LOG
from installer.report import ReportItem
from installer.secrets import Secrets
from installer.steps import STEP_NAMES
from installer.steps.database import DatabaseStep
from installer.steps.start import StartStep
from installer.steps.verify import VerifyStep
from installer.verify import VerifyReport

APP_PASSWORD = "db_password"
ADMIN_PASSWORD = "db_admin_password"
SVN_PASSWORD = "svn_password"
PASSWORD_LABELS = {APP_PASSWORD: "application database password", ADMIN_PASSWORD: "database admin password",
                   SVN_PASSWORD: "svn password"}
# How a verification check's outcome reads in a checklist.
CHECK_MARKS = {"passed": "ok", "failed": "failed", "pending": "pending"}
# Steps an operator may leave out and do by hand: a password only they need does not block.
SKIPPABLE_STEPS = frozenset({"database", "hosts"})


@dataclass(frozen=True)
class SecretNeed:
    """A password not given yet that steps still to run will ask for."""

    secret: str  # db_password | db_admin_password | svn_password
    steps: tuple[str, ...]

    @property
    def label(self) -> str:
        return PASSWORD_LABELS[self.secret]

    @property
    def blocking(self) -> bool:
        """Needed by a step that cannot be left out: ask before running anything."""
        return any(step not in SKIPPABLE_STEPS for step in self.steps)


@dataclass(frozen=True)
class NodeLog:
    """New lines of one node's log, and what they caused: the milestones reached (counted from
    the node's launch) and the known failures seen, each with the setting and the hint."""

    node: str
    lines: tuple[LogLine, ...]
    reached: tuple[MilestoneReached, ...] = ()
    failures: tuple[FailureSeen, ...] = ()


@dataclass(frozen=True)
class DryRunStep:
    name: str
    preview: StepReport | None
    error: InstallerError | None = None

    @property
    def will_fail(self) -> bool:
        return self.error is not None or bool(self.preview and self.preview.problems)


class Session:
    """One server of a checked plan, with this run's passwords."""

    def __init__(self, checked: CheckedPlan, server: str, *, secrets: Secrets | None = None,
                 emit: EventSink = ignore_events, steps: Sequence[str] = STEP_NAMES,
                 stop: threading.Event | None = None) -> None:
        """``stop``: once set, a start in progress (``apply``'s start step, ``start``, ``restart``)
        gives up: the node being started is stopped, not left half-started, and no other starts."""
        self._installer = Installer(checked, server, secrets=secrets, emit=emit, selected=tuple(steps), stop=stop)

    @classmethod
    def open(cls, plan_path: Path | str, server: str, *, check_files: bool = True, secrets: Secrets | None = None,
             emit: EventSink = ignore_events, steps: Sequence[str] = STEP_NAMES) -> Session:
        """Read and check the plan file (``check_files``: open the zips and the driver too)."""
        return cls(check_plan(Path(plan_path), check_files=check_files), server, secrets=secrets, emit=emit,
                   steps=steps)

    # --- what it is about ----------------------------------------------------------------------

    @property
    def checked(self) -> CheckedPlan:
        return self._installer.checked

    @property
    def plan(self) -> Plan:
        return self._installer.plan

    @property
    def layout(self) -> Layout:
        return self._installer.layout

    @property
    def server(self) -> ServerLayout:
        return self._installer.server

    @property
    def steps(self) -> tuple[str, ...]:
        return self._installer.selected

    @property
    def secrets(self) -> Secrets:
        return self._installer.context.secrets

    @secrets.setter
    def secrets(self, secrets: Secrets) -> None:
        self._installer.context.secrets = secrets

    @property
    def state_file(self) -> Path:
        return self._installer.state_file

    @property
    def log_file(self) -> Path:
        return self._installer.log_file

    def nodes(self, names: Sequence[str] | None = None) -> tuple[NodeLayout, ...]:
        """This server's nodes in start order (ELB, manager, workers), or only ``names``."""
        order = self.layout.start_order(self.server.name)
        if not names:
            return order
        known = {node.name for node in order}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UsageError(f"{', '.join(unknown)}: no such node on {self.server.name}",
                             f"nodes here: {', '.join(sorted(known))}", title="Unknown node",
                             remedy=Remedy(CHOOSE_SERVER, choices=tuple(sorted(known))))
        return tuple(node for node in order if node.name in names)

    # --- the steps ------------------------------------------------------------------------------

    def check(self) -> list[tuple[str, StepReport]]:
        """Every selected step's check: done, pending, drifted or failed; nothing changes."""
        return self._installer.status()

    def preview(self) -> list[tuple[str, StepReport]]:
        """What apply would do, with every diff; nothing changes. Raises on the first step that
        cannot even be previewed."""
        return self._installer.preview()

    def dry_run(self) -> list[DryRunStep]:
        """Every selected step's preview, or the error that already tells it would fail."""
        steps = []
        for name in self.steps:
            try:
                steps.append(DryRunStep(name, self._installer.step(name).preview()))
            except InstallerError as error:
                steps.append(DryRunStep(name, None, error))
        return steps

    def apply(self, *, force: bool = False) -> list[StepReport]:
        """Run the selected steps not done yet, in order, resuming where a run stopped."""
        return self._installer.apply(force=force)

    def secrets_needed(self, done: Collection[str] | None = None) -> tuple[SecretNeed, ...]:
        """The passwords not given yet that the selected steps still to run will ask for.
        ``done``: the steps known to be done (else those that need a password are checked)."""
        if done is None:
            done = {name for name in ("configure", "database") if name in self.steps and self._done(name)}
        to_run = [step for step in self.steps if step not in done]
        wanted: dict[str, list[str]] = {}
        esb_here = any(node.is_esb for node in self.server.nodes)
        for step in to_run:
            if step == "configure" and esb_here:
                wanted.setdefault(APP_PASSWORD, []).append(step)
                if self._installer.layout.needs_svn_password:
                    wanted.setdefault(SVN_PASSWORD, []).append(step)
            if step == "database":
                # Not when the local server's socket admits the admin without a password.
                if self.plan.database.server == self.server.name and self._admin_password_needed():
                    wanted.setdefault(ADMIN_PASSWORD, []).append(step)
                wanted.setdefault(APP_PASSWORD, []).append(step)
        given = {APP_PASSWORD: self.secrets.db_password, ADMIN_PASSWORD: self.secrets.db_admin_password,
                 SVN_PASSWORD: self.secrets.svn_password}
        return tuple(SecretNeed(secret, tuple(steps)) for secret, steps in wanted.items() if not given[secret])

    def _admin_password_needed(self) -> bool:
        return DatabaseStep(self._installer.context).admin_password_needed()

    def _done(self, step: str) -> bool:
        try:
            return self._installer.step(step).check().status == Status.DONE
        except InstallerError:
            return False

    # --- the nodes ------------------------------------------------------------------------------

    def _start_step(self) -> StartStep:
        return StartStep(self._installer.context)

    def start(self, names: Sequence[str] | None = None) -> str:
        """Start the nodes (all of this server's, or ``names``) in order, waiting for each."""
        return self._start_step().start(self.nodes(names))

    def stop(self, names: Sequence[str] | None = None, *, timeout: float = processes.STOP_TIMEOUT) -> list[str]:
        """Stop the nodes in reverse start order: TERM, then KILL after ``timeout``."""
        return self._start_step().stop(self.nodes(names), timeout=timeout)

    def restart(self, names: Sequence[str] | None = None, *, timeout: float = processes.STOP_TIMEOUT) -> str:
        """Stop, then start, under one hold of the lock (never with -Dsetup)."""
        step, nodes = self._start_step(), self.nodes(names)
        with locked_state(self._installer.state, "restart"):
            step.stop(nodes, timeout=timeout)
            return step.start(nodes)

    def node_pids(self) -> dict[str, int | None]:
        """This server's nodes in start order, each with the pid of its process while it runs
        (None when it does not)."""
        step = self._start_step()
        records = {node.name: step.process(node.name) for node in self.nodes()}
        return {name: record.pid if record is not None and processes.is_running(record) else None
                for name, record in records.items()}

    def milestones(self, node: NodeLayout) -> list[Milestone]:
        """The startup milestones of the node's role, in the order they come in its log."""
        return expectations_for(node.role, launch.node_values(self.layout, node))

    def launch_offset(self, node: NodeLayout) -> int:
        """Where the node's wso2carbon.log stood when the installer last started it (0 if never)."""
        records = self._installer.state.steps.get("start", {}).get("processes", {})
        return int(records.get(node.name, {}).get("log_offsets", {}).get(CARBON_LOG, 0))

    def follow(self, names: Sequence[str] | None = None, *, stop: threading.Event, from_offsets: dict[str, int]
               | None = None, count_from: dict[str, int] | None = None, until_end: bool = False,
               on_idle: Callable[[], None] | None = None) -> Iterator[NodeLog]:
        """Follow the nodes' wso2carbon.log: yields the new lines of each node as they come, with
        the milestones reached and the failures seen in them, until ``stop`` is set (or, with
        ``until_end``, once everything written so far has been read).

        ``from_offsets``: where to start reading each node's log (default: its last launch);
        ``count_from``: from which offset lines count for milestones (default: the same), so a
        front end can show the lines before a launch without counting them; ``on_idle``: called
        each time everything written has been read, before waiting (a front end that batches
        lines shows what it holds)."""
        nodes = self.nodes(names)
        from_offsets = from_offsets if from_offsets is not None else {n.name: self.launch_offset(n) for n in nodes}
        count_from = count_from if count_from is not None else dict(from_offsets)
        watch = MilestoneWatch()
        followers: dict[str, LogFollower] = {}
        for node in nodes:
            values = launch.node_values(self.layout, node)
            watch.add_node(node.name, milestones=self.milestones(node), values=values)
            followers[node.name] = LogFollower(node.home / CARBON_LOG, start_offset=from_offsets.get(node.name, 0))
        try:
            with ChangeWaiter(followers.values(), stop) as waiter:
                while not stop.is_set():
                    quiet = True
                    for name, follower in followers.items():
                        lines = follower.poll()
                        if not lines:
                            continue
                        quiet = False
                        yield self._matched(watch, name, lines, count_from.get(name, 0))
                    if quiet:
                        if until_end:
                            return
                        if on_idle is not None:
                            on_idle()
                        waiter.wait()
        finally:
            for follower in followers.values():
                follower.close()

    @staticmethod
    def _matched(watch: MilestoneWatch, name: str, lines: list[LogLine], counted_from: int) -> NodeLog:
        reached: list[MilestoneReached] = []
        failures: list[FailureSeen] = []
        for line in lines:
            if line.generation == 0 and line.offset < counted_from:
                continue  # written before the launch the milestones are counted from
            for event in watch.feed(name, line):
                (reached if isinstance(event, MilestoneReached) else failures).append(event)  # type: ignore[arg-type]
        return NodeLog(name, tuple(lines), tuple(reached), tuple(failures))

    # --- the database ---------------------------------------------------------------------------

    def probe_database(self, role: str = "application") -> Probe:
        """Connect once to the plan's database as the application user (or, ``role="admin"``,
        as the admin) from this server's plan address, as the nodes will, with this run's
        password; says what happened (the wizard probes a draft with ``installer.probe_database``)."""
        db = self.plan.database
        if role == "admin":
            user, password = db.admin_user, self.secrets.db_admin_password
        else:
            user, password = db.user, self.secrets.db_password
        if not password:
            secret = ADMIN_PASSWORD if role == "admin" else APP_PASSWORD
            raise SecretError(f"the {PASSWORD_LABELS[secret]} is needed to connect",
                              remedy=Remedy(GIVE_PASSWORD, secret=secret))
        return probe_database(db.address, db.port, self.server.address, user, password, role=role)

    # --- verification ---------------------------------------------------------------------------

    def checklist(self, skipped: Collection[str] = ()) -> list[ReportItem]:
        """Every selected step's check, then the verify step's verdict and each of its checks
        (``verify``, which keeps the verdict). A step the operator left out (``skipped``) and
        has not done is "skipped". The items carry remedies for the front end to word."""
        items = []
        for name, check in self.check():
            if name == "verify":
                continue
            if name in skipped and check.status != Status.DONE:
                items.append(ReportItem(name, "skipped", "left out by the operator: to do by hand"))
            else:
                items.append(ReportItem(name, check.status.value, check.message))
        result = self.verify()
        items.append(ReportItem("verify", "done" if result.ok else result.status, result.summary))
        items += [ReportItem(check.name, CHECK_MARKS[check.status], check.detail, check.hint, kind="check",
                             remedy=check.remedy) for check in result.checks]
        return items

    def verify(self, *, record: bool = True, cluster_test: bool = False, probe_timeout: float | None = None,
               progress: Callable[[str], None] | None = None) -> VerifyReport:
        """Every verification check of this server; the verdict is kept in the state file.

        ``cluster_test``: also the guide's test with a probe proxy (``installer.clustertest``):
        the whole test on the manager's server (it deploys and removes the probe; ``progress`` is
        told each phase; ``probe_timeout`` bounds each wait, in seconds), the workers' logs on
        the others."""
        step = VerifyStep(self._installer.context)
        report = step.report(cluster_test=cluster_test, timeouts=_timeouts(probe_timeout), progress=progress)
        if record:
            step.record(report)
        return report


    def cluster_test(self, *, probe_timeout: float | None = None,
                     progress: Callable[[str], None] | None = None) -> VerifyReport:
        """Only the cluster test (see ``verify``): its checks, as a report of their own; the
        verdict of the whole verification in the state file is left as it is."""
        step = VerifyStep(self._installer.context)
        return VerifyReport(self.server.name, tuple(step.cluster_test(timeouts=_timeouts(probe_timeout),
                                                                      progress=progress)))


def _timeouts(probe_timeout: float | None) -> Timeouts | None:
    if probe_timeout is None:
        return None
    return Timeouts(deploy=probe_timeout, sync=probe_timeout, requests=probe_timeout, undeploy=probe_timeout)


def log_size(node: NodeLayout) -> int:
    """How long the node's wso2carbon.log is now (0 when it does not exist yet)."""
    try:
        return os.path.getsize(node.home / CARBON_LOG)
    except OSError:
        return 0
