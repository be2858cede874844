"""The wizard's Database screen against the suite's real MariaDB: what *Test connection* says is
worded for the wizard (its fields and buttons, never a command-line flag), names the real fix,
and a password is used exactly as typed."""

from __future__ import annotations

import re

import pytest

from tests.support.build_distributions import build_all
from tests.test_database import assert_never_shown
from tests.test_tui_screens import goto
from tests.test_tui_support import SIZE, make_app, seed_plan, settle, shows, sync, type_into

# A command-line option or one of the environment variables the CLI reads passwords from.
COMMAND_LINE_WORDS = re.compile(r"--[a-z]|WSO2_DB_")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("db-screen-dists"))


def mariadb_plan(tmp_path, distributions, server, address="127.0.0.2"):
    def point_at_mariadb(data):
        data["database"]["address"] = address
        data["database"]["port"] = server.port
        data["database"]["admin_user"] = server.admin_user
        data["servers"][0]["address"] = address  # server-206: this server, and the database host

    return seed_plan(tmp_path / "cluster", distributions, edit=point_at_mariadb)


def run_admin(server, *statements, params=None):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, params)
    finally:
        connection.close()


async def press_test_connection(pilot) -> str:
    await pilot.click("#test-connection")
    await settle(pilot)
    await shows(pilot, "What to do:")  # rendered, and scrolled into view
    return " ".join(pilot.app.screen.query_one("#test-results").content.plain.split())


@sync
async def test_an_address_no_account_admits_gets_the_exact_statements_and_running_them_works(
        tmp_path, distributions, fresh_mariadb_state):
    # 127.0.1.2 is loopback but outside every account of the server (the admin's is 127.0.0.%):
    # MySQL answers 1130, "host not allowed", for the admin and the application user alike.
    server = fresh_mariadb_state
    # An earlier test's dropped 'x'@'%' would still admit it until privileges are reloaded.
    run_admin(server, "FLUSH PRIVILEGES")
    app = make_app(tmp_path, mariadb_plan(tmp_path, distributions, server, address="127.0.1.2"), "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", server.admin_password)
        await type_into(pilot, "secret.db_password", "app-Pa55-db")
        text = await press_test_connection(pilot)

        assert "does not let 'root' connect from 127.0.1.2" in text
        assert ("CREATE USER 'root'@'127.0.1.2' IDENTIFIED BY '<password>'; "
                "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.1.2' WITH GRANT OPTION;") in text
        assert "does not let 'regadmin' connect from 127.0.1.2" in text
        statements = re.findall(r"(?:CREATE USER|GRANT) [^;]*'regadmin'[^;]*;", text)
        # The databases server-206's nodes use (manager and worker2), each exactly.
        assert statements[0] == "CREATE USER 'regadmin'@'127.0.1.2' IDENTIFIED BY '<password>';"
        assert sorted(statements[1:]) == [
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO 'regadmin'@'127.0.1.2';"
            for name in ("REGISTRY\\_DB", "REGISTRY\\_LOCAL1", "REGISTRY\\_LOCAL2", "WSO2\\_USER\\_DB")]
        assert "or Apply on server-206" in text
        assert not COMMAND_LINE_WORDS.search(text)
        assert_never_shown(text, server.admin_password, "app-Pa55-db")

        # Run on the database server as said (the real password for the placeholder): connected.
        for statement in statements:
            if "'<password>'" in statement:
                run_admin(server, statement.replace("'<password>'", "%s"), params=("app-Pa55-db",))
            else:
                run_admin(server, statement)
        await pilot.click("#test-connection")
        await settle(pilot)
        await shows(pilot, "application user 'regadmin': connected to 127.0.1.2")


@sync
async def test_wrong_passwords_are_said_to_be_wrong_in_the_wizards_words(tmp_path, distributions,
                                                                          fresh_mariadb_state):
    server = fresh_mariadb_state
    run_admin(server, "CREATE USER 'regadmin'@'127.0.0.2' IDENTIFIED BY 'the-real-one'")
    app = make_app(tmp_path, mariadb_plan(tmp_path, distributions, server), "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", "not-the-admin-password")
        await type_into(pilot, "secret.db_password", "not-the-app-password")
        text = await press_test_connection(pilot)

    assert "the password given is wrong for the admin account 'root' that admits 127.0.0.2" in text
    assert "check the Admin user and Admin password above" in text
    assert "the password given is wrong for the application account 'regadmin' that admits 127.0.0.2" in text
    assert "check the Application password above" in text
    assert not COMMAND_LINE_WORDS.search(text)
    assert_never_shown(text, "not-the-admin-password", "not-the-app-password")


@sync
async def test_a_password_with_spaces_at_both_ends_is_used_exactly_as_typed(tmp_path, distributions,
                                                                          fresh_mariadb_state):
    server = fresh_mariadb_state
    run_admin(server, "CREATE USER 'regadmin'@'127.0.0.2' IDENTIFIED BY ' pa ss '")
    app = make_app(tmp_path, mariadb_plan(tmp_path, distributions, server), "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_password", " pa ss ")
        assert app.wizard.secrets.db_password == " pa ss "
        await pilot.click("#test-connection")
        await settle(pilot)
        await shows(pilot, "application user 'regadmin': connected to 127.0.0.2")
