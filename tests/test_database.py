"""The database step against the suite's own MariaDB: no mocks."""

from __future__ import annotations

import json
import re
import zipfile

import pymysql
import pytest

from installer import database
from installer.files.datasources import read_datasources
from installer.plan.derive import derive
from installer.plan.model import load_plan
from installer.sqlscript import script_objects, split_statements
from tests.paths import CARBON_CONFIGS_DIR
from tests.support.build_distributions import MYSQL_SQL, FixtureFile, build_all, build_esb
from tests.support.plans import write_seed_plan
from tests.test_apply_e2e import run_cli, status_lines

APP_PASSWORD = "app-Pa55-db"
SPACED_PASSWORD = " pa ss "  # spaces at both ends are part of it
ADDRESSES = {"server-206": "127.0.0.2", "server-132": "127.0.0.3"}
DATABASES = ("WSO2_USER_DB", "REGISTRY_DB", "REGISTRY_LOCAL1", "REGISTRY_LOCAL2")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


def seed_cluster(root, distributions, server, edit=None, addresses=ADDRESSES):
    def set_database(data):
        data["database"]["address"] = addresses["server-206"]
        data["database"]["port"] = server.port
        data["database"]["admin_user"] = server.admin_user
        if edit:
            edit(data)

    return write_seed_plan(root, distributions, addresses=addresses, edit=set_database)


def db_env(server, *, admin_password=None, app_password=APP_PASSWORD):
    return {"WSO2_DB_ADMIN_PASSWORD": server.admin_password if admin_password is None else admin_password,
            "WSO2_DB_PASSWORD": app_password}


def assert_never_shown(text, *passwords):
    """Fails without putting the password in the failure report (pytest would show both sides)."""
    shown = [number for number, password in enumerate(passwords, 1) if password in text]
    assert not shown, f"password number(s) {shown} of this check appear in the output"


def app_hosts(server, user="regadmin"):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
            return sorted(row[0] for row in cursor.fetchall())
    finally:
        connection.close()


def create_account(server, host, password, user="regadmin"):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
    finally:
        connection.close()


def reaches(server, password, address, database_name="REGISTRY_DB", user="regadmin"):
    """True when ``user`` logs in with ``password`` from ``address`` and sees ``database_name``."""
    try:
        connection = server.connect(user=user, password=password, database=database_name, bind_address=address)
    except pymysql.err.OperationalError:
        return False
    connection.close()
    return True


def apply_db(cluster, name, server, *extra, **env_options):
    return run_cli("apply", "--plan", cluster.plan, "--server", name, "--skip", "start,verify", *extra,
                   env_extra=db_env(server, **env_options))


def schema_snapshot(server, name):
    """Every table's CREATE statement: what a second load must leave exactly as it was."""
    connection = server.connect(database=name)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            tables = sorted(row[0] for row in cursor.fetchall())
            result = {}
            for table in tables:
                cursor.execute(f"SHOW CREATE TABLE `{table}`")
                result[table] = cursor.fetchone()[1]
            return result
    finally:
        connection.close()


def server_state(server):
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN "
                           "('mysql', 'information_schema', 'performance_schema', 'sys')")
            schemas = sorted(row[0] for row in cursor.fetchall())
            cursor.execute("SELECT User, Host FROM mysql.user ORDER BY User, Host")
            users = cursor.fetchall()
        return schemas, users, {name: schema_snapshot(server, name) for name in schemas}
    finally:
        connection.close()


# --- Carbon's own scripts -------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["carbon-kernel-4.0.x", "carbon-kernel-4.1.x"])
def test_real_carbon_scripts_load_twice_without_error_or_change(kernel, fresh_mariadb_state):
    server = fresh_mariadb_state
    script = CARBON_CONFIGS_DIR / kernel / "dbscripts" / "mysql.sql"
    statements = split_statements(script.read_text(), source=str(script))
    connection = server.connect()
    try:
        first = database.load_schema(connection, "CARBON_TEST", statements, str(script))
        assert first[0].startswith("CREATE DATABASE")
        tables = schema_snapshot(server, "CARBON_TEST")
        # 32 tables: the 33rd CREATE TABLE of the file (REG_ASSOCIATIONS) is commented out.
        assert sorted(tables) == sorted(script_objects(statements).tables) and len(tables) == 32
        assert database.inspect_schema(connection, "CARBON_TEST", statements).state == "loaded"
        second = database.load_schema(connection, "CARBON_TEST", statements, str(script))
        assert second == []
        assert schema_snapshot(server, "CARBON_TEST") == tables
    finally:
        connection.close()


def test_half_loaded_schema_is_completed(fresh_mariadb_state):
    server = fresh_mariadb_state
    script = CARBON_CONFIGS_DIR / "carbon-kernel-4.1.x" / "dbscripts" / "mysql.sql"
    statements = split_statements(script.read_text(), source=str(script))
    connection = server.connect()
    try:
        database.load_schema(connection, "HALF", statements, "mysql.sql")
        complete = schema_snapshot(server, "HALF")
        with connection.cursor() as cursor:
            cursor.execute("USE HALF")
            cursor.execute("DROP INDEX REG_PATH_IND_BY_PATH_PARENT_ID ON REG_PATH")
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
            cursor.execute("DROP TABLE UM_HYBRID_REMEMBER_ME")
            cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
        report = database.inspect_schema(connection, "HALF", statements)
        assert report.state == "partial"
        assert report.missing_tables == {"UM_HYBRID_REMEMBER_ME"}
        assert ("REG_PATH", "REG_PATH_IND_BY_PATH_PARENT_ID") in report.missing_indexes
        ran = database.load_schema(connection, "HALF", statements, "mysql.sql")
        assert len(ran) == 2 and any("UM_HYBRID_REMEMBER_ME" in text for text in ran)
        assert schema_snapshot(server, "HALF") == complete
    finally:
        connection.close()


# --- the seed, end to end --------------------------------------------------------------------------------

def test_seed_plan_databases_end_to_end(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)

    first = apply_db(cluster, "server-206", server)
    assert first.returncode == 0, first.stdout + first.stderr
    second = apply_db(cluster, "server-132", server)
    assert second.returncode == 0, second.stdout + second.stderr
    for result in (first, second):
        assert_never_shown(result.stdout + result.stderr, server.admin_password, APP_PASSWORD)

    schemas, users, _ = server_state(server)
    assert set(DATABASES) <= set(schemas)
    # Both plan servers run ESB nodes; server-206 is also the database host, so its nodes may
    # connect as localhost (socket) or 127.0.0.1 as well as from their plan address.
    assert sorted(host for user, host in users if user == "regadmin") == \
        ["127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"]

    # The application user reaches every database from each plan server's address ...
    for address in ADDRESSES.values():
        for name in DATABASES:
            connection = server.connect(user="regadmin", password=APP_PASSWORD, database=name, bind_address=address)
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
                assert cursor.fetchone()[0] > 0
            connection.close()
    # ... and not from an address outside the plan, nor any other database.
    with pytest.raises(pymysql.err.OperationalError) as refused:
        server.connect(user="regadmin", password=APP_PASSWORD, bind_address="127.0.0.4")
    assert refused.value.args[0] == 1045
    connection = server.connect(user="regadmin", password=APP_PASSWORD, bind_address="127.0.0.3")
    with connection.cursor() as cursor, pytest.raises(pymysql.err.OperationalError) as other:
        cursor.execute("CREATE DATABASE NOT_OURS")
    assert other.value.args[0] == 1044
    connection.close()

    # The URLs written into each node's master-datasources.xml name those databases.
    for server_name, node, local in (("server-206", "manager", "REGISTRY_LOCAL1"), ("server-132", "worker3", "REGISTRY_LOCAL2")):
        path = cluster.home(server_name, node) / "repository/conf/datasources/master-datasources.xml"
        urls = {d.name: d.url for d in read_datasources(path.read_bytes())}
        assert urls[local] == f"jdbc:mysql://carbondb.mysql-wso2.com:{server.port}/{local}?autoReconnect=true"
        assert urls["WSO2_USER_DB"] == f"jdbc:mysql://carbondb.mysql-wso2.com:{server.port}/WSO2_USER_DB"

    # Nothing secret in state or logs; a third run changes nothing.
    for path in (cluster.install_dir("server-206") / ".wso2-cluster").iterdir():
        text = path.read_text()
        assert_never_shown(text, APP_PASSWORD, server.admin_password)
    state = json.loads((cluster.install_dir("server-206") / ".wso2-cluster" / "state-server-206.json").read_text())
    assert state["steps"]["database"]["status"] == "done"
    before = server_state(server)
    again = apply_db(cluster, "server-206", server)
    assert again.returncode == 0 and "already done" in again.stdout
    assert server_state(server) == before

    status = run_cli("status", "--plan", cluster.plan, "--server", "server-206", env_extra=db_env(server))
    assert "done" in status_lines(status.stdout)["database"]


@pytest.mark.parametrize("database_address, hosts", [
    ("127.0.0.3", ("127.0.0.2", "127.0.0.3", "localhost", "127.0.0.1")),  # server-132 runs workers
    ("127.0.0.9", ("127.0.0.2", "127.0.0.3")),  # no plan server there
])
def test_localhost_is_granted_only_where_an_esb_node_runs_on_the_database_host(database_address, hosts, tmp_path,
                                                                               distributions):
    cluster = write_seed_plan(tmp_path, distributions, addresses=ADDRESSES, database_address=database_address)
    assert database.client_hosts(derive(load_plan(cluster.plan))) == hosts


def test_dry_run_lists_statements_with_passwords_masked(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-206", "--dry-run",
                     env_extra=db_env(server))
    assert result.returncode == 0, result.stderr
    assert "CREATE DATABASE IF NOT EXISTS `REGISTRY_LOCAL2`" in result.stdout
    assert "CREATE USER IF NOT EXISTS 'regadmin'@'127.0.0.3' IDENTIFIED BY '********'" in result.stdout
    assert "GRANT ALL PRIVILEGES ON `WSO2\\_USER\\_DB`.* TO 'regadmin'@'127.0.0.2'" in result.stdout
    assert "CREATE TABLE" in result.stdout
    assert_never_shown(result.stdout, APP_PASSWORD, server.admin_password)
    assert server_state(server)[0] == []


def test_other_server_says_plainly_when_the_grant_is_missing(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    result = apply_db(cluster, "server-132", server)
    assert result.returncode == 1
    assert "refused the application user 'regadmin' from 127.0.0.3" in result.stderr
    assert "run the database step on server-206 first" in result.stderr


# --- errors leave nothing half-done -----------------------------------------------------------------------

@pytest.mark.parametrize("server_name", ["server-206", "server-132"])
def test_unreachable_server_is_named(server_name, tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state

    def wrong_port(data):
        data["database"]["port"] = 1

    cluster = seed_cluster(tmp_path, distributions, server, edit=wrong_port)
    result = apply_db(cluster, server_name, server)
    assert result.returncode == 1
    assert "cannot reach the database server at 127.0.0.2:1" in result.stderr
    # What to do is about reaching it, from either server: running a step elsewhere would not help.
    assert "What to do: check that MySQL/MariaDB runs there" in result.stderr
    assert "run the database step" not in result.stderr


def test_admin_access_denied(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    before = server_state(server)
    result = apply_db(cluster, "server-206", server, admin_password="not-the-password")
    assert result.returncode == 1
    assert "refused the admin user 'root' from 127.0.0.2" in result.stderr and "WSO2_DB_ADMIN_PASSWORD" in result.stderr
    assert_never_shown(result.stdout + result.stderr, "not-the-password")
    assert server_state(server) == before


@pytest.mark.parametrize("privileges, missing", [
    ("SELECT ON *.*", "CREATE, CREATE USER, GRANT OPTION"),
    ("CREATE, CREATE USER ON *.*", "GRANT OPTION"),
])
def test_admin_without_privileges_changes_nothing(privileges, missing, tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", ("weak", "127.0.0.%", "weak-pw"))
        cursor.execute(f"GRANT {privileges} TO 'weak'@'127.0.0.%'")
    admin.close()

    def weak_admin(data):
        data["database"]["admin_user"] = "weak"

    cluster = seed_cluster(tmp_path, distributions, server, edit=weak_admin)
    before = server_state(server)
    result = apply_db(cluster, "server-206", server, admin_password="weak-pw")
    assert result.returncode == 1
    assert f"the admin user 'weak' lacks {missing}" in result.stderr and "nothing was changed" in result.stderr
    assert server_state(server) == before


def test_database_with_foreign_tables_is_refused_then_forced_without_dropping(tmp_path, distributions,
                                                                              fresh_mariadb_state):
    server = fresh_mariadb_state
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE REGISTRY_DB")
        cursor.execute("CREATE TABLE REGISTRY_DB.customers (id INT PRIMARY KEY, name VARCHAR(20))")
        cursor.execute("INSERT INTO REGISTRY_DB.customers VALUES (1, 'keep me')")
    admin.close()
    cluster = seed_cluster(tmp_path, distributions, server)
    before = server_state(server)
    refused = apply_db(cluster, "server-206", server)
    assert refused.returncode == 1
    assert "REGISTRY_DB: CUSTOMERS" in refused.stderr and "--force" in refused.stderr
    assert server_state(server) == before

    forced = apply_db(cluster, "server-206", server, "--force")
    assert forced.returncode == 0, forced.stderr
    connection = server.connect(database="REGISTRY_DB")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM customers")
        assert cursor.fetchall() == (("keep me",),)
        cursor.execute("SHOW TABLES LIKE 'REG_PATH'")
        assert cursor.fetchone() is not None
    connection.close()


def test_script_error_names_file_statement_and_server_message_and_next_run_completes(tmp_path, fresh_mariadb_state):
    server = fresh_mariadb_state

    def break_script(files):
        text = files[MYSQL_SQL].data.decode()
        marker = "CREATE INDEX"
        at = text.index(marker)
        files[MYSQL_SQL] = FixtureFile((text[:at] + "CREATE INDEXX broken ON nothing(x);\n" + text[at:]).encode())

    dists = build_all(tmp_path / "good")
    broken = {**dists, "esb": build_esb(tmp_path / "bad", mutate=break_script)}
    cluster = seed_cluster(tmp_path / "run", broken, server)
    result = apply_db(cluster, "server-206", server)
    assert result.returncode == 1
    assert "dbscripts/mysql.sql" in result.stderr and "statement" in result.stderr
    assert "You have an error in your SQL syntax" in result.stderr

    # The good script (same homes, the operator fixed dbscripts/mysql.sql) completes the schema.
    good = _good_script(tmp_path)
    for node in ("manager", "worker2"):
        (cluster.home("server-206", node) / MYSQL_SQL).write_bytes(good)
    fixed = apply_db(cluster, "server-206", server)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def _good_script(tmp_path):
    esb = build_all(tmp_path / "pristine")["esb"]
    with zipfile.ZipFile(esb) as archive:
        return archive.read(f"wso2esb-4.7.0/{MYSQL_SQL}")


# --- accounts that already exist with another password ------------------------------------------------------

OLDER_PASSWORD = "an-older-password"


@pytest.mark.parametrize("existing_host", ["%", "127.0.0.2"])
def test_existing_account_with_another_password_is_refused_before_anything_changes(existing_host, tmp_path,
                                                                                    distributions,
                                                                                    fresh_mariadb_state):
    # '%': creating 'regadmin'@'127.0.0.2' would shadow it (MySQL picks the most specific host), so
    # whatever logs in as regadmin from the plan's servers with the older password would break.
    # '127.0.0.2': the nodes there would be refused after everything else had been created.
    server = fresh_mariadb_state
    create_account(server, existing_host, OLDER_PASSWORD)
    cluster = seed_cluster(tmp_path, distributions, server)
    before = server_state(server)

    refused = apply_db(cluster, "server-206", server)

    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert_never_shown(output, OLDER_PASSWORD, APP_PASSWORD)
    assert f"already has an account with another password than the one given: 'regadmin'@'{existing_host}'" \
        in refused.stderr
    # One message, every way on: that account's password, --force, or dropping the account.
    assert "give that account's password, so the new accounts get it too" in refused.stderr
    assert f"run again with --force to set the given password on 'regadmin'@'{existing_host}'" in refused.stderr
    assert f"DROP USER 'regadmin'@'{existing_host}';" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert server_state(server) == before
    assert reaches(server, OLDER_PASSWORD, "127.0.0.2", database_name=None)


@pytest.mark.parametrize("existing_host", ["%", "127.0.0.2"])
@pytest.mark.parametrize("way_on", ["its password", "force", "drop it"])
def test_each_way_the_refusal_offers_works(way_on, existing_host, tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    create_account(server, existing_host, OLDER_PASSWORD)
    cluster = seed_cluster(tmp_path, distributions, server)
    refused = apply_db(cluster, "server-206", server)
    assert refused.returncode == 1

    if way_on == "its password":
        result = apply_db(cluster, "server-206", server, app_password=OLDER_PASSWORD)
        password = OLDER_PASSWORD
    elif way_on == "force":
        result = apply_db(cluster, "server-206", server, "--force")
        password = APP_PASSWORD
        assert f"ALTER USER 'regadmin'@'{existing_host}' IDENTIFIED BY '********'" in result.stdout
    else:
        drop = re.search(r"DROP USER '[^']*'@'[^']*';", refused.stderr)
        admin = server.connect()
        with admin.cursor() as cursor:
            cursor.execute(drop.group(0))
        admin.close()
        result = apply_db(cluster, "server-206", server)
        password = APP_PASSWORD

    assert result.returncode == 0, result.stdout + result.stderr
    assert_never_shown(result.stdout + result.stderr, OLDER_PASSWORD, password)
    expected_hosts = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "localhost"}
    if existing_host == "%" and way_on != "drop it":
        expected_hosts.add("%")
    assert set(app_hosts(server)) == expected_hosts
    # One password for the user, wherever it logs in from: both plan servers ...
    for address in ADDRESSES.values():
        assert reaches(server, password, address)
    # ... and, for a '%' account kept, from elsewhere too (its own login, as other programs use it).
    if "%" in expected_hosts:
        assert reaches(server, password, "127.0.0.9", database_name=None)


def test_an_account_that_logs_in_another_way_is_named_and_nothing_changes(tmp_path, distributions,
                                                                          fresh_mariadb_state):
    server = fresh_mariadb_state
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("CREATE USER 'regadmin'@'localhost' IDENTIFIED VIA unix_socket")
    admin.close()
    cluster = seed_cluster(tmp_path, distributions, server)
    before = server_state(server)
    refused = apply_db(cluster, "server-206", server)
    assert refused.returncode == 1
    assert "log in another way, so the given password cannot be checked against them: " \
        "'regadmin'@'localhost' (unix_socket)" in refused.stderr
    assert server_state(server) == before


# The stored hash is compared on the installer's side, so the password is never sent in a statement.

def test_native_password_hashes_are_compared_exactly(fresh_mariadb_state):
    server = fresh_mariadb_state
    create_account(server, "127.0.0.9", SPACED_PASSWORD, user="hashcheck")
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("SELECT plugin, authentication_string FROM mysql.user WHERE User = 'hashcheck'")
        plugin, stored = cursor.fetchone()
    admin.close()
    assert database.password_matches(plugin, stored.encode(), SPACED_PASSWORD) is True
    assert database.password_matches(plugin, stored.encode(), SPACED_PASSWORD.strip()) is False
    assert database.password_matches(plugin, b"", SPACED_PASSWORD) is False  # an account without password


# hashcat's published example of a MySQL 8 caching_sha2_password hash (mode 7401, password "hashcat"):
# '$A$005$' + 20-byte salt + 43-character SHA-256 crypt, as mysql.user stores it.
MYSQL8_SALT = bytes.fromhex("F9CC98CE08892924F50A213B6BC571A2C11778C5")
MYSQL8_DIGEST = bytes.fromhex("625479393559393965414D45316477456B484F41316E64484742577A2E3162785353526B7554584647562F")


def test_mysql8_caching_sha2_hashes_are_compared_exactly():
    stored = b"$A$005$" + MYSQL8_SALT + MYSQL8_DIGEST
    assert database.password_matches("caching_sha2_password", stored, "hashcat") is True
    assert database.password_matches("caching_sha2_password", stored, "hashcat ") is False
    # Drepper's own example of SHA-256 crypt (5000 rounds, as MySQL uses).
    assert database.sha256_crypt(b"Hello world!", b"saltstring", 5000) == b"5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
    # A login we cannot compare with: said as such, never taken for a match or a mismatch.
    assert database.password_matches("ed25519", b"ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY", "hashcat") is None
    assert database.password_matches("caching_sha2_password", b"$A$005$short", "hashcat") is None


# --- hints that name the real fix ---------------------------------------------------------------------------

def test_host_not_allowed_gives_the_exact_statements_and_running_them_works(tmp_path, distributions,
                                                                             fresh_mariadb_state):
    # 127.0.1.3 is loopback too, but outside the admin's 127.0.0.%: once the application account
    # for that address is gone, no account admits it and the server answers 1130, as it does for
    # a server added to the plan after the database step ran on the database server.
    server = fresh_mariadb_state
    addresses = {"server-206": "127.0.0.2", "server-132": "127.0.1.3"}
    cluster = seed_cluster(tmp_path, distributions, server, addresses=addresses)
    assert apply_db(cluster, "server-206", server).returncode == 0
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("DROP USER %s@%s", ("regadmin", "127.0.1.3"))
        # MariaDB keeps admitting an address that a dropped wildcard account (an earlier test's
        # 'regadmin'@'%') admitted, answering 1045 instead of 1130, until privileges are reloaded.
        cursor.execute("FLUSH PRIVILEGES")
    admin.close()

    refused = apply_db(cluster, "server-132", server)

    assert refused.returncode == 1
    assert_never_shown(refused.stdout + refused.stderr, APP_PASSWORD)
    assert "does not let 'regadmin' connect from 127.0.1.3" in refused.stderr
    statements = re.findall(r"(?:CREATE USER|GRANT) [^;]*;", refused.stderr)
    assert statements[0] == "CREATE USER 'regadmin'@'127.0.1.3' IDENTIFIED BY '<password>';"
    assert sorted(statements[1:]) == [  # the databases server-132's nodes use, exactly
        "GRANT ALL PRIVILEGES ON `REGISTRY\\_DB`.* TO 'regadmin'@'127.0.1.3';",
        "GRANT ALL PRIVILEGES ON `REGISTRY\\_LOCAL2`.* TO 'regadmin'@'127.0.1.3';",
        "GRANT ALL PRIVILEGES ON `WSO2\\_USER\\_DB`.* TO 'regadmin'@'127.0.1.3';",
    ]
    # The operator runs them on the database server, with the real password in place of the
    # placeholder; then this server's run goes through.
    admin = server.connect()
    with admin.cursor() as cursor:
        for statement in statements:
            if "'<password>'" in statement:
                cursor.execute(statement.replace("'<password>'", "%s"), (APP_PASSWORD,))
            else:
                cursor.execute(statement)
    admin.close()
    fixed = apply_db(cluster, "server-132", server)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def test_wrong_application_password_is_said_to_be_wrong_for_that_account(tmp_path, distributions,
                                                                         fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    assert apply_db(cluster, "server-206", server).returncode == 0

    refused = apply_db(cluster, "server-132", server, app_password="not-the-app-password")

    assert refused.returncode == 1
    assert_never_shown(refused.stdout + refused.stderr, "not-the-app-password")
    assert "the password given is wrong for the application account 'regadmin' that admits 127.0.0.3" in refused.stderr
    assert "give the password the database step on server-206 set" in refused.stderr
    assert "WSO2_DB_PASSWORD" in refused.stderr  # the command line's way to give it


def test_wrong_admin_password_is_said_to_be_wrong_for_the_admin_account(tmp_path, distributions,
                                                                        fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    result = apply_db(cluster, "server-206", server, admin_password="not-the-password")
    assert result.returncode == 1
    assert "the password given is wrong for the admin account 'root' that admits 127.0.0.2" in result.stderr


# --- passwords are kept exactly as given ---------------------------------------------------------------------

@pytest.mark.parametrize("given_by", ["environment", "file"])
def test_password_with_leading_and_trailing_spaces_is_kept(given_by, tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    if given_by == "environment":
        result = apply_db(cluster, "server-206", server, app_password=SPACED_PASSWORD)
    else:
        secret_file = tmp_path / "db-password"
        secret_file.write_text(SPACED_PASSWORD + "\n")  # the newline an editor adds
        result = apply_db(cluster, "server-206", server, "--db-password-file", secret_file, app_password="")
    assert result.returncode == 0, result.stdout + result.stderr
    for address in ADDRESSES.values():
        assert reaches(server, SPACED_PASSWORD, address)
    assert not reaches(server, SPACED_PASSWORD.strip(), "127.0.0.2")


def test_a_session_probes_the_plans_database_from_this_servers_address(tmp_path, distributions,
                                                                       fresh_mariadb_state):
    from installer import PasswordRefused, SecretError, Secrets, Session

    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    admin = Session.open(cluster.plan, "server-206", check_files=False,
                         secrets=Secrets(db_admin_password=server.admin_password))
    probe = admin.probe_database("admin")
    assert probe.ok and probe.message.startswith(f"connected to {ADDRESSES['server-206']}:{server.port} from "
                                                 f"{ADDRESSES['server-206']}")
    wrong = Session.open(cluster.plan, "server-206", check_files=False,
                         secrets=Secrets(db_admin_password="not-the-password"))
    refused = wrong.probe_database("admin")
    assert not refused.ok and isinstance(refused.error, PasswordRefused)
    assert_never_shown(refused.message + refused.error.hint, "not-the-password")
    with pytest.raises(SecretError):
        Session.open(cluster.plan, "server-206", check_files=False).probe_database()
