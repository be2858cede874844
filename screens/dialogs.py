"""Dialogs the wizard's screens open: an error to read, a file to pick, a question to answer,
fields to fill in (``FormDialog``, the base of the Topology screen's server and node editors).

Each is a typed ``ModalScreen[T]`` that returns through ``dismiss``; the caller decides what
happens with the answer. Each has its own footer, so the keys shown are the dialog's; the error
and form dialogs keep their buttons in view below a body that scrolls (dialogs.tcss).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Footer, Input, Static

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ResultT = TypeVar("ResultT")


class ErrorScreen(ModalScreen[None]):
    """An error the operator can act on: title, message, what to do."""

    CSS_PATH = str(ASSETS / "dialogs.tcss")
    BINDINGS = [Binding("escape,enter", "close", "Close"),
                Binding("pageup", "scroll_body(-1)", "Scroll", show=False),
                Binding("pagedown", "scroll_body(1)", "Scroll", show=False)]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.error_title = title
        self.error_message = message
        self.error_hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Static(Text(self.error_title), classes="dialog-title")
            with VerticalScroll(classes="dialog-body", can_focus=False):
                yield Static(Text(self.error_message), classes="error-message")
                if self.error_hint:
                    yield Static(Text(f"What to do: {self.error_hint}"), classes="error-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary", compact=True)
        yield Footer()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_body(self, pages: int) -> None:
        scroll_dialog_body(self, pages)


class ConfirmScreen(ModalScreen[bool]):
    """A yes / no question."""

    CSS_PATH = str(ASSETS / "dialogs.tcss")
    BINDINGS = [Binding("escape", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, id="yes", variant="warning", compact=True)
                yield Button(self.no_label, id="no", variant="primary", compact=True)
        yield Footer()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class FilteredDirectoryTree(DirectoryTree):
    """Folders, and files whose names end with one of ``suffixes`` (all files when empty)."""

    def __init__(self, path: Path, suffixes: tuple[str, ...]) -> None:
        super().__init__(path, id="picker-tree")
        self.suffixes = suffixes

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        shown = []
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                is_dir = path.is_dir()
            except OSError:
                continue
            if is_dir or not self.suffixes or path.name.endswith(self.suffixes):
                shown.append(path)
        return shown


class PathScreen(ModalScreen[Path | None]):
    """Pick a file (``must_exist``) or name one to write: a folder tree and a path to type."""

    CSS_PATH = str(ASSETS / "dialogs.tcss")
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+u", "up", "Parent folder")]

    def __init__(self, title: str, initial: Path, *, suffixes: tuple[str, ...] = (), must_exist: bool = True,
                 confirm_label: str = "Choose") -> None:
        super().__init__(classes="dialog-screen")
        self.dialog_title = title
        self.initial = initial
        self.suffixes = suffixes
        self.must_exist = must_exist
        self.confirm_label = confirm_label

    def start_folder(self) -> Path:
        folder = self.initial if self.initial.is_dir() else self.initial.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker-dialog"):
            yield Static(self.dialog_title, classes="dialog-title")
            yield FilteredDirectoryTree(self.start_folder(), self.suffixes)
            yield Input(str(self.initial), id="picker-path", compact=True)
            yield Static("", id="picker-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Parent folder", id="up", compact=True)
                yield Button(self.confirm_label, id="choose", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picker-path", Input).focus()

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#picker-path", Input).value = str(event.path)

    @on(DirectoryTree.DirectorySelected)
    def _folder_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        path_input = self.query_one("#picker-path", Input)
        if not self.must_exist:
            # Saving: keep the file name typed so far, in the chosen folder.
            path_input.value = str(event.path / (Path(path_input.value).name or "plan.yaml"))

    @on(Button.Pressed, "#up")
    def action_up(self) -> None:
        tree = self.query_one(FilteredDirectoryTree)
        current = Path(tree.path)
        if current.parent != current:
            tree.path = current.parent

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#picker-path")
    @on(Button.Pressed, "#choose")
    def _choose(self) -> None:
        text = self.query_one("#picker-path", Input).value.strip()
        message = self.query_one("#picker-message", Static)
        if not text:
            message.update(Text("type a path, or pick a file in the tree", style="bold red"))
            return
        path = Path(os.path.expanduser(text))
        if self.must_exist and not path.is_file():
            message.update(Text(f"{path} is not a file", style="bold red"))
            return
        if not self.must_exist and path.is_dir():
            message.update(Text(f"{path} is a folder: add a file name", style="bold red"))
            return
        self.dismiss(path)



class FormDialog(ModalScreen[ResultT]):
    """A dialog of fields with Save and Cancel: Enter in any of its inputs saves, as ctrl+s and
    the Save button do; escape cancels; its footer shows those keys. Its fields scroll between the
    title and the button row (``.dialog-body``), so Save and Cancel stay in view however many
    problems it lists; page up / page down scroll them from the keyboard.

    A subclass gives ``dialog_title``, ``compose_fields`` and ``action_save`` (what Save returns)."""

    CSS_PATH = str(ASSETS / "dialogs.tcss")
    DIALOG_CLASSES: ClassVar[str] = "dialog"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", key_display="enter/^s"),
        Binding("escape", "cancel", "Cancel"),
        Binding("pageup", "scroll_body(-1)", "Scroll", show=False),
        Binding("pagedown", "scroll_body(1)", "Scroll", show=False),
    ]

    def dialog_title(self) -> str:
        raise NotImplementedError

    def compose_fields(self) -> ComposeResult:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.DIALOG_CLASSES):
            yield Static(Text(self.dialog_title()), classes="dialog-title")
            with VerticalScroll(classes="dialog-body", can_focus=False):
                yield from self.compose_fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def action_save(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_scroll_body(self, pages: int) -> None:
        scroll_dialog_body(self, pages)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()


def scroll_dialog_body(screen: ModalScreen[object], pages: int) -> None:
    """Scroll a dialog's ``.dialog-body`` a page up (``pages`` < 0) or down."""
    for body in screen.query(".dialog-body"):
        if pages < 0:
            body.scroll_page_up()
        else:
            body.scroll_page_down()
