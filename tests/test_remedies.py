"""A remedy is said by each front end its own way: the CLI names commands and flags, the wizard
names screens and buttons and never a flag."""

from __future__ import annotations

import re

import pytest

from cli.render import remedy_words as cli_words
from installer import errors
from installer.errors import Remedy
from screens.remedies import remedy_words as wizard_words
from tests.support.build_distributions import build_all
from tests.test_tui_support import make_app, seed_plan, shows, sync

ACTIONS = sorted(value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str))
CLI_LOOK = re.compile(r"(^|\s)--[a-z]|wso2-cluster |WSO2_DB_")


def sample(action: str) -> Remedy:
    return Remedy(action, step="hosts", node="worker3", server="server-132", secret="db_password",
                  choices=("regadmin@'%'",))


@pytest.mark.parametrize("action", ACTIONS)
def test_every_remedy_is_worded_by_both_front_ends(action):
    cli, wizard = cli_words(sample(action)), wizard_words(sample(action))
    assert cli and wizard, f"{action} has no wording"
    assert not CLI_LOOK.search(wizard), wizard
    assert cli != wizard


def test_the_cli_names_the_flag_and_the_wizard_the_screen():
    password = Remedy(errors.GIVE_PASSWORD, secret="db_admin_password")
    assert "--db-admin-password-file" in cli_words(password) and "WSO2_DB_ADMIN_PASSWORD" in cli_words(password)
    assert "admin password on the Database screen" in wizard_words(password)
    start = Remedy(errors.START_NODE, node="worker3", server="server-132")
    assert cli_words(start) == "wso2-cluster start --node worker3 on server-132"
    assert "start worker3 from the Launch screen" in wizard_words(start)


@sync
async def test_the_verify_screen_never_shows_a_command_line_flag(tmp_path):
    # Nothing is installed: every check fails or waits, each with what to do.
    plan = seed_plan(tmp_path / "cluster", build_all(tmp_path / "dists"))
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        app.go_to("verify")
        text = await shows(pilot, "what to do", "from the Launch screen")
        assert not CLI_LOOK.search(text), text
        hints = [item.hint for item in app.screen.items if item.hint]
        assert hints and not any(CLI_LOOK.search(hint) for hint in hints), hints
