"""Plan data <-> YAML text, and the editable draft of a plan that the wizard keeps.

A *draft* holds every value exactly as the operator typed it (text, even when it is not valid
yet), so nothing is lost while moving between screens. ``PlanDraft.to_yaml`` writes the plan in
the shape of DESIGN.md (the keys are a contract), and ``parse_plan`` on that text reports every
problem with a key path; because a field of the draft is named by the same key path
(``cluster.hostnames.worker``, ``servers[1].nodes[0].offset``), a problem lands next to the field
that caused it. ``PlanDraft.from_yaml`` reads a plan back into the same fields.

No validation happens here: ``installer.plan.model`` and ``installer.plan.check`` stay the one
place that decides what is right.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from installer.plan.load import PlanLoader

if TYPE_CHECKING:
    from installer.plan.model import PlanProblem

PLAN_FORMAT_VERSION = 1
DEFAULT_HOSTS_FILE = "/etc/hosts"

# Mappings written on one line, as the seed writes them.
_FLOW_KEYS = frozenset({"hostnames", "elb_ports"})


@dataclass(frozen=True)
class FieldSpec:
    """One scalar setting of the plan outside ``servers``."""

    path: str  # the key path, as ``installer.plan.model.format_path`` spells it
    label: str
    kind: str = "text"  # text | int | path
    required: bool = True
    default: str = ""  # what the engine uses when the key is left out (shown as a placeholder)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


SCALAR_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("cluster.domain", "ESB cluster domain"),
    FieldSpec("cluster.lb_domain", "ELB clustering domain", required=False, default="wso2.carbon.lb.domain"),
    FieldSpec("cluster.tenant_range", "Tenant range", required=False, default="*"),
    FieldSpec("cluster.hostnames.worker", "Worker host name"),
    FieldSpec("cluster.hostnames.mgt", "Management host name"),
    FieldSpec("cluster.hostnames.elb", "ELB host name"),
    FieldSpec("cluster.elb_ports.http", "ELB HTTP port", kind="int", required=False, default="80"),
    FieldSpec("cluster.elb_ports.https", "ELB HTTPS port", kind="int", required=False, default="443"),
    FieldSpec("cluster.deployment_sync.repository", "Repository", required=False, default="registry"),
    FieldSpec("cluster.deployment_sync.svn_url", "Svn URL", required=False),
    FieldSpec("cluster.deployment_sync.svn_user", "Svn user", required=False),
    FieldSpec("distributions.esb", "ESB 4.7.0 zip", kind="path"),
    FieldSpec("distributions.elb", "ELB 2.0.3 zip", kind="path"),
    FieldSpec("distributions.jdbc_driver", "MySQL JDBC driver jar", kind="path"),
    FieldSpec("database.hostname", "Database host name"),
    FieldSpec("database.address", "Database address"),
    FieldSpec("database.port", "Database port", kind="int", required=False, default="3306"),
    FieldSpec("database.server", "Creates the databases"),
    FieldSpec("database.admin_user", "Admin user", required=False, default="root"),
    FieldSpec("database.admin_socket", "Admin socket", required=False),
    FieldSpec("database.user", "Application user"),
    FieldSpec("database.user_db", "User store database", required=False, default="WSO2_USER_DB"),
    FieldSpec("database.registry_db", "Shared registry database", required=False, default="REGISTRY_DB"),
    FieldSpec("database.local_registry", "Local registry", required=False, default="per-role"),
    FieldSpec("database.manager_local_db", "Manager local registry DB", required=False, default="REGISTRY_LOCAL1"),
    FieldSpec("database.worker_local_db", "Workers' local registry DB", required=False, default="REGISTRY_LOCAL2"),
)
FIELDS_BY_PATH: dict[str, FieldSpec] = {spec.path: spec for spec in SCALAR_FIELDS}

SERVER_FIELDS = ("name", "address", "install_dir", "hosts_file")
NODE_FIELDS = ("name", "role", "offset", "member_port")


# --- the draft --------------------------------------------------------------------------------------

@dataclass
class NodeDraft:
    name: str = ""
    role: str = "worker"
    offset: str = ""  # blank: derived by the installer
    member_port: str = ""  # blank: derived by the installer

    @property
    def offset_pinned(self) -> bool:
        return bool(self.offset.strip())

    @property
    def member_port_pinned(self) -> bool:
        return bool(self.member_port.strip())


@dataclass
class ServerDraft:
    name: str = ""
    address: str = ""
    install_dir: str = ""
    hosts_file: str = ""  # blank: /etc/hosts
    nodes: list[NodeDraft] = field(default_factory=list)


@dataclass
class PlanDraft:
    """Everything a plan says, as typed. ``settings`` is keyed by key path (see SCALAR_FIELDS)."""

    settings: dict[str, str] = field(default_factory=dict)
    servers: list[ServerDraft] = field(default_factory=list)

    def get(self, path: str) -> str:
        return self.settings.get(path, "")

    def set(self, path: str, value: str) -> None:
        if path not in FIELDS_BY_PATH:
            raise KeyError(f"not a plan setting: {path}")
        self.settings[path] = value

    def copy(self) -> PlanDraft:
        return copy.deepcopy(self)

    def server_names(self) -> list[str]:
        return [server.name for server in self.servers]

    # --- to plan data / YAML ---------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """The plan as YAML data, values typed the way the plan loader expects them.

        Text that should be a number but is not (``"80x"``) is kept as text so the loader reports
        it on that key; a blank optional value is left out so the engine's default applies.
        """
        data: dict[str, Any] = {"version": PLAN_FORMAT_VERSION}
        for section in ("cluster", "distributions", "database"):
            data[section] = {}
        for spec in SCALAR_FIELDS:
            text = self.settings.get(spec.path, "").strip()
            if not text and not spec.required:
                continue
            if not text and spec.kind == "int":
                continue  # reported as a missing key, which names the field
            _put(data, spec.keys, _typed(text, spec.kind))
        data["servers"] = [_server_data(server) for server in self.servers]
        return data

    def to_yaml(self, *, header: str = "") -> str:
        return dump_plan(self.to_data(), header=header)

    # --- from plan data / YAML -------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Any) -> tuple[PlanDraft, list[str]]:
        """A draft from loaded YAML data, and the key paths it had to leave out (unknown keys)."""
        draft = cls()
        ignored: list[str] = []
        if not isinstance(data, Mapping):
            return draft, ["(top level)"]
        for spec in SCALAR_FIELDS:
            value = _lookup(data, spec.keys)
            if value is not None:
                draft.settings[spec.path] = as_text(value)
        known_prefixes = {".".join(spec.keys[:depth]) for spec in SCALAR_FIELDS for depth in range(1, len(spec.keys) + 1)}
        for path in _leaf_paths(data, ("version", "servers")):
            if path not in known_prefixes:
                ignored.append(path)
        servers = data.get("servers")
        if isinstance(servers, list):
            for index, raw in enumerate(servers):
                server, server_ignored = _server_from_data(raw, f"servers[{index}]")
                draft.servers.append(server)
                ignored += server_ignored
        elif servers is not None:
            ignored.append("servers")
        return draft, ignored

    @classmethod
    def from_yaml(cls, text: str) -> tuple[PlanDraft, list[str]]:
        """Raises ``yaml.YAMLError`` when the text is not YAML at all, or is YAML no plan is made
        of (see ``PlanLoader``)."""
        # PlanLoader, not libyaml's faster CSafeLoader: only the pure-Python composer can be taught
        # the limits, and a plan of a few KB reads in a few milliseconds either way.
        return cls.from_data(yaml.load(text, Loader=PlanLoader))


def as_text(value: Any) -> str:
    """A YAML value as the text an operator would type for it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip()


def _typed(text: str, kind: str) -> Any:
    if kind == "int" and re.fullmatch(r"[0-9]+", text):
        return int(text)
    return text


def _put(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def _lookup(data: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _leaf_paths(data: Mapping[str, Any], skip: Iterable[str], prefix: str = "") -> Iterable[str]:
    for key, value in data.items():
        if not prefix and key in skip:
            continue
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _leaf_paths(value, (), path) if value else [path]
        else:
            yield path


def _server_data(server: ServerDraft) -> dict[str, Any]:
    data: dict[str, Any] = {"name": server.name.strip(), "address": server.address.strip(),
                            "install_dir": server.install_dir.strip()}
    if server.hosts_file.strip():
        data["hosts_file"] = server.hosts_file.strip()
    data["nodes"] = [_node_data(node) for node in server.nodes]
    return data


def _node_data(node: NodeDraft) -> dict[str, Any]:
    data: dict[str, Any] = {"name": node.name.strip(), "role": node.role.strip()}
    for key in ("offset", "member_port"):
        text = getattr(node, key).strip()
        if text:
            data[key] = _typed(text, "int")
    return data


def _server_from_data(raw: Any, path: str) -> tuple[ServerDraft, list[str]]:
    server = ServerDraft()
    if not isinstance(raw, Mapping):
        return server, [path]
    ignored = [f"{path}.{key}" for key in raw if key not in (*SERVER_FIELDS, "nodes")]
    for key in SERVER_FIELDS:
        if key in raw:
            setattr(server, key, as_text(raw[key]))
    nodes = raw.get("nodes")
    if isinstance(nodes, list):
        for index, node_raw in enumerate(nodes):
            node_path = f"{path}.nodes[{index}]"
            if not isinstance(node_raw, Mapping):
                ignored.append(node_path)
                continue
            node = NodeDraft(role="")
            for key in NODE_FIELDS:
                if key in node_raw:
                    setattr(node, key, as_text(node_raw[key]))
            ignored += [f"{node_path}.{key}" for key in node_raw if key not in NODE_FIELDS]
            server.nodes.append(node)
    elif nodes is not None:
        ignored.append(f"{path}.nodes")
    return server, ignored


# --- YAML text ----------------------------------------------------------------------------------------

def dump_plan(data: Mapping[str, Any], *, header: str = "") -> str:
    """Plan data as YAML in the seed's layout: block mappings, ``hostnames`` / ``elb_ports`` and
    every node on one line. ``yaml.safe_load`` of the result gives ``data`` back."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    _emit_mapping(data, 0, lines)
    return "\n".join(lines) + "\n"


# Text that YAML reads back as the same string when written bare (no quoting needed).
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@-]*")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})


def _scalar(value: Any) -> str:
    # Fast paths for what plans are made of; everything else goes through the YAML emitter.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    # Written as the only item of a flow sequence, so the result is valid inside {...} too
    # (where "," "[" "{" end a bare scalar); line breaks and control or unassigned characters
    # get a double-quoted scalar, which escapes them and stays on one line.
    style = '"' if isinstance(value, str) and not value.isprintable() else None
    text = yaml.safe_dump([value], default_flow_style=True, default_style=style, width=1 << 20, allow_unicode=True)
    return text.strip()[1:-1]


def _flow(mapping: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{_scalar(key)}: {_scalar(value)}" for key, value in mapping.items()) + "}"


def _is_scalar_mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and all(not isinstance(item, Mapping | list) for item in value.values())


def _emit_mapping(data: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        name = _scalar(key)
        if isinstance(value, Mapping):
            if not value:
                lines.append(f"{pad}{name}: {{}}")
            elif key in _FLOW_KEYS and _is_scalar_mapping(value):
                lines.append(f"{pad}{name}: {_flow(value)}")
            else:
                lines.append(f"{pad}{name}:")
                _emit_mapping(value, indent + 2, lines)
        elif isinstance(value, list):
            if not value:
                lines.append(f"{pad}{name}: []")
                continue
            lines.append(f"{pad}{name}:")
            _emit_list(value, indent + 2, lines)
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")


def _emit_list(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if _is_scalar_mapping(item) and item:
            lines.append(f"{pad}- {_flow(item)}")
        elif isinstance(item, Mapping) and item:
            start = len(lines)
            _emit_mapping(item, indent + 2, lines)
            lines[start] = f"{pad}- {lines[start][indent + 2:]}"
        else:
            lines.append(f"{pad}- {_scalar(item)}")


# --- problems and fields ----------------------------------------------------------------------------------

_MISSING_KEY = re.compile(r"^missing key '([^']+)'$")


def problem_field(problem: PlanProblem) -> str:
    """The key path of the field a problem is about: a missing key is reported on its parent
    mapping by the loader, but belongs next to the (empty) field itself."""
    match = _MISSING_KEY.match(problem.message)
    if match and problem.path not in ("(top level)", "(file)"):
        return f"{problem.path}.{match.group(1)}"
    return problem.path


def problems_under(problems: Iterable[PlanProblem], *prefixes: str) -> list[PlanProblem]:
    """The problems whose field is one of ``prefixes`` or inside one of them."""
    found = []
    for problem in problems:
        path = problem_field(problem)
        if any(path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")) for prefix in prefixes):
            found.append(problem)
    return found


# --- relative paths -------------------------------------------------------------------------------------

PATH_SETTINGS = tuple(spec.path for spec in SCALAR_FIELDS if spec.kind == "path")


def rebase_paths(draft: PlanDraft, old_folder: Path, new_folder: Path) -> PlanDraft:
    """The draft with relative paths still naming the same files once the plan lives in
    ``new_folder`` (relative paths are read from the plan file's folder)."""
    old_folder, new_folder = Path(old_folder).resolve(), Path(new_folder).resolve()
    if old_folder == new_folder:
        return draft

    def moved_path(text: str) -> str:
        text = text.strip()
        if not text or os.path.isabs(os.path.expanduser(text)):
            return text
        absolute = Path(os.path.normpath(old_folder / text))
        try:
            return str(absolute.relative_to(new_folder))
        except ValueError:
            return str(absolute)

    moved = draft.copy()
    for path in PATH_SETTINGS:
        if moved.get(path).strip():
            moved.settings[path] = moved_path(moved.get(path))
    for server in moved.servers:
        server.install_dir = moved_path(server.install_dir)
        server.hosts_file = moved_path(server.hosts_file)
    return moved


# What reading a plan file for the wizard can raise besides a plan error: the file cannot be
# read, is not text, or is not YAML a plan can be made of.
PLAN_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, UnicodeDecodeError, yaml.YAMLError)
