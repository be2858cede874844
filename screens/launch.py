"""Step 8, Launch: the nodes of this server started in order (ELB, manager, workers) by the
engine's ``start`` step, one log pane per node following live, the node's expected milestones
ticking off, failure signatures highlighted with their hint."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, RichLog, Static, TabbedContent, TabPane

from installer.derive import NodeLayout, ServerLayout
from installer.errors import InstallerError
from installer.events import Event, Note, StepFinished, StepStarted
from installer.processes import CARBON_LOG
from screens.base import WizardScreen
from screens.wizard import WizardState

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
        # Per node: the log offset at which the last start from this screen began.
        self.launch_offsets: dict[str, int] = {}

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

    def make_installer(self, emit: Any = None) -> Any:
        from installer.engine import Installer

        checked = self.check.checked_plan()
        options: dict[str, Any] = {"secrets": self.wizard.secrets, "selected": ("start",)}
        if emit is not None:
            options["emit"] = emit
        return Installer(checked, self.wizard.this_server or "", **options)

    @work(thread=True, exclusive=True, exit_on_error=False, group="start-status")
    def load_start_status(self) -> None:
        ((_, check),) = self.make_installer().status()
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
        self.running = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#start-notes").set_class(False, "-empty")
        from installer.launch import log_offsets

        # Milestones count from here: what the logs said before this start is an older run's.
        for pane in self.query(NodeLogPane):
            self.launch_offsets[pane.node.name] = log_offsets(pane.node)[CARBON_LOG]
            pane.reached.clear()
            pane.failures.clear()
            pane.show_checklist("starting…")
        self.run_start()

    def emit(self, event: Event) -> None:
        self.post_message(StartEvent(event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def run_start(self) -> None:
        try:
            (outcome,) = self.make_installer(emit=self.emit).apply()
        except InstallerError as error:
            self.post_message(StartFailed(error.title, error.message, error.hint))
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

    def start_following(self) -> None:
        from installer.expectations import expectations_for
        from installer.launch import node_values

        panes = list(self.query(NodeLogPane))

        server = self.server
        assert server is not None and self.check.layout is not None
        for pane in panes:
            values = node_values(self.check.layout, pane.node)
            try:
                pane.milestones = expectations_for(pane.node.role, values)
            except InstallerError as error:
                pane.show_checklist(f"milestones cannot be loaded: {error.message}")
                continue
            pane.show_checklist(f"following {pane.node.home / CARBON_LOG}")
            self.run_worker(lambda node=pane.node, values=values, milestones=pane.milestones:
                            self.follow_log(node, values, milestones),
                            thread=True, exit_on_error=False, group=f"follow-{pane.node.name}",
                            name=f"following the log of {pane.node.name}")

    def follow_log(self, node: NodeLayout, values: dict[str, object], milestones: list[Any]) -> None:
        """In a worker thread: read new lines in chunks (never the whole file), match them, post
        them in batches; ends when the screen goes away."""
        from installer.expectations import match_failure, parse_line
        from installer.logwatch import LogFollower

        path = node.home / CARBON_LOG
        try:
            start = max(0, os.path.getsize(path) - TAIL_BYTES)
        except OSError:
            start = 0  # not written yet: read it from its beginning once it appears
        pending = list(milestones)
        counted_from: int | None = None
        batch = LogBatch(node.name, [])
        posted_at = 0.0
        with LogFollower(path, start_offset=start) as follower:
            while not self.stop_following.is_set():
                lines = follower.poll()
                if not lines:
                    if batch.lines or batch.skipped:
                        self.post_message(batch)
                        batch, posted_at = LogBatch(node.name, []), time.monotonic()
                    self.stop_following.wait(FOLLOW_INTERVAL)
                    continue
                launched_at = self.launch_offsets.get(node.name)
                if launched_at != counted_from:
                    counted_from, pending = launched_at, list(milestones)  # started again: count afresh
                # Every line is matched here; the pane shows the newest of them only, so a node
                # writing thousands of lines a second never floods the screen.
                batch.lines.extend(line.text for line in lines)
                if len(batch.lines) > SHOWN_LINES_PER_BATCH:
                    batch.skipped += len(batch.lines) - SHOWN_LINES_PER_BATCH
                    del batch.lines[:-SHOWN_LINES_PER_BATCH]
                for line in lines:
                    if launched_at is not None and line.generation == 0 and line.offset < launched_at:
                        continue  # written before this screen started the node
                    parsed = parse_line(line.text)
                    for milestone in list(pending):
                        if milestone.matches(parsed):
                            batch.reached.append(milestone.id)
                            pending.remove(milestone)
                    failure = match_failure(parsed, values)
                    if failure is not None:
                        batch.failures.append((line.text, failure.setting, failure.hint))
                if time.monotonic() - posted_at >= FOLLOW_INTERVAL:
                    self.post_message(batch)
                    batch, posted_at = LogBatch(node.name, []), time.monotonic()

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
