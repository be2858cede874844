"""A real, throwaway MariaDB server for the test suite (no mocks of the database anywhere).

``MariaDBServer`` initialises a datadir in a short folder under /tmp, starts ``mariadbd`` on a free
TCP port with its own socket, pid file and error log, and creates an admin account that may log in
over TCP from any 127.0.0.x address. Tests play several cluster servers on one machine by binding
their client sockets to 127.0.0.2, 127.0.0.3, ...; the server runs with ``--skip-name-resolve`` so
grants written for those addresses match them exactly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import pymysql
import pymysql.connections
import pymysql.cursors

# Where Debian and other distributions put the server binary when it is not on PATH.
SERVER_PROGRAM_DIRS = (Path("/usr/sbin"), Path("/usr/libexec"), Path("/usr/local/sbin"))

# Databases and accounts that belong to the server itself, never to a test.
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

LOOPBACK_ADDRESS = "127.0.0.1"


class MariaDBNotInstalled(RuntimeError):
    """The MariaDB server programs are missing: the suite cannot run its database tests."""


class MariaDBStartError(RuntimeError):
    """mariadb-install-db or mariadbd failed; the message carries the tail of their output."""


def find_mariadb_program(name: str, *, search_path: str | None = None,
                         extra_dirs: Iterable[Path] = SERVER_PROGRAM_DIRS) -> Path:
    """The path of ``name`` on ``search_path`` (default: $PATH) or in ``extra_dirs``.

    Raises ``MariaDBNotInstalled`` telling how to install it: the database tests must fail
    loudly rather than skip, or a machine without MariaDB would pass the suite untested.
    """
    found = shutil.which(name, path=search_path if search_path is not None else os.environ.get("PATH"))
    if found:
        return Path(found)
    for folder in extra_dirs:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked_in = ", ".join(["PATH", *(str(folder) for folder in extra_dirs)])
    raise MariaDBNotInstalled(
        f"{name} was not found (looked in {looked_in}). The test suite runs its own MariaDB server: "
        "run ./dev test, which installs the mariadb-server package."
    )


def _free_tcp_port() -> int:
    # mariadbd binds 0.0.0.0, so ask the kernel for a port that is free on every address.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process is killed outright (no finalizers run),
    # the kernel kills mariadbd too instead of leaving it behind holding a port. The signal
    # follows the *thread* that started the server, so start it from a long-lived thread.
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MariaDBServer:
    """One private mariadbd: ``start()`` (or ``with MariaDBServer() as server:``) and ``stop()``.

    After ``start()``: ``host`` and ``port`` for TCP clients, ``socket`` for the unix socket,
    ``admin_user``/``admin_password`` for the account allowed from ``admin_host`` (every 127.0.0.x),
    and ``connect()`` for a pymysql connection.
    """

    host = LOOPBACK_ADDRESS
    admin_user = "root"
    admin_host = "127.0.0.%"

    def __init__(self, *, startup_timeout: float = 30.0, stop_timeout: float = 30.0,
                 extra_server_options: Sequence[str] = (), admin_user: str | None = None) -> None:
        """``extra_server_options`` go to mariadbd after ours (the last of a repeated one wins).
        ``admin_user``: another name for the TCP admin than root, so that a test may have a
        root account that logs in only through the socket (root@localhost is left as
        mariadb-install-db made it: no password)."""
        if admin_user is not None:
            self.admin_user = admin_user
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_server_options = tuple(extra_server_options)
        # Random per server and only ever sent over the socket in SQL, never put on a command line
        # (visible in /proc/<pid>/cmdline) nor printed: see __repr__.
        self._admin_password = secrets.token_urlsafe(24)
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._baseline_databases: frozenset[str] = frozenset()
        self._baseline_accounts: frozenset[tuple[str, str]] = frozenset()
        self.startup_seconds: float | None = None

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return f"MariaDBServer({state}, admin={self.admin_user}@{self.admin_host})"

    # --- where things are -------------------------------------------------------------------------

    @property
    def admin_password(self) -> str:
        return self._admin_password

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the MariaDB server is not started")
        return self._port

    @property
    def root(self) -> Path:
        """The temporary folder holding datadir, socket, pid file and logs."""
        if self._root is None:
            raise RuntimeError("the MariaDB server is not started")
        return self._root

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def error_log(self) -> Path:
        return self.root / "mariadbd.err"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the MariaDB server is not started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> MariaDBServer:
        """Initialise a datadir, start mariadbd and create the admin account; returns ``self``."""
        if self._process is not None:
            raise RuntimeError("the MariaDB server is already started")
        server_program = find_mariadb_program("mariadbd")
        install_program = find_mariadb_program("mariadb-install-db")
        began = time.monotonic()
        # Unix socket paths are limited to 108 bytes, so everything lives in a short /tmp folder
        # rather than under pytest's (long) tmp_path.
        self._root = Path(tempfile.mkdtemp(prefix="mdb-", dir="/tmp"))
        try:
            self._install_datadir(install_program)
            self._start_server(server_program)
            self._create_admin()
            self._baseline_databases = frozenset(self._databases())
            self._baseline_accounts = frozenset((user, host) for user, host, _ in self._accounts())
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Shut the server down (SIGTERM, then SIGKILL after ``stop_timeout``); remove its folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self._port = None

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # --- clients ----------------------------------------------------------------------------------

    def connect(self, user: str | None = None, password: str | None = None, database: str | None = None,
                bind_address: str | None = None, *, autocommit: bool = True,
                connect_timeout: float = 10) -> pymysql.connections.Connection:
        """A TCP connection to the server; with no ``user``, as the admin.

        ``bind_address`` picks the client's source address (127.0.0.2, ...), which is what the
        server matches grants against. An explicit ``user`` without ``password`` sends none.
        """
        if user is None:
            user = self.admin_user
            if password is None:
                password = self._admin_password
        return pymysql.connect(host=self.host, port=self.port, user=user, password=password or "",
                               database=database, bind_address=bind_address, autocommit=autocommit,
                               connect_timeout=connect_timeout)

    def reset(self) -> None:
        """Drop every database and account created since startup and end every other session,
        so a test never sees another test's leftovers."""
        with self.connect() as connection, connection.cursor() as cursor:
            # A leftover session holding a metadata lock would make DROP DATABASE wait forever.
            cursor.execute("SET SESSION lock_wait_timeout = 10")
            cursor.execute(
                "SELECT id FROM information_schema.processlist"
                " WHERE id <> CONNECTION_ID() AND command NOT IN ('Daemon', 'Killed')"
            )
            for (session_id,) in cursor.fetchall():
                with contextlib.suppress(pymysql.err.OperationalError, pymysql.err.InternalError):
                    cursor.execute(f"KILL {int(session_id)}")  # it may have ended meanwhile
            for name in self._databases(cursor):
                if name not in self._baseline_databases:
                    cursor.execute(f"DROP DATABASE {_quote_identifier(name)}")
            for user, host, is_role in self._accounts(cursor):
                if (user, host) in self._baseline_accounts:
                    continue
                if is_role:
                    cursor.execute("DROP ROLE %s", (user,))
                else:
                    cursor.execute("DROP USER %s@%s", (user, host))

    # --- internals --------------------------------------------------------------------------------

    def _user_option(self) -> list[str]:
        # mariadbd refuses to run as root unless told to; as anyone else it runs as that user.
        return ["--user=root"] if os.geteuid() == 0 else []

    def _install_datadir(self, install_program: Path) -> None:
        command = [
            str(install_program), "--no-defaults", f"--datadir={self.datadir}",
            # normal: root@localhost logs in through the socket with no password, whoever we are.
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            # No root@<hostname> account and no DNS lookup of this machine's name.
            "--skip-name-resolve",
            *self._user_option(),
        ]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, cwd=self.root)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode("utf-8", "replace")[-4000:]
            raise MariaDBStartError(f"mariadb-install-db failed (exit {result.returncode}):\n{output}")

    def _server_command(self, server_program: Path, port: int) -> list[str]:
        return [
            str(server_program), "--no-defaults",  # --no-defaults must come first
            *self._user_option(),
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--pid-file={self.root / 'mariadbd.pid'}",
            f"--log-error={self.error_log}",
            f"--tmpdir={self.root}",
            f"--port={port}",
            # Every 127.0.0.x must reach the server: a test plan may give the database server any
            # loopback address. The accounts only admit 127.0.0.x (and localhost via the socket).
            "--bind-address=0.0.0.0",
            # Grants by IP must match client addresses as they are, never via reverse DNS.
            "--skip-name-resolve",
            # What Debian's mariadb-server package configures, so the suite sees what users get.
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
            # A throwaway server: durability is not worth the fsyncs the installer's DDL would cost.
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--innodb-buffer-pool-size=64M",
            *self.extra_server_options,
        ]

    def _start_server(self, server_program: Path, attempts: int = 3) -> None:
        # The free port can be taken between probing and mariadbd binding it: try another one.
        for attempt in range(attempts):
            port = _free_tcp_port()
            console_log = self.root / "mariadbd.out"
            with console_log.open("ab") as console:
                self._process = subprocess.Popen(
                    self._server_command(server_program, port), stdin=subprocess.DEVNULL,
                    stdout=console, stderr=subprocess.STDOUT, cwd=self.root,
                    preexec_fn=_die_with_parent,
                )
            self._port = port
            if self._wait_until_ready():
                return
            log = _tail(self.error_log) + _tail(console_log, 1000)
            if self._process.poll() is not None and "Address already in use" in log and attempt + 1 < attempts:
                self.error_log.unlink(missing_ok=True)
                continue
            exit_code = self._process.poll()
            self._kill_process()
            what = (f"mariadbd exited with code {exit_code}" if exit_code is not None
                    else f"mariadbd did not accept connections within {self.startup_timeout:.0f}s")
            raise MariaDBStartError(f"{what} (port {port}). Tail of its log:\n{log}")

    def _kill_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self.socket.exists():
                try:
                    self._socket_root_connection().close()
                    return True
                except pymysql.err.OperationalError:
                    pass  # the socket file exists slightly before the server accepts on it
            time.sleep(0.05)
        return False

    def _socket_root_connection(self) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="",
                               autocommit=True, connect_timeout=5)

    def _create_admin(self) -> None:
        with self._socket_root_connection() as connection, connection.cursor() as cursor:
            # mariadb-install-db also creates password-less root@127.0.0.1 and root@::1. Being more
            # specific than the admin's 127.0.0.%, root@127.0.0.1 would win for clients on
            # 127.0.0.1 and refuse the admin's password; and the server listens on 0.0.0.0.
            for user, host, _ in self._accounts(cursor):
                if user == "root" and host != "localhost":
                    cursor.execute("DROP USER %s@%s", (user, host))
            cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s",
                           (self.admin_user, self.admin_host, self._admin_password))
            cursor.execute("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION",
                           (self.admin_user, self.admin_host))

    def _databases(self, cursor: pymysql.cursors.Cursor | None = None) -> list[str]:
        if cursor is None:
            with self.connect() as connection, connection.cursor() as own_cursor:
                return self._databases(own_cursor)
        cursor.execute("SHOW DATABASES")
        return [name for (name,) in cursor.fetchall() if name.lower() not in SYSTEM_DATABASES]

    def _accounts(self, cursor: pymysql.cursors.Cursor | None = None) -> Sequence[tuple[str, str, bool]]:
        """(user, host, is a role) for every account and role."""
        if cursor is None:
            with self.connect() as connection, connection.cursor() as own_cursor:
                return self._accounts(own_cursor)
        cursor.execute("SELECT User, Host, is_role FROM mysql.user")
        return [(user, host, is_role == "Y") for user, host, is_role in cursor.fetchall()]
