"""The Textual application: the guided installer, one screen per step over the engine.

``create_app`` is the one factory, used by the console command (``wso2-cluster``,
``wso2-cluster tui``) and the tests. Screens other than the first are imported when first shown,
so the first screen paints quickly.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from installer import PLAN_READ_ERRORS, PlanDraft
from screens.base import Navigate, WizardScreen
from screens.widgets import STEP_ORDER, STEP_TITLES
from screens.wizard import RecentPlan, WizardState, secrets_from_environment

if TYPE_CHECKING:
    from textual.command import Provider

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LOG_ENV = "WSO2_CLUSTER_TUI_LOG"

log = logging.getLogger("wso2_cluster.tui")


def user_state_folder(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/wso2-cluster`` (``~/.local/state/wso2-cluster``)."""
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "wso2-cluster"


def open_log_file(path: Path) -> Path:
    """Send the wizard's log (tracebacks included) to ``path``, or to the temp folder when that
    cannot be written; returns the file actually used, which the app shows."""
    for candidate in (path, Path(tempfile.gettempdir()) / f"wso2-cluster-tui-{os.getuid()}.log"):
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(candidate, encoding="utf-8")
        except OSError:
            continue
        tui_log = logging.getLogger("wso2_cluster.tui")
        for existing in list(tui_log.handlers):
            if getattr(existing, "baseFilename", None) == str(candidate):
                tui_log.removeHandler(existing)
                existing.close()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        tui_log.addHandler(handler)
        tui_log.setLevel(logging.INFO)
        return candidate
    return path


def go_to_commands() -> type[Provider]:
    """The command palette's "Go to: <screen>" entries (loaded when the palette first opens)."""
    from screens.help import GoToCommands

    return GoToCommands


class InstallerApp(App[None]):
    # The first screen is the app's default screen, whose own CSS_PATH Textual does not load:
    # its stylesheet comes with the app's.
    CSS_PATH = [str(ASSETS / "app.tcss"), str(ASSETS / "welcome.tcss")]
    TITLE = "WSO2 cluster installer"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),  # an Input focused keeps its "?"
        # Not in the footer, which has no room for it at 80 columns: the help and the command
        # palette name it.
        Binding("ctrl+t", "toggle_dark", "Theme", show=False),
    ]
    # The command palette (ctrl+p) also goes to the screens reached (see screens/help.py).
    COMMANDS = App.COMMANDS | {go_to_commands}

    def __init__(self, wizard: WizardState, *, recent: RecentPlan, opening_problem: str = "") -> None:
        super().__init__()
        self.wizard = wizard
        self.recent = recent
        self.opening_problem = opening_problem
        # Set when the operator quits: a running apply stops at its next step or progress report.
        self.stop_requested = threading.Event()
        self.quit_question: Screen[bool] | None = None  # "Stop the run and quit?" while it is asked

    def get_default_screen(self) -> Screen:
        from screens.welcome import WelcomeScreen

        return WelcomeScreen(self.wizard, opening_problem=self.opening_problem)

    def screen_for(self, step: str, **options: object) -> WizardScreen:
        if step not in STEP_ORDER:
            raise ValueError(f"unknown wizard step {step!r}")
        module = importlib.import_module(f"screens.{step}")
        screen_class = getattr(module, f"{step.capitalize()}Screen")
        return screen_class(self.wizard, **options)

    def go_to(self, step: str, **options: object) -> None:
        self.wizard.reach(STEP_ORDER.index(step))
        screen = self.screen_for(step, **options)
        if len(self.screen_stack) == 1:
            # The first screen is the app's default screen, which switch_screen cannot replace:
            # it stays below, and every later step replaces the one on top of it.
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    @on(Navigate)
    def _navigate(self, event: Navigate) -> None:
        self.go_to(event.step, **event.options)

    def wizard_screen(self) -> WizardScreen | None:
        """The wizard's screen the operator is on (under any dialog open over it)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, WizardScreen):
                return screen
        return None

    def action_help(self) -> None:
        """F1 / ?: what each screen is for, which one this is, and the keys; again closes it."""
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        current = self.wizard_screen()
        self.push_screen(HelpScreen(current.STEP if current is not None else STEP_ORDER[0], self.wizard.furthest))

    def remember_plan(self, path: Path) -> None:
        self.recent.remember(path)

    def run_in_progress(self) -> str:
        """What runs now that quitting would stop ("" when nothing does). A screen says it runs
        something through ``running`` (Apply: the steps; Launch: a start, stop or restart) and
        may name it with ``running_what``."""
        for screen in reversed(self.screen_stack):
            if getattr(screen, "running", False) is True:
                what = getattr(screen, "running_what", "")
                step = STEP_TITLES.get(getattr(screen, "STEP", ""), "")
                return f"{step}: {what}" if what and step else what or step or "A run"
        return ""

    async def action_quit(self) -> None:
        running = self.run_in_progress()
        if running and (self.quit_question is None or self.screen is not self.quit_question):
            self.ask_to_quit(running)
            return
        # Nothing runs, or ctrl+q again on the question: quit.
        self.stop_requested.set()
        self.exit()

    def ask_to_quit(self, running: str) -> None:
        """"Stop the run and quit?": Quit stops it and quits, Stay (esc) goes back to where the
        operator was."""
        def answered(quit_now: bool | None) -> None:
            self.quit_question = None
            if quit_now:
                self.stop_requested.set()
                self.exit()

        self.quit_question = quit_question(running)
        self.push_screen(self.quit_question, answered)


def quit_question(running: str) -> Screen[bool]:
    """The question asked before quitting while ``running`` runs; Stay has the focus, so an
    Enter pressed out of habit does not quit. (The dialogs module is imported here, when first
    needed, not before the first screen.)"""
    from screens.dialogs import ConfirmScreen

    class QuitQuestion(ConfirmScreen):
        BINDINGS = [Binding("escape", "answer(False)", "Stay"), Binding("y", "answer(True)", "Quit")]

        def on_mount(self) -> None:
            self.query_one("#no").focus()

    return QuitQuestion(
        f"{running} is running. Stop the run and quit?\n\nQuitting stops it at its next step (a node being "
        "started is stopped, not left half-started); what is done is saved, and starting the installer "
        "again offers Resume.", yes="Quit", no="Stay")


def create_app(plan_path: Path | None = None, server_name: str | None = None, *,
               local_addresses: Mapping[str, str] | None = None, is_root: bool | None = None,
               environ: Mapping[str, str] | None = None, recent_file: Path | None = None,
               log_file: Path | None = None, working_folder: Path | None = None) -> InstallerApp:
    """The one app factory, used by the console command and the tests.

    The keyword options exist for tests (what this machine's addresses are, whether it runs as
    root, where the wizard remembers the last plan and writes its log); the console command
    passes none of them.
    """
    environ = os.environ if environ is None else environ
    state_folder = user_state_folder(environ)
    wizard = WizardState(
        draft=PlanDraft(),
        secrets=secrets_from_environment(dict(environ)),
        local_addresses=dict(local_addresses) if local_addresses is not None else None,
        working_folder=Path(working_folder or Path.cwd()),
    )
    if is_root is not None:
        wizard.is_root = is_root
    wizard.log_file = open_log_file(log_file or Path(environ.get(LOG_ENV) or state_folder / "tui.log"))
    recent = RecentPlan(recent_file if recent_file is not None else state_folder / "last-plan")

    opening_problem = ""
    chosen = plan_path if plan_path is not None else recent.read()
    if chosen is not None:
        try:
            wizard.load_file(Path(chosen))
        except FileNotFoundError:
            if plan_path is not None:
                opening_problem = f"{chosen} does not exist"
        except PLAN_READ_ERRORS as error:
            opening_problem = f"{chosen} cannot be read as a plan: {error}"
    if server_name:
        wizard.this_server = server_name
        wizard.server_confirmed = True  # named on the command line: the operator said so
    # Otherwise the Welcome screen guesses it from this machine's addresses once it is painted.
    return InstallerApp(wizard, recent=recent, opening_problem=opening_problem)
