"""The suite's own MariaDB server: it runs, it tells loopback client addresses apart, it cleans up."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import pymysql
import pytest

from tests.support.mariadb import MariaDBNotInstalled, MariaDBServer, MariaDBStartError, find_mariadb_program

# Starting takes about a second here (install-db + mariadbd); the bound leaves room for slow CI
# machines while still catching a server that waits on something it should not (DNS, timeouts).
STARTUP_BOUND_SECONDS = 15


def who_am_i(connection) -> tuple[str, str]:
    """(USER(), CURRENT_USER()): the client as the server saw it, and the account it matched."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT USER(), CURRENT_USER()")
        return cursor.fetchone()


def test_server_is_mariadb_10_or_newer(mariadb):
    with mariadb.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        (version,) = cursor.fetchone()
    assert "MariaDB" in version
    assert int(re.match(r"(\d+)\.", version).group(1)) >= 10


def test_admin_connects_from_127_0_0_1(mariadb):
    with mariadb.connect() as connection:
        assert who_am_i(connection) == ("root@127.0.0.1", "root@127.0.0.%")


def test_admin_connects_from_another_loopback_address(mariadb):
    with mariadb.connect(bind_address="127.0.0.2") as connection:
        assert who_am_i(connection) == ("root@127.0.0.2", "root@127.0.0.%")


def test_server_listens_on_every_loopback_address(mariadb):
    # A test plan may put the database server on 127.0.0.2: reach the server there, not just on .1.
    with pymysql.connect(host="127.0.0.2", port=mariadb.port, user=mariadb.admin_user,
                         password=mariadb.admin_password, bind_address="127.0.0.3") as connection:
        assert who_am_i(connection)[0] == "root@127.0.0.3"


def test_grant_by_address_admits_that_address_only(fresh_mariadb_state):
    server = fresh_mariadb_state
    with server.connect() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE granted_db")
        cursor.execute("CREATE USER 'u'@'127.0.0.3' IDENTIFIED BY 'u-secret'")
        cursor.execute("GRANT ALL ON granted_db.* TO 'u'@'127.0.0.3'")

    with server.connect("u", "u-secret", database="granted_db", bind_address="127.0.0.3") as connection:
        assert who_am_i(connection) == ("u@127.0.0.3", "u@127.0.0.3")

    with pytest.raises(pymysql.err.OperationalError, match="Access denied") as refused:
        server.connect("u", "u-secret", bind_address="127.0.0.2")
    assert refused.value.args[0] == 1045


def test_reset_drops_what_tests_created_and_keeps_the_rest(fresh_mariadb_state):
    server = fresh_mariadb_state
    lingering = server.connect()
    with server.connect() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE `left-over`")
        cursor.execute("CREATE TABLE `left-over`.t (id INT)")
        cursor.execute("CREATE USER 'left'@'127.0.0.4' IDENTIFIED BY 'x'")
        cursor.execute("CREATE ROLE left_role")
    # A session still holding a metadata lock on the table must not make the reset hang.
    lingering.begin()
    lingering.cursor().execute("SELECT * FROM `left-over`.t")

    server.reset()
    with contextlib.suppress(pymysql.err.Error):
        lingering.close()  # the reset killed its session

    with server.connect() as admin, admin.cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        assert {name for (name,) in cursor.fetchall()} == {
            "information_schema", "mysql", "performance_schema", "sys"}
        cursor.execute("SELECT User, Host FROM mysql.user ORDER BY User, Host")
        assert set(cursor.fetchall()) == {
            ("mariadb.sys", "localhost"), ("root", "localhost"), ("root", "127.0.0.%")}


# These two run in this order (pytest keeps file order): the first leaves a database and an
# account behind, the second must not see them.
def test_a_test_leaves_things_behind(fresh_mariadb_state):
    with fresh_mariadb_state.connect() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE left_for_the_next_test")
        cursor.execute("CREATE USER 'left_for_the_next_test'@'127.0.0.5'")


def test_the_next_test_does_not_see_them(fresh_mariadb_state):
    with fresh_mariadb_state.connect() as admin, admin.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE 'left%'")
        assert cursor.fetchall() == ()
        cursor.execute("SELECT User FROM mysql.user WHERE User LIKE 'left%'")
        assert cursor.fetchall() == ()


def test_a_server_starts_quickly_and_stop_removes_everything():
    began = time.monotonic()
    with MariaDBServer() as server:
        elapsed = time.monotonic() - began
        root, pid = server.root, server.pid
        assert len(str(server.socket).encode()) < 108
        assert server.socket.is_socket()
        with server.connect() as connection:
            assert who_am_i(connection)[1] == "root@127.0.0.%"
    assert elapsed < STARTUP_BOUND_SECONDS, f"startup took {elapsed:.1f}s"
    assert not root.exists()
    assert not Path(f"/proc/{pid}").exists()
    assert not server.running


def test_admin_password_is_never_on_a_command_line_or_in_repr(mariadb):
    cmdline = Path(f"/proc/{mariadb.pid}/cmdline").read_bytes()
    assert mariadb.admin_password.encode() not in cmdline
    assert mariadb.admin_password not in repr(mariadb)


def test_password_less_root_over_tcp_is_gone(mariadb):
    # mariadb-install-db creates root@127.0.0.1 with no password; the server listens on 0.0.0.0.
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        mariadb.connect("root", "")


def test_a_server_that_cannot_start_reports_its_log_and_leaves_nothing():
    server = MariaDBServer(extra_server_options=["--no-such-option-for-the-test"])
    with pytest.raises(MariaDBStartError, match="no-such-option-for-the-test"):
        server.start()
    assert not server.running
    with pytest.raises(RuntimeError, match="not started"):
        server.root  # noqa: B018 - the folder is gone with the server


def test_missing_mariadb_fails_loudly_with_the_fix(tmp_path):
    with pytest.raises(MariaDBNotInstalled, match=r"run \./dev test.*mariadb-server"):
        find_mariadb_program("mariadbd", search_path=str(tmp_path), extra_dirs=[tmp_path])


def test_programs_are_found_outside_path(tmp_path):
    program = tmp_path / "mariadbd"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert find_mariadb_program("mariadbd", search_path=os.devnull, extra_dirs=[tmp_path]) == program
