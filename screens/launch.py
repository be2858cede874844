"""Step 8, Launch: the nodes of this server started in order (ELB, manager, workers) by the
engine's ``start`` step, one log pane per node following live, the node's expected milestones
ticking off, failure signatures highlighted with their hint; Stop and Restart for the node of
the current tab or for all of them.

Start is offered only once every Apply step (those not skipped) is done: the nodes would start
on missing or half-written files. Each start, stop or restart runs in a thread worker through
``installer.Session``; its notes say which node it is at, and a restarted node's log is followed
again from its new launch."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import shorten
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, RichLog, Static, TabbedContent, TabPane

from installer import (
    CARBON_LOG,
    SKIPPABLE_STEPS,
    Event,
    InstallerError,
    LockedError,
    NodeLayout,
    Note,
    ServerLayout,
    Status,
    StepFinished,
    StepStarted,
    log_line_view,
)
from screens.apply import APPLY_STEPS
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
# What the engine's start step notes when it has launched a node: "elb: started (pid 123): sh ...".
LAUNCHED = re.compile(r"started \(pid (?P<pid>\d+)\)")
# How the buttons and the progress line name each run: (running, done).
RUN_WORDS = {"start": ("Starting", "Start"), "stop": ("Stopping", "Stop"), "restart": ("Restarting", "Restart")}
# How a node's state reads on its tab.
TAB_MARKS = {"running": " [green]●[/]", "stopped": " [dim]○[/]", "busy": " [yellow]…[/]"}


@dataclass
class StatusLoaded(Message):
    """The start step's check, the Apply steps that are not done, and which nodes run."""

    status: str
    message: str
    not_done: list[tuple[str, str, str]]  # Apply step, status, message
    pids: dict[str, int | None]


@dataclass
class StartEvent(Message):
    event: Event


@dataclass
class NodeLaunched(Message):
    """The engine launched ``node``; its wso2carbon.log stood at ``offset`` then."""

    node: str
    pid: int
    offset: int


@dataclass
class RunDone(Message):
    """A start, stop or restart ended: the engine's words, or the error to show."""

    action: str
    names: tuple[str, ...] | None  # None: every node
    outcome: str
    pids: dict[str, int | None]
    failure: tuple[str, str, str] | None = None  # title, message, what to do


@dataclass
class LogBatch(Message):
    node: str
    lines: list[str]
    reached: list[str] = field(default_factory=list)  # milestone ids
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # line, setting, hint
    milestone_lines: list[str] = field(default_factory=list)  # the lines that reached a milestone
    skipped: int = 0  # lines matched but not shown (a burst larger than a pane shows)
    generation: int = 0  # which following of the node's log (a restart follows it afresh)


class NodeLogView(RichLog):
    """A node's log lines as ``log_line_view`` shows them, wrapped to the pane's width, and wrapped
    again when that width changes (a scrollbar appears, the terminal is resized): a RichLog keeps
    its lines as they were rendered, so a line written wider than the pane would be cut."""

    MAX_LINES = 2000

    def __init__(self) -> None:
        # RichLog renders at 78 columns at least unless told otherwise: at 80 that is too wide.
        super().__init__(classes="log", max_lines=self.MAX_LINES, wrap=True, markup=False, min_width=20)
        self.entries: deque[tuple[str, str, bool]] = deque(maxlen=self.MAX_LINES)  # text, style, a log line
        self.rendered_width = 0

    def add_line(self, line: str, style: str = "") -> None:
        """A line of the node's log (time, level, logger, message)."""
        self._add((line, style, True))

    def add_note(self, text: str, style: str = "") -> None:
        """A line of the installer's own (``launched``, lines not shown)."""
        self._add((text, style, False))

    def _add(self, entry: tuple[str, str, bool]) -> None:
        self.entries.append(entry)
        self._write(entry)

    def _write(self, entry: tuple[str, str, bool]) -> None:
        # At the pane's width exactly once it is known (RichLog would measure against the app's
        # console, which need not follow the terminal's width); before, RichLog waits for it.
        self.write(self._render(entry), width=self.scrollable_content_region.width or None)

    def _render(self, entry: tuple[str, str, bool]) -> RenderableType:
        text, style, is_line = entry
        if not is_line:
            return Text(text, style=style)
        # Before the pane is laid out, the screen's width is the best guess (the RichLog renders
        # its first lines when it knows its size, and again here when that differs).
        width = self.scrollable_content_region.width or max(self.app.size.width - 6, 20)
        return log_line_view(text, width, style=style)

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if not width or width == self.rendered_width:
            return
        first = self.rendered_width == 0
        self.rendered_width = width
        if first:
            return  # RichLog renders what was written before it had a size itself
        self.clear()
        for entry in self.entries:
            self._write(entry)


class NodeLogPane(Vertical):
    """One node: its state, its milestones as a checklist, and its log following live."""

    def __init__(self, node: NodeLayout) -> None:
        super().__init__(classes="node-log")
        self.node = node
        self.milestones: list[Any] = []
        self.reached: set[str] = set()
        self.failures: list[tuple[str, str, str]] = []
        self.state = Text("checking whether it runs…", style="dim italic")
        self.generation = 0

    def compose(self) -> ComposeResult:
        yield Static("", classes="milestones")
        yield NodeLogView()

    def set_state(self, text: str, style: str = "") -> None:
        self.state = Text(text, style=style)
        self.show_checklist()

    def reset(self) -> None:
        """What the log said counts no more (the node stopped, or starts again)."""
        self.reached.clear()
        self.failures.clear()

    def show_checklist(self, note: str = "") -> None:
        text = Text.assemble(self.state, "\n")
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
        text.rstrip()
        self.query_one(".milestones", Static).update(text)


class LaunchScreen(WizardScreen):
    STEP = "launch"
    CSS_PATH = str(ASSETS / "launch.tcss")
    NEXT_LABEL = "Verify ›"
    # s / r: the node of the current tab; S / R: all of them (grouped, so the footer fits 80 columns).
    BINDINGS = [
        Binding("ctrl+r", "start", "Start"),
        Binding("s", "stop_node", "Stop this node", group=Binding.Group("Stop")),
        Binding("S", "stop_all", "Stop all", key_display="S", group=Binding.Group("Stop")),
        Binding("r", "restart_node", "Restart this node", group=Binding.Group("Restart")),
        Binding("R", "restart_all", "Restart all", key_display="R", group=Binding.Group("Restart")),
    ]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.check = wizard.check()
        self.followers: dict[str, threading.Event] = {}
        self.run_action = ""  # start | stop | restart while one runs
        self.running_what = ""  # what runs, as the quit question names it
        self.not_done: list[tuple[str, str, str]] | None = None  # None until checked
        self.pids: dict[str, int | None] = {}
        self.progress: dict[str, str] = {}  # node -> where the run is with it
        self.to_stop: list[str] = []  # in the order the engine stops them

    @property
    def running(self) -> bool:
        """A start, stop or restart runs (the app asks before quitting)."""
        return bool(self.run_action)

    @property
    def server(self) -> ServerLayout | None:
        layout = self.check.layout
        if layout is None or self.check.errors or not self.wizard.this_server:
            return None
        try:
            return layout.server(self.wizard.this_server)
        except KeyError:
            return None

    def node_order(self) -> list[str]:
        """This server's nodes in start order (ELB, manager, workers)."""
        server = self.server
        if server is None or self.check.layout is None:
            return []
        return [node.name for node in self.check.layout.start_order(server.name)]

    def compose_body(self) -> ComposeResult:
        server = self.server
        with VerticalScroll(id="body"):
            if server is None or self.check.layout is None:
                yield Static(Text("The plan has errors or this server is not chosen: go Back and fix them.",
                                  style="bold red"), id="launch-heading")
                return
            order = ", ".join(self.node_order())
            yield Static(Text.assemble(("Start the nodes of ", "bold"), (server.name, "bold"),
                                       f" in order: {order}"), id="launch-heading")
            first = self.node_order()[0]
            with Horizontal(id="start-row"):
                yield Button("Start the nodes", id="start", compact=True, variant="success", disabled=True)
                yield Button(f"Stop {first}", id="stop-node", compact=True, variant="error", disabled=True)
                yield Button(f"Restart {first}", id="restart-node", compact=True, variant="warning", disabled=True)
                yield Button("Stop all", id="stop-all", compact=True, variant="error", disabled=True)
                yield Button("Restart all", id="restart-all", compact=True, variant="warning", disabled=True)
            yield Static(Text("checking the Apply steps and the nodes…", style="italic"), id="start-status")
            yield Static("", id="start-gate", classes="-empty")
            yield RichLog(id="start-notes", max_lines=200, wrap=True, markup=False, min_width=20, classes="-empty")
            with TabbedContent(id="node-logs"):
                for node in self.check.layout.start_order(server.name):
                    with TabPane(node.name, id=f"log-{node.name}"):
                        yield NodeLogPane(node)

    def on_mount(self) -> None:
        super().on_mount()
        if self.server is None:
            return
        self.load_start_status()

    def on_unmount(self) -> None:
        for stop in self.followers.values():
            stop.set()

    # --- the engine ----------------------------------------------------------------------------------

    def make_session(self, emit: Any = None, steps: tuple[str, ...] = ("start",)) -> Session:
        from installer import Session, ignore_events

        # Quitting the app gives up a start in progress (the node being started is stopped).
        stop = getattr(self.app, "stop_requested", None)
        return Session(self.check.checked_plan(), self.wizard.this_server or "", secrets=self.wizard.secrets,
                       emit=emit or ignore_events, steps=steps, stop=stop)

    def apply_steps(self) -> tuple[str, ...]:
        """The Apply steps that must be done before the nodes start: those the operator did not
        choose to skip (and do by hand)."""
        return tuple(step for step in APPLY_STEPS if step not in self.wizard.skipped_steps)

    @work(thread=True, exclusive=True, exit_on_error=False, group="start-status")
    def load_start_status(self) -> None:
        session = self.make_session(steps=(*self.apply_steps(), "start"))
        checks = dict(session.check())
        start = checks.pop("start")
        not_done = [(name, check.status.value, check.message) for name, check in checks.items()
                    if check.status != Status.DONE]
        self.post_message(StatusLoaded(start.status.value, start.message, not_done, session.node_pids()))

    @on(StatusLoaded)
    def _status_loaded(self, message: StatusLoaded) -> None:
        self.not_done = message.not_done
        self.show_gate()
        if not self.running:
            self.show_status(Text(f"start: {message.status}" + (f" - {message.message}" if message.message else "")))
        self.show_pids(message.pids, all_nodes=True)
        self.start_following()
        self.refresh_controls()
        # The keyboard goes where the operator is most likely to go: back to Apply while steps
        # are not done, else start, or on to Verify.
        if not self.running:
            if message.not_done:
                self.query_one("#back", Button).focus()
            else:
                self.query_one("#next" if message.status == "done" else "#start", Button).focus()

    def show_gate(self) -> None:
        """Why Start is not offered: the Apply steps not done, and where to do them."""
        gate = self.query_one("#start-gate", Static)
        not_done = self.not_done or []
        gate.set_class(not not_done, "-empty")
        if not not_done:
            gate.update("")
            return
        by_status: dict[str, list[str]] = {}
        for step, status, _ in not_done:
            by_status.setdefault(status, []).append(step)
        said = "; ".join(f"{', '.join(steps)} {'not done' if status == 'pending' else status}"
                         for status, steps in by_status.items())
        text = Text(f"Start is not offered until Apply has done every step: {said}.", style="bold yellow")
        text.append(" Run them on the Apply screen (‹ Back, esc)", style="yellow")
        skippable = [step for step, _, _ in not_done if step in SKIPPABLE_STEPS]
        if skippable:
            text.append(f"; {' and '.join(skippable)} can be skipped there and done by hand", style="yellow")
        text.append(".", style="yellow")
        for step, status, detail in not_done:
            if detail and status != "pending":  # what went wrong; "not done" says itself
                text.append(f"\n  {step}: {shorten(detail, 200)}", style="dim")
        skipped = sorted(set(APPLY_STEPS) & self.wizard.skipped_steps)
        if skipped:
            text.append(f"\n  skipped (to do by hand): {', '.join(skipped)}", style="dim")
        gate.update(text)

    # --- what can be pressed -------------------------------------------------------------------------

    def current_node(self) -> str | None:
        if self.server is None:
            return None
        active = self.query_one("#node-logs", TabbedContent).active
        return active.removeprefix("log-") if active else None

    def can_start(self) -> bool:
        return self.server is not None and not self.running and self.not_done == []

    def can_stop(self) -> bool:
        return self.server is not None and not self.running and self.not_done is not None

    def refresh_controls(self) -> None:
        if self.server is None:
            return
        node = self.current_node() or ""
        start_blocked = not self.can_start()
        stop_blocked = not self.can_stop()
        self.query_one("#start", Button).disabled = start_blocked
        self.query_one("#restart-node", Button).disabled = start_blocked
        self.query_one("#restart-all", Button).disabled = start_blocked
        self.query_one("#stop-node", Button).disabled = stop_blocked or self.pids.get(node) is None
        self.query_one("#stop-all", Button).disabled = stop_blocked or not any(self.pids.values())
        for button_id, label in (("#stop-node", f"Stop {node}"), ("#restart-node", f"Restart {node}")):
            button = self.query_one(button_id, Button)
            if button.label.plain != label:
                button.label = label
                button.refresh(layout=True)  # a Button's label does not size it again by itself
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back", "next") and self.running:
            return None
        if action in ("start", "restart_node", "restart_all"):
            return True if self.can_start() else None
        if action == "stop_node":
            return True if self.can_stop() and self.pids.get(self.current_node() or "") is not None else None
        if action == "stop_all":
            return True if self.can_stop() and any(self.pids.values()) else None
        return super().check_action(action, parameters)

    @on(TabbedContent.TabActivated, "#node-logs")
    def _tab_activated(self) -> None:
        self.refresh_controls()

    # --- start, stop, restart ------------------------------------------------------------------------

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.can_start():
            self.begin("start", None)

    @on(Button.Pressed, "#stop-node")
    def action_stop_node(self) -> None:
        node = self.current_node()
        if node and self.can_stop() and self.pids.get(node) is not None:
            self.begin("stop", (node,))

    @on(Button.Pressed, "#restart-node")
    def action_restart_node(self) -> None:
        node = self.current_node()
        if node and self.can_start():
            self.begin("restart", (node,))

    @on(Button.Pressed, "#stop-all")
    def action_stop_all(self) -> None:
        if self.can_stop() and any(self.pids.values()):
            self.begin("stop", None)

    @on(Button.Pressed, "#restart-all")
    def action_restart_all(self) -> None:
        if self.can_start():
            self.begin("restart", None)

    def run_label(self, action: str, names: tuple[str, ...] | None, *, done: bool = False) -> str:
        verb = RUN_WORDS[action][1 if done else 0]
        if action == "start":
            return verb
        return f"{verb} {' '.join(names) if names else 'all'}"

    def begin(self, action: str, names: tuple[str, ...] | None) -> None:
        """Show which nodes the run is about, then run it in a worker."""
        order = self.node_order()
        targets = [name for name in order if names is None or name in names]
        self.run_action = action
        self.running_what = self.run_label(action, names, done=True)
        self.to_stop = list(reversed(targets)) if action in ("stop", "restart") else []
        self.progress = {}
        for name in targets:
            if action == "start" and self.pids.get(name) is not None:
                self.progress[name] = f"already running (pid {self.pids[name]})"
            else:
                self.progress[name] = "to start" if action == "start" else f"to {action}"
        if self.to_stop:
            self.progress[self.to_stop[0]] = "stopping…"
            self.set_pane_state(self.to_stop[0], "stopping…", "yellow", tab="busy")
        self.show_progress()
        self.query_one("#start-notes").set_class(False, "-empty")
        self.refresh_controls()
        self.query_one("#back", Button).disabled = True
        self.query_one("#next", Button).disabled = True
        self.run_nodes(action, names)

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def run_nodes(self, action: str, names: tuple[str, ...] | None) -> None:
        sessions: list[Session] = []

        def emit(event: Event) -> None:
            self.post_message(StartEvent(event))
            if isinstance(event, Note) and sessions:
                node, _, rest = event.message.partition(": ")
                launched = LAUNCHED.match(rest)
                if launched:
                    # Read now, in the engine's thread: the state holds this launch already.
                    layout = next((each for each in sessions[0].nodes() if each.name == node), None)
                    if layout is not None:
                        self.post_message(NodeLaunched(node, int(launched["pid"]), sessions[0].launch_offset(layout)))

        session = self.make_session(emit=emit)
        sessions.append(session)
        label = self.run_label(action, names, done=True)
        failure = None
        outcome = ""
        try:
            if action == "start":
                # The start step, so the state file records it as done (Resume shows it).
                (report,) = session.apply()
                outcome = f"start: {report.status.value} - {report.message}"
            elif action == "stop":
                outcome = "; ".join(session.stop(names))
            else:
                outcome = session.restart(names)
        except LockedError as error:
            failure = (error.title, error.message, f"wait for that run to finish (or stop it there), then press "
                       f"{label} again here; the lock is released as soon as that process ends")
        except InstallerError as error:
            failure = (error.title, error.message, what_to_do(error.hint, error.remedy, self.wizard.this_server))
        except PermissionError as error:
            failure = ("Not allowed to signal a node", f"{label}: {error.strerror or error}",
                       "the nodes were started by another user (root?): run the installer as that user "
                       "(sudo -E wso2-cluster), then press it again")
        self.post_message(RunDone(action, names, outcome, session.node_pids(), failure))

    @on(StartEvent)
    def _start_event(self, message: StartEvent) -> None:
        event = message.event
        notes = self.query_one("#start-notes", RichLog)
        if isinstance(event, StepStarted):
            self.show_progress()
        elif isinstance(event, StepFinished):
            pass  # the outcome comes with RunDone, with which nodes run
        elif isinstance(event, Note):
            notes.write(Text(event.message, style="yellow" if event.level == "warning" else ""))
            node, _, rest = event.message.partition(": ")
            if node in self.progress:
                self.node_progress(node, rest)

    def node_progress(self, node: str, said: str) -> None:
        """The engine's note about ``node`` ("stopped", "started (pid 12): ...", "already
        running"), in the progress line and on the node's tab."""
        if said in ("stopped", "not running") or said.startswith("killed after"):
            if said.startswith("killed after"):
                said = f"did not stop on TERM: {said}"
            self.progress[node] = f"{said}, to start" if self.run_action == "restart" else said
            self.pids[node] = None
            self.set_pane_state(node, said, "yellow" if said.startswith("did not") else "dim", tab="stopped",
                                reset=True)
            if node in self.to_stop:
                self.to_stop.remove(node)
            if self.to_stop:
                self.progress[self.to_stop[0]] = "stopping…"
                self.set_pane_state(self.to_stop[0], "stopping…", "yellow", tab="busy")
        elif launched := LAUNCHED.match(said):
            for other, state in self.progress.items():
                if state.startswith("started (pid"):  # the engine moved on: that one came up
                    self.progress[other] = state.split(",")[0].replace("started", "running")
                    self.set_pane_state(other, self.progress[other], "bold green", tab="running")
            self.progress[node] = f"started (pid {launched['pid']}), waiting for its milestones…"
        elif said == "already running":
            self.progress[node] = "already running"
        else:
            return
        self.show_progress()

    def show_progress(self) -> None:
        action = self.run_action
        if not action:
            return
        text = Text(f"{RUN_WORDS[action][0]}: ", style="bold")
        text.append(" · ".join(f"{node} {state}" for node, state in self.progress.items()))
        self.show_status(text)

    def show_status(self, text: Text) -> None:
        self.query_one("#start-status", Static).update(text)

    @on(NodeLaunched)
    def _node_launched(self, message: NodeLaunched) -> None:
        """Launched again: its log is followed from this launch, its milestones counted afresh."""
        pane = self.pane(message.node)
        if pane is None:
            return
        self.pids[message.node] = message.pid
        pane.reset()
        pane.query_one(NodeLogView).add_note(f"── launched (pid {message.pid}) ──", style="bold")
        self.set_pane_state(message.node, f"started (pid {message.pid}), waiting for its milestones…", "yellow",
                            tab="busy")
        self.follow_node(message.node, message.offset, message.offset)

    @on(RunDone)
    def _run_done(self, message: RunDone) -> None:
        self.run_action = ""
        self.running_what = ""
        targets = [name for name in self.node_order() if message.names is None or name in message.names]
        self.show_pids(message.pids, nodes=targets)
        failure = message.failure
        if failure is None and message.action == "stop":
            still = [name for name in targets if message.pids.get(name) is not None]
            if still:
                failure = ("A node did not stop", ", ".join(f"{name} is still running (pid {message.pids[name]})"
                                                            for name in still) + " after TERM and KILL",
                           "it may have been started by another user: run the installer as that user, or end "
                           "its process group by hand; then press Stop again")
        if failure is not None:
            title, text, hint = failure
            shown = Text.assemble((f"{title}: ", "bold red"), text)
            if hint:
                shown.append(f"\nWhat to do: {hint}", style="yellow")
            self.show_status(shown)
            # Show the log of the node that failed ("manager failed to start: ...").
            for name in self.node_order():
                if text.startswith(f"{name} "):
                    self.query_one("#node-logs", TabbedContent).active = f"log-{name}"
                    break
        elif message.action == "start":
            self.show_status(Text(message.outcome))
        else:
            label = self.run_label(message.action, message.names, done=True)
            states = " · ".join(f"{name} {self.pid_words(message.pids.get(name))}" for name in targets)
            self.show_status(Text.assemble((f"{label}: ", "bold"), states))
        self.query_one("#back", Button).disabled = False
        self.query_one("#next", Button).disabled = False
        self.refresh_controls()

    # --- each node's state -------------------------------------------------------------------------

    @staticmethod
    def pid_words(pid: int | None) -> str:
        return f"running (pid {pid})" if pid is not None else "stopped"

    def pane(self, node: str) -> NodeLogPane | None:
        for pane in self.query(NodeLogPane):
            if pane.node.name == node:
                return pane
        return None

    def set_pane_state(self, node: str, text: str, style: str, *, tab: str, reset: bool = False) -> None:
        pane = self.pane(node)
        if pane is None:
            return
        if reset:
            pane.reset()
        pane.set_state(text, style)
        self.query_one("#node-logs", TabbedContent).get_tab(f"log-{node}").label = f"{node}{TAB_MARKS[tab]}"

    def show_pids(self, pids: dict[str, int | None], *, nodes: list[str] | None = None,
                  all_nodes: bool = False) -> None:
        """Each node's tab and state line say whether it runs now."""
        for name in self.node_order() if all_nodes else nodes or []:
            pid = pids.get(name)
            self.pids[name] = pid
            pane = self.pane(name)
            if pane is None:
                continue
            if pid is None:
                self.set_pane_state(name, "stopped", "dim", tab="stopped")
            else:
                self.set_pane_state(name, self.pid_words(pid), "bold green", tab="running")

    # --- following the logs ------------------------------------------------------------------------

    def start_following(self) -> None:
        """Follow every node's log, each in a worker thread of its own (the engine's
        ``Session.follow``): a log that exists is shown from ``TAIL_BYTES`` before its end;
        its milestones count from the node's last launch while it runs (a stopped node's old
        lines tick nothing off)."""
        from installer import log_size

        session = self.make_session()
        for pane in self.query(NodeLogPane):
            try:
                pane.milestones = session.milestones(pane.node)
            except InstallerError as error:
                pane.show_checklist(f"milestones cannot be loaded: {error.message}")
                continue
            size = log_size(pane.node)
            running = self.pids.get(pane.node.name) is not None
            count_from = session.launch_offset(pane.node) if running else size
            pane.show_checklist(f"following {pane.node.home / CARBON_LOG}")
            self.follow_node(pane.node.name, max(0, size - TAIL_BYTES), count_from)

    def follow_node(self, name: str, offset: int, count_from: int) -> None:
        """Follow one node's log from ``offset`` (its milestones counting from ``count_from``);
        whatever followed it until now stops."""
        pane = self.pane(name)
        if pane is None:
            return
        previous = self.followers.pop(name, None)
        if previous is not None:
            previous.set()
        stop = self.followers[name] = threading.Event()
        pane.generation += 1
        generation = pane.generation
        session = self.make_session()
        self.run_worker(lambda: self.follow_logs(session, name, offset, count_from, generation, stop), thread=True,
                        exit_on_error=False, group=f"follow-{name}", name=f"following {name}'s log")

    def follow_logs(self, session: Session, name: str, offset: int, count_from: int, generation: int,
                    stop: threading.Event) -> None:
        """In a worker thread: the engine reads new lines in chunks (never the whole file) and
        matches them; here they are posted in batches, until ``stop`` (the screen goes away, or
        the node is launched again and followed afresh)."""
        batch = LogBatch(name, [], generation=generation)
        posted_at = time.monotonic()

        def flush() -> None:
            nonlocal batch, posted_at
            if batch.lines or batch.reached or batch.failures or batch.skipped:
                self.post_message(batch)
            batch = LogBatch(name, [], generation=generation)
            posted_at = time.monotonic()

        for log in session.follow([name], stop=stop, from_offsets={name: offset}, count_from={name: count_from},
                                  on_idle=flush):
            # Every line is matched by the engine; a pane shows the newest of them only, so a
            # node writing thousands of lines a second never floods the screen.
            batch.lines.extend(line.text for line in log.lines)
            if len(batch.lines) > SHOWN_LINES_PER_BATCH:
                batch.skipped += len(batch.lines) - SHOWN_LINES_PER_BATCH
                del batch.lines[:-SHOWN_LINES_PER_BATCH]
            batch.reached.extend(event.milestone.id for event in log.reached)
            batch.milestone_lines.extend(event.line.text for event in log.reached)
            batch.failures.extend((event.line.text, event.setting, event.hint) for event in log.failures)
            if time.monotonic() - posted_at >= FOLLOW_INTERVAL:
                flush()
        flush()

    @on(LogBatch)
    def _log_batch(self, message: LogBatch) -> None:
        pane = self.pane(message.node)
        if pane is None or message.generation != pane.generation:
            return  # posted by a following stopped since (the node was launched again)
        log = pane.query_one(NodeLogView)
        failing = {line for line, _, _ in message.failures}
        milestones = set(message.milestone_lines)
        if message.skipped:
            log.add_note(f"… {message.skipped} lines not shown (every line is checked)", style="dim italic")
        for line in message.lines:
            log.add_line(line, style="bold red" if line in failing else "bold green" if line in milestones else "")
        pane.reached.update(message.reached)
        pane.failures.extend(message.failures)
        if message.reached or message.failures:
            pane.show_checklist()
