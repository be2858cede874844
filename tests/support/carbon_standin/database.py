"""The datasources of master-datasources.xml, opened the way an ESB node opens them at start-up.

For every RDBMS datasource with a ``jdbc:mysql:`` URL, in file order:

1. the JDBC driver class must be in a jar under ``repository/components/lib`` (Carbon's class
   path for third-party jars), else ``java.lang.ClassNotFoundException: com.mysql.jdbc.Driver``;
2. the URL's host is resolved through the server's hosts file and must be a loopback address
   (the stand-in never connects elsewhere); the client socket is bound to the node's
   ``localMemberHost``, so MySQL sees the address the grants were written for;
3. a connection with the datasource's user and password: MySQL's refusal is reported as
   Connector/J reports it (``Access denied for user 'regadmin'@'127.0.0.3' (using password: YES)``,
   ``Communications link failure``, ``Unknown database``);
4. the registry and user-manager tables must exist (the registry reads ``REG_PATH`` and the user
   store ``UM_USER`` as soon as they start). With ``-Dsetup`` missing tables are created from the
   home's ``dbscripts/mysql.sql``, the whole script, as Carbon's DatabaseCreator does; without it,
   MySQL's ``Table 'REGISTRY_LOCAL2.REG_PATH' doesn't exist`` ends the start.

The embedded H2 datasource of an unconfigured pack (``jdbc:h2:``) needs nothing and is skipped.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pymysql.connections

from tests.support.carbon_standin.config import DatasourceConfig, HostResolver, UnknownHost, is_loopback
from tests.support.carbon_standin.errors import StartupFailure, java_exception
from tests.support.carbon_standin.logs import CarbonLog

COMPONENTS_LIB = "repository/components/lib"
MYSQL_SCRIPT = "dbscripts/mysql.sql"
# A table each schema is read from at start-up: the registry's paths, the user store's users.
REQUIRED_TABLES = ("REG_PATH", "UM_USER")
CONNECT_TIMEOUT = 5

_DATABASE_UTIL = "org.wso2.carbon.user.core.util.DatabaseUtil"
_CONNECTION_POOL = "org.apache.tomcat.jdbc.pool.ConnectionPool"
_REGISTRY_COMPONENT = "org.wso2.carbon.registry.core.internal.RegistryCoreServiceComponent"
_DATABASE_CREATOR = "org.wso2.carbon.utils.dbcreator.DatabaseCreator"

_MYSQL_URL = re.compile(r"^jdbc:mysql://(?P<host>[^/:?]+)(?::(?P<port>\d+))?/(?P<database>[^?;]*)")

# Connector/J's frames under a failed connection attempt.
_CONNECT_FRAMES = (
    "com.mysql.jdbc.SQLError.createSQLException(SQLError.java:1073)",
    "com.mysql.jdbc.MysqlIO.checkErrorPacket(MysqlIO.java:3609)",
    "com.mysql.jdbc.MysqlIO.doHandshake(MysqlIO.java:1161)",
    "com.mysql.jdbc.ConnectionImpl.coreConnect(ConnectionImpl.java:2227)",
    "com.mysql.jdbc.ConnectionImpl.connectOneTryOnly(ConnectionImpl.java:2260)",
    "com.mysql.jdbc.NonRegisteringDriver.connect(NonRegisteringDriver.java:317)",
    "org.apache.tomcat.jdbc.pool.PooledConnection.connectUsingDriver(PooledConnection.java:278)",
    "org.apache.tomcat.jdbc.pool.ConnectionPool.createConnection(ConnectionPool.java:626)",
)


@dataclass(frozen=True)
class MysqlUrl:
    host: str
    port: int
    database: str


def parse_mysql_url(url: str) -> MysqlUrl | None:
    match = _MYSQL_URL.match(url.strip())
    if match is None:
        return None
    return MysqlUrl(match["host"], int(match["port"] or 3306), match["database"])


def driver_jars_with(home: Path, driver_class: str) -> list[Path]:
    """The jars in repository/components/lib that contain ``driver_class``."""
    entry = driver_class.replace(".", "/") + ".class"
    found = []
    for jar in sorted((home / COMPONENTS_LIB).glob("*.jar")):
        try:
            with zipfile.ZipFile(jar) as archive:
                if entry in archive.namelist():
                    found.append(jar)
        except (OSError, zipfile.BadZipFile):
            continue  # Carbon skips a jar it cannot open
    return found


def split_sql_script(text: str) -> Iterator[str]:
    """Statements of a script ending in ``;``: comments dropped, quoted text kept whole."""
    statement: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in "'\"`":
            end = index + 1
            while end < length and text[end] != char:
                end += 2 if text[end] == "\\" and char != "`" else 1
            statement.append(text[index:end + 1])
            index = end + 1
        elif char == "#" or (text.startswith("--", index) and (index + 2 == length or text[index + 2].isspace())):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = length if close < 0 else close + 2
            statement.append(" ")
        elif char == ";":
            sql = "".join(statement).strip()
            if sql:
                yield sql
            statement = []
            index += 1
        else:
            statement.append(char)
            index += 1
    sql = "".join(statement).strip()
    if sql:
        yield sql


def _sql_exception(error: pymysql.err.MySQLError) -> tuple[str, str]:
    """(Java exception class, message) Connector/J 5.1 would raise for a server error."""
    code = error.args[0] if error.args else 0
    message = str(error.args[1]) if len(error.args) > 1 else str(error)
    if code in (1044, 1045):
        return "java.sql.SQLException", message
    if code in (1049, 1146):
        return "com.mysql.jdbc.exceptions.jdbc4.MySQLSyntaxErrorException", message
    return "java.sql.SQLException", message


class DatasourceChecker:
    """Opens each MySQL datasource of a node, as its registry and user manager would at start-up."""

    def __init__(self, home: Path, *, log: CarbonLog, resolver: HostResolver, bind_address: str,
                 setup: bool) -> None:
        self.home = home
        self.log = log
        self.resolver = resolver
        self.bind_address = bind_address
        self.setup = setup

    def check_all(self, datasources: tuple[DatasourceConfig, ...]) -> None:
        """Raises :class:`StartupFailure` at the first datasource Carbon could not use."""
        for datasource in datasources:
            if (datasource.definition_type or "RDBMS").upper() != "RDBMS":
                continue
            url = datasource.url or ""
            if url.startswith("jdbc:mysql:"):
                self._check(datasource, url)

    def _check(self, datasource: DatasourceConfig, url: str) -> None:
        driver_class = datasource.driver_class or "com.mysql.jdbc.Driver"
        if not driver_jars_with(self.home, driver_class):
            raise StartupFailure(_CONNECTION_POOL, "Unable to create initial connections of pool.", java_exception(
                "java.lang.ClassNotFoundException", driver_class, [
                    "java.net.URLClassLoader$1.run(URLClassLoader.java:366)",
                    "java.lang.ClassLoader.loadClass(ClassLoader.java:358)",
                    "org.apache.tomcat.jdbc.pool.PooledConnection.connectUsingDriver(PooledConnection.java:246)",
                ]))
        target = parse_mysql_url(url)
        if target is None:
            raise StartupFailure(_DATABASE_UTIL, f"Database Error - invalid URL of datasource {datasource.name}",
                                 java_exception("java.sql.SQLException", f"No suitable driver found for {url}"))
        try:
            address = self.resolver.resolve(target.host)
        except UnknownHost:
            raise StartupFailure(_DATABASE_UTIL, "Database Error - Communications link failure", java_exception(
                "com.mysql.jdbc.exceptions.jdbc4.CommunicationsException", "Communications link failure\n\n"
                "The last packet sent successfully to the server was 0 milliseconds ago. "
                "The driver has not received any packets from the server.", _CONNECT_FRAMES[3:],
                caused_by=java_exception("java.net.UnknownHostException", target.host))) from None
        if not is_loopback(address):
            # Never leave the machine: a datasource pointing elsewhere is refused, not tried.
            raise StartupFailure(_DATABASE_UTIL, f"Database Error - refusing to connect datasource {datasource.name} "
                                 f"to {target.host} ({address}): the Carbon stand-in only connects to loopback "
                                 "addresses", java_exception("java.net.ConnectException", "Connection refused"))
        connection = self._connect(datasource, target, address)
        try:
            self._check_tables(datasource, target, connection)
        finally:
            connection.close()

    def _connect(self, datasource: DatasourceConfig, target: MysqlUrl,
                 address: str) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(host=address, port=target.port, user=datasource.username or "",
                                   password=datasource.password or "", database=target.database or None,
                                   bind_address=self.bind_address, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except pymysql.err.OperationalError as error:
            code = error.args[0] if error.args else 0
            if not isinstance(code, int) or code >= 2000:  # a client-side error: no server answered
                raise StartupFailure(_DATABASE_UTIL, "Database Error - Communications link failure", java_exception(
                    "com.mysql.jdbc.exceptions.jdbc4.CommunicationsException", "Communications link failure\n\n"
                    "The last packet sent successfully to the server was 0 milliseconds ago. "
                    "The driver has not received any packets from the server.", _CONNECT_FRAMES[3:],
                    caused_by=java_exception("java.net.ConnectException", "Connection refused", [
                        "java.net.PlainSocketImpl.socketConnect(Native Method)",
                        "java.net.Socket.connect(Socket.java:579)",
                    ]))) from None
            kind, message = _sql_exception(error)
            raise StartupFailure(_DATABASE_UTIL, f"Database Error - {message}",
                                 java_exception(kind, message, _CONNECT_FRAMES)) from None
        except pymysql.err.MySQLError as error:
            kind, message = _sql_exception(error)
            raise StartupFailure(_DATABASE_UTIL, f"Database Error - {message}",
                                 java_exception(kind, message, _CONNECT_FRAMES)) from None

    def _missing_table_error(self, connection: pymysql.connections.Connection) -> pymysql.err.MySQLError | None:
        for table in REQUIRED_TABLES:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
                    cursor.fetchall()
            except pymysql.err.MySQLError as error:
                return error
        return None

    def _check_tables(self, datasource: DatasourceConfig, target: MysqlUrl,
                      connection: pymysql.connections.Connection) -> None:
        problem = self._missing_table_error(connection)
        if self.setup:
            if problem is None:
                self.log.info(_DATABASE_CREATOR, f"Registry and user manager tables of {target.database} "
                                                 "already exist: -Dsetup leaves them as they are")
                return
            self._create_tables(target, connection)
            problem = self._missing_table_error(connection)
        if problem is not None:
            kind, message = _sql_exception(problem)
            raise StartupFailure(_REGISTRY_COMPONENT, "Failed to activate Registry Core bundle", java_exception(
                "org.wso2.carbon.registry.core.exceptions.RegistryException",
                f"Failed to read the root path of datasource {datasource.name}.", [
                    "org.wso2.carbon.registry.core.jdbc.dao.JDBCPathCache.getPathID(JDBCPathCache.java:195)",
                    "org.wso2.carbon.registry.core.jdbc.EmbeddedRegistry.init(EmbeddedRegistry.java:183)",
                ], caused_by=java_exception(kind, message, [
                    "com.mysql.jdbc.SQLError.createSQLException(SQLError.java:1052)",
                    "com.mysql.jdbc.MysqlIO.checkErrorPacket(MysqlIO.java:3609)",
                ])))

    def _create_tables(self, target: MysqlUrl, connection: pymysql.connections.Connection) -> None:
        script = self.home / MYSQL_SCRIPT
        self.log.info(_DATABASE_CREATOR, f"Creating registry and user manager tables in {target.database} "
                                         f"from {script} (-Dsetup)")
        try:
            statements = list(split_sql_script(script.read_text(encoding="utf-8", errors="replace")))
        except OSError as error:
            raise StartupFailure(_DATABASE_CREATOR, "Error occurred while creating the database tables",
                                 java_exception("java.io.FileNotFoundException",
                                                f"{script} ({error.strerror})")) from None
        for statement in statements:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(statement)
            except pymysql.err.MySQLError as error:
                kind, message = _sql_exception(error)
                raise StartupFailure(_DATABASE_CREATOR, "Error occurred while executing SQL script for creating "
                                     f"the database tables of {target.database}",
                                     java_exception(kind, message)) from None
        self.log.info(_DATABASE_CREATOR, f"Registry and user manager tables are created in {target.database}")
