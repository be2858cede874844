"""Runs the steps for one server of a plan: status, preview (dry run) and apply (with resume).

Resume is the normal path: every run loads the state, re-checks every selected step and applies
only those not done, in order, saving the state after each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from installer.contract import Status, StepReport
from installer.errors import CHOOSE_SERVER, InstallerError, Remedy, UsageError
from installer.events import EventSink, Note, StepFinished, StepStarted, ignore_events
from installer.faults import crash_point
from installer.lock import locked_state
from installer.plan.check import CheckedPlan, check_plan
from installer.secrets import Secrets
from installer.state import State, log_path, state_path
from installer.steps import STEP_CLASSES, STEP_NAMES
from installer.steps.base import RunContext, Step

log = logging.getLogger("wso2_cluster")


def parse_step_list(text: str | None, option: str) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in STEP_NAMES]
    if unknown:
        raise UsageError(f"{option}: unknown step(s) {', '.join(unknown)}",
                         f"steps are: {', '.join(STEP_NAMES)}", title="Unknown step")
    return names


def select_steps(only: Iterable[str] = (), skip: Iterable[str] = ()) -> tuple[str, ...]:
    only, skip = tuple(only), set(skip)
    return tuple(name for name in STEP_NAMES if (not only or name in only) and name not in skip)


class Installer:
    """The engine for one server of a plan."""

    def __init__(self, checked: CheckedPlan, server_name: str, *, secrets: Secrets | None = None,
                 emit: EventSink = ignore_events, selected: tuple[str, ...] = STEP_NAMES,
                 stop: threading.Event | None = None) -> None:
        self.checked = checked
        self.plan = checked.plan
        self.layout = checked.layout
        try:
            self.server = self.layout.server(server_name)
        except KeyError:
            known = ", ".join(server.name for server in self.layout.servers)
            names = tuple(server.name for server in self.layout.servers)
            raise UsageError(f"there is no server named {server_name!r} in the plan", f"servers: {known}",
                             title="Unknown server", remedy=Remedy(CHOOSE_SERVER, choices=names)) from None
        self.state = State.load(state_path(self.server.install_dir, self.server.name), self.server.name)
        self.emit = emit
        self.context = RunContext(plan=self.plan, layout=self.layout, server=self.server, state=self.state,
                                  secrets=secrets or Secrets(), emit=emit, selected=selected, stop=stop)
        self.selected = selected

    @classmethod
    def open(cls, plan_path: Path, server_name: str, **options: object) -> Installer:
        return cls(check_plan(Path(plan_path)), server_name, **options)  # type: ignore[arg-type]

    @property
    def state_file(self) -> Path:
        return self.state.path

    @property
    def log_file(self) -> Path:
        return log_path(self.server.install_dir, self.server.name)

    def step(self, name: str) -> Step:
        return STEP_CLASSES[name](self.context)

    def status(self) -> list[tuple[str, StepReport]]:
        """Every selected step's check; nothing changes."""
        results = []
        for name in self.selected:
            try:
                results.append((name, self.step(name).check()))
            except InstallerError as error:
                results.append((name, StepReport.checked(Status.FAILED, error.message)))
        return results

    def preview(self) -> list[tuple[str, StepReport]]:
        """What apply would do, with every diff; nothing changes."""
        return [(name, self.step(name).preview()) for name in self.selected]

    def apply(self, *, force: bool = False) -> list[StepReport]:
        """Run the selected steps not done yet, in order; stop at the first failure. The install
        dir's lock is held throughout (another apply, start or stop here is refused meanwhile),
        and the state is read again once it is taken."""
        with locked_state(self.state, "apply"):
            return self._apply_locked(force=force)

    def _apply_locked(self, *, force: bool) -> list[StepReport]:
        self._start_log()
        state = self.state
        if state.plan_fingerprint and state.plan_fingerprint != self.plan.source.fingerprint:
            self.emit(Note("", "the plan changed since the last run: every step is checked against it", "warning"))
        state.plan_fingerprint = self.plan.source.fingerprint
        state.plan_path = str(self.plan.source.path)
        outcomes: list[StepReport] = []
        for name in self.selected:
            step = self.step(name)
            crash_point(f"before:{name}")
            self.emit(StepStarted(name))
            log.info("step %s: checking", name)
            try:
                outcome = self._run_step(name, step, force=force)
            except InstallerError as error:
                log.error("step %s failed: %s", name, error.message)
                # Verify may end "pending" (members on servers not started yet) rather than failed.
                status = getattr(error, "state_status", Status.FAILED.value)
                state.mark(name, status, error.message)
                state.save()
                self.emit(StepFinished(name, status, error.message))
                raise
            except Exception:
                log.exception("step %s failed unexpectedly", name)
                state.mark(name, Status.FAILED.value, "unexpected error (see the log file)")
                state.save()
                raise
            state.mark(name, outcome.status.value, outcome.message)
            state.save()
            crash_point(f"after:{name}")
            log.info("step %s: %s (%s)", name, outcome.status, outcome.message)
            self.emit(StepFinished(name, outcome.status.value, outcome.message))
            outcomes.append(outcome)
        return outcomes

    @staticmethod
    def _run_step(name: str, step: Step, *, force: bool) -> StepReport:
        if not step.always_apply:
            check = step.check()
            if check.status == Status.DONE:
                return StepReport(Status.DONE, f"already done: {check.message}", step=name)
        return replace(step.apply(force=force), step=name)

    def _start_log(self) -> None:
        """Log to ``<install_dir>/.wso2-cluster/installer-<server>.log`` (never passwords)."""
        path = self.log_file
        if any(getattr(handler, "baseFilename", None) == str(path) for handler in log.handlers):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
