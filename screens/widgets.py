"""Widgets shared by the wizard's screens: the step bar, form fields with their validation
message, the list of problems that belong to no single field, and the error panel."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

if TYPE_CHECKING:
    from installer import PlanProblem

WIZARD_STEPS: tuple[tuple[str, str], ...] = (
    ("welcome", "Welcome"),
    ("topology", "Topology"),
    ("cluster", "Cluster"),
    ("distributions", "Distributions"),
    ("database", "Database"),
    ("review", "Review"),
    ("apply", "Apply"),
    ("launch", "Launch"),
    ("verify", "Verify"),
)
STEP_TITLES = dict(WIZARD_STEPS)
STEP_ORDER = tuple(step for step, _ in WIZARD_STEPS)


def field_id(path: str) -> str:
    """A widget id for a key path (ids allow letters, digits, - and _ only)."""
    return "field-" + re.sub(r"[^A-Za-z0-9_-]", "-", path)


class StepBar(Static):
    """Where the operator is: every step by name when the terminal is wide enough, else the
    current step and its neighbours by name and the others by number. The steps reached so far
    (up to ``furthest``) are links to their screen; those beyond are dim and are not."""

    def __init__(self, current: str, furthest: int = 0) -> None:
        super().__init__(id="step-bar")
        self.current = current
        self.furthest = max(furthest, STEP_ORDER.index(current))

    def render(self) -> Text:
        return self._layout()[0]

    def label_columns(self, step: str) -> tuple[int, int]:
        """Where ``step``'s label is on the bar as it is drawn now: its first column and the one
        after its last, counted from the widget's left edge."""
        start, end = self._layout()[1][step]
        left = self.styles.padding.left
        return left + start, left + end

    def _layout(self) -> tuple[Text, dict[str, tuple[int, int]]]:
        width = self.content_size.width or 78
        current = STEP_ORDER.index(self.current)
        for named in (range(len(STEP_ORDER)), range(current - 1, current + 2), range(current, current + 1)):
            bar, columns = self._bar(set(named))
            if bar.cell_len <= width:
                break
        return bar, columns

    def _bar(self, named: set[int]) -> tuple[Text, dict[str, tuple[int, int]]]:
        bar = Text()
        columns: dict[str, tuple[int, int]] = {}
        for index, (step, title) in enumerate(WIZARD_STEPS):
            if index:
                bar.append(" › ", style="dim")
            label = title if index in named else str(index + 1)
            start = bar.cell_len
            if step == self.current:
                bar.append(f" {index + 1} {title} ", style="reverse bold")
            elif index <= self.furthest:
                # A link: clicking it runs the screen's jump_to, which says why when it cannot.
                bar.append(label, style=Style(underline=True, meta={"@click": f"screen.jump_to({step!r})"}))
            else:
                bar.append(label, style="dim")
            columns[step] = (start, bar.cell_len)
        return bar, columns


class FormField(Widget):
    """A label, an input and, under them, what is wrong with the value (as the operator types)."""

    @dataclass
    class Changed(Message):
        field: FormField
        path: str
        value: str

    def __init__(self, path: str, label: str, value: str = "", *, placeholder: str = "", password: bool = False,
                 note: str = "", button: str = "") -> None:
        super().__init__(id=field_id(path), classes="form-field")
        self.path = path
        self.label = label
        self.initial_value = value
        self.placeholder = placeholder
        self.password = password
        self.note = note
        self.button = button

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(self.label, classes="form-label")
            yield Input(self.initial_value, placeholder=self.placeholder, password=self.password, compact=True,
                        classes="form-input")
            if self.button:
                yield Button(self.button, classes="form-button", compact=True)
        yield Static(self.note, classes="form-note" + ("" if self.note else " -empty"))
        yield Static("", classes="form-problem -empty")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, self.path, event.value))

    def show_problems(self, problems: Sequence[PlanProblem]) -> None:
        message = self.query_one(".form-problem", Static)
        errors = [problem for problem in problems if problem.severity == "error"]
        shown = errors or list(problems)
        message.update(problem_text(shown))
        message.set_class(not shown, "-empty")
        message.set_class(bool(errors), "-error")
        message.set_class(bool(shown) and not errors, "-warning")
        self.set_class(bool(errors), "-invalid")

    def set_note(self, note: str | Text) -> None:
        widget = self.query_one(".form-note", Static)
        widget.update(note)
        widget.set_class(not note, "-empty")


def problem_text(problems: Iterable[PlanProblem], *, with_path: bool = False) -> Text:
    text = Text()
    for problem in problems:
        if text:
            text.append("\n")
        style = "bold red" if problem.severity == "error" else "bold yellow"
        text.append("✗ " if problem.severity == "error" else "! ", style=style)
        if with_path:
            text.append(f"{problem.path}: ", style="bold")
        text.append(problem.message)
        if problem.hint:
            text.append(f" — {problem.hint}", style="italic")
    return text


class ProblemList(Static):
    """Problems of this screen that no single field owns (two nodes colliding, no manager...)."""

    def __init__(self, *, id: str = "problems") -> None:
        super().__init__("", id=id, classes="problem-list -empty")

    def show_problems(self, problems: Sequence[PlanProblem]) -> None:
        self.update(problem_text(problems, with_path=True))
        self.set_class(not problems, "-empty")


class ErrorPanel(Vertical):
    """An error the operator can act on: title, message and what to do."""

    def __init__(self, *, id: str = "error-panel") -> None:
        super().__init__(id=id, classes="error-panel -empty")

    def compose(self) -> ComposeResult:
        yield Static("", classes="error-title")
        yield Static("", classes="error-message")
        yield Static("", classes="error-hint")

    def show_error(self, title: str, message: str, hint: str = "") -> None:
        self.query_one(".error-title", Static).update(Text(title))
        self.query_one(".error-message", Static).update(Text(message))
        self.query_one(".error-hint", Static).update(Text(f"What to do: {hint}") if hint else "")
        self.set_class(False, "-empty")

    def clear(self) -> None:
        self.set_class(True, "-empty")
