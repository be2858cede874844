"""Step 9, Verify: the checklist of this server (every step checked again by the engine, the
``verify`` step's checks among them), *Run again*, *Export report* (Markdown and JSON, secrets
removed), and the guide's *Cluster test* (``Session.cluster_test``: a probe proxy through the ELB
on the manager's server, the workers' logs elsewhere), its progress and each of its checks."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Static

from installer import PASSED, RUN_CLUSTER_TEST, STEP_NAMES, CheckOutcome, ReportItem
from screens.base import WizardScreen
from screens.remedies import what_to_do
from screens.wizard import WizardState

if TYPE_CHECKING:
    from installer import Session

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# Checked by their own step; the verify step is then shown check by check.
CHECKED_STEPS = tuple(name for name in STEP_NAMES if name != "verify")
LOOK = {"done": ("✓", "green"), "ok": ("✓", "green"), "failed": ("✗", "bold red"), "drifted": ("!", "bold red"),
        "pending": ("·", "yellow"), "skipped": ("⤼", "dim")}


# A check's status as the report and the checklist mark it (as Session.checklist does).
CHECK_MARKS = {"passed": "ok", "failed": "failed", "pending": "pending"}


def checklist(session: Session, skipped: set[str]) -> list[ReportItem]:
    """The engine's checklist (``Session.checklist``: every step's check, then each verification
    check; the verdict is kept, so Welcome offers Resume until it is green), each remedy worded
    the wizard's way."""
    return [replace(item, hint=what_to_do(item.hint, item.remedy, session.server.name), remedy=None)
            for item in session.checklist(skipped)]


def cluster_test_items(checks: tuple[CheckOutcome, ...], here: str | None) -> list[ReportItem]:
    """The cluster test's checks as checklist items (kind "check"), what to do worded the
    wizard's way; a remedy that repeats what the hint already says (run the cluster test there)
    is left out."""
    items = []
    for check in checks:
        remedy = check.remedy
        if remedy is not None and remedy.action == RUN_CLUSTER_TEST and "cluster test" in check.hint:
            remedy = None
        items.append(ReportItem(check.name, CHECK_MARKS[check.status], check.detail,
                                what_to_do(check.hint, remedy, here), kind="check"))
    return items


def check_lines(items: list[ReportItem], indent: int = 5) -> Text:
    """Checks as the checklist shows them: mark, name, detail, and what to do unless passed."""
    text = Text()
    for item in items:
        mark, style = LOOK.get(item.status, ("·", "default"))
        if text:
            text.append("\n")
        text.append(f"{' ' * indent}{mark} ", style=style)
        text.append(f"{item.name}: ", style="bold")
        text.append(item.detail, style="dim" if item.passed else "")
        if item.hint and not item.passed:
            text.append(f"\n{' ' * (indent + 2)}what to do: {item.hint}", style="yellow")
    return text


@dataclass
class Checked(Message):
    items: list[ReportItem]


@dataclass
class ClusterTestProgress(Message):
    """A progress line of the running cluster test (posted from its thread)."""

    text: str


@dataclass
class ClusterTested(Message):
    checks: tuple[CheckOutcome, ...]


@dataclass
class Exported(Message):
    paths: tuple[Path, Path] | None
    error: str = ""


class VerifyScreen(WizardScreen):
    STEP = "verify"
    CSS_PATH = str(ASSETS / "verify.tcss")
    BINDINGS = [
        Binding("ctrl+r", "run_again", "Run again"),
        Binding("ctrl+e", "export", "Export"),  # "Export report" is the button; the footer fits 80 columns
        # ctrl+t is the app's theme toggle.
        Binding("ctrl+k", "cluster_test", "Cluster test"),
    ]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.items: list[ReportItem] = []
        self.cluster_items: list[ReportItem] = []  # the last cluster test's checks (for the report too)
        self.cluster_testing = False
        self._cluster_started = 0.0
        self._cluster_progress = ""
        self._cluster_timer: Timer | None = None
        self._follow_cluster = False  # keep the section in view as the body grows (_show_cluster_section)
        # Where the plan's manager runs: the whole test runs there, the others read their logs.
        layout = wizard.check().layout
        manager = layout.manager if layout is not None else None
        self.manager_server = manager.server if manager is not None else None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(Text.assemble(("Verification of ", "bold"), (self.wizard.this_server or "?", "bold"),
                                       " - every step is checked again; nothing changes."), id="verify-heading")
            # The verdict and the buttons first: the checklist can be long.
            yield Static("", id="verdict")
            with Horizontal(id="verify-buttons"):
                yield Button("Run again", id="run-again", compact=True, variant="primary")
                yield Button("Export report", id="export", compact=True, disabled=True)
                yield Button("Cluster test", id="cluster-test", compact=True, tooltip=self.cluster_test_about())
            yield Static("", id="export-result", classes="-empty")
            yield Static(Text("checking…", style="italic"), id="checklist")
            # Below the checklist, which stays under its verdict; shown when the test starts.
            yield Static("Cluster test", id="cluster-title", classes="section-title")
            yield Static(Text(self.cluster_test_about(), style="dim"), id="cluster-about")
            yield Static("", id="cluster-status", classes="-empty")
            yield Static("", id="cluster-checks", classes="-empty")

    def on_mount(self) -> None:
        super().on_mount()
        # The section's new lines are laid out after its handler returns: scroll once they are.
        self.watch(self.query_one("#body", VerticalScroll), "virtual_size", self._body_resized, init=False)
        self.action_run_again()

    # --- checking ----------------------------------------------------------------------------------

    def make_session(self) -> Session:
        from installer import Session

        return Session(self.wizard.checked_plan(), self.wizard.this_server or "", secrets=self.wizard.secrets,
                       steps=CHECKED_STEPS)

    @on(Button.Pressed, "#run-again")
    def action_run_again(self) -> None:
        self._follow_cluster = self.cluster_testing
        self.query_one("#checklist", Static).update(Text("checking…", style="italic"))
        self.query_one("#run-again", Button).disabled = True
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify")
    def run_checks(self) -> None:
        self.post_message(Checked(checklist(self.make_session(), set(self.wizard.skipped_steps))))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.items = message.items
        self.query_one("#run-again", Button).disabled = False
        self.query_one("#export", Button).disabled = False
        text = Text()
        for item in message.items:
            mark, style = LOOK.get(item.status, ("·", "default"))
            if text:
                text.append("\n")
            if item.kind == "check":
                text.append(check_lines([item]))
                continue
            text.append(f" {mark} ", style=style)
            text.append(f"{item.name:<10}", style="bold")
            text.append(f" {item.status}", style=style)
            if item.detail:
                text.append(f" - {item.detail}", style="dim" if item.passed else "")
        self.query_one("#checklist", Static).update(text)
        verdict = self.query_one("#verdict", Static)
        if all(item.passed for item in message.items):
            verdict.update(Text("The cluster is installed and verified on this server.", style="bold green"))
        elif any(item.status not in ("pending", *PASSED) for item in message.items):
            failing = [item for item in message.items if not item.passed]
            verdict.update(Text(f"Not everything holds: {len(failing)} of {len(message.items)} items (marked ✗ "
                                "below, each with what to do). Fix them and Run again.", style="bold red"))
        else:
            waiting = [item for item in message.items if item.status == "pending"]
            verdict.update(Text(f"Not complete yet: {len(waiting)} item(s) pending (marked · below), such as "
                                "members on servers not started yet. Nothing failed; Run again once they are.",
                                style="bold yellow"))

    def worker_failed(self, worker: Any, error: BaseException) -> None:
        if worker.group == "cluster-test":
            self._cluster_test_ended()
            self._show_cluster_status(Text.assemble(("The cluster test could not run: ", "bold red"),
                                                    str(error) or type(error).__name__))
            self._show_cluster_section()
        elif worker.group == "verify":
            self.query_one("#run-again", Button).disabled = False
            self.query_one("#checklist", Static).update(Text("the checks could not run (see the message)",
                                                             style="red"))
        super().worker_failed(worker, error)

    # --- the cluster test --------------------------------------------------------------------------

    def manager_here(self) -> bool:
        """Whether the plan's manager is on this server (the whole test runs from here)."""
        return self.manager_server is not None and self.manager_server == self.wizard.this_server

    def cluster_test_about(self) -> str:
        """What the cluster test does on this server, in one sentence."""
        if self.manager_here():
            return ("Deploys a probe proxy on the manager, sends requests through the ELB and shows which worker "
                    "logged each; the probe is removed afterwards.")
        where = f" ({self.manager_server})" if self.manager_server else ""
        return f"Reads this server's workers' logs for the probe the manager's server{where} sent."

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cluster_test", "back") and self.cluster_testing:
            return None  # shown, but not while the cluster test runs (Back would leave it unseen)
        return super().check_action(action, parameters)

    @on(Button.Pressed, "#cluster-test")
    def action_cluster_test(self) -> None:
        if self.cluster_testing:
            return  # it runs to its end (the engine removes the probe then): never twice at once
        self.cluster_testing = True
        self._cluster_started = time.monotonic()
        self._cluster_progress = "starting"
        self.query_one("#cluster-test", Button).disabled = True
        self.query_one("#back", Button).disabled = True
        self.refresh_bindings()
        self._cluster_timer = self.set_interval(1.0, self._show_progress)
        self._show_progress()
        self._show_cluster_section()
        self.run_cluster_test()

    @work(thread=True, exit_on_error=False, group="cluster-test")
    def run_cluster_test(self) -> None:
        # Not cancelled half-way: quitting lets it end (the process waits for this thread), and
        # the engine removes the probe in a finally. Messages to a screen that is gone are dropped.
        session = self.make_session()

        def progress(text: str) -> None:
            # Only shown: a display that is gone must never stop the engine half-way.
            with contextlib.suppress(Exception):
                self.post_message(ClusterTestProgress(text))

        report = session.cluster_test(progress=progress)
        self.post_message(ClusterTested(tuple(report.checks)))

    def on_unmount(self) -> None:
        # Only quitting takes this screen away while the cluster test runs (Back waits for it):
        # the terminal is given back at once, and the process ends when the test has; say so.
        if self.cluster_testing and self.manager_here() and self.app.return_code is not None:
            self.app.exit(self.app.return_value, self.app.return_code,
                          "wso2-cluster: waiting for the cluster test to end: it removes its probe proxy from "
                          "the manager first (with Carbon, this can take a few minutes).")

    @on(ClusterTestProgress)
    def _cluster_test_progress(self, message: ClusterTestProgress) -> None:
        if self.cluster_testing:
            self._cluster_progress = message.text
            self._show_progress()

    def _show_progress(self) -> None:
        seconds = int(time.monotonic() - self._cluster_started)
        text = Text.assemble(("▶ running ", "bold cyan"), (f"({seconds} s): ", "cyan"), self._cluster_progress)
        if self.manager_here():
            text.append("\n  quitting now waits until the probe is removed", style="dim")
        self._show_cluster_status(text)

    def _show_cluster_status(self, text: Text) -> None:
        status = self.query_one("#cluster-status", Static)
        status.update(text)
        status.set_class(False, "-empty")

    def _cluster_test_ended(self) -> None:
        self.cluster_testing = False
        if self._cluster_timer is not None:
            self._cluster_timer.stop()
            self._cluster_timer = None
        self.query_one("#cluster-test", Button).disabled = False
        self.query_one("#back", Button).disabled = self.previous_step is None
        self.refresh_bindings()

    @on(ClusterTested)
    def _cluster_tested(self, message: ClusterTested) -> None:
        self._cluster_test_ended()
        self.cluster_items = cluster_test_items(message.checks, self.wizard.this_server)
        self._show_cluster_status(self.cluster_verdict(message.checks))
        checks = self.query_one("#cluster-checks", Static)
        checks.update(check_lines(self.cluster_items, indent=1))
        checks.set_class(not self.cluster_items, "-empty")
        self._show_cluster_section()

    def _show_cluster_section(self) -> None:
        """Scroll the section's title to the top (its progress, verdict and checks below it), now
        and each time the body's height changes (its lines are laid out after this handler), until
        the operator presses a key or scrolls once the test has ended."""
        self._follow_cluster = True
        self.call_after_refresh(self._scroll_to_cluster)

    def _body_resized(self) -> None:
        if self._follow_cluster:
            self._scroll_to_cluster()

    def on_key(self, event: events.Key) -> None:
        self._follow_cluster = self.cluster_testing  # the operator moves on: the view is theirs again

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._follow_cluster = self.cluster_testing

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._follow_cluster = self.cluster_testing

    def _scroll_to_cluster(self) -> None:
        self.query_one("#body", VerticalScroll).scroll_to_widget(self.query_one("#cluster-title"), top=True,
                                                               animate=False, immediate=True)

    def cluster_verdict(self, checks: tuple[CheckOutcome, ...]) -> Text:
        """One line for the whole cluster test: green, red naming how many failed, or yellow."""
        seconds = int(time.monotonic() - self._cluster_started)
        failed = [check for check in checks if check.status == "failed"]
        pending = [check for check in checks if check.status == "pending"]
        if not checks:
            return Text("Nothing to test on this server: it runs no worker, and the manager is on another server.",
                        style="bold yellow")
        if failed:
            return Text(f"The cluster test failed: {len(failed)} of {len(checks)} checks did not pass (marked ✗ "
                        "below, each with what to do). Fix them and press Cluster test again.", style="bold red")
        if pending:
            return Text(f"The cluster test is not complete: {len(pending)} check(s) pending (marked · below). "
                        f"Nothing failed; {self._pending_advice()}", style="bold yellow")
        if self.manager_here():
            return Text(f"The cluster test passed in {seconds} s: requests through the ELB reached the workers "
                        "and the probe was removed.", style="bold green")
        workers = ", ".join(check.name.removeprefix("cluster test: ") for check in checks)
        return Text(f"The cluster test passed: requests through the ELB reached this server's workers ({workers}) "
                    "and the probe was undeployed.", style="bold green")

    def _pending_advice(self) -> str:
        if self.manager_server is not None and not self.manager_here():
            return f"run the cluster test on the manager's server ({self.manager_server}) first, then here again."
        return "see what to do below, then press Cluster test again."

    # --- the report --------------------------------------------------------------------------------

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        if not self.items:
            return
        # The checklist, then the cluster test's checks when one ran on this screen.
        self.export_report([*self.items, *self.cluster_items])

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export_report(self, items: list[ReportItem]) -> None:
        from installer import build_report, write_report

        checked = self.wizard.checked_plan()
        report = build_report(checked.layout, self.wizard.this_server or "", items,
                              secrets=self.wizard.secrets.values)
        state_file = self.wizard.state_file()
        folder = state_file.parent if state_file is not None else self.wizard.base_folder
        try:
            paths = write_report(report, folder)
        except OSError as error:
            self.post_message(Exported(None, f"{folder}: {error.strerror or error}"))
            return
        self.post_message(Exported(paths))

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        result = self.query_one("#export-result", Static)
        result.set_class(False, "-empty")
        if message.paths is None:
            result.update(Text(f"The report cannot be written: {message.error}", style="bold red"))
            return
        markdown, document = message.paths
        result.update(Text.assemble(("Report written (no passwords in it):\n", "bold green"),
                                    f"  {markdown}\n  {document}"))
        # Under the buttons: out of view when the cluster test's section was scrolled to.
        self.call_after_refresh(result.scroll_visible)
