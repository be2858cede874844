"""The central database on MySQL / MariaDB, done for real with PyMySQL.

On the plan's database server run: create the databases, load the distribution's own
``dbscripts/mysql.sql`` into each (idempotently, though Carbon's scripts are not), create the
application user for every client address and grant it everything on exactly those databases.
On every other server: only check, as the nodes will connect (client socket bound to this
server's plan address).

The admin connects through the local server's unix socket when the database runs on this
server (stock Debian/Ubuntu MariaDB and Ubuntu's MySQL 8 admit root@localhost only that way, by
unix_socket / auth_socket, with no password), else, or when the socket refuses and a password was
given, over TCP from this server's plan address. The application user is always checked over TCP.

Identifiers are validated by the plan and always backtick-quoted here; user names, hosts and
passwords are passed as parameters, never pasted into statement text.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import ipaddress
import os
import pwd
import re
import socket
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pymysql
import pymysql.cursors
import pymysql.err

from installer.errors import (
    GIVE_PASSWORD,
    LOAD_SCHEMA_ANYWAY,
    RUN_STEP,
    SET_PASSWORD_ON_ACCOUNTS,
    InstallerError,
    Remedy,
    SecretError,
)
from installer.plan.derive import Layout
from installer.sqlscript import Statement, script_objects, split_statements

DATABASE_CHARSET = "latin1"  # what WSO2's MySQL instructions of the Carbon 4 era ask for (767-byte keys)
CONNECT_TIMEOUT = 10
# Privileges "ALL" grants on a database; enough of them to tell the grant is there.
ESSENTIAL_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "INDEX", "ALTER"})
REDACTED = "'********'"
# What a statement shown to the operator has where the password goes: they type the real one.
PASSWORD_PLACEHOLDER = "'<password>'"


class DatabaseError(InstallerError):
    title = "Database problem"


def account_name(user: str, host: str) -> str:
    """``'user'@'host'`` as MySQL writes an account (names the plan validated: no quotes in them)."""
    return f"'{user}'@'{host}'"


class HostNotAllowed(DatabaseError):
    """MySQL 1130: no account on the database server admits the address this server connects
    from. Carries what an administrator there runs to fix it (``statements``), so each front end
    can show them; the password in them is a placeholder, never the real one."""

    def __init__(self, message: str, *, role: str, user: str, address: str,
                 databases: Sequence[str] = ()) -> None:
        self.role = role
        self.user = user
        self.address = address
        self.databases = tuple(databases)
        super().__init__(message, f"on the database server, as an administrator, run: {' '.join(self.statements)} "
                                  f"(with the {role} password in place of <password>)")

    @property
    def statements(self) -> list[str]:
        account = account_name(self.user, self.address)
        statements = [f"CREATE USER {account} IDENTIFIED BY {PASSWORD_PLACEHOLDER};"]
        if self.role == "admin":
            statements.append(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;")
            return statements
        # Exactly what the database step grants: the database names with their wildcards escaped.
        for target in [f"`{grant_pattern(name)}`" for name in self.databases] or ["<database>"]:
            statements.append(f"GRANT ALL PRIVILEGES ON {target}.* TO {account};")
        return statements

    def for_databases(self, databases: Sequence[str]) -> HostNotAllowed:
        return HostNotAllowed(self.message, role=self.role, user=self.user, address=self.address,
                              databases=databases)


class PasswordRefused(DatabaseError):
    """MySQL 1045: the server refused the password given for the account that admits this address
    (or no account of that user admits it, which the server does not tell apart)."""

    def __init__(self, message: str, hint: str, *, role: str, user: str, address: str) -> None:
        self.role = role
        self.user = user
        self.address = address
        secret = "db_admin_password" if role == "admin" else "db_password"
        super().__init__(message, hint, remedy=Remedy(GIVE_PASSWORD, secret=secret))


class DatabaseUnreachable(DatabaseError):
    """No MySQL answers at the plan's address and port (or the connection broke)."""


def quote_identifier(name: str) -> str:
    """Backtick-quote an identifier the plan already validated ([A-Za-z0-9_$]{1,64})."""
    if not name or "`" in name or len(name) > 64:
        raise ValueError(f"not a valid identifier: {name!r}")
    return f"`{name}`"


def grant_pattern(database: str) -> str:
    """``_`` and ``%`` are wildcards in database-level grants: escape them so the grant covers
    exactly this database (WSO2_USER_DB, not WSO2XUSERXDB)."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


# --- connecting --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    bind_address: str | None = None

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


def connect(endpoint: Endpoint, user: str, password: str, *, database: str | None = None,
            role: str = "admin") -> pymysql.connections.Connection:
    """A connection, with errors turned into messages an operator can act on.

    ``role`` is "admin" or "application", used in messages only. The client socket is bound to
    ``endpoint.bind_address`` (this server's plan address) when that address exists here.
    """
    bind = endpoint.bind_address if endpoint.bind_address and _is_local_address(endpoint.bind_address) else None
    try:
        return pymysql.connect(host=endpoint.address, port=endpoint.port, user=user, password=password,
                               database=database, bind_address=bind, connect_timeout=CONNECT_TIMEOUT,
                               autocommit=True, charset="utf8mb4")
    except pymysql.err.OperationalError as error:
        raise _connect_error(error, endpoint, user, database, role, bind) from None


def _is_local_address(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
        try:
            probe.bind((address, 0))
        except OSError as error:
            if error.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return True


# --- the admin through the local socket ------------------------------------------------------------------

# Where MySQL and MariaDB packages put the server's socket: Debian/Ubuntu (/run, and /var/run
# where it is not a link to /run), Red Hat and SUSE, upstream's compiled-in default.
SOCKET_PLACES: tuple[Path, ...] = (Path("/run/mysqld/mysqld.sock"), Path("/var/run/mysqld/mysqld.sock"),
                                   Path("/var/lib/mysql/mysql.sock"), Path("/tmp/mysql.sock"))
# bind_address values that mean every address.
_EVERY_ADDRESS = frozenset({"*", "0.0.0.0", "::", ""})


def runs_here(address: str, server_address: str) -> bool:
    """Whether the database at ``address`` runs on this machine: the address is this server's
    plan address or a loopback one, and this machine really has it."""
    try:
        wanted = ipaddress.ip_address(address)
    except ValueError:
        return False
    try:
        own = ipaddress.ip_address(server_address) == wanted
    except ValueError:
        own = False
    if not (own or wanted.is_loopback):
        return False
    try:
        return _is_local_address(str(wanted))
    except OSError:
        return False


def os_user() -> str:
    """The OS user this process runs as, as a unix socket's peer (unix_socket / auth_socket) sees
    it: the effective uid, whatever $USER says (``sudo -E`` keeps the caller's)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


@dataclass(frozen=True)
class SocketTry:
    """A socket the admin did not connect through, and why."""

    path: Path
    reason: str
    kind: str  # absent | unusable (not a socket, nothing answers) | refused (the account) | other (another server)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class AdminAccess:
    """How the admin reaches the database server: through the local server's socket first when
    the database runs on this server (``sockets``, tried in order), else over TCP to
    ``endpoint`` from this server's plan address. ``password`` None: none was given."""

    endpoint: Endpoint
    user: str
    password: str | None
    sockets: tuple[Path, ...] = ()
    socket_from_plan: bool = False
    not_here: str = ""  # why no socket is tried (the database is elsewhere)

    @classmethod
    def for_server(cls, endpoint: Endpoint, user: str, password: str | None, *,
                   plan_socket: Path | None = None) -> AdminAccess:
        """``plan_socket``: the plan's database.admin_socket, else the usual places are tried."""
        password = password or None
        if not runs_here(endpoint.address, endpoint.bind_address or ""):
            ignored = f" (database.admin_socket {plan_socket} is not used)" if plan_socket else ""
            return cls(endpoint, user, password,
                       not_here=f"the database at {endpoint} is not on this server{ignored}, so there is no local "
                                "socket to log in through")
        if plan_socket is not None:
            return cls(endpoint, user, password, (Path(plan_socket),), socket_from_plan=True)
        return cls(endpoint, user, password, _distinct(SOCKET_PLACES))

    def describe(self) -> str:
        """The way the admin will connect, before trying it (no password in it, ever)."""
        tcp = f"over TCP to {self.endpoint}{_source(self.endpoint)}"
        if not self.sockets:
            return f"'{self.user}' {tcp}"
        places = " or ".join(str(path) for path in self.sockets)
        fallback = f", else {tcp}" if self.password else ""
        return f"'{self.user}' through the local socket {places}{fallback}"


def _distinct(paths: Sequence[Path]) -> tuple[Path, ...]:
    """``paths`` without the ones that name the same file as an earlier one (/var/run -> /run)."""
    seen: set[str] = set()
    kept = []
    for path in paths:
        try:
            key = os.path.realpath(path)
        except (OSError, ValueError):
            key = str(path)
        if key not in seen:
            seen.add(key)
            kept.append(path)
    return tuple(kept)


def _source(endpoint: Endpoint) -> str:
    return f" from {endpoint.bind_address}" if endpoint.bind_address else ""


@dataclass
class AdminConnection:
    """An open admin connection and the way it was made, for messages."""

    connection: pymysql.connections.Connection
    user: str
    socket: Path | None  # None: over TCP
    endpoint: Endpoint
    tried: tuple[SocketTry, ...] = ()

    @property
    def via(self) -> str:
        if self.socket is not None:
            return f"through the local socket {self.socket}"
        return f"over TCP to {self.endpoint}{_source(self.endpoint)}"

    @property
    def account(self) -> str:
        """The account the server matched (what a GRANT for the admin names)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER()")
            (current,) = cursor.fetchone()
        name, _, host = str(current).rpartition("@")
        return account_name(name, host)

    def describe(self) -> str:
        """``'root' through the local socket /run/mysqld/mysqld.sock``, with what refused first."""
        tried = [str(attempt) for attempt in self.tried if attempt.kind != "absent"]
        before = f" (not through {'; '.join(tried)})" if tried else ""
        return f"'{self.user}' {self.via}{before}"


def open_admin(access: AdminAccess) -> AdminConnection:
    """The admin connection: through the local socket when it admits the admin (with the given
    password, or none), else over TCP with the given password.

    A socket the plan names that is not there, or is another server's, is an error naming it;
    with no password and no socket that admits the admin, a SecretError says what was tried."""
    tried: list[SocketTry] = []
    for path in access.sockets:
        outcome = _try_socket(path, access)
        if not isinstance(outcome, SocketTry):
            return AdminConnection(outcome, access.user, path, access.endpoint, tuple(tried))
        tried.append(outcome)
        if access.socket_from_plan and outcome.kind != "refused":
            raise DatabaseError(
                f"the admin cannot use database.admin_socket {outcome.path}: {outcome.reason}",
                "name in database.admin_socket the socket of the MySQL/MariaDB server at "
                f"{access.endpoint} (its socket setting: SELECT @@socket), or remove the key to let the "
                "installer look where MySQL and MariaDB packages put it")
    if access.password:
        try:
            connection = connect(access.endpoint, access.user, access.password, role="admin")
        except DatabaseError as error:
            tried_here = [str(attempt) for attempt in tried if attempt.kind != "absent"]
            if tried_here:
                error.message += f" (the local socket was tried first: {'; '.join(tried_here)})"
            raise
        return AdminConnection(connection, access.user, None, access.endpoint, tuple(tried))
    raise SecretError(f"the database admin password is needed on the database server: {_what_was_tried(access, tried)}",
                      _no_password_hint(access, tried), remedy=Remedy(GIVE_PASSWORD, secret="db_admin_password"))


def _what_was_tried(access: AdminAccess, tried: Sequence[SocketTry]) -> str:
    if not access.sockets:
        return access.not_here
    if all(attempt.kind == "absent" for attempt in tried):
        return (f"'{access.user}' may log in through the local server's socket without one, but there is none at "
                f"{', '.join(str(attempt.path) for attempt in tried)}")
    return ("the local socket did not admit the admin without one: "
            + "; ".join(str(attempt) for attempt in tried if attempt.kind != "absent"))


def _no_password_hint(access: AdminAccess, tried: Sequence[SocketTry]) -> str:
    hint = f"give the password of the admin account '{access.user}'"
    if access.sockets and all(attempt.kind == "absent" for attempt in tried):
        hint += (", or name the server's socket in database.admin_socket (on the database server: "
                 "SELECT @@socket)")
    elif any(attempt.kind == "refused" for attempt in tried) and os_user() != access.user:
        hint += f", or run the installer as the OS user {access.user} (e.g. with sudo -E)"
    return hint


def _try_socket(path: Path, access: AdminAccess) -> pymysql.connections.Connection | SocketTry:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return SocketTry(path, "no such file", "absent")
    except (OSError, ValueError) as error:
        return SocketTry(path, f"cannot be looked at ({getattr(error, 'strerror', None) or error})", "unusable")
    if not stat.S_ISSOCK(mode):
        return SocketTry(path, "not a socket", "unusable")
    try:
        connection = pymysql.connect(unix_socket=str(path), user=access.user, password=access.password or "",
                                     connect_timeout=CONNECT_TIMEOUT, autocommit=True, charset="utf8mb4")
    except pymysql.err.MySQLError as error:
        code = error.args[0] if error.args else None
        server_message = error.args[1] if len(error.args) > 1 else str(error)
        if code in (1045, 1698):
            return SocketTry(path, _refusal(access, str(server_message)), "refused")
        return SocketTry(path, f"no server answers on it ({server_message})", "unusable")
    try:
        other = _other_server(connection, access.endpoint)
    except pymysql.err.MySQLError as error:
        other = f"cannot ask the server on it which port it listens on ({error.args[-1] if error.args else error})"
    if other:
        connection.close()
        return SocketTry(path, other, "other")
    return connection


def _refusal(access: AdminAccess, server_message: str) -> str:
    """Why the socket refused the admin, in the terms of unix_socket / auth_socket."""
    said = f"the server refused '{access.user}'@'localhost' ({server_message})"
    runs_as = os_user()
    if runs_as != access.user:
        return (f"{said}: an account that logs in by unix_socket (MariaDB) or auth_socket (MySQL) admits "
                f"'{access.user}' only when the installer runs as the OS user {access.user}, and it runs as "
                f"{runs_as}")
    if access.password:
        return (f"{said}: that account does not log in by unix_socket / auth_socket and the password given is not "
                "its own, or there is no such account")
    return (f"{said}: that account does not log in by unix_socket / auth_socket (it asks for a password), or there "
            "is no such account")


def _other_server(connection: pymysql.connections.Connection, endpoint: Endpoint) -> str:
    """Why the server on a socket is not the plan's database at ``endpoint`` ("" when it may be):
    another port, no TCP at all, or bound to other addresses only."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@port")
        (port,) = cursor.fetchone()
        if int(port) != endpoint.port:
            return f"the server on it is not the plan's database at {endpoint}: it listens on port {port}"
        try:
            cursor.execute("SELECT @@skip_networking, @@bind_address")
            skip_networking, bind_address = cursor.fetchone()
        except pymysql.err.MySQLError:
            return ""  # a server without these variables: the port has to do
    if skip_networking and str(skip_networking) not in ("0", "OFF"):
        return f"the server on it is not the plan's database at {endpoint}: it does not listen on TCP (skip-networking)"
    entries = [entry.strip() for entry in str(bind_address or "").split(",")]
    if any(entry in _EVERY_ADDRESS for entry in entries):
        return ""
    try:
        bound = {ipaddress.ip_address(entry) for entry in entries}
    except ValueError:
        return ""  # a host name: cannot tell here
    if ipaddress.ip_address(endpoint.address) not in bound:
        return (f"the server on it is not the plan's database at {endpoint}: it listens on "
                f"{', '.join(entries)} only (bind_address)")
    return ""


# 1130 "Host '10.0.0.5' is not allowed to connect to this MySQL server" and 1045 "Access denied for
# user 'u'@'10.0.0.5'" both name the address the server saw, which is what its accounts must admit.
_SEEN_ADDRESS = re.compile(r"(?:Host '|'@')([^']+)'")


def _connect_error(error: pymysql.err.OperationalError, endpoint: Endpoint, user: str, database: str | None,
                   role: str, bind: str | None) -> DatabaseError:
    code = error.args[0] if error.args else None
    server_message = error.args[1] if len(error.args) > 1 else str(error)
    source = f" from {bind}" if bind else ""
    seen = _SEEN_ADDRESS.search(str(server_message))
    address = seen.group(1) if seen else (bind or "")
    if code == 1130:
        address = address or "<this server's address>"
        return HostNotAllowed(
            f"the database server at {endpoint} does not let '{user}' connect from {address}: no account "
            f"admits that address ({server_message})",
            role=role, user=user, address=address, databases=(database,) if database else ())
    if code in (1045, 1698):
        # The server does not say whether the password or the account is wrong; the password is
        # by far the likelier, and the hint covers both. 1698 is the refusal of a unix_socket /
        # auth_socket login, which MariaDB also answers for a user with no account at all.
        admits = f" that admits {address}" if address else ""
        message = (f"the database server at {endpoint} refused the {role} user '{user}'{source}: {server_message}; "
                   f"the password given is wrong for the {role} account '{user}'{admits}, or no such account exists")
        if role == "admin":
            hint = (f"give the password of that account, or name in database.admin_user an admin account that "
                    f"admits {address or 'this server'} (with CREATE, CREATE USER and GRANT OPTION)")
        else:
            hint = ("give the password the database step on the database server set for it; if that step has not "
                    "run yet, run it there first")
        return PasswordRefused(message, hint, role=role, user=user, address=address)
    if code == 1044 or code == 1049:
        return DatabaseError(
            f"the {role} user '{user}' cannot use database {database} on {endpoint}{source}: {server_message}",
            "run the database step on the database server first; it creates the databases and the grants")
    if code in (2003, 2005, 2006, 2013):
        return DatabaseUnreachable(
            f"cannot reach the database server at {endpoint}{source}: {server_message}",
            "check that MySQL/MariaDB runs there, listens on that address and port (bind-address, port), "
            "and that no firewall blocks it; then run again")
    return DatabaseError(f"cannot connect to the database server at {endpoint}{source}: {server_message}",
                         "check the database settings of the plan")


# --- what is there -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchemaReport:
    database: str
    exists: bool
    tables: frozenset[str] = frozenset()
    missing_tables: frozenset[str] = frozenset()
    foreign_tables: frozenset[str] = frozenset()
    missing_indexes: frozenset[tuple[str, str]] = frozenset()
    missing_constraints: frozenset[tuple[str, str]] = frozenset()

    @property
    def state(self) -> str:
        """absent | empty | loaded | partial"""
        if not self.exists:
            return "absent"
        script_tables_present = self.tables - self.foreign_tables
        if not script_tables_present:
            return "empty"
        if self.missing_tables or self.missing_indexes or self.missing_constraints:
            return "partial"
        return "loaded"


@dataclass(frozen=True)
class PasswordConflict:
    """An existing account of the application user whose password is not the one given."""

    host: str
    plugin: str
    checkable: bool  # False: it logs in another way (socket, ed25519, ...) we cannot compare with


@dataclass(frozen=True)
class DatabaseReport:
    schemas: tuple[SchemaReport, ...]
    user_hosts: frozenset[str]
    grants: frozenset[tuple[str, str]]  # (host, database) pairs that hold the essential privileges
    wanted_hosts: tuple[str, ...]
    user: str
    # Only looked for when the application password is known (see ``inspect``).
    password_conflicts: tuple[PasswordConflict, ...] = ()

    def schema(self, name: str) -> SchemaReport:
        return next(schema for schema in self.schemas if schema.database == name)

    @property
    def missing_users(self) -> tuple[str, ...]:
        return tuple(host for host in self.wanted_hosts if host not in self.user_hosts)

    @property
    def missing_grants(self) -> tuple[tuple[str, str], ...]:
        return tuple((host, schema.database) for host in self.wanted_hosts for schema in self.schemas
                     if (host, schema.database) not in self.grants)

    @property
    def foreign(self) -> tuple[SchemaReport, ...]:
        return tuple(schema for schema in self.schemas if schema.foreign_tables)

    @property
    def complete(self) -> bool:
        return (all(schema.state == "loaded" for schema in self.schemas) and not self.missing_users
                and not self.missing_grants)

    def summary(self) -> list[str]:
        lines = []
        for schema in self.schemas:
            detail = {"absent": "to create", "empty": "exists, schema to load", "loaded": "schema loaded",
                      "partial": "schema partly loaded, to complete"}[schema.state]
            if schema.foreign_tables:
                detail += f"; holds tables not from Carbon: {', '.join(sorted(schema.foreign_tables))}"
            lines.append(f"database {schema.database}: {detail}")
        for host in self.wanted_hosts:
            user_state = "exists" if host in self.user_hosts else "to create"
            missing = [db for h, db in self.missing_grants if h == host]
            grant_state = f"grants to add on {', '.join(missing)}" if missing else "grants in place"
            lines.append(f"user '{self.user}'@'{host}': {user_state}, {grant_state}")
        for conflict in self.password_conflicts:
            why = ("another password than the one given" if conflict.checkable
                   else f"a login by {conflict.plugin}, not the password given")
            lines.append(f"user {account_name(self.user, conflict.host)}: exists with {why}")
        return lines

    def foreign_error(self) -> DatabaseError:
        """The refusal when databases hold tables of something else: nothing is changed."""
        listing = "; ".join(f"{schema.database}: {', '.join(sorted(schema.foreign_tables))}" for schema in self.foreign)
        return DatabaseError(
            f"databases hold tables that are not from Carbon's schema ({listing}); nothing was changed",
            "use other database names in the plan (the installer never drops anything)",
            remedy=Remedy(LOAD_SCHEMA_ANYWAY, choices=tuple(schema.database for schema in self.foreign)))

    def conflict_error(self) -> DatabaseError:
        """The refusal when accounts of the user exist with another password: nothing is changed,
        since going on would either shadow them or leave the nodes refused half-way through."""
        conflicts = self.password_conflicts
        names = [account_name(self.user, conflict.host) for conflict in conflicts]
        checked = [name for name, conflict in zip(names, conflicts, strict=True) if conflict.checkable]
        other = [f"{name} ({conflict.plugin})" for name, conflict in zip(names, conflicts, strict=True)
                 if not conflict.checkable]
        parts = []
        if checked:
            several = "accounts" if len(checked) > 1 else "an account"
            parts.append(f"already has {several} with another password than the one given: {', '.join(checked)}")
        if other:
            parts.append("has accounts that log in another way, so the given password cannot be checked "
                         f"against them: {', '.join(other)}")
        whose, them = ("that account's", "it") if len(names) == 1 else ("those accounts'", "them")
        return DatabaseError(
            f"the application user '{self.user}' {'; and '.join(parts)}; nothing was changed: MySQL picks the "
            f"most specific account for each client address, so going on would leave '{self.user}' with two "
            "passwords and refuse logins that work today",
            f"give {whose} password, so the new accounts get it too; or drop {them} on the database server "
            f"(DROP USER {', '.join(names)};) and run again",
            remedy=Remedy(SET_PASSWORD_ON_ACCOUNTS, choices=tuple(names)))


def client_hosts(layout: Layout) -> tuple[str, ...]:
    """The addresses the application user connects from: every server running an ESB node, plus
    localhost / 127.0.0.1 where such a node runs on the database host itself."""
    database_address = layout.plan.database.address
    hosts: list[str] = []
    for server in layout.servers:
        if not any(node.is_esb for node in server.nodes):
            continue
        hosts.append(server.address)
        if server.address == database_address:
            hosts += ["localhost", "127.0.0.1"]
    return tuple(dict.fromkeys(hosts))


def database_names(layout: Layout) -> tuple[str, ...]:
    return tuple(database.name for database in layout.databases)


def inspect_schema(connection: pymysql.connections.Connection, name: str,
                   statements: Sequence[Statement]) -> SchemaReport:
    """How much of the script's schema database ``name`` holds, and what else it holds."""
    objects = script_objects(statements)
    script_tables = {table.upper() for table in objects.tables}
    with connection.cursor() as cursor:
        cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
        if cursor.fetchone() is None:
            return SchemaReport(name, exists=False)
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,))
        tables = frozenset(row[0].upper() for row in cursor.fetchall())
        cursor.execute("SELECT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s",
                       (name,))
        indexes = {(table.upper(), index.upper()) for table, index in cursor.fetchall()}
        cursor.execute("SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
                       "WHERE TABLE_SCHEMA = %s", (name,))
        constraints = {(table.upper(), constraint.upper()) for table, constraint in cursor.fetchall()}
    return SchemaReport(
        name, exists=True, tables=tables,
        missing_tables=frozenset(script_tables - tables),
        foreign_tables=frozenset(tables - script_tables),
        missing_indexes=frozenset((t.upper(), i.upper()) for t, i in objects.indexes) - indexes,
        missing_constraints=frozenset((t.upper(), c.upper()) for t, c in objects.constraints) - constraints,
    )


def inspect(connection: pymysql.connections.Connection, layout: Layout, statements: Sequence[Statement],
            *, password: str | None = None) -> DatabaseReport:
    """Databases, schemas, users and grants as they are on the server; with the application
    ``password``, also every account of the user (any host) whose password is another."""
    try:
        report = _inspect(connection, layout, statements)
        if password:
            report = replace(report, password_conflicts=password_conflicts(connection, report.user, password))
        return report
    except pymysql.err.MySQLError as error:
        server_message = error.args[1] if len(error.args) > 1 else str(error)
        raise DatabaseError(
            f"the admin user cannot look at the databases, users and grants: {server_message}",
            "the admin account needs CREATE, CREATE USER, GRANT OPTION and read access to the mysql schema "
            "(for example GRANT ALL PRIVILEGES ON *.* ... WITH GRANT OPTION)") from None


def _inspect(connection: pymysql.connections.Connection, layout: Layout, statements: Sequence[Statement]) -> DatabaseReport:
    user = layout.plan.database.user
    schemas = tuple(inspect_schema(connection, name, statements) for name in database_names(layout))
    with connection.cursor() as cursor:
        cursor.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
        user_hosts = frozenset(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT GRANTEE, TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES")
        privileges: dict[tuple[str, str], set[str]] = {}
        for grantee, schema, privilege in cursor.fetchall():
            grantee_user, _, grantee_host = grantee.partition("@")
            if grantee_user.strip("'") != user:
                continue
            key = (grantee_host.strip("'"), schema.replace("\\_", "_").replace("\\%", "%").replace("\\\\", "\\"))
            privileges.setdefault(key, set()).add(privilege.upper())
    grants = frozenset(key for key, held in privileges.items() if ESSENTIAL_PRIVILEGES <= held)
    return DatabaseReport(schemas=schemas, user_hosts=user_hosts, grants=grants,
                          wanted_hosts=client_hosts(layout), user=user)


def password_conflicts(connection: pymysql.connections.Connection, user: str,
                       password: str) -> tuple[PasswordConflict, ...]:
    """Every account of ``user``, on any host, whose password is not ``password``.

    Any host, not only the plan's: a wildcard account ('%', '10.0.0.%') is shadowed from the plan's
    addresses once the installer creates accounts for them, and a name the server resolves may
    be one of them. The stored hash is compared here, on this side: the password is never sent
    in a statement the server could log, nor tried in a login that could lock the account.
    """
    with connection.cursor(pymysql.cursors.DictCursor) as cursor:
        # SELECT *: the columns differ between MySQL 5.7/8 and MariaDB before and after 10.4.
        cursor.execute("SELECT * FROM mysql.user WHERE User = %s", (user,))
        rows = [{key.lower(): value for key, value in row.items()} for row in cursor.fetchall()]
    conflicts = []
    for row in rows:
        if _text(row.get("is_role")) == "Y":
            continue
        plugin = _text(row.get("plugin"))
        stored = _bytes(row.get("authentication_string")) or _bytes(row.get("password"))
        matches = password_matches(plugin, stored, password)
        if matches is not True:
            conflicts.append(PasswordConflict(_text(row.get("host")), plugin or "mysql_native_password",
                                              checkable=matches is not None))
    return tuple(sorted(conflicts, key=lambda conflict: conflict.host))


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _bytes(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return b"" if value is None else str(value).encode("utf-8", "surrogateescape")


def password_matches(plugin: str, stored: bytes, password: str) -> bool | None:
    """Whether ``password`` is the one ``stored`` (the account's authentication string) was made
    from; None when the plugin does not store a hash we know how to compute."""
    secret = password.encode("utf-8")
    if plugin in ("", "mysql_native_password"):
        # MySQL 4.1+ and MariaDB: '*' + upper hex of SHA1(SHA1(password)); empty for no password.
        expected = b"*" + hashlib.sha1(hashlib.sha1(secret).digest()).hexdigest().upper().encode() if secret else b""
        return hmac.compare_digest(expected, stored.upper())
    if plugin == "caching_sha2_password" and stored.startswith(b"$A$"):
        # MySQL 8: '$A$' + 3 hex digits (rounds / 1000) + '$' + 20-byte salt + 43-character SHA-256 crypt.
        try:
            rounds = int(stored[3:6], 16) * 1000
        except ValueError:
            return None
        salt, digest = stored[7:27], stored[27:]
        if stored[6:7] != b"$" or len(salt) != 20 or len(digest) != 43:
            return None
        return hmac.compare_digest(sha256_crypt(secret, salt, rounds), digest)
    return None


_CRYPT_ALPHABET = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sha256_crypt(password: bytes, salt: bytes, rounds: int) -> bytes:
    """The checksum part of SHA-256 crypt (Drepper, "Unix crypt using SHA-256 and SHA-512"), with
    the salt used whole: MySQL's caching_sha2_password stores it with a 20-byte salt."""

    def repeated(digest: bytes, length: int) -> bytes:
        return (digest * (length // len(digest) + 1))[:length]

    alternate = hashlib.sha256(password + salt + password).digest()
    context = hashlib.sha256(password + salt + repeated(alternate, len(password)))
    length = len(password)
    while length:
        context.update(alternate if length & 1 else password)
        length >>= 1
    intermediate = context.digest()
    password_sequence = repeated(hashlib.sha256(password * len(password)).digest(), len(password))
    salt_sequence = repeated(hashlib.sha256(salt * (16 + intermediate[0])).digest(), len(salt))
    for round_number in range(rounds):
        context = hashlib.sha256(password_sequence if round_number & 1 else intermediate)
        if round_number % 3:
            context.update(salt_sequence)
        if round_number % 7:
            context.update(password_sequence)
        context.update(intermediate if round_number & 1 else password_sequence)
        intermediate = context.digest()
    encoded = bytearray()
    index = 0
    for _ in range(10):
        value = (intermediate[index] << 16) | (intermediate[(index + 10) % 30] << 8) | intermediate[(index + 20) % 30]
        for _ in range(4):
            encoded.append(_CRYPT_ALPHABET[value & 0x3F])
            value >>= 6
        index = (index + 21) % 30
    value = (intermediate[31] << 8) | intermediate[30]
    for _ in range(3):
        encoded.append(_CRYPT_ALPHABET[value & 0x3F])
        value >>= 6
    return bytes(encoded)


def load_schema(connection: pymysql.connections.Connection, name: str, statements: Sequence[Statement],
                script_label: str) -> list[str]:
    """Create ``name`` if needed and bring the script's schema into it; returns what ran."""
    report = inspect_schema(connection, name, statements)
    actions: list[SqlAction] = []
    if not report.exists:
        sql = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name)} CHARACTER SET {DATABASE_CHARSET}"
        actions.append(SqlAction(sql, shown=sql))
    actions += load_actions(report, statements)
    run = DatabaseRun(connection, script_label, app_password="")
    run.run(actions)
    return run.done


# --- what to run ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SqlAction:
    """One statement to run; ``shown`` is the statement with parameters inlined and passwords masked."""

    sql: str
    params: tuple[str, ...] = ()
    shown: str = ""
    database: str | None = None
    statement: Statement | None = None


def load_actions(schema: SchemaReport, statements: Sequence[Statement]) -> list[SqlAction]:
    """The statements of the script still to run in ``schema``: everything for an empty database;
    for a partly loaded one only what creates a missing table, index or constraint (Carbon's
    CREATE INDEX and ALTER TABLE ... ADD CONSTRAINT fail when run twice)."""
    if schema.state == "loaded":
        return []
    fresh = schema.state in ("absent", "empty")
    actions = []
    for statement in statements:
        if fresh:
            wanted = True
        elif statement.kind == "create_table":
            wanted = statement.name.upper() in schema.missing_tables
        elif statement.kind in ("create_index", "add_index"):
            wanted = (statement.table.upper(), statement.name.upper()) in schema.missing_indexes
        elif statement.kind == "add_constraint":
            wanted = (statement.table.upper(), statement.name.upper()) in schema.missing_constraints
        else:
            wanted = False  # data or settings: only on a fresh load, never twice
        if wanted:
            actions.append(SqlAction(statement.text, shown=_one_line(statement.text), database=schema.database,
                                     statement=statement))
    return actions


def _one_line(text: str, limit: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def planned_actions(report: DatabaseReport, statements: Sequence[Statement]) -> list[SqlAction]:
    actions: list[SqlAction] = []
    for schema in report.schemas:
        if not schema.exists:
            sql = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(schema.database)} CHARACTER SET {DATABASE_CHARSET}"
            actions.append(SqlAction(sql, shown=sql))
        actions.extend(load_actions(schema, statements))
    user = report.user
    for host in report.missing_users:
        actions.append(SqlAction("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, "<password>"),
                                 shown=f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY {REDACTED}"))
    for host, database in report.missing_grants:
        quote_identifier(database)  # validates the name; the grant uses its escaped pattern
        pattern = f"`{grant_pattern(database)}`"
        sql = f"GRANT ALL PRIVILEGES ON {pattern}.* TO %s@%s"
        actions.append(SqlAction(sql, (user, host), shown=f"GRANT ALL PRIVILEGES ON {pattern}.* TO '{user}'@'{host}'"))
    return actions


# --- doing it ---------------------------------------------------------------------------------------------

@dataclass
class DatabaseRun:
    """Runs actions on an admin connection; stops at the first error with a clear message."""

    connection: pymysql.connections.Connection
    script_label: str
    app_password: str
    done: list[str] = field(default_factory=list)

    def run(self, actions: Sequence[SqlAction]) -> None:
        current_database: str | None = None
        with self.connection.cursor() as cursor:
            for action in actions:
                if action.database and action.database != current_database:
                    cursor.execute(f"USE {quote_identifier(action.database)}")
                    current_database = action.database
                params = tuple(self.app_password if value == "<password>" else value for value in action.params)
                try:
                    cursor.execute(action.sql, params or None)
                except pymysql.err.MySQLError as error:
                    raise self._failure(action, error) from None
                self.done.append(action.shown)

    def _failure(self, action: SqlAction, error: pymysql.err.MySQLError) -> DatabaseError:
        code = error.args[0] if error.args else None
        server_message = error.args[1] if len(error.args) > 1 else str(error)
        if action.statement is not None:
            statement = action.statement
            return DatabaseError(
                f"{self.script_label}: statement {statement.number} (line {statement.line}) failed in "
                f"{action.database}: {server_message}",
                "the next run completes the schema from where it stopped; if the script itself is wrong, "
                "use the distribution's own dbscripts/mysql.sql")
        if code in (1044, 1045, 1142, 1227, 1410) or "denied" in str(server_message).lower():
            return DatabaseError(
                f"the admin user may not do this: {action.shown}: {server_message}",
                "the admin account needs CREATE, CREATE USER and GRANT OPTION (for example "
                "GRANT ALL PRIVILEGES ON *.* TO admin WITH GRANT OPTION), or use one that has them")
        return DatabaseError(f"the database server refused: {action.shown}: {server_message}",
                             "fix the cause and run again; what was done so far stays and is not repeated")


def missing_admin_privileges(connection: pymysql.connections.Connection) -> list[str]:
    """Global privileges the admin needs but lacks: CREATE, CREATE USER, and GRANT OPTION."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES "
                       "WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
                       "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')")
        rows = cursor.fetchall()
    held = {privilege.upper() for privilege, _ in rows}
    grantable = any(is_grantable == "YES" for _, is_grantable in rows)
    missing = [privilege for privilege in ("CREATE", "CREATE USER") if privilege not in held]
    if not grantable:
        missing.append("GRANT OPTION")
    return missing


def read_script(path: Path) -> list[Statement]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise DatabaseError(f"cannot read {path}: {error.strerror}", "check the ESB home") from error
    return split_statements(text, source=str(path))


@contextlib.contextmanager
def admin_connection(access: AdminAccess) -> Iterator[AdminConnection]:
    """The admin connection (see ``open_admin``), closed on leaving."""
    admin = open_admin(access)
    try:
        yield admin
    finally:
        admin.connection.close()


@dataclass(frozen=True)
class AccessProblem:
    database: str
    message: str
    denied: bool  # the server refused the user (password or grant), as opposed to unreachable / empty
    error: DatabaseError | None = None  # the refusal, with what fixes it

    def __str__(self) -> str:
        return f"{self.database}: {self.message}"


def check_application_access(endpoint: Endpoint, user: str, password: str,
                             databases: Sequence[str]) -> list[AccessProblem]:
    """Connect as the nodes will, to each database; returns problems (empty when all is well)."""
    problems = []
    for name in databases:
        try:
            connection = connect(endpoint, user, password, database=name, role="application")
        except HostNotAllowed as error:
            # The server turns the address away before it looks at a database: one problem,
            # whose statements cover every database the nodes here use.
            return [AccessProblem(", ".join(databases), error.message, denied=True,
                                  error=error.for_databases(databases))]
        except DatabaseError as error:
            problems.append(AccessProblem(name, error.message, denied=isinstance(error, PasswordRefused),
                                          error=error))
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
                (count,) = cursor.fetchone()
            if not count:
                problems.append(AccessProblem(name, "reachable but holds no tables: run the database step on the "
                                              "database server first", denied=False))
        finally:
            connection.close()
    return problems


def access_error(problems: Sequence[AccessProblem], *, database_server: str, plan_address: str) -> DatabaseError:
    """The error for the problems of ``check_application_access`` on a server that is not the
    database server: the hint names what fixes the first refusal, there or here."""
    message = "the nodes of this server could not reach their databases:\n  " + "\n  ".join(map(str, problems))
    run_there = Remedy(RUN_STEP, step="database", server=database_server)
    refusal = next((problem.error for problem in problems if problem.denied), None)
    if isinstance(refusal, HostNotAllowed):
        if refusal.address == plan_address:
            return DatabaseError(message, f"{refusal.hint}; or run the database step on {database_server} again: it "
                                 "creates the account for every plan server's address", remedy=run_there)
        # Not the plan's address (NAT, another interface): the database step cannot know it.
        return DatabaseError(message, f"{refusal.hint}; the database server sees this server as {refusal.address}, "
                             f"not as its plan address {plan_address}")
    if isinstance(refusal, PasswordRefused):
        return DatabaseError(message, f"give the password the database step on {database_server} set; if it has not "
                             f"run yet, run the database step on {database_server} first, then run again here",
                             remedy=refusal.remedy)
    unreachable = next((problem.error for problem in problems if isinstance(problem.error, DatabaseUnreachable)), None)
    if unreachable is not None:
        return DatabaseError(message, unreachable.hint)  # running the step elsewhere would not help
    return DatabaseError(message, f"run the database step on {database_server} first, then run again here",
                         remedy=run_there)


def set_password_actions(user: str, hosts: Sequence[str]) -> list[SqlAction]:
    """ALTER USER for accounts that exist with another password (only with --force)."""
    return [SqlAction("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, "<password>"),
                      shown=f"ALTER USER '{user}'@'{host}' IDENTIFIED BY {REDACTED}") for host in hosts]


@dataclass(frozen=True)
class Probe:
    """One connection attempt, as the nodes of a server will make it: connected (with the
    server's version), or the error an operator can act on."""

    ok: bool
    message: str
    error: DatabaseError | None = None


def probe_database(address: str, port: int, bind_address: str | None, user: str, password: str, *,
                   role: str) -> Probe:
    """Connect once as ``user`` with the client socket bound to ``bind_address`` (this server's
    plan address), ask the server's version, and close."""
    try:
        connection = connect(Endpoint(address, port, bind_address=bind_address), user, password, role=role)
    except DatabaseError as error:
        return Probe(False, error.message, error)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            (version,) = cursor.fetchone()
    finally:
        connection.close()
    source = f" from {bind_address}" if bind_address else ""
    return Probe(True, f"connected to {address}:{port}{source} (server {version})")
