"""Step 8, Launch: the nodes of this server started in order (ELB, manager, workers) by the
engine's ``start`` step, one log pane per node following live, the node's expected milestones
ticking off, failure signatures highlighted with their hint."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, RichLog, Static, TabbedContent, TabPane

from installer import (
    CARBON_LOG,
    Event,
    InstallerError,
    NodeLayout,
    Note,
    ServerLayout,
    StepFinished,
    StepStarted,
)
from screens.base import WizardScreen
from screens.remedies import what_to_do
from screens.wizard import WizardState

if TYPE_CHECKING:
    from installer import Session

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# A log that exists already is shown from this far before its end, not from its beginning.
TAIL_BYTES = 64 * 1024
FOLLOW_INTERVAL = 0.1
SHOWN_LINES_PER_BATCH = 50  # a pane shows a dozen; more per tenth of a second is a blur


@dataclass
class StartStatus(Message):
    status: str
    message: str


@dataclass
class StartEvent(Message):
    event: Event


@dataclass
class StartFailed(Message):
    title: str
    message: str
    hint: str


@dataclass
class LogBatch(Message):
    node: str
    lines: list[str]
    reached: list[str] = field(default_factory=list)  # milestone ids
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # line, setting, hint
    skipped: int = 0  # lines matched but not shown (a burst larger than a pane shows)


class NodeLogPane(Vertical):
    """One node: its milestones as a checklist, and its log following live."""

    def __init__(self, node: NodeLayout) -> None:
        super().__init__(classes="node-log")
        self.node = node
        self.milestones: list[Any] = []
        self.reached: set[str] = set()
        self.failures: list[tuple[str, str, str]] = []

    def compose(self) -> ComposeResult:
        yield Static("", classes="milestones")
        yield RichLog(classes="log", max_lines=2000, wrap=False, markup=False)

    def show_checklist(self, note: str = "") -> None:
        text = Text()
        for milestone in self.milestones:
            done = milestone.id in self.reached
            text.append("✓ " if done else "· ", style="bold green" if done else "dim")
            text.append(f"{milestone.label}\n", style="" if done else "dim")
        for line, setting, hint in self.failures[-3:]:
            text.append("✗ ", style="bold red")
            text.append(f"{line.strip()[:160]}\n", style="red")
            cause = f"likely setting: {setting}. " if setting else ""
            text.append(f"   {cause}{hint}\n", style="yellow")
        if note:
            text.append(note, style="italic")
        self.query_one(".milestones", Static).update(text)


class LaunchScreen(WizardScreen):
    STEP = "launch"
    CSS_PATH = str(ASSETS / "launch.tcss")
    NEXT_LABEL = "Verify ›"
    BINDINGS = [Binding("ctrl+r", "start", "Start the nodes")]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.check = wizard.check()
        self.stop_following = threading.Event()
        self.running = False
        self.start_available = False

    @property
    def server(self) -> ServerLayout | None:
        layout = self.check.layout
        if layout is None or self.check.errors or not self.wizard.this_server:
            return None
        try:
            return layout.server(self.wizard.this_server)
        except KeyError:
            return None

    def compose_body(self) -> ComposeResult:
        server = self.server
        with VerticalScroll(id="body"):
            if server is None or self.check.layout is None:
                yield Static(Text("The plan has errors or this server is not chosen: go Back and fix them.",
                                  style="bold red"), id="launch-heading")
                return
            order = ", ".join(node.name for node in self.check.layout.start_order(server.name))
            yield Static(Text.assemble(("Start the nodes of ", "bold"), (server.name, "bold"),
                                       f" in order: {order}"), id="launch-heading")
            with Horizontal(id="start-row"):
                yield Button("Start the nodes", id="start", compact=True, variant="success", disabled=True)
                yield Static(Text("checking the start step…", style="italic"), id="start-status")
            yield RichLog(id="start-notes", max_lines=200, wrap=True, markup=False, classes="-empty")
            with TabbedContent(id="node-logs"):
                for node in self.check.layout.start_order(server.name):
                    with TabPane(node.name, id=f"log-{node.name}"):
                        yield NodeLogPane(node)

    def on_mount(self) -> None:
        super().on_mount()
        if self.server is None:
            return
        self.load_start_status()
        self.start_following()

    def on_unmount(self) -> None:
        self.stop_following.set()

    # --- the start step ----------------------------------------------------------------------------

    def make_session(self, emit: Any = None) -> Session:
        from installer import Session, ignore_events

        return Session(self.check.checked_plan(), self.wizard.this_server or "", secrets=self.wizard.secrets,
                       emit=emit or ignore_events, steps=("start",))

    @work(thread=True, exclusive=True, exit_on_error=False, group="start-status")
    def load_start_status(self) -> None:
        ((_, check),) = self.make_session().check()
        self.post_message(StartStatus(check.status.value, check.message))

    @on(StartStatus)
    def _start_status(self, message: StartStatus) -> None:
        status = self.query_one("#start-status", Static)
        self.start_available = True
        start = self.query_one("#start", Button)
        start.disabled = self.running
        status.update(Text(f"start: {message.status}" + (f" - {message.message}" if message.message else "")))
        # The keyboard goes where the operator is most likely to go: start, or on to Verify.
        if not self.running:
            (self.query_one("#next", Button) if message.status == "done" else start).focus()

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.running or not self.start_available:
            return
        from installer import log_size

        self.running = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#start-notes").set_class(False, "-empty")
        # Milestones count from here: what the logs said before this start is an older run's.
        launched_at = {pane.node.name: log_size(pane.node) for pane in self.query(NodeLogPane)}
        for pane in self.query(NodeLogPane):
            pane.reached.clear()
            pane.failures.clear()
            pane.show_checklist("starting…")
        self.start_following(launched_at)
        self.run_start()

    def emit(self, event: Event) -> None:
        self.post_message(StartEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def run_start(self) -> None:
        try:
            (outcome,) = self.make_session(emit=self.emit).apply()
        except InstallerError as error:
            self.post_message(StartFailed(error.title, error.message, what_to_do(error.hint, error.remedy, self.wizard.this_server)))
            return
        # The engine's own words: "already done: 3 node(s) running" is not "started".
        self.post_message(StartStatus(outcome.status.value, outcome.message))

    @on(StartEvent)
    def _start_event(self, message: StartEvent) -> None:
        event = message.event
        notes = self.query_one("#start-notes", RichLog)
        if isinstance(event, StepStarted):
            self.query_one("#start-status", Static).update(Text("starting…", style="italic"))
        elif isinstance(event, StepFinished):
            self.running = False
            self.query_one("#start-status", Static).update(Text(f"start: {event.status} - {event.message}"))
        elif isinstance(event, Note):
            notes.write(Text(event.message, style="yellow" if event.level == "warning" else ""))

    @on(StartFailed)
    def _start_failed(self, message: StartFailed) -> None:
        self.running = False
        self.query_one("#start", Button).disabled = False
        text = Text.assemble((f"{message.title}: ", "bold red"), message.message)
        if message.hint:
            text.append(f"\nWhat to do: {message.hint}", style="yellow")
        self.query_one("#start-status", Static).update(text)
        # Show the log of the node that failed ("manager failed to start: ...").
        for pane in self.query(NodeLogPane):
            if message.message.startswith(f"{pane.node.name} "):
                self.query_one("#node-logs", TabbedContent).active = f"log-{pane.node.name}"
                break

    # --- following the logs ------------------------------------------------------------------------

    def start_following(self, launched_at: dict[str, int] | None = None) -> None:
        """Follow every node's log in one worker thread (the engine's ``Session.follow``). At
        first a log that exists is shown from ``TAIL_BYTES`` before its end; after a start from
        this screen, from where each log stood at that start, and only those lines count for
        the milestones (the worker that followed until then is stopped)."""
        from installer import log_size

        self.stop_following.set()
        self.stop_following = threading.Event()
        session = self.make_session()
        panes = list(self.query(NodeLogPane))
        for pane in panes:
            try:
                pane.milestones = session.milestones(pane.node)
            except InstallerError as error:
                pane.show_checklist(f"milestones cannot be loaded: {error.message}")
                continue
            if launched_at is None:
                pane.show_checklist(f"following {pane.node.home / CARBON_LOG}")
        offsets = launched_at or {pane.node.name: max(0, log_size(pane.node) - TAIL_BYTES) for pane in panes}
        stop = self.stop_following
        self.run_worker(lambda: self.follow_logs(session, offsets, stop), thread=True, exit_on_error=False,
                        group="follow", name="following the node logs")

    def follow_logs(self, session: Session, offsets: dict[str, int], stop: threading.Event) -> None:
        """In a worker thread: the engine reads new lines in chunks (never the whole file) and
        matches them; here they are posted in batches, until ``stop`` (the screen goes away, or
        a start follows afresh)."""
        batches: dict[str, LogBatch] = {}
        posted_at = time.monotonic()

        def flush() -> None:
            nonlocal posted_at
            for batch in batches.values():
                self.post_message(batch)
            batches.clear()
            posted_at = time.monotonic()

        for log in session.follow(stop=stop, from_offsets=offsets, on_idle=flush):
            batch = batches.setdefault(log.node, LogBatch(log.node, []))
            # Every line is matched by the engine; a pane shows the newest of them only, so a
            # node writing thousands of lines a second never floods the screen.
            batch.lines.extend(line.text for line in log.lines)
            if len(batch.lines) > SHOWN_LINES_PER_BATCH:
                batch.skipped += len(batch.lines) - SHOWN_LINES_PER_BATCH
                del batch.lines[:-SHOWN_LINES_PER_BATCH]
            batch.reached.extend(event.milestone.id for event in log.reached)
            batch.failures.extend((event.line.text, event.setting, event.hint) for event in log.failures)
            if time.monotonic() - posted_at >= FOLLOW_INTERVAL:
                flush()
        flush()

    @on(LogBatch)
    def _log_batch(self, message: LogBatch) -> None:
        for pane in self.query(NodeLogPane):
            if pane.node.name != message.node:
                continue
            log = pane.query_one(RichLog)
            failing = {line for line, _, _ in message.failures}
            if message.skipped:
                log.write(Text(f"… {message.skipped} lines not shown (every line is checked)", style="dim italic"))
            for line in message.lines:
                log.write(Text(line, style="bold red" if line in failing else ""))
            pane.reached.update(message.reached)
            pane.failures.extend(message.failures)
            if message.reached or message.failures:
                pane.show_checklist()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back", "next") and self.running:
            return None
        return super().check_action(action, parameters)
