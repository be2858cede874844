"""What every wizard screen has: the step bar, a body, Back / Next (buttons and keys), the
footer, and one place that turns a failed worker into an error the operator can read."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from installer import FIELDS_BY_PATH, InstallerError, problem_field
from screens.remedies import what_to_do
from screens.widgets import STEP_ORDER, STEP_TITLES, FormField, ProblemList, StepBar
from screens.wizard import DraftCheck, WizardState

if TYPE_CHECKING:
    from installer import PlanProblem

log = logging.getLogger("wso2_cluster.tui")


@dataclass
class Navigate(Message):
    """Ask the app to show another step; ``options`` go to that screen's constructor."""

    step: str
    options: dict[str, Any] = field(default_factory=dict)


class WizardScreen(Screen[None]):
    STEP: ClassVar[str] = ""
    NEXT_LABEL: ClassVar[str] = "Next ›"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
        # 1-9: straight to a screen already reached (an Input keeps its digits: Textual gives a
        # printable key to the focused Input before any binding of the screen).
        *(Binding(str(number), f"jump_to_number({number})", f"Go to screen {number}", show=False)
          for number in range(1, len(STEP_ORDER) + 1)),
    ]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__()
        self.wizard = wizard

    # --- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # A plain title line rather than Textual's Header: nothing to update after mounting,
        # so a screen replaced quickly (keys pressed fast) leaves nothing behind to fail.
        index = STEP_ORDER.index(self.STEP) + 1
        yield Static(f"{self.app.title} — {index}/{len(STEP_ORDER)} {STEP_TITLES[self.STEP]}", id="title-bar")
        yield StepBar(self.STEP, self.wizard.furthest)
        yield from self.compose_body()
        with Horizontal(id="nav"):
            yield Button("‹ Back", id="back", compact=True, disabled=self.previous_step is None)
            yield Static("", id="nav-status")
            yield Button(self.NEXT_LABEL, id="next", compact=True, variant="primary",
                         disabled=self.next_step is None)
        # The footer has the screen's keys, Back, Next, Quit and Help (F1), which fit 80 columns;
        # the command palette (ctrl+p) and the theme (ctrl+t) are named in the help instead.
        yield Footer(show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        """Hook for screens; the base has nothing to do once mounted."""

    # --- moving between steps ---------------------------------------------------------------------

    @property
    def previous_step(self) -> str | None:
        index = STEP_ORDER.index(self.STEP)
        return STEP_ORDER[index - 1] if index > 0 else None

    @property
    def next_step(self) -> str | None:
        index = STEP_ORDER.index(self.STEP)
        return STEP_ORDER[index + 1] if index + 1 < len(STEP_ORDER) else None

    def go(self, step: str, **options: Any) -> None:
        self.app.post_message(Navigate(step, options))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and self.previous_step is None:
            return False
        if action == "next" and self.next_step is None:
            return False
        return True

    def action_back(self) -> None:
        if self.previous_step is not None:
            self.go(self.previous_step)

    def action_next(self) -> None:
        if self.next_step is None:
            return
        blocking = self.blocking_reason()
        if blocking:
            self.set_status(blocking, error=True)
            self.notify(blocking, title="Not yet", severity="warning")
            return
        self.go(self.next_step)

    def blocking_reason(self) -> str:
        """Why Next cannot move on yet (empty when it can)."""
        return ""

    # --- going straight to a screen (the step bar, 1-9, the command palette) -----------------------

    def jump_blocker(self, step: str) -> str:
        """Why the operator cannot go straight from here to ``step`` ("" when they can).

        Back to any screen is always allowed, as Back is; forward only to a screen reached
        before, and only past what Next would refuse here; past Review, only with the plan
        Review lets Apply take (saved, without errors, this server confirmed). Never while
        this screen runs something."""
        target, here = STEP_ORDER.index(step), STEP_ORDER.index(self.STEP)
        if target == here:
            return ""
        if getattr(self, "running", False) is True:
            return "Wait for the run to finish (or stop it) first"
        if target > self.wizard.furthest:
            return f"{STEP_TITLES[step]} is not reached yet: go on with Next"
        if target < here:
            return ""
        blocking = self.blocking_reason()
        if blocking:
            return blocking
        review = STEP_ORDER.index("review")
        if here <= review < target:
            errors = self.wizard.check().errors
            if errors:
                return f"The plan has {len(errors)} error(s): fix them first (see Review)"
            if not self.wizard.this_server or not self.wizard.server_confirmed:
                return "Choose and confirm this server on the Topology screen first"
            if self.wizard.unsaved:
                return "Save the plan on the Review screen first: the installation records which plan it applied"
        return ""

    def action_jump_to(self, step: str) -> None:
        """Go straight to ``step`` when ``jump_blocker`` allows it, else say why not."""
        if step not in STEP_ORDER or step == self.STEP:
            return
        blocking = self.jump_blocker(step)
        if blocking:
            self.set_status(blocking, error=True)
            self.notify(blocking, title="Not yet", severity="warning")
            return
        self.go(step)

    def action_jump_to_number(self, number: int) -> None:
        if 1 <= number <= len(STEP_ORDER):
            self.action_jump_to(STEP_ORDER[number - 1])

    def reachable_steps(self) -> list[str]:
        """The screens the step bar, the digits and the command palette offer (those reached)."""
        return [step for index, step in enumerate(STEP_ORDER) if index <= self.wizard.furthest]

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#nav-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    # --- failed workers ---------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.worker_failed(event.worker, event.worker.error)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """An error the operator can act on is shown as such; anything else is a bug: its
        traceback goes to the log file, whose path is shown."""
        from screens.dialogs import ErrorScreen

        if isinstance(error, InstallerError):
            advice = what_to_do(error.hint, error.remedy, self.wizard.this_server)
            self.app.push_screen(ErrorScreen(error.title, error.message, advice))
            return
        log.error("%s failed unexpectedly", worker.name, exc_info=(type(error), error, error.__traceback__))
        self.app.push_screen(ErrorScreen(
            "Unexpected error", f"{worker.name or 'a background task'} failed: {error!r} (a bug in the installer)",
            f"the traceback is in {self.wizard.log_file}; please report it with that file"))


class FormScreen(WizardScreen):
    """A screen of plan settings: each field writes to the draft as it is typed and shows the
    problems the plan's own validation finds on its key path."""

    SECTIONS: ClassVar[tuple[str, ...]] = ()
    # Problems reported on a mapping that one field of the screen stands for.
    FIELD_ALIASES: ClassVar[dict[str, str]] = {}
    # Settings the screen shows with its own widgets (a Select), and so their problems too.
    SHOWN_BY_SCREEN: ClassVar[tuple[str, ...]] = ()

    def form_field(self, path: str, **options: Any) -> FormField:
        spec = FIELDS_BY_PATH[path]
        options.setdefault("placeholder", spec.default)
        return FormField(path, spec.label, self.wizard.draft.get(path), **options)

    def on_mount(self) -> None:
        super().on_mount()
        self.refresh_problems()
        fields = self.query(FormField)
        if fields:
            fields.first().input.focus()

    @on(FormField.Changed)
    def _field_changed(self, event: FormField.Changed) -> None:
        if event.path in FIELDS_BY_PATH:
            self.wizard.draft.set(event.path, event.value)
        self.field_changed(event.path, event.value)
        self.refresh_problems()

    def field_changed(self, path: str, value: str) -> None:
        """Hook for screens that do more when a field changes (or own fields outside the plan)."""

    def current_check(self) -> DraftCheck:
        return self.wizard.check()

    def refresh_problems(self) -> None:
        check = self.current_check()
        fields = {field.path: field for field in self.query(FormField)}
        shown: dict[str, list[PlanProblem]] = {path: [] for path in fields}
        unplaced: list[PlanProblem] = []
        for problem in check.under(*self.SECTIONS):
            path = problem_field(problem)
            path = self.FIELD_ALIASES.get(path, path)
            if path in shown:
                shown[path].append(problem)
            elif path not in self.SHOWN_BY_SCREEN:
                unplaced.append(problem)
        for path, form_field in fields.items():
            form_field.show_problems(shown[path])
        for problem_list in self.query(ProblemList):
            problem_list.show_problems(unplaced)
        self.after_check(check)

    def after_check(self, check: DraftCheck) -> None:
        """Hook for screens that show derived values."""

    def blocking_reason(self) -> str:
        errors = self.current_check().errors_under(*self.SECTIONS)
        if errors:
            invalid = self.query(".form-field.-invalid")
            if invalid:
                invalid.first(FormField).input.focus()
            return f"Fix {len(errors)} problem(s) on this screen first"
        return ""
