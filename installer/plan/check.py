"""Cross-field validation of a plan, run before anything changes; every problem reported at once."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from installer.distribution import check_archive, expect_product, inspect_distribution, inspect_jdbc_driver
from installer.errors import DistributionError, PlanError
from installer.plan.derive import (
    HIGHEST_OFFSET,
    HIGHEST_PORT,
    Layout,
    NodeLayout,
    PortUse,
    database_port_on,
    derive,
)
from installer.plan.model import KeyPath, Plan, PlanProblem, format_path, load_plan_file

EXPECTED_VERSIONS = {"esb": "4.7.0", "elb": "2.0.3"}
PRODUCT_LABELS = {"esb": "WSO2 ESB", "elb": "WSO2 ELB"}


@dataclass(frozen=True)
class CheckedPlan:
    plan: Plan
    layout: Layout
    problems: tuple[PlanProblem, ...]

    @property
    def errors(self) -> tuple[PlanProblem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "error")

    @property
    def warnings(self) -> tuple[PlanProblem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "warning")


class _NodePaths:
    """Where each node name is first given in the plan: problems about a node point there.

    One index for a whole validation: when each problem searched the plan for its node, a plan
    of 15,000 nodes that were nearly all problems took minutes."""

    def __init__(self, plan: Plan) -> None:
        self._first: dict[str | None, KeyPath] = {}
        for server_index, server in enumerate(plan.servers):
            for node_index, node in enumerate(server.nodes):
                self._first.setdefault(node.name, ("servers", server_index, "nodes", node_index))

    def __call__(self, node_name: str | None, key: str | None = None) -> KeyPath:
        base = self._first.get(node_name)
        if base is None:
            return ("servers",)
        return (*base, key) if key else base


def validate(plan: Plan, *, check_files: bool = True, is_root: bool | None = None,
             partial: bool = False) -> tuple[Layout | None, list[PlanProblem]]:
    """Derive the layout and report every cross-field problem (errors and warnings).

    ``partial``: the plan has shape errors (some values are None); only the checks that do not
    need a derived layout run, and no layout is returned.
    """
    source = plan.source
    problems: list[PlanProblem] = []
    node_path = _NodePaths(plan)

    def error(path: KeyPath, message: str, hint: str = "") -> None:
        problems.append(source.problem(path, message, hint))

    def warning(path: KeyPath, message: str, hint: str = "") -> None:
        problems.append(source.problem(path, message, hint, severity="warning"))

    # Names and addresses.
    first_server: dict[str, int] = {}
    first_address: dict[str, int] = {}
    for index, server in enumerate(plan.servers):
        if server.name is None:
            continue
        if server.name in first_server:
            error(("servers", index, "name"), f"server name '{server.name}' is already used by servers[{first_server[server.name]}]",
                  "give every server its own name")
        else:
            first_server[server.name] = index
        if server.address is None:
            continue
        if server.address in first_address:
            other = plan.servers[first_address[server.address]].name
            error(("servers", index, "address"), f"{server.address} is already the address of {other}",
                  "each server of the plan is a different machine with its own address")
        else:
            first_address.setdefault(server.address, index)

    first_node: dict[str, str] = {}
    for server_index, server in enumerate(plan.servers):
        for node_index, node in enumerate(server.nodes):
            path: KeyPath = ("servers", server_index, "nodes", node_index, "name")
            if node.name is None:
                continue
            if node.name in first_node:
                error(path, f"node name '{node.name}' is already used on {first_node[node.name]}",
                      "node names are folder names and must be unique in the whole plan")
            else:
                first_node[node.name] = server.name

    # Roles.
    roles: dict[str, list[str]] = defaultdict(list)
    for _, node in plan.nodes():
        roles[node.role].append(node.name)
    if not roles["manager"]:
        error(("servers",), "there is no node with role manager", "add exactly one node with role: manager")
    for extra in roles["manager"][1:]:
        error(node_path(extra, "role"), f"a second manager ({extra}); the cluster has exactly one",
              f"make {extra} a worker, or remove it")
    if not roles["elb"]:
        error(("servers",), "there is no node with role elb", "add one node with role: elb (the load balancer)")
    for extra in roles["elb"][1:]:
        error(node_path(extra, "role"), f"a second ELB ({extra}); this installer sets up exactly one",
              f"remove {extra} or make it a worker")
    if roles["manager"] and not roles["worker"]:
        warning(("servers",), "there is no worker node: requests to the worker host name will have nowhere to go",
                "add nodes with role: worker")

    # Cluster-wide names.
    cluster = plan.cluster
    names = cluster.hostnames
    seen_names: dict[str, str] = {}
    for key in ("worker", "mgt", "elb"):
        value = (getattr(names, key) or "").lower()
        if not value:
            continue
        if value in seen_names:
            error(("cluster", "hostnames", key), f"'{value}' is also the {seen_names[value]} host name",
                  "the ELB routes by host name: worker, mgt and elb names must differ")
        seen_names.setdefault(value, key)
    if cluster.domain is not None and cluster.domain == cluster.lb_domain:
        error(("cluster", "lb_domain"), f"'{cluster.lb_domain}' is also the ESB cluster domain",
              "the ELB's own clustering domain must differ from cluster.domain (e.g. wso2.carbon.lb.domain)")
    if cluster.elb_ports.http is not None and cluster.elb_ports.http == cluster.elb_ports.https:
        error(("cluster", "elb_ports", "https"), f"{cluster.elb_ports.https} is also the HTTP port",
              "use two different ports, e.g. 80/443 or 8280/8243")
    if plan.database.server is not None and plan.database.server not in first_server:
        error(("database", "server"), f"'{plan.database.server}' is not a server of this plan",
              f"name the plan server whose run creates the databases: {', '.join(first_server)}")

    if check_files:
        problems.extend(_check_files(plan))
    if partial:
        return None, problems

    layout = derive(plan)

    # Pinned values and every derived port, per server.
    for server_index, server in enumerate(plan.servers):
        server_layout = layout.servers[server_index]
        offset_owner: dict[int, str] = {}
        member_owner: dict[int, str] = {}
        for node in sorted(server_layout.nodes, key=lambda n: (not n.offset_pinned, n.name)):
            if node.offset in offset_owner and node.offset_pinned:
                error(node_path(node.name, "offset"),
                      f"{node.offset} is already used by {offset_owner[node.offset]} on {server.name}",
                      "pick another offset, or remove it to let the installer choose")
            offset_owner.setdefault(node.offset, node.name)
        for node in sorted(server_layout.nodes, key=lambda n: (not n.member_port_pinned, n.name)):
            if node.member_port in member_owner and node.member_port_pinned:
                error(node_path(node.name, "member_port"),
                      f"{node.member_port} is already used by {member_owner[node.member_port]} on {server.name}",
                      "pick another member port, or remove it to let the installer choose")
            member_owner.setdefault(node.member_port, node.name)

        # Ports past 65535: a pinned offset says so on its line; derived values only get there
        # when the server runs out of ports, said once, on the first node that does not fit.
        unfit: list[tuple[NodeLayout, PortUse]] = []
        for node in server_layout.nodes:
            too_high = [use for use in node.listening_ports(plan) if use.port > HIGHEST_PORT]
            if not too_high:
                continue
            use = too_high[0]
            if use.set_by == "offset" and node.offset_pinned:
                error(node_path(node.name, "offset"),
                      f"offset {node.offset} puts {use.purpose} of {node.name} on port {use.port}, above {HIGHEST_PORT}",
                      f"the largest offset a node can have is {HIGHEST_OFFSET}")
            else:
                unfit.append((node, use))
        if unfit:
            node, use = unfit[0]
            more = f" (and {len(unfit) - 1} more nodes)" if len(unfit) > 1 else ""
            error(node_path(node.name),
                  f"{node.name} does not fit on {server.name}: its {use.purpose} would be port {use.port}, "
                  f"above {HIGHEST_PORT}{more}",
                  f"the other nodes of {server.name} take every lower port: put some nodes on another server")

        # MySQL was listening before any node: when it runs on this server, its port is taken.
        port_owner: dict[int, tuple[str, str]] = {}
        database_port = database_port_on(plan, server)
        if database_port is not None:
            port_owner[database_port] = (_DATABASE, "MySQL's port")
        reported: set[tuple[int, str]] = set()
        for node in server_layout.nodes:
            for use in node.listening_ports(plan):
                if use.port > HIGHEST_PORT:
                    continue  # reported above
                owner = port_owner.get(use.port)
                if owner is None:
                    port_owner[use.port] = (use.node, use.purpose)
                    continue
                if owner[0] == use.node and owner[1] == use.purpose:
                    continue
                if (use.port, use.node) in reported:
                    continue
                reported.add((use.port, use.node))
                setting = _setting_of(node_path, node, use)
                if owner[0] == _DATABASE:
                    error(setting,
                          f"port {use.port} ({use.purpose} of {use.node}) is MySQL's port on {server.name} "
                          f"({_where_database_port(plan)})",
                          f"MySQL runs on {server.address}: change {format_path(setting)}, "
                          "or database.port if MySQL listens on another port")
                    continue
                error(setting,
                      f"port {use.port} ({use.purpose} of {use.node}) is also {owner[1]} of {owner[0]} on {server.name}",
                      "change the pinned offset or member_port so that no two ports meet")
            if node.role == "elb" and node.offset > min(cluster.elb_ports.http, cluster.elb_ports.https) - 1:
                error(node_path(node.name, "offset"),
                      f"offset {node.offset} is larger than the ELB ports allow",
                      "the ELB's transport ports are moved by its offset; give the ELB offset 0")

    server_index: dict[str, int] = {}
    for index, server in enumerate(plan.servers):
        server_index.setdefault(server.name, index)
    for conflict in layout.hosts_conflicts:
        index = server_index[conflict.server]
        uses = "; ".join(f"{address} ({reason})" for address, reason in conflict.addresses)
        error(("servers", index), f"{conflict.hostname} would need two addresses in {conflict.server}'s hosts file: {uses}",
              "put the ELB and the manager on the same server, or move the workers off the ELB's server")

    # Ports below 1024 need root on the ELB's server.
    if is_root is None:
        is_root = os.geteuid() == 0
    low = [port for port in (cluster.elb_ports.http, cluster.elb_ports.https) if port < 1024]
    if low and not is_root:
        warning(("cluster", "elb_ports"), f"ports {', '.join(map(str, low))} are below 1024 and need root to bind",
                "run the ELB's server as root, or use elb_ports {http: 8280, https: 8243}")
    return layout, problems


# Owner of the database's port in the per-server port table: not a node name (names are checked
# against a pattern that has no blanks).
_DATABASE = "the database"


def _setting_of(node_path: _NodePaths, node: NodeLayout, use: PortUse) -> KeyPath:
    """The plan setting to change when ``use`` cannot have its port: the pinned value or ELB port
    that put it there, else (a derived value) the node itself."""
    if use.set_by.startswith("elb_ports."):
        return ("cluster", "elb_ports", use.set_by.removeprefix("elb_ports."))
    if (use.set_by == "member_port" and node.member_port_pinned) or (use.set_by == "offset" and node.offset_pinned):
        return node_path(node.name, use.set_by)
    return node_path(node.name)


def _where_database_port(plan: Plan) -> str:
    line = plan.source.lines.get(("database", "port"))
    return f"database.port, line {line}" if line else f"database.port, {plan.database.port} when not given"


def _check_files(plan: Plan) -> list[PlanProblem]:
    source = plan.source
    problems: list[PlanProblem] = []
    for key in ("esb", "elb"):
        path: Path | None = getattr(plan.distributions, key)
        if path is None:
            continue
        if not path.is_file():
            problems.append(source.problem(("distributions", key), f"{path} does not exist",
                                           f"download the {PRODUCT_LABELS[key]} {EXPECTED_VERSIONS[key]} zip and give its path"))
            continue
        try:
            info = inspect_distribution(path)
            for warning_text in expect_product(info, key, EXPECTED_VERSIONS[key]):
                problems.append(source.problem(("distributions", key), warning_text, severity="warning"))
            check_archive(path)
        except DistributionError as error:
            problems.append(source.problem(("distributions", key), error.message, error.hint))
    driver = plan.distributions.jdbc_driver
    if driver is None:
        pass
    elif not driver.is_file():
        problems.append(source.problem(("distributions", "jdbc_driver"), f"{driver} does not exist",
                                       "download MySQL Connector/J and give the path of its .jar"))
    else:
        try:
            inspect_jdbc_driver(driver)
        except DistributionError as error:
            problems.append(source.problem(("distributions", "jdbc_driver"), error.message, error.hint))
    return problems


def check_parsed(plan: Plan | None, problems: list[PlanProblem], *, check_files: bool = True,
                 is_root: bool | None = None) -> tuple[Layout | None, list[PlanProblem]]:
    """Validate what ``parse_plan`` / ``load_plan_file`` returned, never raising: the layout when
    one could be derived, and every problem (the shape problems first). A plan with shape errors
    gets only the checks that need no layout."""
    if plan is None:
        return None, problems
    shape_errors = any(problem.severity == "error" for problem in problems)
    layout, more = validate(plan, check_files=check_files, is_root=is_root, partial=shape_errors)
    return layout, problems + more


def check_plan(path: Path, *, check_files: bool = True) -> CheckedPlan:
    """Load, validate and derive; raise PlanError carrying every error (warnings are kept)."""
    plan, problems = load_plan_file(path)
    layout, problems = check_parsed(plan, problems, check_files=check_files)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors or layout is None or plan is None:
        raise PlanError(errors)
    return CheckedPlan(plan=plan, layout=layout, problems=tuple(problems))
