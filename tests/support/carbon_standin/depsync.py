"""Carbon 4.1's deployment synchronizer (carbon.xml ``<DeploymentSynchronizer>``), for the artefacts
the stand-in deploys: ``repository/deployment/server/synapse-configs/default/proxy-services/*.xml``.

``commit()`` (AutoCommit) puts the node's new, changed and removed files into the repository;
``update()`` (AutoCheckout) brings the repository's into the node's folder. Each node keeps, as
svn and the registry checkout keep meta files, what it last committed or checked out
(``repository/deployment/server/.standin-depsync.json``): a file is committed when it differs from
that, and a checked-out file whose repository copy is gone is removed.

Where the repository lives is read the way Carbon reads it:

* ``registry`` (``<RepositoryType>`` absent or ``registry``): the config registry, at
  ``/_system/config/repository/deployment/server``. registry.xml's mount of ``/_system/config``
  (``<mount path="/_system/config"><instanceId>`` -> ``<remoteInstance><dbConfig>`` ->
  ``<dbConfig><dataSource>`` -> master-datasources.xml's JNDI name) puts it in that database under
  the mount's ``targetPath`` instead of the node's own registry database: only nodes that mount the
  same database and target path share artefacts. A MySQL registry database holds them as Carbon's
  JDBC registry does, in the tables of dbscripts/mysql.sql (``REG_PATH``, ``REG_RESOURCE``,
  ``REG_CONTENT``: see :class:`RegistryStore`) and in no table of the stand-in's own, so the
  installer's schema check finds nothing there that Carbon's script did not create; an embedded
  (H2) registry is a folder of the node's own, which no other node reads. A read-only remote
  instance refuses commits.
* ``svn``: ``<SvnUrl>`` must be a ``file://`` URL (there is no svn server on loopback to talk to):
  a folder holding the files, ``-1234`` appended when ``<SvnUrlAppendTenantId>`` is true.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import pymysql
import pymysql.connections
import pymysql.cursors

from tests.support.carbon_standin.config import (
    CONFIG_REGISTRY_PATH,
    DatasourceConfig,
    DeploymentSynchronizerConfig,
    HostResolver,
    RegistryConfig,
    UnknownHost,
    is_loopback,
)
from tests.support.carbon_standin.database import CONNECT_TIMEOUT, parse_mysql_url
from tests.support.carbon_standin.errors import java_exception
from tests.support.carbon_standin.logs import CarbonLog

DEPLOYMENT_REPOSITORY = "repository/deployment/server"
PROXY_SERVICES = "synapse-configs/default/proxy-services"  # inside DEPLOYMENT_REPOSITORY
STATE_FILE = ".standin-depsync.json"  # inside DEPLOYMENT_REPOSITORY
PRIVATE_REGISTRY = "repository/database/standin-depsync-registry"
SUPER_TENANT_ID = -1234  # MultitenantConstants.SUPER_TENANT_ID: the registry's REG_TENANT_ID for it
SUPER_TENANT_DOMAIN = "carbon.super"
# The config system registry DepSync writes through runs as CarbonConstants.REGISTRY_SYSTEM_USERNAME.
REGISTRY_USER = "wso2.system.user"
MEDIA_TYPE = "application/xml"
LOCK_TIMEOUT = 50  # seconds, as InnoDB's innodb_lock_wait_timeout

_SYNCHRONIZER_COMPONENT = "org.wso2.carbon.deployment.synchronizer.internal.DeploymentSynchronizerServiceComponent"


class SynchronizerError(Exception):
    """A commit or update that failed: ``exception`` holds the Java lines Carbon prints with it."""

    def __init__(self, exception: list[str]) -> None:
        super().__init__(exception[0] if exception else "")
        self.exception = exception


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Whole or not at all: the hot deployer polling the folder never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden name without the .xml suffix: no deployer picks the temporary file up.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
            output.flush()
            os.fsync(output.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------


class ArtifactStore(Protocol):
    description: str

    def read(self) -> dict[str, tuple[int, bytes]]:
        """Every artefact: path relative to repository/deployment/server -> (revision, content)."""
        ...

    def write(self, changed: dict[str, bytes], removed: set[str]) -> dict[str, int]:
        """Store ``changed`` and drop ``removed`` at once; the new revision of each changed path."""
        ...


class DirectoryStore:
    """Artefacts as files under ``root`` (an svn ``file://`` repository, or an embedded registry)."""

    _REVISIONS = ".standin-revisions.json"

    def __init__(self, root: Path, description: str) -> None:
        self.root = root
        self.description = description

    def _revisions(self) -> dict[str, int]:
        try:
            data = json.loads((self.root / self._REVISIONS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(key): int(value) for key, value in data.items()} if isinstance(data, dict) else {}

    def read(self) -> dict[str, tuple[int, bytes]]:
        found = {}
        for relative, revision in self._revisions().items():
            with contextlib.suppress(OSError):
                found[relative] = (revision, (self.root / relative).read_bytes())
        return found

    def write(self, changed: dict[str, bytes], removed: set[str]) -> dict[str, int]:
        revisions = self._revisions()
        revision = max(revisions.values(), default=0) + 1
        try:
            for relative, data in changed.items():
                write_atomically(self.root / relative, data)
                revisions[relative] = revision
            for relative in removed:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / relative).unlink()
                revisions.pop(relative, None)
            write_atomically(self.root / self._REVISIONS, json.dumps(revisions, indent=1).encode())
        except OSError as error:
            raise SynchronizerError(java_exception(
                "org.wso2.carbon.deployment.synchronizer.DeploymentSynchronizerException",
                f"Error while committing artifacts to {self.description}",
                caused_by=java_exception("java.io.IOException", str(error)))) from None
        return dict.fromkeys(changed, revision)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ancestors(path: str) -> list[str]:
    """``path`` and the collections above it, root first: /a/b -> ["/", "/a", "/a/b"]."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:count]) for count in range(1, len(parts) + 1)]


class RegistryStore:
    """The config registry in a MySQL database, kept as Carbon's JDBC registry keeps it, in the
    tables of dbscripts/mysql.sql, for the super tenant (``REG_TENANT_ID`` -1234):

    * a ``REG_PATH`` row per collection (``REG_PATH_VALUE`` its path, ``REG_PATH_PARENT_ID`` the
      parent's id, none for ``/``) and the collection's own ``REG_RESOURCE`` row (``REG_NAME`` NULL);
    * per artefact a ``REG_RESOURCE`` row in its collection (``REG_PATH_ID``, ``REG_NAME`` the file
      name) pointing at a ``REG_CONTENT`` row with the file's bytes.

    A change is written as Carbon writes a resource anew with versioning off: the old rows are
    deleted and new ones added, creator and creation time kept, so the AUTO_INCREMENT
    ``REG_VERSION`` grows. That version is the revision the synchronizer compares."""

    def __init__(self, datasource: DatasourceConfig, registry_path: str, *, read_only: bool,
                 resolver: HostResolver, bind_address: str) -> None:
        self.datasource = datasource
        self.registry_path = registry_path.rstrip("/")
        self.read_only = read_only
        self.resolver = resolver
        self.bind_address = bind_address
        target = parse_mysql_url(datasource.url or "")
        self.description = (f"the registry at {self.registry_path} in "
                            f"{target.database if target else datasource.url} ({datasource.name})")

    def _connect(self) -> pymysql.connections.Connection:
        target = parse_mysql_url(self.datasource.url or "")
        if target is None:
            raise SynchronizerError(java_exception("java.sql.SQLException",
                                                   f"No suitable driver found for {self.datasource.url}"))
        try:
            address = self.resolver.resolve(target.host)
        except UnknownHost:
            raise SynchronizerError(java_exception("java.net.UnknownHostException", target.host)) from None
        if not is_loopback(address):
            raise SynchronizerError(java_exception(
                "java.net.ConnectException", f"Connection refused: the Carbon stand-in only connects to loopback "
                                             f"addresses, not {target.host} ({address})"))
        try:
            return pymysql.connect(host=address, port=target.port, user=self.datasource.username or "",
                                   password=self.datasource.password or "", database=target.database or None,
                                   bind_address=self.bind_address, connect_timeout=CONNECT_TIMEOUT)
        except pymysql.err.MySQLError as error:
            raise SynchronizerError(java_exception("java.sql.SQLException", _mysql_message(error))) from None

    def read(self) -> dict[str, tuple[int, bytes]]:
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                # One statement: one consistent snapshot, before or after any commit, never inside one.
                cursor.execute(
                    "SELECT P.REG_PATH_VALUE, R.REG_NAME, R.REG_VERSION, C.REG_CONTENT_DATA "
                    "FROM REG_RESOURCE R JOIN REG_PATH P "
                    "ON P.REG_PATH_ID = R.REG_PATH_ID AND P.REG_TENANT_ID = R.REG_TENANT_ID "
                    "LEFT JOIN REG_CONTENT C "
                    "ON C.REG_CONTENT_ID = R.REG_CONTENT_ID AND C.REG_TENANT_ID = R.REG_TENANT_ID "
                    "WHERE R.REG_TENANT_ID = %s AND R.REG_NAME IS NOT NULL "
                    "AND (P.REG_PATH_VALUE = %s OR P.REG_PATH_VALUE LIKE %s)",
                    (SUPER_TENANT_ID, self.registry_path, _escape_like(self.registry_path + "/") + "%"))
                rows = cursor.fetchall()
        except pymysql.err.MySQLError as error:
            raise SynchronizerError(java_exception("java.sql.SQLException", _mysql_message(error))) from None
        finally:
            connection.close()
        found = {}
        for collection, name, version, content in rows:
            folder = str(collection)[len(self.registry_path) + 1:]
            found[f"{folder}/{name}" if folder else str(name)] = (int(version), bytes(content or b""))
        return found

    def write(self, changed: dict[str, bytes], removed: set[str]) -> dict[str, int]:
        if self.read_only:
            # What the registry says when a node writes through a read-only remote instance.
            raise SynchronizerError(java_exception(
                "org.wso2.carbon.registry.core.exceptions.RegistryException",
                "Write operations are not permitted in read only mode.", [
                    "org.wso2.carbon.registry.core.jdbc.EmbeddedRegistry.put(EmbeddedRegistry.java:679)",
                    "org.wso2.carbon.deployment.synchronizer.registry.RegistryBasedArtifactRepository.commit"
                    "(RegistryBasedArtifactRepository.java:95)",
                ]))
        connection = self._connect()
        revisions: dict[str, int] = {}
        try:
            with connection.cursor() as cursor:
                self._lock(cursor)
                connection.begin()  # after the lock: this transaction sees the previous commit whole
                collections: dict[str, int] = {}
                for relative, data in changed.items():
                    folder, name = posixpath.split(f"{self.registry_path}/{relative}")
                    path_id = self._collection(cursor, folder, collections)
                    creator, created = self._delete_resource(cursor, path_id, name)
                    cursor.execute("INSERT INTO REG_CONTENT (REG_CONTENT_DATA, REG_TENANT_ID) VALUES (%s, %s)",
                                   (data, SUPER_TENANT_ID))
                    content_id = cursor.lastrowid
                    cursor.execute(
                        "INSERT INTO REG_RESOURCE (REG_PATH_ID, REG_NAME, REG_MEDIA_TYPE, REG_CONTENT_ID, "
                        "REG_CREATOR, REG_CREATED_TIME, REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_TENANT_ID) "
                        "VALUES (%s, %s, %s, %s, %s, COALESCE(%s, NOW()), %s, NOW(), %s)",
                        (path_id, name, MEDIA_TYPE, content_id, creator or REGISTRY_USER, created, REGISTRY_USER,
                         SUPER_TENANT_ID))
                    revisions[relative] = int(cursor.lastrowid)
                for relative in removed:
                    folder, name = posixpath.split(f"{self.registry_path}/{relative}")
                    path_id = self._path_id(cursor, folder)
                    if path_id is not None:
                        self._delete_resource(cursor, path_id, name)
            connection.commit()
        except pymysql.err.MySQLError as error:
            with contextlib.suppress(pymysql.err.MySQLError):
                connection.rollback()
            raise SynchronizerError(java_exception("java.sql.SQLException", _mysql_message(error))) from None
        finally:
            connection.close()  # also releases the lock
        return revisions

    def _lock(self, cursor: pymysql.cursors.Cursor) -> None:
        """Until the connection closes, no other commit to this database's registry: two commits
        never interleave, nor add the same collection twice (REG_PATH has no unique key on the
        path). A named lock of the server: it leaves nothing in the schema."""
        target = parse_mysql_url(self.datasource.url or "")
        database = target.database if target else ""
        name = "carbon-standin-registry-" + hashlib.sha1(database.encode()).hexdigest()[:32]  # names <= 64 chars
        cursor.execute("SELECT GET_LOCK(%s, %s)", (name, LOCK_TIMEOUT))
        row = cursor.fetchone()
        if not row or row[0] != 1:
            raise SynchronizerError(java_exception(
                "java.sql.SQLException", "Lock wait timeout exceeded; try restarting transaction"))

    @staticmethod
    def _path_id(cursor: pymysql.cursors.Cursor, path: str) -> int | None:
        cursor.execute("SELECT REG_PATH_ID FROM REG_PATH WHERE REG_PATH_VALUE = %s AND REG_TENANT_ID = %s "
                       "ORDER BY REG_PATH_ID LIMIT 1", (path, SUPER_TENANT_ID))
        row = cursor.fetchone()
        return int(row[0]) if row else None

    def _collection(self, cursor: pymysql.cursors.Cursor, path: str, known: dict[str, int]) -> int:
        """The REG_PATH id of collection ``path``, made (with the collections above it) if missing."""
        parent_id: int | None = None
        for collection in _ancestors(path):
            path_id = known.get(collection)
            if path_id is None:
                path_id = self._path_id(cursor, collection)
                if path_id is None:
                    cursor.execute("INSERT INTO REG_PATH (REG_PATH_VALUE, REG_PATH_PARENT_ID, REG_TENANT_ID) "
                                   "VALUES (%s, %s, %s)", (collection, parent_id, SUPER_TENANT_ID))
                    path_id = int(cursor.lastrowid)
                cursor.execute("SELECT 1 FROM REG_RESOURCE WHERE REG_PATH_ID = %s AND REG_NAME IS NULL "
                               "AND REG_TENANT_ID = %s", (path_id, SUPER_TENANT_ID))
                if cursor.fetchone() is None:  # the collection itself, as Carbon's put of a collection adds it
                    cursor.execute(
                        "INSERT INTO REG_RESOURCE (REG_PATH_ID, REG_NAME, REG_CREATOR, REG_CREATED_TIME, "
                        "REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_TENANT_ID) "
                        "VALUES (%s, NULL, %s, NOW(), %s, NOW(), %s)",
                        (path_id, REGISTRY_USER, REGISTRY_USER, SUPER_TENANT_ID))
                known[collection] = path_id
            parent_id = path_id
        assert parent_id is not None
        return parent_id

    @staticmethod
    def _delete_resource(cursor: pymysql.cursors.Cursor, path_id: int,
                         name: str) -> tuple[str | None, object | None]:
        """Drop resource ``name`` of a collection and its content: its creator and creation time."""
        cursor.execute("SELECT REG_VERSION, REG_CONTENT_ID, REG_CREATOR, REG_CREATED_TIME FROM REG_RESOURCE "
                       "WHERE REG_PATH_ID = %s AND REG_NAME = %s AND REG_TENANT_ID = %s ORDER BY REG_VERSION",
                       (path_id, name, SUPER_TENANT_ID))
        rows = cursor.fetchall()
        for version, content_id, _, _ in rows:
            cursor.execute("DELETE FROM REG_RESOURCE WHERE REG_VERSION = %s AND REG_TENANT_ID = %s",
                           (version, SUPER_TENANT_ID))
            if content_id is not None:
                cursor.execute("DELETE FROM REG_CONTENT WHERE REG_CONTENT_ID = %s AND REG_TENANT_ID = %s",
                               (content_id, SUPER_TENANT_ID))
        return (rows[0][2], rows[0][3]) if rows else (None, None)


def _mysql_message(error: pymysql.err.MySQLError) -> str:
    return str(error.args[1]) if len(error.args) > 1 else str(error)


# --------------------------------------------------------------------------------------------
# The synchronizer
# --------------------------------------------------------------------------------------------


@dataclass
class WorkingCopy:
    """What this node last committed or checked out: path -> (revision, sha-256 of the content)."""

    path: Path
    entries: dict[str, tuple[int, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> WorkingCopy:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {str(key): (int(value[0]), str(value[1])) for key, value in data.items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            entries = {}
        return cls(path, entries)

    def save(self) -> None:
        write_atomically(self.path, json.dumps({key: list(value) for key, value in sorted(self.entries.items())},
                                               indent=1).encode())


class DeploymentSynchronizer:
    """One node's synchronizer for the super tenant's repository."""

    def __init__(self, config: DeploymentSynchronizerConfig, store: ArtifactStore, repository: Path) -> None:
        self.config = config
        self.store = store
        self.repository = repository
        self.working_copy = WorkingCopy.load(repository / STATE_FILE)

    def _local_files(self) -> dict[str, bytes]:
        found = {}
        folder = self.repository / PROXY_SERVICES
        for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                if path.is_file():
                    found[path.relative_to(self.repository).as_posix()] = path.read_bytes()
        return found

    def commit(self, skip: Collection[Path] = ()) -> bool:
        """AutoCommit: put local changes into the repository, leaving the files in ``skip`` as they
        were; whether anything was committed."""
        if not (self.config.enabled and self.config.auto_commit):
            return False
        skipped = {path.relative_to(self.repository).as_posix() for path in skip if path.is_relative_to(self.repository)}
        local = self._local_files()
        entries = self.working_copy.entries
        changed = {relative: data for relative, data in local.items()
                   if relative not in skipped and entries.get(relative, (0, ""))[1] != _sha256(data)}
        removed = {relative for relative in entries if relative not in local and relative not in skipped}
        if not changed and not removed:
            return False
        revisions = self.store.write(changed, removed)
        for relative, data in changed.items():
            entries[relative] = (revisions[relative], _sha256(data))
        for relative in removed:
            entries.pop(relative, None)
        self.working_copy.save()
        return True

    def update(self) -> list[Path]:
        """AutoCheckout: bring the repository's artefacts here; the files written or removed."""
        if not (self.config.enabled and self.config.auto_checkout):
            return []
        stored = self.store.read()
        entries = self.working_copy.entries
        touched: list[Path] = []
        for relative, (revision, data) in sorted(stored.items()):
            if not relative.startswith(PROXY_SERVICES + "/") or entries.get(relative, (0, ""))[0] == revision:
                continue
            target = self.repository / relative
            try:
                current = target.read_bytes()
            except OSError:
                current = None
            if current != data:
                write_atomically(target, data)
                touched.append(target)
            entries[relative] = (revision, _sha256(data))
        for relative in [relative for relative in entries if relative not in stored]:
            target = self.repository / relative
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
                touched.append(target)
            entries.pop(relative, None)
        self.working_copy.save()
        return touched


def _registry_datasource(registry: RegistryConfig, db_config_name: str | None,
                         datasources: tuple[DatasourceConfig, ...]) -> DatasourceConfig | None:
    """The connection a ``<dbConfig>`` stands for: its ``<dataSource>`` (a JNDI name of
    master-datasources.xml) or, in the older style, its own ``<url>``/``<userName>``/``<password>``."""
    db_config = registry.db_configs.get(db_config_name or "")
    if db_config is None:
        return None
    if db_config.data_source:
        return next((d for d in datasources if d.jndi_name == db_config.data_source), None)
    if db_config.url:
        return DatasourceConfig(name=db_config.name, jndi_name=None, definition_type="RDBMS", url=db_config.url,
                                username=db_config.user_name, password=db_config.password,
                                driver_class=db_config.driver_name)
    return None


def build_synchronizer(home: Path, config: DeploymentSynchronizerConfig, *, registry: RegistryConfig | None,
                       datasources: tuple[DatasourceConfig, ...], resolver: HostResolver, bind_address: str,
                       log: CarbonLog) -> DeploymentSynchronizer | None:
    """The node's synchronizer, or None when DepSync is disabled (or cannot start: logged as an ERROR)."""
    if not config.enabled:
        return None
    repository = home / DEPLOYMENT_REPOSITORY
    if config.repository_type == "svn":
        url = config.svn_url or ""
        parsed = urlparse(url)
        if parsed.scheme != "file":
            log.error(_SYNCHRONIZER_COMPONENT, "Error while initializing the SVN based deployment synchronizer",
                      java_exception("org.wso2.carbon.deployment.synchronizer.DeploymentSynchronizerException",
                                     f"Cannot reach the SVN repository {url or '(no SvnUrl)'}: the Carbon stand-in "
                                     "keeps svn repositories only in local folders (file:// URLs)"))
            return None
        root = Path(unquote(parsed.path))
        if config.svn_url_append_tenant_id:
            root = root / str(SUPER_TENANT_ID)
        return DeploymentSynchronizer(config, DirectoryStore(root, f"the SVN repository {url}"), repository)
    if config.repository_type != "registry":
        log.error(_SYNCHRONIZER_COMPONENT, "Error while initializing the deployment synchronizer",
                  java_exception("org.wso2.carbon.deployment.synchronizer.DeploymentSynchronizerException",
                                 f"Unsupported repository type: {config.repository_type}"))
        return None
    return DeploymentSynchronizer(config, registry_store(home, registry, datasources, resolver=resolver,
                                                         bind_address=bind_address), repository)


def registry_store(home: Path, registry: RegistryConfig | None, datasources: tuple[DatasourceConfig, ...], *,
                   resolver: HostResolver, bind_address: str) -> ArtifactStore:
    """Where the config registry keeps /_system/config/repository/deployment/server on this node."""
    registry_path = CONFIG_REGISTRY_PATH
    read_only = False
    datasource = None
    if registry is not None:
        mounted = registry.config_registry_mount()
        if mounted is not None:
            mount, instance = mounted
            registry_path, read_only = mount.target_path, instance.read_only
            datasource = _registry_datasource(registry, instance.db_config, datasources)
        else:
            datasource = _registry_datasource(registry, registry.current_db_config, datasources)
    registry_path = registry_path.rstrip("/") + "/" + DEPLOYMENT_REPOSITORY
    if datasource is not None and (datasource.url or "").startswith("jdbc:mysql:"):
        return RegistryStore(datasource, registry_path, read_only=read_only, resolver=resolver,
                             bind_address=bind_address)
    # An embedded (H2) registry lives inside the node: what it holds no other node ever reads.
    return DirectoryStore(home / PRIVATE_REGISTRY, f"the embedded registry of {home.name}")
