"""Step 9, Verify: the checklist of this server (every step checked again by the engine, the
``verify`` step's checks among them), *Run again*, and *Export report* (Markdown and JSON,
secrets removed)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from installer import PASSED, STEP_NAMES, ReportItem
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


def checklist(session: Session, skipped: set[str]) -> list[ReportItem]:
    """The engine's checklist (``Session.checklist``: every step's check, then each verification
    check; the verdict is kept, so Welcome offers Resume until it is green), each remedy worded
    the wizard's way."""
    return [replace(item, hint=what_to_do(item.hint, item.remedy, session.server.name), remedy=None)
            for item in session.checklist(skipped)]


@dataclass
class Checked(Message):
    items: list[ReportItem]


@dataclass
class Exported(Message):
    paths: tuple[Path, Path] | None
    error: str = ""


class VerifyScreen(WizardScreen):
    STEP = "verify"
    CSS_PATH = str(ASSETS / "verify.tcss")
    BINDINGS = [
        Binding("ctrl+r", "run_again", "Run again"),
        Binding("ctrl+e", "export", "Export report"),
    ]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.items: list[ReportItem] = []

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(Text.assemble(("Verification of ", "bold"), (self.wizard.this_server or "?", "bold"),
                                       " - every step is checked again; nothing changes."), id="verify-heading")
            # The verdict and the buttons first: the checklist can be long.
            yield Static("", id="verdict")
            with Horizontal(id="verify-buttons"):
                yield Button("Run again", id="run-again", compact=True, variant="primary")
                yield Button("Export report", id="export", compact=True, disabled=True)
            yield Static("", id="export-result", classes="-empty")
            yield Static(Text("checking…", style="italic"), id="checklist")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_run_again()

    # --- checking ----------------------------------------------------------------------------------

    def make_session(self) -> Session:
        from installer import Session

        return Session(self.wizard.checked_plan(), self.wizard.this_server or "", secrets=self.wizard.secrets,
                       steps=CHECKED_STEPS)

    @on(Button.Pressed, "#run-again")
    def action_run_again(self) -> None:
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
                text.append(f"     {mark} ", style=style)
                text.append(f"{item.name}: ", style="bold")
                text.append(item.detail, style="dim" if item.passed else "")
                if item.hint and not item.passed:
                    text.append(f"\n       what to do: {item.hint}", style="yellow")
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
        self.query_one("#run-again", Button).disabled = False
        self.query_one("#checklist", Static).update(Text("the checks could not run (see the message)", style="red"))
        super().worker_failed(worker, error)

    # --- the report --------------------------------------------------------------------------------

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        if not self.items:
            return
        self.export_report(list(self.items))

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
