"""The wizard's help (F1 or ``?``): what each of the nine screens is for, which one the operator
is on, which ones they may go straight to, and the keys every screen has; and the command
palette's "Go to: <screen>" entries. Loaded when first asked for, not before the first screen."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from screens.dialogs import scroll_dialog_body
from screens.widgets import STEP_ORDER, STEP_TITLES, WIZARD_STEPS

if TYPE_CHECKING:
    from screens.base import WizardScreen

ASSETS = Path(__file__).resolve().parent.parent / "assets"

STEP_PURPOSES: dict[str, str] = {  # each on one line of the help at 80 columns
    "welcome": "open a plan, or a new one; Resume an installation",
    "topology": "servers and nodes, their ports; which server this is",
    "cluster": "domains, host names, tenants, ELB ports, deployment sync",
    "distributions": "the ESB and ELB zips and the JDBC driver, each checked",
    "database": "where MySQL runs, users, passwords; Test connection",
    "review": "every change here, before any is made; Save, Apply",
    "apply": "the steps here; on a failure Retry / Skip / Abort",
    "launch": "start the nodes in order, follow logs; Stop / Restart",
    "verify": "check it all again; the cluster test; Export report",
}
GLOBAL_KEYS: tuple[tuple[str, str], ...] = (
    ("esc / ctrl+n", "Back / Next (the buttons at the bottom too)"),
    ("1-9", "go to a screen reached (when not typing in a field)"),
    ("click", "a step reached, on the step bar, goes there too"),
    ("ctrl+p", "command palette: Go to a screen, Theme..."),
    ("ctrl+t", "light / dark theme"),
    ("f1 or ?", "this help (esc closes it)"),
    ("ctrl+q", "quit (asks first while something runs)"),
)


def help_text(current: str, furthest: int) -> Table:
    """The nine screens (this one marked, those not reached yet dimmed) and the global keys."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for index, (step, title) in enumerate(WIZARD_STEPS):
        here = step == current
        style = "bold" if here else "" if index <= furthest else "dim"
        table.add_row(Text("▶" if here else " ", style="bold"), Text(f"{index + 1} {title}", style=style),
                      Text(STEP_PURPOSES[step], style=style))
    table.add_row("", "", "")
    table.add_row("", Text("Keys", style="bold"), Text("each screen's own are in its footer", style="dim"))
    for keys, what in GLOBAL_KEYS:
        table.add_row("", Text(keys, style="bold"), Text(what))
    return table


class HelpScreen(ModalScreen[None]):
    """What each screen is for, which one the operator is on, and the keys (F1, ?; esc closes)."""

    CSS_PATH = str(ASSETS / "dialogs.tcss")
    BINDINGS = [Binding("escape", "close", "Close"),
                # A modal screen leaves out the app's bindings: F1 / ? again close it here.
                Binding("f1,question_mark", "close", "Close", show=False),
                Binding("pageup", "scroll_body(-1)", "Scroll", show=False),
                Binding("pagedown", "scroll_body(1)", "Scroll", show=False)]

    def __init__(self, current: str, furthest: int) -> None:
        super().__init__(classes="dialog-screen")
        self.current = current
        self.furthest = furthest

    def compose(self) -> ComposeResult:
        index = STEP_ORDER.index(self.current) + 1
        with Vertical(classes="dialog help-dialog"):
            yield Static(Text.assemble(("Help", "bold"), f" - you are on {index}/{len(STEP_ORDER)} ",
                                       (STEP_TITLES[self.current], "bold"),
                                       (" (screens not reached yet are dim)", "dim")),
                         classes="dialog-title", id="help-title")
            with VerticalScroll(classes="dialog-body", id="help-scroll"):  # focused: the arrows scroll it
                yield Static(help_text(self.current, self.furthest), id="help-body")
        # No Close button, for a row more of help at 24 rows: esc, or a click on it in the footer.
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_body(self, pages: int) -> None:
        scroll_dialog_body(self, pages)


class GoToCommands(Provider):
    """The command palette's "Go to: <screen>" for every screen reached (the one shown aside)."""

    def wizard_screen(self) -> WizardScreen | None:
        """The wizard's screen the palette was opened on (None over a dialog: nothing to go to
        from there until it is closed)."""
        from screens.base import WizardScreen

        return self.screen if isinstance(self.screen, WizardScreen) else None

    def commands(self) -> list[tuple[str, str, str]]:
        """(prompt, step, help) for each screen that may be gone to from here."""
        screen = self.wizard_screen()
        if screen is None:
            return []
        return [(f"Go to: {STEP_TITLES[step]}", step, f"{STEP_ORDER.index(step) + 1}: {STEP_PURPOSES[step]}")
                for step in screen.reachable_steps() if step != screen.STEP]

    def go(self, step: str) -> None:
        screen = self.wizard_screen()
        if screen is not None:
            screen.action_jump_to(step)

    async def discover(self) -> Hits:
        for prompt, step, about in self.commands():
            yield DiscoveryHit(prompt, partial(self.go, step), help=about)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for prompt, step, about in self.commands():
            score = matcher.match(prompt)
            if score > 0:
                yield Hit(score, matcher.highlight(prompt), partial(self.go, step), text=prompt, help=about)
