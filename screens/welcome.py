"""Step 1, Welcome / Resume: continue an installation whose state is on this machine, or open a
plan, or start a new one from the guide's example."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from installer import PLAN_READ_ERRORS, STEP_NAMES, State, StateError
from screens.base import WizardScreen
from screens.wizard import WizardState

ASSETS = Path(__file__).resolve().parent.parent / "assets"
STATUS_MARKS = {"done": ("✓", "green"), "failed": ("✗", "red"), "drifted": ("!", "red"),
                "pending": ("·", "yellow")}


def state_summary(state: State) -> Text:
    """One line per step as the state file remembers it (nothing is checked here)."""
    text = Text()
    for name in STEP_NAMES:
        status = state.step_status(name) or "not run"
        mark, style = STATUS_MARKS.get(status, ("·", "dim"))
        if text:
            text.append("\n")
        text.append(f" {mark} ", style=f"bold {style}")
        text.append(f"{name:<10}", style="bold")
        message = state.steps.get(name, {}).get("message", "")
        text.append(f"{status}" + (f": {message}" if message else ""), style=style if status != "done" else "")
    return text


class WelcomeScreen(WizardScreen):
    STEP = "welcome"
    CSS_PATH = str(ASSETS / "welcome.tcss")
    BINDINGS = [
        Binding("r", "resume", "Resume"),
        Binding("o", "open_plan", "Open plan"),
        Binding("n", "new_plan", "New plan"),
    ]

    def __init__(self, wizard: WizardState, *, opening_problem: str = "") -> None:
        super().__init__(wizard)
        self.opening_problem = opening_problem
        self.resumable: list[tuple[str, State]] = []
        self.verified: list[tuple[str, State]] = []
        self.state_problems: list[str] = []
        self.guessed = False

    def compose_body(self) -> ComposeResult:
        self.find_resumable()
        with VerticalScroll(id="body"):
            yield Static(Text.assemble(
                ("Set up a WSO2 ESB 4.7.0 cluster", "bold"),
                " (one ELB 2.0.3, one manager, workers) as the WSO2 Clustering Guide describes it, "
                "one server at a time. One plan describes the whole cluster; copy it to every server."),
                id="intro")
            if self.opening_problem:
                yield Static(Text(f"✗ {self.opening_problem}", style="bold red"), id="opening-problem")
            yield Static(self.plan_line(), id="plan-line")
            for problem in self.state_problems:
                yield Static(Text(f"✗ {problem}", style="bold red"), classes="state-problem")
            for server_name, state in self.verified:
                when = state.steps["verify"].get("updated", "")
                yield Static(Text.assemble(("✓ ", "bold green"), (server_name, "bold"),
                                           f": installed and verified ({when}). Continue with this plan to "
                                           "look at it again or verify it anew."), classes="verified")
            for index, (server_name, state) in enumerate(self.resumable):
                with Vertical(classes="resume-panel"):
                    yield Static(Text.assemble(("Resume ", "bold"), (server_name, "bold"),
                                               f": an installation was started here (state in {state.path})"),
                                 classes="resume-title")
                    yield Static(state_summary(state), classes="resume-steps")
                    with Horizontal(classes="resume-buttons"):
                        yield Button(f"Resume {server_name}", id=f"resume-{index}", variant="primary", compact=True)
                        yield Button("Start over (review every screen)", id=f"start-over-{index}", compact=True)
            with Horizontal(id="plan-buttons"):
                if self.wizard.draft.servers and not self.resumable:
                    yield Button("Continue with this plan", id="continue", variant="primary", compact=True)
                yield Button("Open plan…", id="open", compact=True)
                yield Button("New plan (the guide's example)", id="new", compact=True)
            yield Static(Text(f"Log file: {self.wizard.log_file}", style="dim"), id="log-line")

    def on_mount(self) -> None:
        super().on_mount()
        buttons = self.query(Button).exclude("#back").exclude("#next")
        if buttons:
            buttons.first().focus()
        if self.wizard.this_server is None and self.wizard.draft.servers:
            self.call_after_refresh(self.guess_this_server)

    def guess_this_server(self) -> None:
        """After the first paint: reading this machine's addresses is not free."""
        guess = self.wizard.guess_server()
        self.guessed = True
        if guess.name is not None:
            self.wizard.this_server = guess.name
            self.refresh(recompose=True)  # Resume may now be about this server only
        else:
            self.query_one("#plan-line", Static).update(self.plan_line())

    # --- what is on this machine -------------------------------------------------------------------

    def find_resumable(self) -> None:
        """Servers of the plan with a state file here: this server only, once it is known."""
        wizard = self.wizard
        self.resumable, self.state_problems, self.verified = [], [], []
        names = [wizard.this_server] if wizard.this_server else wizard.draft.server_names()
        for name in names:
            try:
                state = wizard.saved_state(name)
            except StateError as error:
                self.state_problems.append(f"{error.message} ({error.hint})")
                continue
            if state is None:
                continue
            if state.step_status("verify") == "done":
                self.verified.append((name, state))  # finished: nothing to resume
            else:
                self.resumable.append((name, state))

    def plan_line(self) -> Text:
        wizard = self.wizard
        if not wizard.draft.servers:
            return Text("No plan yet: open one, or start from the guide's example.", style="italic")
        where = str(wizard.plan_path) if wizard.plan_path else "a new plan (not saved yet)"
        line = Text.assemble(("Plan: ", "bold"), where)
        servers = ", ".join(wizard.draft.server_names())
        line.append(f"\nServers: {servers}")
        if wizard.this_server:
            how = "confirmed" if wizard.server_confirmed else wizard.guess_server().reason
            line.append(f"\nThis server: {wizard.this_server} ({how})")
        elif self.guessed:
            line.append(f"\nThis server: not known yet ({wizard.guess_server().reason}); chosen on the Topology screen")
        else:
            line.append("\nThis server: looking at this machine's addresses…")
        return line

    # --- actions -------------------------------------------------------------------------------------

    def blocking_reason(self) -> str:
        if not self.wizard.draft.servers:
            return "Open a plan or start a new one first"
        return ""

    def action_next(self) -> None:
        if not self.blocking_reason() and self.resumable:
            self.resume(0)
            return
        super().action_next()

    def resume(self, index: int) -> None:
        server_name, _ = self.resumable[index]
        self.wizard.this_server = server_name
        self.wizard.server_confirmed = True
        self.go("apply", resume=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "resume" and not self.resumable:
            return False  # nothing to resume: not offered in the footer either
        return super().check_action(action, parameters)

    def action_resume(self) -> None:
        if self.resumable:
            self.resume(0)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        if button_id.startswith("resume-"):
            self.resume(int(button_id.removeprefix("resume-")))
        elif button_id.startswith("start-over-"):
            server_name, _ = self.resumable[int(button_id.removeprefix("start-over-"))]
            self.wizard.this_server = server_name
            self.wizard.server_confirmed = True
            self.wizard.furthest = 0  # every screen again, one after the other
            self.go("topology")
        elif button_id == "continue":
            self.go("topology")
        elif button_id == "open":
            self.action_open_plan()
        elif button_id == "new":
            self.action_new_plan()

    def action_new_plan(self) -> None:
        self.wizard.new_from_seed()
        if self.wizard.this_server is None:
            self.wizard.this_server = self.wizard.guess_server().name
        self.go("topology")

    def action_open_plan(self) -> None:
        from screens.dialogs import PathScreen

        start = self.wizard.plan_path or (self.wizard.working_folder / "plan.yaml")
        self.app.push_screen(PathScreen("Open a plan (YAML)", start, suffixes=(".yaml", ".yml")), self.plan_chosen)

    def plan_chosen(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            self.wizard.load_file(path)
        except PLAN_READ_ERRORS as error:
            from screens.dialogs import ErrorScreen

            self.app.push_screen(ErrorScreen("The plan cannot be opened", f"{path}: {error}",
                                             "choose a plan YAML file (see assets/examples/seed.yaml)"))
            return
        if self.wizard.ignored_keys:
            self.notify("left out (unknown keys): " + ", ".join(self.wizard.ignored_keys), severity="warning")
        if self.wizard.this_server is None:
            self.wizard.this_server = self.wizard.guess_server().name
        remember = getattr(self.app, "remember_plan", None)
        if remember is not None:
            remember(self.wizard.plan_path)
        # A plan with state here goes to Resume; otherwise straight to its first screen.
        self.find_resumable()
        self.go("welcome" if self.resumable or self.state_problems else "topology")
