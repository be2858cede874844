"""Step 7, Apply: the engine's steps for this server, each with its status, a progress bar for
extraction, and on failure the error, its likely cause and Retry / Skip (where safe) / Abort.

The engine runs in a thread worker and reports through its events, which arrive here as
messages; the state file is saved after every step, so quitting half-way and starting again
lands in Resume."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Label, ProgressBar, RichLog, Static
from textual.worker import Worker

from installer import (
    GIVE_PASSWORD,
    STEP_NAMES,
    SVN_PASSWORD,
    Event,
    InstallerError,
    Note,
    Progress,
    Remedy,
    StepFinished,
    StepStarted,
    human_size,
)
from screens.base import WizardScreen
from screens.cluster import SVN_PASSWORD_FIELD
from screens.remedies import FORCE_ACTIONS, what_to_do
from screens.widgets import STEP_TITLES, ErrorPanel
from screens.wizard import WizardState

if TYPE_CHECKING:
    from installer import SecretNeed, Session

ASSETS = Path(__file__).resolve().parent.parent / "assets"
log = logging.getLogger("wso2_cluster.tui")
# What this screen runs; starting the nodes and verifying the cluster have their own screens.
APPLY_STEPS = ("preflight", "extract", "configure", "database", "hosts")
LATER_STEPS = {"start": "Launch", "verify": "Verify"}
PROGRESS_REDRAW_SECONDS = 0.1
# Steps an operator may leave out and do by hand, as the guide describes: nothing later in this
# installer depends on files they write.
SKIPPABLE = {
    "database": "create the databases and grants by hand as the guide describes",
    "hosts": "add the hosts lines shown in Review by hand",
}
STATUS_LOOK = {
    "done": ("✓", "green"),
    "pending": ("·", "default"),
    "running": ("▶", "bold cyan"),
    "failed": ("✗", "bold red"),
    "drifted": ("!", "bold red"),
    "skipped": ("⤼", "dim"),
    "checking": ("…", "dim"),
    "later": ("›", "dim"),
}


class ApplyStopped(InstallerError):
    """The operator stopped the run (Stop, or quitting): the engine saved its state."""

    title = "Stopped"


@dataclass
class EngineEvent(Message):
    """One engine event, posted from the worker thread."""

    event: Event

    def can_replace(self, message: Message) -> bool:
        # Progress reports pile up while the UI is busy: only the newest of a step matters.
        return (isinstance(self.event, Progress) and isinstance(message, EngineEvent)
                and isinstance(message.event, Progress) and message.event.what == self.event.what)


@dataclass
class StatusLoaded(Message):
    statuses: list[tuple[str, str, str]]  # step, status, message
    state_file: Path
    log_file: Path
    needs: tuple[SecretNeed, ...] = ()  # passwords not given that the steps still to run need


@dataclass
class RunFinished(Message):
    outcomes: list[tuple[str, str, str]]  # step, status, message


@dataclass
class RunFailed(Message):
    step: str
    title: str
    message: str
    hint: str
    drifted: bool = False
    stopped: bool = False
    needs_password: bool = False
    remedy: Remedy | None = None


class StepRow(Horizontal):
    """A step: its mark, name and status on the left, the engine's message wrapping on the right."""

    def __init__(self, step: str) -> None:
        super().__init__(id=f"step-{step}", classes="step-row")
        self.step = step
        self.status = "checking"
        self.message = ""

    def compose(self) -> ComposeResult:
        yield Static("", classes="step-state")
        yield Static("", classes="step-message")

    def show(self, status: str, message: str = "") -> None:
        self.status = status
        self.message = message
        mark, style = STATUS_LOOK.get(status, ("·", "default"))
        state = Text()
        state.append(f"{mark} ", style=style)
        state.append(f"{self.step:<10}", style="bold")
        state.append(f" {status}", style=style)
        self.query_one(".step-state", Static).update(state)
        self.query_one(".step-message", Static).update(Text(message, style="dim" if status == "done" else ""))


class StepsScroll(VerticalScroll):
    """The body of Apply, which scrolls: the step that failed is kept in view when its height
    changes (the failure box below takes its room only once laid out)."""

    keep_in_view: Widget | None = None

    def on_resize(self) -> None:
        if self.keep_in_view is not None:
            self.keep_in_view.scroll_visible(animate=False)


class ApplyScreen(WizardScreen):
    STEP = "apply"
    CSS_PATH = str(ASSETS / "apply.tcss")
    NEXT_LABEL = "Launch ›"
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
    ]

    def __init__(self, wizard: WizardState, *, start: bool = False, resume: bool = False) -> None:
        super().__init__(wizard)
        self.start_when_loaded = start
        self.resume = resume
        self.running = False
        self.stop_event = threading.Event()
        self.failed_step: str | None = None
        self.current_step: str | None = None
        self.secret_needs: tuple[SecretNeed, ...] = ()
        self.failure_remedy: Remedy | None = None

    def compose_body(self) -> ComposeResult:
        wizard = self.wizard
        with StepsScroll(id="body"):
            yield Static(self.heading(), id="apply-heading")
            with Horizontal(id="needs-row", classes="-empty"):
                yield Static("", id="needs")
                yield Button("Enter passwords", id="enter-passwords", compact=True)
            for step in STEP_NAMES:
                yield StepRow(step)
            with Horizontal(id="progress-row", classes="-empty"):
                yield Label("", id="progress-label")
                yield ProgressBar(id="progress", show_eta=False)
            with Horizontal(id="run-buttons"):
                yield Button("Run the steps not done", id="run", compact=True, variant="success")
                yield Button("Stop", id="stop", compact=True, variant="error", disabled=True)
            yield Static("", id="outcome")
            yield RichLog(id="notes", wrap=True, markup=False, max_lines=500, min_width=20)  # wraps to its width
            yield Static(Text(f"state: {wizard.state_file() or '?'}\nlog: {wizard.log_file}", style="dim"),
                         id="files-line")
        # A failure, and what can be done about it, stays in view below the steps, which scroll
        # (at 80x24 the steps' messages alone fill the screen); a long message scrolls in its box.
        with Vertical(id="failure-box"):
            yield ErrorPanel()
            with Horizontal(id="failure-buttons", classes="-empty"):
                yield Button("Retry", id="retry", compact=True, variant="primary")
                yield Button("Rewrite my values (force)", id="force", compact=True, variant="warning")
                yield Button("Skip", id="skip", compact=True)
                yield Button("Enter passwords", id="failure-passwords", compact=True)
                yield Button("Abort", id="abort", compact=True)

    def heading(self) -> Text:
        wizard = self.wizard
        index = wizard.server_index(wizard.this_server)
        address = wizard.draft.servers[index].address if index is not None else "?"
        text = Text.assemble(("Installing on ", "bold"), (f"{wizard.this_server} ({address})", "bold"))
        text.append(f"\nplan: {wizard.plan_path}")
        if self.resume:
            text.append("\nResuming: every step is checked again; the ones done are not redone.", style="italic")
        return text

    def on_mount(self) -> None:
        super().on_mount()
        for row in self.query(StepRow):
            row.show("skipped" if row.step in self.wizard.skipped_steps else "checking")
        self.load_status()

    # --- navigation while running ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back", "next") and self.running:
            return None  # shown, but not while the engine runs
        return super().check_action(action, parameters)

    def set_running(self, running: bool) -> None:
        self.running = running
        self.query_one("#run", Button).disabled = running
        self.query_one("#stop", Button).disabled = not running
        self.query_one("#back", Button).disabled = running
        self.query_one("#next", Button).disabled = running
        self.refresh_bindings()

    # --- status ------------------------------------------------------------------------------------

    def selected_steps(self) -> tuple[str, ...]:
        return tuple(step for step in APPLY_STEPS if step not in self.wizard.skipped_steps)

    def make_session(self) -> Session:
        """The engine for status checks here (runs go to a child process: see run_steps)."""
        from installer import Session, check_plan

        checked = check_plan(self.wizard.plan_path) if self.wizard.plan_path else self.wizard.checked_plan()
        return Session(checked, self.wizard.this_server or "", secrets=self.wizard.secrets,
                       steps=self.selected_steps())

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load_status(self) -> None:
        session = self.make_session()
        checks = session.check()
        statuses = [(name, check.status.value, check.message) for name, check in checks]
        for name, screen in LATER_STEPS.items():
            # Not checked here (verifying the cluster takes a while): only said where it happens.
            statuses.append((name, "later", f"on the {screen} screen"))
        done = {name for name, check in checks if check.status.value == "done"}
        self.post_message(StatusLoaded(statuses, session.state_file, session.log_file,
                                       session.secrets_needed(done=done)))

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        for name, status, text in message.statuses:
            self.query_one(f"#step-{name}", StepRow).show(status, text)
        self.query_one("#files-line", Static).update(
            Text(f"state: {message.state_file}\nlog: {message.log_file}   (wizard log: {self.wizard.log_file})",
                 style="dim"))
        self.secret_needs = message.needs
        self.show_needs(message.needs)
        if self.start_when_loaded and not self.blocking_needs():
            self.start_when_loaded = False
            self.action_run()

    def blocking_needs(self) -> list[str]:
        """Passwords a step that cannot be skipped will ask for: asked before anything starts."""
        return [f"the {need.label}" for need in self.secret_needs if need.blocking]

    def show_needs(self, needs: tuple[SecretNeed, ...]) -> None:
        """The engine's word on which passwords are still needed, before anything starts; those
        only a skippable step needs (the database step) do not block."""
        blocking = [f"the {need.label}" for need in needs if need.blocking]
        later = [f"the {need.label}" for need in needs if not need.blocking]
        self.query_one("#needs-row").set_class(not needs, "-empty")
        text = Text()
        if blocking:
            text.append(f"Needed before running: {' and '.join(blocking)} (kept in memory only).",
                        style="bold yellow")
        if later:
            if text:
                text.append("\n")
            steps = sorted({step for need in needs if not need.blocking for step in need.steps})
            text.append(f"The {' and '.join(steps)} step will need {' and '.join(later)} (or skip it and do it "
                        "by hand).", style="yellow")
        self.query_one("#needs", Static).update(text)

    def password_screen(self, secrets: Collection[str]) -> str:
        """The step where the passwords ``secrets`` are entered: the svn password alone is on the
        Cluster screen (with the svn settings), any other on the Database screen."""
        return "cluster" if secrets and set(secrets) <= {SVN_PASSWORD} else "database"

    def needed_secrets(self, after_failure: bool) -> set[str]:
        """The passwords the operator is sent to enter: after a failed run, the one it asked for
        (when it said which); else those the steps still to run need."""
        remedy = self.failure_remedy
        if after_failure and remedy is not None and remedy.action == GIVE_PASSWORD and remedy.secret:
            return {remedy.secret}
        return {need.secret for need in self.secret_needs}

    @on(Button.Pressed, "#enter-passwords")
    @on(Button.Pressed, "#failure-passwords")
    def _enter_passwords(self, event: Button.Pressed) -> None:
        step = self.password_screen(self.needed_secrets(after_failure=event.button.id == "failure-passwords"))
        if step == "cluster":
            self.go(step, focus=SVN_PASSWORD_FIELD)  # the cursor in the svn password field
        else:
            self.go(step)

    # --- running -----------------------------------------------------------------------------------

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self, force: bool = False) -> None:
        if self.running:
            return
        if self.blocking_needs():
            self.show_needs(self.secret_needs)
            screen = STEP_TITLES[self.password_screen({need.secret for need in self.secret_needs if need.blocking})]
            self.set_status(f"Enter the passwords first ({screen} screen)", error=True)
            return
        self.failed_step = None
        self.query_one(StepsScroll).keep_in_view = None
        self.query_one(ErrorPanel).clear()
        self.query_one("#failure-buttons").set_class(True, "-empty")
        self.query_one("#outcome", Static).update("")
        self.stop_event.clear()
        self.set_running(True)
        self.set_status("running…")
        self.run_steps(force)

    def stop_requested(self) -> bool:
        """Stop pressed here, or the operator quitting the app."""
        quitting = getattr(self.app, "stop_requested", None)
        return self.stop_event.is_set() or (quitting is not None and quitting.is_set())

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply")
    def run_steps(self, force: bool) -> None:
        """Runs the engine in a child process (installer.runner) and relays what it says."""
        from installer import (
            EngineProcess,
            RunCrashedReport,
            RunFailedReport,
            RunFinishedReport,
            RunRequest,
        )

        stopped = RunFailed("", ApplyStopped.title, "stopped by the operator; the steps done so far are saved",
                            "run again (or start the installer again and Resume) to continue", stopped=True)
        if self.stop_requested():
            self.post_message(stopped)
            return
        plan_path = self.wizard.plan_path
        if plan_path is None:
            raise InstallerError("the plan is not saved", "save it on the Review screen, then apply")
        engine = EngineProcess(RunRequest(plan_path, self.wizard.this_server or "", self.selected_steps(), force,
                                          self.wizard.secrets))
        engine.start()
        final: object = None
        step = ""  # the step running when the run ended, from the engine's own events
        shown_progress_at = 0.0
        for report in engine.reports_until_done(self.stop_requested):
            if isinstance(report, RunFinishedReport | RunFailedReport | RunCrashedReport):
                final = report
                continue
            if isinstance(report, StepStarted):
                step = report.step
            if isinstance(report, Progress) and report.done < report.total:
                # A bar redrawn ten times a second looks no different, and leaves the screen
                # time to answer keys.
                now = time.monotonic()
                if now - shown_progress_at < PROGRESS_REDRAW_SECONDS:
                    continue
                shown_progress_at = now
            self.post_message(EngineEvent(report))  # type: ignore[arg-type]
        if isinstance(final, RunFinishedReport):
            self.post_message(RunFinished(list(final.outcomes)))
        elif isinstance(final, RunFailedReport):
            self.post_message(RunFailed(step, final.title, final.message, final.hint, drifted=final.drifted,
                                        needs_password=final.needs_password, remedy=final.remedy))
        elif isinstance(final, RunCrashedReport):
            log.error("the engine failed unexpectedly:\n%s", final.details)
            self.post_message(RunFailed(step, "Unexpected error", "the installation stopped on an error that is "
                                        "a bug in the installer", f"the details are in {self.wizard.log_file}; "
                                        "run again to continue from where it stopped, and please report it"))
        else:
            self.post_message(RunFailed(step, stopped.title, stopped.message, stopped.hint, stopped=True))

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        notes = self.query_one("#notes", RichLog)
        if isinstance(event, StepStarted):
            self.current_step = event.step
            self.query_one(f"#step-{event.step}", StepRow).show("running")
        elif isinstance(event, StepFinished):
            self.query_one(f"#step-{event.step}", StepRow).show(event.status, event.message)
            if event.step == "extract":
                self.query_one("#progress-row").set_class(True, "-empty")
        elif isinstance(event, Progress):
            self.query_one("#progress-row").set_class(False, "-empty")
            bar = self.query_one("#progress", ProgressBar)
            bar.update(total=max(event.total, 1), progress=event.done)
            # Fixed width (see apply.tcss): the label changes without a new layout of the screen.
            self.query_one("#progress-label", Label).update(
                f"{event.what}: {human_size(event.done)} of {human_size(event.total)} ", layout=False)
        elif isinstance(event, Note):
            style = "yellow" if event.level == "warning" else ""
            notes.write(Text(f"{event.step + ': ' if event.step else ''}{event.message}", style=style))

    @on(RunFinished)
    def _run_finished(self, message: RunFinished) -> None:
        self.set_running(False)
        self.show_needs(())
        for name, status, text in message.outcomes:
            self.query_one(f"#step-{name}", StepRow).show(status, text)
        done = [name for name, status, _ in message.outcomes if status == "done"]
        text = Text()
        text.append(f"Done on {self.wizard.this_server}: ", style="bold green")
        text.append(", ".join(done) or "nothing")
        if self.wizard.skipped_steps:
            text.append(f"\nSkipped (do by hand): {', '.join(sorted(self.wizard.skipped_steps))}", style="yellow")
        text.append("\nNext: Launch starts the nodes in order.")
        self.query_one("#outcome", Static).update(text)
        self.set_status("finished")
        self.query_one("#next", Button).focus()

    @on(RunFailed)
    def _run_failed(self, message: RunFailed) -> None:
        self.set_running(False)
        self.failed_step = message.step or None
        self.failure_remedy = message.remedy
        if message.step:
            self.query_one(f"#step-{message.step}", StepRow).show("failed" if not message.stopped else "pending",
                                                                  message.message.splitlines()[0])
        hint = what_to_do(message.hint, message.remedy, self.wizard.this_server)
        if message.step in SKIPPABLE and not message.stopped:
            hint += f"; or Skip {message.step} and {SKIPPABLE[message.step]}"
        self.query_one(ErrorPanel).show_error(message.title, message.message, hint)
        self.query_one("#failure-buttons").set_class(False, "-empty")
        skip = self.query_one("#skip", Button)
        skippable = message.step in SKIPPABLE and not message.stopped
        skip.display = skippable
        if skippable:
            skip.label = f"Skip {message.step}"
            skip.tooltip = f"leave it out: {SKIPPABLE[message.step]}"
        self.query_one("#force", Button).display = message.drifted or (
            message.remedy is not None and message.remedy.action in FORCE_ACTIONS)
        self.query_one("#failure-passwords", Button).display = message.needs_password
        self.query_one("#abort", Button).display = not message.stopped
        self.set_status(f"{message.step or 'the run'} {'stopped' if message.stopped else 'failed'}", error=True)
        self.query_one("#retry", Button).focus()
        if message.step:  # the failed step in view above its failure (the steps scroll)
            self.query_one(StepsScroll).keep_in_view = self.query_one(f"#step-{message.step}", StepRow)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        if worker.group == "apply" and self.running:
            self.set_running(False)
            if self.current_step:
                self.query_one(f"#step-{self.current_step}", StepRow).show("failed", "unexpected error (see the log)")
        super().worker_failed(worker, error)

    # --- after a failure ---------------------------------------------------------------------------

    @on(Button.Pressed, "#retry")
    def _retry(self) -> None:
        self.action_run()

    @on(Button.Pressed, "#force")
    def _force(self) -> None:
        self.action_run(force=True)

    @on(Button.Pressed, "#skip")
    def _skip(self) -> None:
        if self.failed_step in SKIPPABLE:
            self.wizard.skipped_steps.add(self.failed_step)
            self.query_one(f"#step-{self.failed_step}", StepRow).show("skipped", SKIPPABLE[self.failed_step])
            self.action_run()

    @on(Button.Pressed, "#abort")
    def _abort(self) -> None:
        self.query_one("#failure-buttons").set_class(True, "-empty")
        self.query_one("#outcome", Static).update(Text(
            "Stopped here. Nothing more is done; what was done is recorded. Fix the cause and Run again, "
            "or quit: starting the installer again offers Resume.", style="yellow"))
        self.set_status("aborted")
        self.call_after_refresh(self.query_one("#outcome", Static).scroll_visible)

    @on(Button.Pressed, "#stop")
    def _stop(self) -> None:
        self.stop_event.set()
        self.set_status("stopping after the current operation…")
