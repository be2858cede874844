"""Step 6, Review: what the installer derived and what it would change on this server, before
anything changes: the layout, every file diff (syntax-highlighted), the SQL (passwords
redacted), the hosts block; *Save plan* for the other servers, and *Apply*."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from installer import FileDiff, InstallerError, PlanProblem, Secrets
from screens.base import WizardScreen
from screens.remedies import what_to_do
from screens.widgets import ErrorPanel, problem_text
from screens.wizard import DraftCheck, WizardState

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass
class PreviewResult:
    """Everything the Review screen shows, computed in a worker (it reads zips and may ask the
    database server what exists)."""

    text: str  # the plan text it was computed for
    check: DraftCheck
    steps: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # step -> summary lines
    diffs: list[FileDiff] = field(default_factory=list)
    hosts_lines: list[str] = field(default_factory=list)
    # What a step's preview already says would fail (the database server refusing the admin, an
    # address it does not admit...), worded as problems of that step.
    step_problems: list[PlanProblem] = field(default_factory=list)
    error: InstallerError | None = None

    @property
    def problems(self) -> list[PlanProblem]:
        """The preview's problems, with the error that stopped it, if any."""
        stopped = ([PlanProblem("", None, "preview", self.error.message, what_to_do(self.error.hint, self.error.remedy))]
                   if self.error else [])
        return [*self.step_problems, *stopped]


# What to do about a problem a step's preview found, by step (the Steps tab shows the rest).
STEP_PROBLEM_HINTS = {
    "database": "Test connection on the Database screen says what is wrong and what to do; then Refresh (ctrl+r)",
}


def compute_preview(text: str, check: DraftCheck, server_name: str | None, secrets: Secrets) -> PreviewResult:
    """The engine's dry run for this server (``Session.preview``): nothing changes on disk."""
    from installer import ADMIN_PASSWORD, Session

    result = PreviewResult(text, check)
    checked = check.checked_plan()
    if checked is None or not server_name:
        return result
    try:
        session = Session(checked, server_name, secrets=secrets)
        for name, preview in session.preview():
            result.steps.append((name, preview.summary))
            result.diffs.extend(diff for diff in preview.diffs if diff.changed)
            result.step_problems += [PlanProblem("", None, f"{name} step", problem, STEP_PROBLEM_HINTS.get(name, ""))
                                     for problem in preview.problems]
        # Without the admin password the database step could not look: not a refusal, a password
        # to give (Apply asks for it before it starts), so a warning.
        if any(need.secret == ADMIN_PASSWORD for need in session.secrets_needed(done=())):
            result.step_problems = [
                replace(problem, severity="warning",
                        hint="enter the admin password on the Database screen (Apply asks for it otherwise)")
                if problem.path == "database step" else problem for problem in result.step_problems]
        result.hosts_lines = [f"{entry.address}\t{entry.hostname}\t# {entry.reason}"
                              for entry in session.server.hosts_entries]
    except InstallerError as error:
        result.error = error
    return result


class ReviewScreen(WizardScreen):
    STEP = "review"
    CSS_PATH = str(ASSETS / "review.tcss")
    NEXT_LABEL = "Apply ›"
    BINDINGS = [
        Binding("ctrl+s", "save_plan", "Save plan"),
        Binding("ctrl+r", "refresh_preview", "Refresh"),
    ]

    @dataclass
    class Previewed(Message):
        result: PreviewResult

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(wizard)
        self.preview_result: PreviewResult | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("", id="summary")
            with Horizontal(id="review-buttons"):
                yield Button("Save plan…", id="save-plan", compact=True)
                yield Button(f"Apply on {self.wizard.this_server or '?'}", id="apply", compact=True,
                             variant="success")
            yield ErrorPanel()
            with TabbedContent(id="review-tabs"):
                with TabPane("Layout", id="tab-layout"):
                    yield Static("", id="layout")
                with TabPane("Steps", id="tab-steps"):
                    yield Static(Text("computing what would change…", style="italic"), id="steps")
                with TabPane("Files", id="tab-files"):
                    yield Static(Text("computing the diffs…", style="italic"), id="files")
                with TabPane("Database", id="tab-database"):
                    yield Static(Text("asking the database server…", style="italic"), id="database-preview")
                with TabPane("Hosts", id="tab-hosts"):
                    yield Static("", id="hosts")
                with TabPane("Problems", id="tab-problems"):
                    yield Static("", id="problems")

    def on_mount(self) -> None:
        super().on_mount()
        check = self.wizard.check()
        self.show_summary(check)
        self.show_layout(check)
        self.action_refresh_preview()

    # --- what is shown -----------------------------------------------------------------------------

    def show_summary(self, check: DraftCheck) -> None:
        wizard = self.wizard
        text = Text()
        where = str(wizard.plan_path) if wizard.plan_path else "not saved yet"
        text.append("Plan: ", style="bold")
        text.append(where)
        if wizard.unsaved:
            text.append("  (unsaved changes: Save plan writes it; copy it to every server)", style="yellow")
        text.append("\nThis server: ", style="bold")
        text.append(wizard.this_server or "not chosen (Topology screen)")
        errors, warnings = len(check.errors), len(check.warnings)
        text.append("\nPlan check: ", style="bold")
        if errors:
            text.append(f"{errors} error(s)", style="bold red")
            text.append(" - see Problems; fix them on their screens before applying")
        else:
            text.append("valid", style="bold green")
        if warnings:
            text.append(f", {warnings} warning(s)", style="yellow")
        # What the preview found (the database server refusing the admin...): Apply would fail there.
        found = self.preview_result.problems if self.preview_result is not None else []
        failing = [problem for problem in found if problem.severity == "error"]
        if found:
            text.append("\nPreview: ", style="bold")
        if failing:
            steps = ", ".join(dict.fromkeys(problem.path.removesuffix(" step") for problem in failing))
            text.append(f"{len(failing)} problem(s)", style="bold red")
            text.append(f" ({steps}) - see Problems; Apply would fail there")
        elif found:
            steps = ", ".join(dict.fromkeys(problem.path.removesuffix(" step") for problem in found))
            text.append(f"{len(found)} warning(s) ({steps}) - see Problems", style="yellow")
        self.query_one("#summary", Static).update(text)
        problems = [*check.problems, *found]
        self.query_one("#problems", Static).update(
            problem_text(problems, with_path=True) if problems else Text("No problems.", style="green"))

    def show_layout(self, check: DraftCheck) -> None:
        if check.layout is None or check.errors:
            self.query_one("#layout", Static).update(Text("The layout is derived once the plan has no errors.",
                                                          style="italic"))
            return
        from installer import layout_tables

        self.query_one("#layout", Static).update(Group(*layout_tables(check.layout)))

    def action_refresh_preview(self) -> None:
        self.set_status("computing the preview…")
        self.run_preview(self.wizard.plan_text(), self.wizard.this_server)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def run_preview(self, text: str, server_name: str | None) -> None:
        check = self.wizard.check(check_files=True)
        self.post_message(self.Previewed(compute_preview(text, check, server_name, self.wizard.secrets)))

    @on(Previewed)
    def _previewed(self, message: Previewed) -> None:
        result = message.result
        self.preview_result = result
        self.set_status("")
        self.show_summary(result.check)
        self.show_layout(result.check)
        panel = self.query_one(ErrorPanel)
        if result.error is not None:
            panel.show_error(result.error.title, result.error.message,
                             what_to_do(result.error.hint, result.error.remedy, self.wizard.this_server))
        else:
            panel.clear()
        if result.check.checked_plan() is None:
            for widget_id in ("#steps", "#files", "#database-preview"):
                self.query_one(widget_id, Static).update(Text("Nothing to preview while the plan has errors "
                                                              "(see Problems).", style="italic"))
        elif not self.wizard.this_server:
            for widget_id in ("#steps", "#files", "#database-preview"):
                self.query_one(widget_id, Static).update(Text("Choose this server on the Topology screen.",
                                                              style="italic"))
        else:
            self.query_one("#steps", Static).update(self.steps_view(result))
            self.query_one("#files", Static).update(self.files_view(result.diffs))
            database_lines = dict(result.steps).get("database", ())
            self.query_one("#database-preview", Static).update(
                Text("\n".join(database_lines)) if database_lines else Text("no database work", style="italic"))
        self.query_one("#hosts", Static).update(self.hosts_view(result))

    def steps_view(self, result: PreviewResult) -> RenderableType:
        text = Text()
        for name, lines in result.steps:
            if text:
                text.append("\n")
            text.append(f"{name}\n", style="bold")
            for line in lines[:12] if name == "database" else lines:
                style = "red" if line.startswith("problem") else ""
                text.append(f"  {line}\n", style=style)
            if name == "database" and len(lines) > 12:
                text.append(f"  … {len(lines) - 12} more lines: see the Database tab\n", style="italic")
        return text

    def files_view(self, diffs: list[FileDiff]) -> RenderableType:
        if not diffs:
            return Text("No file would change: every file is up to date.", style="green")
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        parts: list[RenderableType] = [Text(f"{len(diffs)} file(s) would change:", style="bold")]
        for diff in diffs:
            parts.append(Rule(Text(diff.label or str(diff.path), style="bold"), align="left"))
            parts.append(Syntax(diff.text, "diff", theme=theme, background_color="default", word_wrap=True))
        return Group(*parts)

    def hosts_view(self, result: PreviewResult) -> RenderableType:
        if not result.hosts_lines:
            return Text("The hosts block is shown once the plan is valid and this server is chosen.", style="italic")
        block = Text("\n".join(result.hosts_lines))
        hosts_diffs = [diff for diff in result.diffs if diff.label == "hosts file"]
        parts: list[RenderableType] = [Text("This server's block:", style="bold"), block]
        if hosts_diffs:
            theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
            parts += [Text("\nChange to the hosts file:", style="bold"),
                      Syntax(hosts_diffs[0].text, "diff", theme=theme, background_color="default")]
        else:
            parts.append(Text("\nThe hosts file already has this block.", style="green"))
        return Group(*parts)

    # --- save and apply ----------------------------------------------------------------------------

    @on(Button.Pressed, "#save-plan")
    def action_save_plan(self) -> None:
        self.ask_save_path(then_apply=False)

    def ask_save_path(self, *, then_apply: bool) -> None:
        from screens.dialogs import PathScreen

        start = self.wizard.effective_plan_path

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.exists() and path.resolve() != (self.wizard.plan_path or Path()).resolve():
                from screens.dialogs import ConfirmScreen

                def overwrite(yes: bool | None) -> None:
                    if yes:
                        self.save_to(path, then_apply=then_apply)

                self.app.push_screen(ConfirmScreen(f"{path} exists. Replace it with this plan?", yes="Replace"),
                                     overwrite)
                return
            self.save_to(path, then_apply=then_apply)

        self.app.push_screen(PathScreen("Save the plan (YAML, no passwords in it)", start, must_exist=False,
                                        suffixes=(".yaml", ".yml"), confirm_label="Save"), chosen)

    def save_to(self, path: Path, *, then_apply: bool) -> None:
        try:
            saved = self.wizard.save(path)
        except OSError as error:
            from screens.dialogs import ErrorScreen

            self.app.push_screen(ErrorScreen("The plan cannot be saved", f"{path}: {error.strerror or error}",
                                             "choose a folder you may write to"))
            return
        remember = getattr(self.app, "remember_plan", None)
        if remember is not None:
            remember(saved)
        self.notify(f"Plan saved to {saved}", title="Saved", markup=False)
        self.show_summary(self.wizard.check())
        if then_apply:
            self.action_next()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_next()

    def blocking_reason(self) -> str:
        result = self.preview_result
        if result is None or result.text != self.wizard.plan_text():
            return "Still checking the plan and its files…"
        check = result.check  # with the zips and the driver opened, not only the plan's text
        if check.errors:
            return f"The plan has {len(check.errors)} error(s): see Problems"
        if not self.wizard.this_server or not self.wizard.server_confirmed:
            return "Choose and confirm this server on the Topology screen"
        return ""

    def action_next(self) -> None:
        blocking = self.blocking_reason()
        if blocking:
            self.set_status(blocking, error=True)
            self.notify(blocking, title="Not yet", severity="warning")
            return
        if self.wizard.unsaved:
            # The state file records the plan's path and fingerprint: apply a plan that is on disk.
            self.notify("Save the plan first: the installation records which plan it applied")
            self.ask_save_path(then_apply=True)
            return
        self.go("apply", start=True)
