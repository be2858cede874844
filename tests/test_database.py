"""The database step against the suite's own MariaDB: no mocks."""

from __future__ import annotations

import json
import zipfile

import pymysql
import pytest

from installer import database
from installer.patchers.datasources import read_datasources
from installer.sqlscript import script_objects, split_statements
from tests.paths import CARBON_CONFIGS_DIR
from tests.support.build_distributions import MYSQL_SQL, FixtureFile, build_all, build_esb
from tests.support.plans import write_seed_plan
from tests.test_apply_e2e import run_cli, status_lines

APP_PASSWORD = "app-Pa55-db"
ADDRESSES = {"server-206": "127.0.0.2", "server-132": "127.0.0.3"}
DATABASES = ("WSO2_USER_DB", "REGISTRY_DB", "REGISTRY_LOCAL1", "REGISTRY_LOCAL2")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


def seed_cluster(root, distributions, server, edit=None):
    def set_database(data):
        data["database"]["address"] = ADDRESSES["server-206"]
        data["database"]["port"] = server.port
        data["database"]["admin_user"] = server.admin_user
        if edit:
            edit(data)

    return write_seed_plan(root, distributions, addresses=ADDRESSES, edit=set_database)


def db_env(server, *, admin_password=None, app_password=APP_PASSWORD):
    return {"WSO2_DB_ADMIN_PASSWORD": server.admin_password if admin_password is None else admin_password,
            "WSO2_DB_PASSWORD": app_password}


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
        assert server.admin_password not in result.stdout + result.stderr
        assert APP_PASSWORD not in result.stdout + result.stderr

    schemas, users, _ = server_state(server)
    assert set(DATABASES) <= set(schemas)
    app_hosts = sorted(host for user, host in users if user == "regadmin")
    assert app_hosts == sorted(["127.0.0.2", "127.0.0.3", "localhost", "127.0.0.1"]) or \
        app_hosts == sorted(["127.0.0.2", "127.0.0.3"])

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
        assert APP_PASSWORD not in text and server.admin_password not in text
    state = json.loads((cluster.install_dir("server-206") / ".wso2-cluster" / "state-server-206.json").read_text())
    assert state["steps"]["database"]["status"] == "done"
    before = server_state(server)
    again = apply_db(cluster, "server-206", server)
    assert again.returncode == 0 and "already done" in again.stdout
    assert server_state(server) == before

    status = run_cli("status", "--plan", cluster.plan, "--server", "server-206", env_extra=db_env(server))
    assert "done" in status_lines(status.stdout)["database"]


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
    assert APP_PASSWORD not in result.stdout and server.admin_password not in result.stdout
    assert server_state(server)[0] == []


def test_other_server_says_plainly_when_the_grant_is_missing(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    result = apply_db(cluster, "server-132", server)
    assert result.returncode == 1
    assert "refused the application user 'regadmin' from 127.0.0.3" in result.stderr
    assert "run the database step on server-206 first" in result.stderr


# --- errors leave nothing half-done -----------------------------------------------------------------------

def test_unreachable_server_is_named(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state

    def wrong_port(data):
        data["database"]["port"] = 1

    cluster = seed_cluster(tmp_path, distributions, server, edit=wrong_port)
    result = apply_db(cluster, "server-206", server)
    assert result.returncode == 1
    assert "cannot reach the database server at 127.0.0.2:1" in result.stderr


def test_admin_access_denied(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    cluster = seed_cluster(tmp_path, distributions, server)
    before = server_state(server)
    result = apply_db(cluster, "server-206", server, admin_password="not-the-password")
    assert result.returncode == 1
    assert "refused the admin user 'root' from 127.0.0.2" in result.stderr and "WSO2_DB_ADMIN_PASSWORD" in result.stderr
    assert "not-the-password" not in result.stdout + result.stderr
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


def test_existing_user_with_another_password_is_reported_and_forced(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state
    admin = server.connect()
    with admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", ("regadmin", "127.0.0.2", "an-older-password"))
    admin.close()
    cluster = seed_cluster(tmp_path, distributions, server)
    refused = apply_db(cluster, "server-206", server)
    assert refused.returncode == 1
    assert "already exists on the database server" in refused.stderr and "--force" in refused.stderr
    assert "an-older-password" not in refused.stderr + refused.stdout
    # Everything else is in place; the account still has its old password.
    server.connect(user="regadmin", password="an-older-password", bind_address="127.0.0.2").close()

    forced = apply_db(cluster, "server-206", server, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "ALTER USER 'regadmin'@'127.0.0.2' IDENTIFIED BY '********'" in forced.stdout
    server.connect(user="regadmin", password=APP_PASSWORD, database="REGISTRY_DB", bind_address="127.0.0.2").close()
