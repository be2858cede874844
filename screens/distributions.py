"""Step 4, Distributions: the ESB and ELB zips and the MySQL JDBC driver. Each file is opened as
soon as it is named (in a thread worker): its product and version are shown, and a wrong file is
refused on the spot."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Static

from installer import DistributionError, human_size
from screens.base import FormScreen
from screens.widgets import FormField, ProblemList
from screens.wizard import DraftCheck, WizardState, check_text

ASSETS = Path(__file__).resolve().parent.parent / "assets"
FILE_KINDS = {
    "distributions.esb": ("esb", (".zip",)),
    "distributions.elb": ("elb", (".zip",)),
    "distributions.jdbc_driver": ("jdbc_driver", (".jar",)),
}
# Files are opened this long after the last keystroke, not on every one.
DETECT_DELAY = 0.3


@dataclass(frozen=True)
class Detection:
    """What a file is, or why it cannot be used."""

    ok: bool
    text: str


def describe_file(kind: str, path: Path) -> Detection:
    """Product and version of a distribution zip, or the driver classes of a JDBC jar."""
    from installer import EXPECTED_VERSIONS, expect_product, inspect_distribution, inspect_jdbc_driver

    if not path.is_file():
        return Detection(False, f"{path} does not exist")
    try:
        if kind == "jdbc_driver":
            driver = inspect_jdbc_driver(path)
            version = f" {driver.version}" if driver.version else ""
            return Detection(True, f"MySQL JDBC driver{version} ({driver.driver_class})")
        info = inspect_distribution(path)
        warnings = expect_product(info, kind, EXPECTED_VERSIONS[kind])
    except DistributionError as error:
        return Detection(False, error.message)
    size = f"{info.file_count} files, {human_size(info.total_bytes)}"
    text = f"{info.description} ({size})"
    if warnings:
        text += " - " + " ".join(warnings)
    return Detection(True, text)


class DistributionsScreen(FormScreen):
    STEP = "distributions"
    CSS_PATH = str(ASSETS / "distributions.tcss")
    SECTIONS = ("distributions",)

    @dataclass
    class Detected(Message):
        """The files named by ``text`` (the plan text they were read for) were opened."""

        text: str
        check: DraftCheck
        found: dict[str, Detection]

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.file_check: DraftCheck | None = None
        self.detect_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(Text(f"Relative paths are read from {self.wizard.base_folder}", style="italic"),
                         classes="muted", id="base-folder")
            for path in FILE_KINDS:
                yield self.form_field(path, button="Browse…", note="…")
            yield ProblemList()

    def on_mount(self) -> None:
        super().on_mount()
        self.detect_files()

    # --- detection ---------------------------------------------------------------------------------

    def current_check(self) -> DraftCheck:
        text = self.wizard.plan_text()
        if self.file_check is not None and self.file_check.text == text:
            return self.file_check
        return self.wizard.check()

    def field_changed(self, path: str, value: str) -> None:
        for field in self.query(FormField):
            if field.path == path:
                field.set_note(Text("checking…", style="italic"))
        if self.detect_timer is not None:
            self.detect_timer.stop()
        self.detect_timer = self.set_timer(DETECT_DELAY, self.detect_files)

    def detect_files(self) -> None:
        text = self.wizard.plan_text()
        paths = {key: self.resolve(self.wizard.draft.get(key)) for key in FILE_KINDS}
        self.inspect_files(text, paths)

    def resolve(self, text: str) -> Path | None:
        text = text.strip()
        if not text:
            return None
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else self.wizard.base_folder / path

    @work(thread=True, exclusive=True, exit_on_error=False, group="detect")
    def inspect_files(self, text: str, paths: dict[str, Path | None]) -> None:
        found = {key: describe_file(FILE_KINDS[key][0], path) for key, path in paths.items() if path is not None}
        check = check_text(text, self.wizard.effective_plan_path, check_files=True, is_root=self.wizard.is_root)
        self.post_message(self.Detected(text, check, found))

    @on(Detected)
    def _detected(self, message: Detected) -> None:
        if message.text != self.wizard.plan_text():
            return  # typed on since: a newer check is on its way
        self.file_check = message.check
        for field in self.query(FormField):
            detection = message.found.get(field.path)
            if detection is None:
                field.set_note("")
            elif detection.ok:
                field.set_note(Text(f"✓ {detection.text}", style="green"))
            else:
                field.set_note("")
        self.refresh_problems()

    # --- picking a file ----------------------------------------------------------------------------

    @on(Button.Pressed, ".form-button")
    def _browse(self, event: Button.Pressed) -> None:
        from screens.dialogs import PathScreen

        field = event.button.query_ancestor(FormField)
        _, suffixes = FILE_KINDS[field.path]
        start = self.resolve(field.value) or self.wizard.base_folder
        title = f"Choose the {field.label}"

        def chosen(path: Path | None) -> None:
            if path is not None:
                field.input.value = str(path)  # posts FormField.Changed like typing does

        self.app.push_screen(PathScreen(title, start, suffixes=suffixes), chosen)

    def blocking_reason(self) -> str:
        if self.current_check() is not self.file_check:
            return "Still checking the files…"
        return super().blocking_reason()
