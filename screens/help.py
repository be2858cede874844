"""What each of the nine screens is for, and the command palette's "Go to: <screen>" entries.
Loaded when first asked for, not before the first screen."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.widgets import STEP_ORDER, STEP_TITLES

if TYPE_CHECKING:
    from screens.base import WizardScreen

STEP_PURPOSES: dict[str, str] = {
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
