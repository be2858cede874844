"""The plan: one YAML file describing the whole cluster, loaded with line numbers.

Loading checks the *shape* (unknown keys, missing keys, types, value syntax) and reports every
problem at once, each naming the file, line and key path and what to do. Cross-field rules
(collisions, roles, distributions) live in ``installer.plan.check``; derived values in
``installer.plan.derive``.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer.errors import PlanError
from installer.plan.load import PlanLoader, PlanYAMLError, short_tag

ROLES = ("elb", "manager", "worker")
SYNC_REPOSITORIES = ("registry", "svn")
LOCAL_REGISTRY_MODES = ("per-role", "per-node")

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong (or worth a warning) in a plan."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str = ""
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


@dataclass(frozen=True)
class Hostnames:
    worker: str
    mgt: str
    elb: str


@dataclass(frozen=True)
class ElbPorts:
    http: int
    https: int


@dataclass(frozen=True)
class DeploymentSyncSpec:
    """``cluster.deployment_sync``: where the manager shares deployed artefacts with the workers.

    ``registry`` (Carbon 4.1's default) uses the config registry the guide already mounts from
    REGISTRY_DB; ``svn`` a Subversion repository at ``svn_url``, logged in as ``svn_user`` when
    given (its password comes from WSO2_SVN_PASSWORD or --svn-password-file, never the plan).
    """

    repository: str = "registry"
    svn_url: str | None = None
    svn_user: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    domain: str
    lb_domain: str
    tenant_range: str
    hostnames: Hostnames
    elb_ports: ElbPorts
    deployment_sync: DeploymentSyncSpec = DeploymentSyncSpec()


@dataclass(frozen=True)
class Distributions:
    esb: Path
    elb: Path
    jdbc_driver: Path


@dataclass(frozen=True)
class DatabaseSpec:
    hostname: str
    address: str
    port: int
    server: str
    admin_user: str
    user: str
    user_db: str
    registry_db: str
    local_registry: str
    manager_local_db: str
    worker_local_db: str
    # The local server's unix socket for the admin (when the database runs on the database
    # server itself); None: looked for where MySQL and MariaDB packages put it.
    admin_socket: Path | None = None


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str
    offset: int | None = None
    member_port: int | None = None


@dataclass(frozen=True)
class ServerSpec:
    name: str
    address: str
    install_dir: Path
    hosts_file: Path
    nodes: tuple[NodeSpec, ...]


@dataclass(frozen=True)
class Plan:
    version: int
    cluster: ClusterSpec
    distributions: Distributions
    database: DatabaseSpec
    servers: tuple[ServerSpec, ...]
    source: PlanSource = field(compare=False)

    def server(self, name: str) -> ServerSpec:
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(server.name for server in self.servers)
        raise KeyError(f"no server named {name!r} in the plan (servers: {known})")

    def nodes(self) -> Iterator[tuple[ServerSpec, NodeSpec]]:
        for server in self.servers:
            for node in server.nodes:
                yield server, node


@dataclass(frozen=True)
class PlanSource:
    """Where a plan came from, to point at lines in messages."""

    path: Path
    text: str
    lines: dict[KeyPath, int]

    @property
    def file_label(self) -> str:
        return self.path.name

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor the file spells out."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: KeyPath, message: str, hint: str = "", severity: str = "error") -> PlanProblem:
        return PlanProblem(self.file_label, self.line_of(path), format_path(path), message, hint, severity)


# --- YAML with line numbers -------------------------------------------------------------------

class _Unreadable:
    """A value the YAML layer already reported (a foreign tag, ``!!int abc``): the shape checks
    leave it alone rather than report it a second time."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = _Unreadable()
_COLLECTION_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


class _Located:
    """YAML composed into Python values while remembering the line of every key path.

    ``loader`` composed the tree (so its size and depth are bounded, see ``PlanLoader``) and
    reads the scalars, the way ``yaml.safe_load`` would."""

    def __init__(self, source_label: str, loader: PlanLoader) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[PlanProblem] = []
        self.source_label = source_label
        self.loader = loader

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        expected_tag = _COLLECTION_TAGS.get(type(node))
        if expected_tag is not None and node.tag != expected_tag:
            # Reading it as untagged would be wrong (a !!set is not a mapping of settings), and
            # constructing it would run whatever the tag names. Say so once; what is inside is
            # still read, for its own problems only.
            self.problems.append(PlanProblem(
                self.source_label, node.start_mark.line + 1, format_path(path),
                f"the tag {short_tag(node.tag)} is not used in plans",
                "remove it: a plan holds plain text, numbers, true/false, lists and mappings"))
            self.convert_children(node, path)
            return UNREADABLE
        return self.convert_children(node, path)

    def convert_children(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.convert_scalar(key_node, path)
                if key is UNREADABLE:
                    continue
                if not isinstance(key, str):
                    self.problems.append(PlanProblem(
                        self.source_label, key_node.start_mark.line + 1, format_path(path),
                        f"key {key!r} is not a name", "keys are words such as 'domain'"))
                    continue
                child = (*path, key)
                if key in result:
                    self.problems.append(PlanProblem(
                        self.source_label, key_node.start_mark.line + 1, format_path(child),
                        f"'{key}' is given twice (first on line {self.lines[child]})",
                        "keep one of them"))
                    continue
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.convert(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.convert_scalar(node, path)

    def convert_scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or node.start_mark
            self.problems.append(PlanProblem(self.source_label, mark.line + 1, format_path(path),
                                             str(error.problem), getattr(error, "hint", "")))
            return UNREADABLE


def _compose(text: str, label: str) -> tuple[Any, dict[KeyPath, int], list[PlanProblem]]:
    loader: PlanLoader | None = None
    try:
        try:
            loader = PlanLoader(text)
            root = loader.get_single_node()
        except PlanYAMLError as error:
            line = error.problem_mark.line + 1 if error.problem_mark else None
            return None, {}, [PlanProblem(label, line, "(file)", str(error.problem), error.hint)]
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else None
            hint = "check the indentation and quoting on that line"
            if "*" in _line(text, line) or "&" in _line(text, line):
                hint = 'quote values that start with * or &, e.g. tenant_range: "*"'
            message = f"not valid YAML: {error.problem or error.context}"
            return None, {}, [PlanProblem(label, line, "(file)", message, hint)]
        except yaml.reader.ReaderError as error:
            # A character YAML does not allow (a NUL, say): it has a position, not a line.
            line = text.count("\n", 0, error.position) + 1
            return None, {}, [PlanProblem(label, line, "(file)", f"not valid YAML: {error.reason}",
                                          "save the plan as plain UTF-8 text")]
        except yaml.YAMLError as error:
            return None, {}, [PlanProblem(label, None, "(file)", f"not valid YAML: {error}", "")]
        if root is None:
            return None, {}, [PlanProblem(label, 1, "(file)", "the plan is empty", "start from assets/examples/seed.yaml")]
        located = _Located(label, loader)
        data = located.convert(root, ())
        return data, located.lines, located.problems
    finally:
        if loader is not None:
            loader.dispose()


def _line(text: str, line: int | None) -> str:
    if not line:
        return ""
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


# --- shape checking -----------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SQL_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_$]{1,64}$")
_SQL_USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_TENANT_RANGE_RE = re.compile(r"^(\*|\d+|\d+-\d+)$")


class _Reader:
    """Reads typed values out of the composed YAML, collecting problems instead of stopping."""

    def __init__(self, source: PlanSource, problems: list[PlanProblem]) -> None:
        self.source = source
        self.problems = problems

    def error(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint))

    def mapping(self, value: Any, path: KeyPath, allowed: dict[str, bool]) -> dict[str, Any] | None:
        """``allowed``: key -> required."""
        if value is UNREADABLE:
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping of keys, not {_kind(value)}",
                       f"expected keys: {', '.join(allowed)}")
            return None
        for key in value:
            if key not in allowed:
                close = _closest(key, allowed)
                hint = f"did you mean '{close}'?" if close else f"known keys here: {', '.join(allowed)}"
                self.error((*path, key), f"unknown key '{key}'", hint)
        for key, required in allowed.items():
            if required and key not in value:
                self.error(path, f"missing key '{key}'", f"add '{key}:' under {format_path(path)}")
        return value

    def get(self, mapping: dict[str, Any] | None, key: str, path: KeyPath, check: Callable[[Any, KeyPath], Any],
            default: Any = None) -> Any:
        if mapping is None or key not in mapping:
            return default
        if mapping[key] is UNREADABLE:
            return None  # already reported, on its line
        return check(mapping[key], (*path, key))

    # value checks: each returns the value (or None after recording a problem)

    def string(self, pattern: re.Pattern[str] | None = None, what: str = "", hint: str = "") -> Callable[[Any, KeyPath], Any]:
        def check(value: Any, path: KeyPath) -> str | None:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                self.error(path, f"must be text, not {_kind(value)}", hint)
                return None
            if not isinstance(value, str):
                self.error(path, f"must be text, not a number ({value!r})", f'quote it: "{value}"')
                return None
            text = value.strip()
            if not text:
                self.error(path, "must not be empty", hint)
                return None
            if pattern is not None and not pattern.match(text):
                self.error(path, f"{text!r} is not a valid {what}", hint)
                return None
            return text
        return check

    def integer(self, low: int, high: int, what: str = "number") -> Callable[[Any, KeyPath], Any]:
        def check(value: Any, path: KeyPath) -> int | None:
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().isdigit():
                    self.error(path, f"must be a {what}, not text ({value!r})", f"write it without quotes: {value.strip()}")
                else:
                    self.error(path, f"must be a {what}, not {_kind(value)}", f"a whole number from {low} to {high}")
                return None
            if not low <= value <= high:
                self.error(path, f"{value} is out of range", f"a {what} from {low} to {high}")
                return None
            return value
        return check

    def address(self, value: Any, path: KeyPath) -> str | None:
        text = self.string()(value, path)
        if text is None:
            return None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            self.error(path, f"{text!r} is not an IP address", "write the server's IPv4 or IPv6 address, e.g. 192.0.2.206")
            return None

    def choice(self, options: tuple[str, ...]) -> Callable[[Any, KeyPath], Any]:
        def check(value: Any, path: KeyPath) -> str | None:
            text = self.string()(value, path)
            if text is None:
                return None
            if text not in options:
                self.error(path, f"{text!r} is not one of {', '.join(options)}", f"use one of: {', '.join(options)}")
                return None
            return text
        return check

    def path_value(self, value: Any, path: KeyPath) -> Path | None:
        text = self.string()(value, path)
        if text is None:
            return None
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.source.folder / candidate
        return Path(_normalise(candidate))

    def socket_path(self, value: Any, path: KeyPath) -> Path | None:
        """An absolute path that fits in a unix socket address (107 bytes); whether it exists is
        only known on the server that uses it."""
        hint = "the MySQL/MariaDB server's socket file, e.g. /run/mysqld/mysqld.sock (its socket setting)"
        text = self.string(hint=hint)(value, path)
        if text is None:
            return None
        if "\x00" in text:
            self.error(path, "must not hold a NUL character", hint)
            return None
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            self.error(path, f"{text!r} is not an absolute path", hint)
            return None
        normalised = _normalise(candidate)
        if len(os.fsencode(normalised)) > MAX_SOCKET_PATH:
            self.error(path, f"{normalised!r} is too long for a unix socket ({len(os.fsencode(normalised))} bytes, "
                       f"at most {MAX_SOCKET_PATH})", hint)
            return None
        return Path(normalised)


def _normalise(path: Path) -> str:
    return os.path.normpath(str(path))


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return f"text ({value!r})"


def _closest(word: str, options: dict[str, bool]) -> str | None:
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.7)
    return matches[0] if matches else None


TOP_KEYS = {"version": True, "cluster": True, "distributions": True, "database": True, "servers": True}
CLUSTER_KEYS = {"domain": True, "lb_domain": False, "tenant_range": False, "hostnames": True, "elb_ports": False,
                "deployment_sync": False}
DEPLOYMENT_SYNC_KEYS = {"repository": False, "svn_url": False, "svn_user": False}
_SVN_URL_RE = re.compile(r"^(https?|svn|svn\+ssh|file)://\S+$")
_SVN_USER_RE = re.compile(r"^[^\s<>&]{1,128}$")
HOSTNAME_KEYS = {"worker": True, "mgt": True, "elb": True}
ELB_PORT_KEYS = {"http": True, "https": True}
DISTRIBUTION_KEYS = {"esb": True, "elb": True, "jdbc_driver": True}
DATABASE_KEYS = {
    "hostname": True, "address": True, "port": False, "server": True, "admin_user": False, "user": True,
    "user_db": False, "registry_db": False, "local_registry": False,
    "manager_local_db": False, "worker_local_db": False, "admin_socket": False,
}
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
SERVER_KEYS = {"name": True, "address": True, "install_dir": True, "hosts_file": False, "nodes": True}
NODE_KEYS = {"name": True, "role": True, "offset": False, "member_port": False}


def parse_plan(text: str, path: Path) -> tuple[Plan | None, list[PlanProblem]]:
    """Parse plan text; returns the plan and every problem found.

    The plan is None only when the file is not a YAML mapping at all. When there are errors the
    plan is partial: rejected values are None (it must not be derived or applied).
    """
    path = Path(path).resolve()
    data, lines, problems = _compose(text, path.name)
    source = PlanSource(path=path, text=text, lines=lines)
    if data is None:
        return None, problems
    read = _Reader(source, problems)
    top = read.mapping(data, (), TOP_KEYS)
    if top is None:
        return None, problems

    version = read.get(top, "version", (), read.integer(1, 1, "plan format version"), default=None)

    cluster_raw = read.mapping(top.get("cluster"), ("cluster",), CLUSTER_KEYS) if "cluster" in top else None
    hostnames_raw = (read.mapping(cluster_raw["hostnames"], ("cluster", "hostnames"), HOSTNAME_KEYS)
                     if cluster_raw and "hostnames" in cluster_raw else None)
    hostname_check = read.string(_HOSTNAME_RE, "host name", "letters, digits, dots and dashes, e.g. worker.esb.wso2.com")
    domain_check = read.string(_DOMAIN_RE, "clustering domain", "e.g. wso2.esb.domain")
    port_check = read.integer(1, 65535, "TCP port")
    hostnames = Hostnames(
        worker=read.get(hostnames_raw, "worker", ("cluster", "hostnames"), hostname_check),
        mgt=read.get(hostnames_raw, "mgt", ("cluster", "hostnames"), hostname_check),
        elb=read.get(hostnames_raw, "elb", ("cluster", "hostnames"), hostname_check),
    )
    elb_ports_raw = (read.mapping(cluster_raw["elb_ports"], ("cluster", "elb_ports"), ELB_PORT_KEYS)
                     if cluster_raw and "elb_ports" in cluster_raw else None)
    elb_ports = ElbPorts(
        http=read.get(elb_ports_raw, "http", ("cluster", "elb_ports"), port_check, default=80),
        https=read.get(elb_ports_raw, "https", ("cluster", "elb_ports"), port_check, default=443),
    )
    cluster = ClusterSpec(
        deployment_sync=_read_deployment_sync(read, cluster_raw),
        domain=read.get(cluster_raw, "domain", ("cluster",), domain_check),
        lb_domain=read.get(cluster_raw, "lb_domain", ("cluster",), domain_check, default="wso2.carbon.lb.domain"),
        tenant_range=read.get(cluster_raw, "tenant_range", ("cluster",),
                              read.string(_TENANT_RANGE_RE, "tenant range", 'use "*", a tenant id, or a range like 1-100'),
                              default="*"),
        hostnames=hostnames,
        elb_ports=elb_ports,
    )

    dist_raw = (read.mapping(top["distributions"], ("distributions",), DISTRIBUTION_KEYS)
                if "distributions" in top else None)
    distributions = Distributions(
        esb=read.get(dist_raw, "esb", ("distributions",), read.path_value),
        elb=read.get(dist_raw, "elb", ("distributions",), read.path_value),
        jdbc_driver=read.get(dist_raw, "jdbc_driver", ("distributions",), read.path_value),
    )

    db_raw = read.mapping(top["database"], ("database",), DATABASE_KEYS) if "database" in top else None
    identifier = read.string(_SQL_IDENTIFIER_RE, "database name", "letters, digits and _ only, at most 64")
    sql_user = read.string(_SQL_USER_RE, "MySQL user name", "letters, digits, _ . - only, at most 32")
    database = DatabaseSpec(
        hostname=read.get(db_raw, "hostname", ("database",), hostname_check),
        address=read.get(db_raw, "address", ("database",), read.address),
        port=read.get(db_raw, "port", ("database",), port_check, default=3306),
        server=read.get(db_raw, "server", ("database",), read.string(_NAME_RE, "server name")),
        admin_user=read.get(db_raw, "admin_user", ("database",), sql_user, default="root"),
        user=read.get(db_raw, "user", ("database",), sql_user),
        user_db=read.get(db_raw, "user_db", ("database",), identifier, default="WSO2_USER_DB"),
        registry_db=read.get(db_raw, "registry_db", ("database",), identifier, default="REGISTRY_DB"),
        local_registry=read.get(db_raw, "local_registry", ("database",), read.choice(LOCAL_REGISTRY_MODES),
                                default="per-role"),
        manager_local_db=read.get(db_raw, "manager_local_db", ("database",), identifier, default="REGISTRY_LOCAL1"),
        worker_local_db=read.get(db_raw, "worker_local_db", ("database",), identifier, default="REGISTRY_LOCAL2"),
        admin_socket=read.get(db_raw, "admin_socket", ("database",), read.socket_path, default=None),
    )

    servers: list[ServerSpec] = []
    servers_raw = top.get("servers")
    if "servers" in top and servers_raw is not UNREADABLE:
        if not isinstance(servers_raw, list) or not servers_raw:
            read.error(("servers",), "must be a list with at least one server",
                       "add '- name: ...' entries under servers:")
        else:
            for server_index, server_raw in enumerate(servers_raw):
                server = _read_server(read, server_raw, ("servers", server_index))
                if server is not None:
                    servers.append(server)

    # Built even when values were rejected (they are None then), so cross-field checks that do
    # not need them can still run and every problem is reported at once.
    plan = Plan(version=version, cluster=cluster, distributions=distributions, database=database,
                servers=tuple(servers), source=source)
    return plan, problems


def _read_deployment_sync(read: _Reader, cluster_raw: dict[str, Any] | None) -> DeploymentSyncSpec:
    path: KeyPath = ("cluster", "deployment_sync")
    if not cluster_raw or "deployment_sync" not in cluster_raw:
        return DeploymentSyncSpec()
    raw = cluster_raw["deployment_sync"]
    if isinstance(raw, dict):
        for key in [key for key in raw if isinstance(key, str) and "password" in key.lower()]:
            read.error((*path, key), "passwords never go in the plan",
                       "remove it; give the svn password with WSO2_SVN_PASSWORD, --svn-password-file "
                       "or in the wizard")
        raw = {key: value for key, value in raw.items() if not (isinstance(key, str) and "password" in key.lower())}
    mapping = read.mapping(raw, path, DEPLOYMENT_SYNC_KEYS)
    repository = read.get(mapping, "repository", path, read.choice(SYNC_REPOSITORIES), default="registry")
    svn_url = read.get(mapping, "svn_url", path, read.string(
        _SVN_URL_RE, "svn URL", "e.g. http://svn.example.com/repos/esb (http, https, svn, svn+ssh or file)"))
    svn_user = read.get(mapping, "svn_user", path, read.string(
        _SVN_USER_RE, "svn user name", "no spaces, <, > or &"))
    if repository == "svn" and mapping is not None and "svn_url" not in mapping:
        read.error(path, "the svn repository needs 'svn_url'",
                   "add svn_url: http://svn.example.com/repos/esb, or use repository: registry")
    if repository == "registry" and mapping is not None:
        for key in ("svn_url", "svn_user"):
            if key in mapping:
                read.problems.append(read.source.problem(
                    (*path, key), f"'{key}' is not used with the registry",
                    "remove it, or set repository: svn", severity="warning"))
    return DeploymentSyncSpec(repository=repository or "registry", svn_url=svn_url, svn_user=svn_user)


def _read_server(read: _Reader, raw: Any, path: KeyPath) -> ServerSpec | None:
    mapping = read.mapping(raw, path, SERVER_KEYS)
    if mapping is None:
        return None
    name_check = read.string(_NAME_RE, "name", "letters, digits, '.', '_' and '-', starting with a letter or digit")
    nodes: list[NodeSpec] = []
    nodes_raw = mapping.get("nodes")
    if "nodes" in mapping and nodes_raw is not UNREADABLE:
        if not isinstance(nodes_raw, list) or not nodes_raw:
            read.error((*path, "nodes"), "must be a list with at least one node",
                       "add '- {name: ..., role: worker}' entries under nodes:")
        else:
            for node_index, node_raw in enumerate(nodes_raw):
                node_path = (*path, "nodes", node_index)
                node_map = read.mapping(node_raw, node_path, NODE_KEYS)
                if node_map is None:
                    continue
                nodes.append(NodeSpec(
                    name=read.get(node_map, "name", node_path, name_check),
                    role=read.get(node_map, "role", node_path, read.choice(ROLES)),
                    # Only a sanity bound: whether the ports an offset gives fit is validation's
                    # (it depends on the node's role, and it is the same rule for derived offsets).
                    offset=read.get(node_map, "offset", node_path, read.integer(0, 65535, "port offset")),
                    member_port=read.get(node_map, "member_port", node_path, read.integer(1, 65535, "TCP port")),
                ))
    return ServerSpec(
        name=read.get(mapping, "name", path, name_check),
        address=read.get(mapping, "address", path, read.address),
        install_dir=read.get(mapping, "install_dir", path, read.path_value),
        hosts_file=read.get(mapping, "hosts_file", path, read.path_value, default=Path("/etc/hosts")),
        nodes=tuple(nodes),
    )


def load_plan_file(path: Path) -> tuple[Plan | None, list[PlanProblem]]:
    """Read and parse a plan file; a missing or unreadable file is one problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [PlanProblem(str(path), None, "(file)", "no such file", "give the path of a plan YAML file")]
    except (OSError, UnicodeDecodeError) as error:
        return None, [PlanProblem(str(path), None, "(file)", f"cannot be read: {error}", "")]
    return parse_plan(text, path)


def load_plan(path: Path) -> Plan:
    """Parse a plan or raise PlanError with every shape problem (warnings are dropped here)."""
    plan, problems = load_plan_file(path)
    errors = [problem for problem in problems if problem.severity == "error"]
    if plan is None or errors:
        raise PlanError(errors)
    return plan
