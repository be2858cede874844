"""The admin through the local server's unix socket, as on a stock Debian/Ubuntu MariaDB or an
Ubuntu MySQL 8 (root@localhost by unix_socket / auth_socket, no TCP admin, no password).

Against servers of the suite's own MariaDB (tests/support/mariadb.py) whose TCP admin is named
``suite_admin``, so that the account the database step uses, named after the OS user running the
tests (root included), exists only as '<os user>'@'localhost' IDENTIFIED VIA unix_socket.
"""

from __future__ import annotations

import contextlib
import os
import pwd

import pytest

from installer import database
from installer.errors import GIVE_PASSWORD, SecretError
from installer.events import Note
from installer.plan.model import parse_plan
from installer.secrets import Secrets
from installer.session import ADMIN_PASSWORD, Session
from tests.support.build_distributions import build_all
from tests.support.mariadb import MariaDBServer
from tests.support.plans import SEED_PLAN, write_seed_plan
from tests.test_apply_e2e import run_cli, status_lines

APP_PASSWORD = "app-Sock-Pa55"
TCP_ADMIN_PASSWORD = "tcp-admin-Pa55"
ADDRESSES = {"server-206": "127.0.0.2", "server-132": "127.0.0.3"}
DATABASES = ("WSO2_USER_DB", "REGISTRY_DB", "REGISTRY_LOCAL1", "REGISTRY_LOCAL2")
TCP_ADMIN = "suite_admin"
# The OS user as the server sees a socket's peer (the effective uid, whatever $USER says).
OS_USER = pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="module")
def socket_server():
    """The plan's database: listens on every address, as the suite's server does."""
    with MariaDBServer(admin_user=TCP_ADMIN) as server:
        yield server


@pytest.fixture(scope="module")
def other_server():
    """Another server on this machine with the same socket admin: on another port, and bound to
    127.0.0.1 only (so not the database at 127.0.0.2 even on its own port)."""
    with MariaDBServer(admin_user=TCP_ADMIN, extra_server_options=("--bind-address=127.0.0.1",)) as server:
        yield server


@contextlib.contextmanager
def socket_admin(server, user=OS_USER):
    """'<user>'@'localhost' IDENTIFIED VIA unix_socket with every privilege WITH GRANT OPTION and
    no other account of that name; put back as it was afterwards (root@localhost is
    mariadb-install-db's, so it is altered and restored rather than created and dropped)."""
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
            hosts = {host for (host,) in cursor.fetchall()}
            assert hosts <= {"localhost"}, f"{user} has accounts over TCP: {hosts}"
            before = None
            if hosts:
                cursor.execute("SHOW CREATE USER %s@'localhost'", (user,))
                before = cursor.fetchone()[0]
                cursor.execute("ALTER USER %s@'localhost' IDENTIFIED VIA unix_socket", (user,))
            else:
                cursor.execute("CREATE USER %s@'localhost' IDENTIFIED VIA unix_socket", (user,))
            cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'localhost' WITH GRANT OPTION", (user,))
        yield user
    finally:
        with connection.cursor() as cursor:
            if before is None:
                cursor.execute("DROP USER IF EXISTS %s@'localhost'", (user,))
            elif "IDENTIFIED" in before:
                cursor.execute(before.replace("CREATE USER", "ALTER USER", 1))
            else:
                cursor.execute("ALTER USER %s@'localhost' IDENTIFIED BY ''", (user,))
        connection.close()


@pytest.fixture
def db(socket_server):
    """The plan's database, emptied of what earlier tests made, with the socket admin."""
    socket_server.reset()
    with socket_admin(socket_server):
        yield socket_server
    socket_server.reset()


@pytest.fixture
def other(other_server):
    other_server.reset()
    with socket_admin(other_server):
        yield other_server
    other_server.reset()


def socket_plan(tmp_path, distributions, server, *, admin_user=OS_USER, admin_socket="server", port=None):
    """The seed's cluster with its database on server-206's own address (so on this server)."""

    def edit(data):
        data["database"]["port"] = port or server.port
        data["database"]["admin_user"] = admin_user
        if admin_socket is not None:
            data["database"]["admin_socket"] = str(server.socket if admin_socket == "server" else admin_socket)

    return write_seed_plan(tmp_path, distributions, addresses=ADDRESSES, edit=edit)


def session(cluster, server_name="server-206", *, admin_password=None, events=None):
    return Session.open(cluster.plan, server_name, check_files=False, steps=("database",),
                        secrets=Secrets(db_password=APP_PASSWORD, db_admin_password=admin_password),
                        emit=events.append if events is not None else (lambda event: None))


def user_databases(server):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN "
                           "('mysql', 'information_schema', 'performance_schema', 'sys')")
            return sorted(row[0] for row in cursor.fetchall())
    finally:
        connection.close()


def app_hosts(server, user="regadmin"):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
            return sorted(row[0] for row in cursor.fetchall())
    finally:
        connection.close()


def reaches(server, address, name):
    """The application user logs in over TCP from ``address`` and sees tables in ``name``."""
    connection = server.connect(user="regadmin", password=APP_PASSWORD, database=name, bind_address=address)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            return cursor.fetchone()[0] > 0
    finally:
        connection.close()


def notes(events):
    return [event.message for event in events if isinstance(event, Note)]


def assert_never_shown(text, *passwords):
    shown = [number for number, password in enumerate(passwords, 1) if password in text]
    assert not shown, f"password number(s) {shown} of this check appear in the output"


def no_sockets_here(monkeypatch, tmp_path):
    places = (tmp_path / "run" / "mysqld.sock", tmp_path / "lib" / "mysql.sock")
    monkeypatch.setattr(database, "SOCKET_PLACES", places)
    return places


# --- through the socket, no password -----------------------------------------------------------------------

def test_socket_admin_without_password_creates_everything(tmp_path, distributions, db):
    cluster = socket_plan(tmp_path, distributions, db)
    run = session(cluster)
    # Nothing asks for the admin password: the socket admits the admin without one.
    assert ADMIN_PASSWORD not in [need.secret for need in run.secrets_needed()]
    preview = run.preview()[0][1]
    assert preview.summary[0] == f"admin connection: '{OS_USER}' through the local socket {db.socket}"
    assert any("CREATE DATABASE IF NOT EXISTS `REGISTRY_DB`" in line for line in preview.summary)
    assert not preview.problems and user_databases(db) == []

    events = []
    [outcome] = session(cluster, events=events).apply()

    assert outcome.status.value == "done", outcome.message
    assert f"admin connection: '{OS_USER}' through the local socket {db.socket}" in notes(events)
    assert set(DATABASES) <= set(user_databases(db))
    assert app_hosts(db) == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"]
    # The application user over TCP from each plan server's address, as the nodes will connect.
    for address in ADDRESSES.values():
        for name in ("WSO2_USER_DB", "REGISTRY_DB"):
            assert reaches(db, address, name)
    assert session(cluster).check()[0][1].status.value == "done"
    # The other server's run checks over TCP from its own plan address; it needs no admin.
    other_run = session(cluster, "server-132")
    assert other_run.secrets_needed() == ()
    assert other_run.apply()[0].status.value == "done"
    assert_never_shown(" ".join(notes(events)) + outcome.message, APP_PASSWORD)


def test_cli_dry_run_apply_and_status_through_the_socket(tmp_path, distributions, db):
    cluster = socket_plan(tmp_path, distributions, db)
    env = {"WSO2_DB_PASSWORD": APP_PASSWORD, "WSO2_DB_ADMIN_PASSWORD": ""}
    args = ("--plan", cluster.plan, "--server", "server-206")

    preview = run_cli("apply", *args, "--only", "database", "--dry-run", env_extra=env)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert f"admin connection: '{OS_USER}' through the local socket {db.socket}" in preview.stdout
    assert "CREATE USER IF NOT EXISTS 'regadmin'@'127.0.0.3' IDENTIFIED BY '********'" in preview.stdout
    assert user_databases(db) == []

    applied = run_cli("apply", *args, "--only", "database", "--yes", env_extra=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert set(DATABASES) <= set(user_databases(db))

    status = run_cli("status", *args, env_extra=env)
    assert "done" in status_lines(status.stdout)["database"], status.stdout
    for result in (preview, applied, status):
        assert_never_shown(result.stdout + result.stderr, APP_PASSWORD)


def test_usual_places_are_searched_and_another_servers_socket_is_passed_over(tmp_path, distributions, db, other,
                                                                              monkeypatch):
    # The other server's socket comes first and admits the admin too, but listens on another port.
    monkeypatch.setattr(database, "SOCKET_PLACES", (tmp_path / "absent.sock", other.socket, db.socket))
    cluster = socket_plan(tmp_path, distributions, db, admin_socket=None)
    events = []

    [outcome] = session(cluster, events=events).apply()

    assert outcome.status.value == "done", outcome.message
    [line] = [note for note in notes(events) if note.startswith("admin connection:")]
    assert line.startswith(f"admin connection: '{OS_USER}' through the local socket {db.socket} (not through "
                           f"{other.socket}: the server on it is not the plan's database at 127.0.0.2:{db.port}: "
                           f"it listens on port {other.port})")
    assert "absent.sock" not in line  # the places where nothing is are not worth a word
    assert set(DATABASES) <= set(user_databases(db))
    assert user_databases(other) == []


def test_a_socket_on_the_plans_port_but_bound_elsewhere_is_passed_over(tmp_path, distributions, other,
                                                                       monkeypatch):
    # The plan's database is 127.0.0.2 on the other server's port, which listens on 127.0.0.1 only.
    monkeypatch.setattr(database, "SOCKET_PLACES", (other.socket,))
    cluster = socket_plan(tmp_path, distributions, other, admin_socket=None)

    with pytest.raises(SecretError) as refused:
        session(cluster).apply()

    assert (f"{other.socket}: the server on it is not the plan's database at 127.0.0.2:{other.port}: it listens "
            "on 127.0.0.1 only (bind_address)") in refused.value.message
    assert user_databases(other) == []


# --- the plan's socket -------------------------------------------------------------------------------------

def test_the_plans_socket_of_another_server_is_refused_by_name(tmp_path, distributions, db, other):
    cluster = socket_plan(tmp_path, distributions, db, admin_socket=other.socket)
    run = session(cluster, admin_password=TCP_ADMIN_PASSWORD)  # a password does not make it go to TCP

    with pytest.raises(database.DatabaseError) as refused:
        run.apply()

    assert (f"the admin cannot use database.admin_socket {other.socket}: the server on it is not the plan's "
            f"database at 127.0.0.2:{db.port}: it listens on port {other.port}") in refused.value.message
    assert "database.admin_socket" in refused.value.hint
    assert_never_shown(refused.value.message + refused.value.hint, TCP_ADMIN_PASSWORD)
    assert user_databases(db) == [] and user_databases(other) == []
    check = session(cluster).check()[0][1]
    assert check.status.value == "failed" and str(other.socket) in check.message


@pytest.mark.parametrize("kind", ["missing", "regular file"])
def test_a_wrong_socket_path_in_the_plan_is_named(kind, tmp_path, distributions, db):
    wrong = tmp_path / "mysqld.sock"
    if kind == "regular file":
        wrong.write_text("not a socket\n")
    cluster = socket_plan(tmp_path, distributions, db, admin_socket=wrong)
    run = session(cluster)
    assert ADMIN_PASSWORD not in [need.secret for need in run.secrets_needed()]  # a password would not help

    with pytest.raises(database.DatabaseError) as refused:
        run.apply()

    reason = "no such file" if kind == "missing" else "not a socket"
    assert refused.value.message == f"the admin cannot use database.admin_socket {wrong}: {reason}"
    assert user_databases(db) == []
    preview = session(cluster).preview()[0][1]
    assert preview.problems and str(wrong) in preview.summary[0]


# --- when the socket does not admit the admin ----------------------------------------------------------------

def test_no_socket_and_no_password_says_what_was_tried(tmp_path, distributions, db, monkeypatch):
    places = no_sockets_here(monkeypatch, tmp_path)
    cluster = socket_plan(tmp_path, distributions, db, admin_socket=None)
    run = session(cluster)
    [need] = [need for need in run.secrets_needed() if need.secret == ADMIN_PASSWORD]
    assert need.steps == ("database",)

    with pytest.raises(SecretError) as needed:
        run.apply()

    assert needed.value.message == (
        f"the database admin password is needed on the database server: '{OS_USER}' may log in through the local "
        f"server's socket without one, but there is none at {places[0]}, {places[1]}")
    assert "database.admin_socket" in needed.value.hint
    assert needed.value.remedy.action == GIVE_PASSWORD and needed.value.remedy.secret == "db_admin_password"
    check = session(cluster).check()[0][1]
    assert check.status.value == "pending" and str(places[0]) in check.message
    assert user_databases(db) == []


def test_the_socket_admits_an_account_only_for_its_os_user(tmp_path, distributions, db):
    # 'someone' logs in by unix_socket only, and the tests do not run as the OS user someone.
    with socket_admin(db, "someone"):
        cluster = socket_plan(tmp_path, distributions, db, admin_user="someone")
        run = session(cluster)
        assert ADMIN_PASSWORD in [need.secret for need in run.secrets_needed()]
        with pytest.raises(SecretError) as needed:
            run.apply()
    message = needed.value.message
    assert f"{db.socket}: the server refused 'someone'@'localhost'" in message
    assert (f"admits 'someone' only when the installer runs as the OS user someone, and it runs as {OS_USER}"
            in message)
    assert "run the installer as the OS user someone" in needed.value.hint
    assert user_databases(db) == []


def test_through_the_socket_with_the_password_when_the_account_asks_for_one(tmp_path, distributions, db):
    # Still only '<os user>'@'localhost', but with a password, as on servers set up that way.
    connection = db.connect()
    with connection.cursor() as cursor:
        cursor.execute("ALTER USER %s@'localhost' IDENTIFIED BY %s", (OS_USER, TCP_ADMIN_PASSWORD))
    connection.close()
    cluster = socket_plan(tmp_path, distributions, db)
    run = session(cluster)
    assert ADMIN_PASSWORD in [need.secret for need in run.secrets_needed()]
    with pytest.raises(SecretError) as needed:
        run.apply()
    assert (f"the local socket did not admit the admin without one: {db.socket}: the server refused "
            f"'{OS_USER}'@'localhost'") in needed.value.message
    assert "that account does not log in by unix_socket / auth_socket (it asks for a password)" in needed.value.message
    assert user_databases(db) == []

    events = []
    [outcome] = session(cluster, admin_password=TCP_ADMIN_PASSWORD, events=events).apply()

    assert outcome.status.value == "done", outcome.message
    assert f"admin connection: '{OS_USER}' through the local socket {db.socket}" in notes(events)
    assert set(DATABASES) <= set(user_databases(db))
    assert_never_shown(" ".join(notes(events)) + outcome.message, TCP_ADMIN_PASSWORD)


def test_a_refusing_socket_falls_back_to_tcp_when_a_password_is_given(tmp_path, distributions, db):
    # The plan's admin has only a TCP account with a password: the socket refuses it.
    connection = db.connect()
    with connection.cursor() as cursor:
        cursor.execute("CREATE USER 'tcpadmin'@%s IDENTIFIED BY %s", ("127.0.0.%", TCP_ADMIN_PASSWORD))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'tcpadmin'@%s WITH GRANT OPTION", ("127.0.0.%",))
    connection.close()
    cluster = socket_plan(tmp_path, distributions, db, admin_user="tcpadmin")
    events = []

    [outcome] = session(cluster, admin_password=TCP_ADMIN_PASSWORD, events=events).apply()

    assert outcome.status.value == "done", outcome.message
    [line] = [note for note in notes(events) if note.startswith("admin connection:")]
    assert line.startswith(f"admin connection: 'tcpadmin' over TCP to 127.0.0.2:{db.port} from 127.0.0.2 (not "
                           f"through {db.socket}: the server refused 'tcpadmin'@'localhost'")
    assert_never_shown(line, TCP_ADMIN_PASSWORD, APP_PASSWORD)
    assert set(DATABASES) <= set(user_databases(db))


def test_a_wrong_tcp_password_after_a_refusing_socket_says_both(tmp_path, distributions, db):
    cluster = socket_plan(tmp_path, distributions, db, admin_user="nobody_here")

    with pytest.raises(database.PasswordRefused) as refused:
        session(cluster, admin_password="not-the-password").apply()

    message = refused.value.message
    assert "refused the admin user 'nobody_here' from 127.0.0.2" in message
    assert f"(the local socket was tried first: {db.socket}: the server refused 'nobody_here'@'localhost'" in message
    assert_never_shown(message + refused.value.hint, "not-the-password")


# --- where the database runs -----------------------------------------------------------------------------

@pytest.mark.parametrize("address, server_address, here", [
    ("127.0.0.2", "127.0.0.2", True),    # the plan server's own address
    ("127.0.0.1", "192.0.2.10", True),   # loopback is always this machine
    ("192.0.2.10", "192.0.2.10", False),  # the plan server's address, but this machine does not have it
    ("192.0.2.99", "127.0.0.2", False),  # elsewhere
])
def test_the_database_runs_here_only_on_an_address_of_this_machine(address, server_address, here):
    assert database.runs_here(address, server_address) is here


def test_a_database_elsewhere_is_never_looked_for_through_a_socket(tmp_path):
    access = database.AdminAccess.for_server(database.Endpoint("192.0.2.99", 3306, "127.0.0.2"), "root", None,
                                             plan_socket=tmp_path / "mysqld.sock")
    assert access.sockets == ()
    with pytest.raises(SecretError) as needed:
        database.open_admin(access)
    assert needed.value.message == (
        "the database admin password is needed on the database server: the database at 192.0.2.99:3306 is not on "
        f"this server (database.admin_socket {tmp_path / 'mysqld.sock'} is not used), so there is no local socket "
        "to log in through")


# --- the plan key ------------------------------------------------------------------------------------------

def plan_with_socket(tmp_path, value):
    text = SEED_PLAN.read_text().replace("  admin_user: root\n", f"  admin_user: root\n  admin_socket: {value}\n", 1)
    assert "admin_socket" in text
    line = text.splitlines().index(f"  admin_socket: {value}") + 1
    return parse_plan(text, tmp_path / "plan.yaml"), line


def test_the_plan_reads_an_absolute_socket_path(tmp_path):
    (plan, problems), _ = plan_with_socket(tmp_path, "/run/mysqld//mysqld.sock")
    assert [problem for problem in problems if problem.severity == "error"] == []
    assert str(plan.database.admin_socket) == "/run/mysqld/mysqld.sock"
    (plan, _), _ = plan_with_socket(tmp_path / "x", "/tmp/x.sock")
    without, _ = parse_plan(SEED_PLAN.read_text(), tmp_path / "seed.yaml")
    assert without.database.admin_socket is None


@pytest.mark.parametrize("value, says", [
    ("mysqld.sock", "'mysqld.sock' is not an absolute path"),
    ("/" + "s" * 120, "is too long for a unix socket (121 bytes, at most 107)"),
    ("3306", "must be text, not a number"),
    ("''", "must not be empty"),
])
def test_a_bad_socket_path_is_a_plan_error_at_its_line(value, says, tmp_path):
    (_, problems), line = plan_with_socket(tmp_path, value)
    [problem] = [problem for problem in problems if problem.severity == "error"]
    assert problem.line == line and problem.path == "database.admin_socket" and says in problem.message
    assert str(problem).startswith(f"plan.yaml:{line}: database.admin_socket: ")
