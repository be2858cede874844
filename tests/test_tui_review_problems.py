"""The Review screen agrees with the rest of the wizard: when the database server refuses what the
database step would do (a wrong admin password, an address no account admits), Review says so in
its header and under Problems, not only in its Database tab. Against the suite's real MariaDB."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent

from tests.support.build_distributions import build_all
from tests.test_database_screen import mariadb_plan, run_admin
from tests.test_tui_screens import goto
from tests.test_tui_support import SIZE, make_app, seed_plan, settle, shows, sync, wait_for


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("review-problems-dists"))


async def review(pilot) -> str:
    """Show Review, wait for its preview, and return the header as painted."""
    await goto(pilot, "review")
    await settle(pilot)
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "preview_result", None) is not None)
    return await shows(pilot, "Plan check:")


async def show_tab(pilot, tab: str, *fragments: str, absent: tuple[str, ...] = ()) -> str:
    pilot.app.screen.query_one(TabbedContent).active = tab
    return await shows(pilot, *fragments, absent=absent)


@sync
async def test_a_wrong_admin_password_is_a_problem_of_the_review(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    app = make_app(tmp_path, mariadb_plan(tmp_path, distributions, server), "server-206",
                   environ={"WSO2_DB_PASSWORD": "app-Pa55", "WSO2_DB_ADMIN_PASSWORD": "not-the-admin-password"})
    async with app.run_test(size=SIZE) as pilot:
        await review(pilot)
        header = await shows(pilot, "Preview: 1 problem(s) (database) - see Problems")
        assert "Plan check: valid" in header  # the plan itself is fine: the server refuses
        await show_tab(pilot, "tab-problems", "database step:",
                       "the password given is wrong for the admin account 'root' that admits 127.0.0.2",
                       "Test connection on the Database screen", absent=("No problems.",))
        # The Database tab says it as before.
        text = await show_tab(pilot, "tab-database", "cannot look at the database server")
        assert "not-the-admin-password" not in text


@sync
async def test_an_address_no_account_admits_is_a_problem_of_the_review(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    run_admin(server, "FLUSH PRIVILEGES")  # an earlier test's dropped 'x'@'%' would still admit it
    plan = mariadb_plan(tmp_path, distributions, server, address="127.0.1.2")
    app = make_app(tmp_path, plan, "server-206",
                   environ={"WSO2_DB_PASSWORD": "app-Pa55", "WSO2_DB_ADMIN_PASSWORD": server.admin_password})
    async with app.run_test(size=SIZE) as pilot:
        await review(pilot)
        await shows(pilot, "Preview: 1 problem(s) (database)")
        text = await show_tab(pilot, "tab-problems", "database step:", "does not let 'root' connect from 127.0.1.2")
        assert server.admin_password not in text


@sync
async def test_a_database_that_answers_leaves_no_preview_problem(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    app = make_app(tmp_path, mariadb_plan(tmp_path, distributions, server), "server-206",
                   environ={"WSO2_DB_PASSWORD": "app-Pa55", "WSO2_DB_ADMIN_PASSWORD": server.admin_password})
    async with app.run_test(size=SIZE) as pilot:
        await review(pilot)
        await shows(pilot, "Plan check: valid", absent=("Preview:",))
        await show_tab(pilot, "tab-database", "statements to run")
        await show_tab(pilot, "tab-problems", absent=("database step",))


@sync
async def test_an_admin_password_not_given_yet_is_no_refusal(tmp_path, distributions):
    # The seed's database on port 9 of this server, and no admin password: the step could not
    # look, which Apply asks about before it starts; nothing refused anything.
    plan = seed_plan(tmp_path / "cluster", distributions)
    app = make_app(tmp_path, plan, "server-206", environ={"WSO2_DB_PASSWORD": "app-Pa55"})
    async with app.run_test(size=SIZE) as pilot:
        header = await review(pilot)
        assert "problem(s)" not in header, header
        if "Preview:" in header:  # unless this machine's own MySQL socket admits the admin
            await shows(pilot, "Preview: 1 warning(s) (database)")
            await show_tab(pilot, "tab-problems", "! database step:", "enter the admin password on the Database screen")
