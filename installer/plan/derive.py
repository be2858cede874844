"""Everything the seed makes an operator work out by hand, derived from the plan.

Port offsets and clustering (member) ports per node, the ports each node will listen on, the
manager's ``port.mapping.*`` properties, each node's well-known members, datasource URLs, the
registry ``cacheId``, the hosts-file lines each server needs, and the settings every patcher
gets. Pinned values are kept; the rest take the smallest free value per server, in role order
(ELB, manager, workers), which reproduces the seed's layout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from installer.files.settings import (
    Axis2Settings,
    CarbonSettings,
    Datasource,
    DatasourcesSettings,
    DeploymentSyncSettings,
    LbServiceDomain,
    LoadBalancerSettings,
    RegistryMount,
    RegistrySettings,
    UserMgtSettings,
    WkaMember,
)
from installer.plan.model import NodeSpec, Plan, ServerSpec

# Carbon's default ports, each moved by the node's <Offset>; the clustering port is not.
SERVLET_HTTP = 9763
SERVLET_HTTPS = 9443
PASSTHROUGH_HTTP = 8280
PASSTHROUGH_HTTPS = 8243
FIRST_MEMBER_PORT = 4000
HIGHEST_PORT = 65535
# Every port a node binds must stay a TCP port; the servlet HTTP port is the highest base.
HIGHEST_OFFSET = HIGHEST_PORT - max(SERVLET_HTTP, SERVLET_HTTPS, PASSTHROUGH_HTTP, PASSTHROUGH_HTTPS)

ROLE_ORDER = {"elb": 0, "manager": 1, "worker": 2}
SUB_DOMAINS = {"manager": "mgt", "worker": "worker"}
ESB_SERVICE_NAME = "esb"
SHARED_REGISTRY_DB_CONFIG = "sharedregistry"
REGISTRY_INSTANCE_ID = "instanceid"
REGISTRY_REMOTE_URL = "https://localhost:9443/registry"
REGISTRY_MOUNTS = (
    RegistryMount("/_system/config", "/_system/asNodes"),
    RegistryMount("/_system/governance", "/_system/governance"),
)
JNDI_LOCAL_REGISTRY = "jdbc/WSO2CarbonDB"
JNDI_SHARED_REGISTRY = "jdbc/WSO2RegistryDB"
JNDI_USER_STORE = "jdbc/WSO2UMDB"


@dataclass(frozen=True)
class PortUse:
    port: int
    node: str
    purpose: str
    # The plan setting that puts it there ("offset", "member_port", or the ELB's
    # "elb_ports.http" / "elb_ports.https"): what to change when the port cannot be used.
    set_by: str = "offset"


@dataclass(frozen=True)
class NodeLayout:
    name: str
    role: str
    server: str
    address: str
    home: Path
    offset: int
    member_port: int
    offset_pinned: bool
    member_port_pinned: bool
    domain: str
    sub_domain: str | None
    wka_members: tuple[WkaMember, ...]
    port_mapping: tuple[tuple[int, int], ...]
    local_registry_db: str | None

    @property
    def is_esb(self) -> bool:
        return self.role in ("manager", "worker")

    @property
    def servlet_ports(self) -> tuple[int, int]:
        """HTTP and HTTPS of the management console and services (9763 / 9443 + offset)."""
        return SERVLET_HTTP + self.offset, SERVLET_HTTPS + self.offset

    def transport_ports(self, plan: Plan) -> tuple[int, int]:
        """HTTP and HTTPS of the request transports: the plan's ELB ports for the ELB, the
        pass-through ports (8280 / 8243 + offset) for an ESB node."""
        if self.role == "elb":
            return plan.cluster.elb_ports.http, plan.cluster.elb_ports.https
        return PASSTHROUGH_HTTP + self.offset, PASSTHROUGH_HTTPS + self.offset

    def listening_ports(self, plan: Plan) -> tuple[PortUse, ...]:
        """Every port this node will bind, with what it is for."""
        servlet_http, servlet_https = self.servlet_ports
        transport_http, transport_https = self.transport_ports(plan)
        transport = ("ELB HTTP", "ELB HTTPS") if self.role == "elb" else (
            "pass-through HTTP (8280 + offset)", "pass-through HTTPS (8243 + offset)")
        transport_set_by = ("elb_ports.http", "elb_ports.https") if self.role == "elb" else ("offset", "offset")
        return (
            PortUse(servlet_http, self.name, "servlet HTTP (9763 + offset)"),
            PortUse(servlet_https, self.name, "servlet HTTPS (9443 + offset)"),
            PortUse(self.member_port, self.name, "clustering (localMemberPort)", "member_port"),
            PortUse(transport_http, self.name, transport[0], transport_set_by[0]),
            PortUse(transport_https, self.name, transport[1], transport_set_by[1]),
        )

    def start_flags(self, *, first_start: bool) -> tuple[str, ...]:
        if self.role == "manager":
            return ("-Dsetup",) if first_start else ()
        if self.role == "worker":
            return ("-DworkerNode=true",)
        return ()


@dataclass(frozen=True)
class HostsEntry:
    address: str
    hostname: str
    reason: str


@dataclass(frozen=True)
class HostsConflict:
    server: str
    hostname: str
    addresses: tuple[tuple[str, str], ...]  # (address, reason)


@dataclass(frozen=True)
class ServerLayout:
    name: str
    address: str
    install_dir: Path
    hosts_file: Path
    nodes: tuple[NodeLayout, ...]
    hosts_entries: tuple[HostsEntry, ...]


@dataclass(frozen=True)
class DatabaseUse:
    name: str
    purpose: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    plan: Plan
    servers: tuple[ServerLayout, ...]
    databases: tuple[DatabaseUse, ...]
    hosts_conflicts: tuple[HostsConflict, ...] = field(default=())

    # Lookups by name and role are indexed once per layout (a frozen dataclass: its fields never
    # change; cached_property keeps the index beside them): callers ask per node, and a scan per
    # question made per-node loops quadratic. The first of duplicate names wins, as the scans did.

    def server(self, name: str) -> ServerLayout:
        return self._server_index[name]

    @cached_property
    def nodes(self) -> tuple[NodeLayout, ...]:
        return tuple(node for server in self.servers for node in server.nodes)

    def node(self, name: str) -> NodeLayout:
        return self._node_index[name]

    def nodes_with_role(self, role: str) -> tuple[NodeLayout, ...]:
        return self._role_index.get(role, ())

    @cached_property
    def _server_index(self) -> dict[str, ServerLayout]:
        index: dict[str, ServerLayout] = {}
        for server in self.servers:
            index.setdefault(server.name, server)
        return index

    @cached_property
    def _node_index(self) -> dict[str, NodeLayout]:
        index: dict[str, NodeLayout] = {}
        for node in self.nodes:
            index.setdefault(node.name, node)
        return index

    @cached_property
    def _role_index(self) -> dict[str, tuple[NodeLayout, ...]]:
        roles: dict[str, list[NodeLayout]] = defaultdict(list)
        for node in self.nodes:
            roles[node.role].append(node)
        return {role: tuple(nodes) for role, nodes in roles.items()}

    @property
    def elb(self) -> NodeLayout | None:
        found = self.nodes_with_role("elb")
        return found[0] if found else None

    @property
    def manager(self) -> NodeLayout | None:
        found = self.nodes_with_role("manager")
        return found[0] if found else None

    def start_order(self, server: str | None = None) -> tuple[NodeLayout, ...]:
        """ELB, then manager, then workers (as the seed starts them)."""
        nodes = [node for node in self.nodes if server is None or node.server == server]
        return tuple(sorted(nodes, key=lambda node: ROLE_ORDER[node.role]))

    def databases_used_on(self, server: ServerLayout) -> list[str]:
        """The databases the ESB nodes of ``server`` connect to, each once."""
        db = self.plan.database
        names: list[str] = []
        for node in server.nodes:
            if node.is_esb and node.local_registry_db:
                names += [node.local_registry_db, db.registry_db, db.user_db]
        return list(dict.fromkeys(names))

    # --- datasources and registry --------------------------------------------------------------

    def jdbc_url(self, database: str, *, auto_reconnect: bool = True) -> str:
        db = self.plan.database
        url = f"jdbc:mysql://{db.hostname}:{db.port}/{database}"
        return url + "?autoReconnect=true" if auto_reconnect else url

    @property
    def registry_cache_id(self) -> str:
        """The same on every node: ``<db user>@<JDBC URL of REGISTRY_DB>`` (the seed's differ; they must not)."""
        return f"{self.plan.database.user}@{self.jdbc_url(self.plan.database.registry_db)}"

    def datasources(self, node: NodeLayout, password: str) -> DatasourcesSettings:
        db = self.plan.database
        assert node.local_registry_db is not None
        return DatasourcesSettings(datasources=(
            Datasource(name=node.local_registry_db, description="The datasource used for registry- local",
                       jndi_name=JNDI_LOCAL_REGISTRY, url=self.jdbc_url(node.local_registry_db),
                       username=db.user, password=password),
            Datasource(name=db.registry_db, description="The datasource used for registry- config/governance",
                       jndi_name=JNDI_SHARED_REGISTRY, url=self.jdbc_url(db.registry_db),
                       username=db.user, password=password),
            Datasource(name=db.user_db, description="The datasource used for registry and user manager",
                       jndi_name=JNDI_USER_STORE, url=self.jdbc_url(db.user_db, auto_reconnect=False),
                       username=db.user, password=password),
        ))

    # --- patcher settings ------------------------------------------------------------------------

    def axis2_settings(self, node: NodeLayout) -> Axis2Settings:
        cluster = self.plan.cluster
        if node.role == "elb":
            return Axis2Settings(
                domain=node.domain, local_member_host=node.address, local_member_port=node.member_port,
                transport_ports=(cluster.elb_ports.http - node.offset, cluster.elb_ports.https - node.offset),
            )
        wsdl_prefix = None
        if node.role == "manager":
            worker_host = cluster.hostnames.worker
            wsdl_prefix = (f"http://{worker_host}:{cluster.elb_ports.http}",
                           f"https://{worker_host}:{cluster.elb_ports.https}")
        return Axis2Settings(
            domain=node.domain, local_member_host=node.address, local_member_port=node.member_port,
            members=node.wka_members, sub_domain=node.sub_domain, port_mapping=node.port_mapping,
            wsdl_epr_prefix=wsdl_prefix,
        )

    def carbon_settings(self, node: NodeLayout, svn_password: str | None = None) -> CarbonSettings:
        names = self.plan.cluster.hostnames
        if node.role == "elb":
            return CarbonSettings(offset=node.offset)
        sync = self.deployment_sync_settings(node, svn_password)
        if node.role == "manager":
            return CarbonSettings(offset=node.offset, host_name=names.worker, mgt_host_name=names.mgt,
                                  deployment_sync=sync)
        return CarbonSettings(offset=node.offset, host_name=names.worker, deployment_sync=sync)

    def deployment_sync_settings(self, node: NodeLayout, svn_password: str | None = None) -> DeploymentSyncSettings:
        """The guide's "Dep-sync management" node is the manager: it commits what is deployed on it
        and checks out; workers only check out (Carbon 4.1's carbon.xml says as much)."""
        spec = self.plan.cluster.deployment_sync
        svn = spec.repository == "svn"
        return DeploymentSyncSettings(
            enabled=True, auto_commit=node.role == "manager", auto_checkout=True, repository_type=spec.repository,
            svn_url=spec.svn_url if svn else None, svn_user=spec.svn_user if svn else None,
            svn_password=svn_password if svn and spec.svn_user else None)

    @property
    def needs_svn_password(self) -> bool:
        spec = self.plan.cluster.deployment_sync
        return spec.repository == "svn" and bool(spec.svn_user)

    def user_mgt_settings(self) -> UserMgtSettings:
        return UserMgtSettings(data_source=JNDI_USER_STORE)

    def registry_settings(self, node: NodeLayout) -> RegistrySettings:
        return RegistrySettings(
            db_config_name=SHARED_REGISTRY_DB_CONFIG, data_source=JNDI_SHARED_REGISTRY,
            instance_id=REGISTRY_INSTANCE_ID, remote_url=REGISTRY_REMOTE_URL,
            read_only=node.role != "manager", cache_id=self.registry_cache_id, mounts=REGISTRY_MOUNTS,
        )

    def load_balancer_settings(self) -> LoadBalancerSettings:
        cluster = self.plan.cluster
        return LoadBalancerSettings(service_name=ESB_SERVICE_NAME, domains=(
            LbServiceDomain(cluster.domain, (cluster.hostnames.mgt,), "mgt", cluster.tenant_range),
            LbServiceDomain(cluster.domain, (cluster.hostnames.worker,), "worker", cluster.tenant_range),
        ))


# --- derivation ----------------------------------------------------------------------------------

def _offset_ports(role: str, offset: int, plan: Plan) -> list[int]:
    """The ports of a node that move with its offset (the ELB's transports are the plan's)."""
    ports = [SERVLET_HTTP + offset, SERVLET_HTTPS + offset]
    if role != "elb":
        ports += [PASSTHROUGH_HTTP + offset, PASSTHROUGH_HTTPS + offset]
    return ports


def _fixed_ports(role: str, plan: Plan) -> list[int]:
    """Ports no offset moves: the ELB's public HTTP/HTTPS ports."""
    return [plan.cluster.elb_ports.http, plan.cluster.elb_ports.https] if role == "elb" else []


def database_port_on(plan: Plan, server: ServerSpec) -> int | None:
    """MySQL's port when the database runs on ``server`` (its address is the database's): a port
    no node there can bind, whatever the address it binds on."""
    database = plan.database
    if database.address is None or database.port is None or database.address != server.address:
        return None
    return database.port


def _allocate(server: ServerSpec, plan: Plan) -> list[tuple[int, int]]:
    """(offset, member port) per node of one server, by position: pinned values first, then the
    smallest free, in role order. Positions, not names: a plan with duplicate names still derives,
    so validation can report everything at once. MySQL's port, when it runs here, is taken
    before anything else: it was there first."""
    taken_offsets: set[int] = set()
    taken_ports: set[int] = set()
    database_port = database_port_on(plan, server)
    if database_port is not None:
        taken_ports.add(database_port)
    order = sorted(range(len(server.nodes)), key=lambda index: ROLE_ORDER.get(server.nodes[index].role, 9))
    offsets: dict[int, int] = {}
    member_ports: dict[int, int] = {}

    for index in order:
        node = server.nodes[index]
        taken_ports.update(_fixed_ports(node.role, plan))
        if node.offset is not None:
            offsets[index] = node.offset
            taken_offsets.add(node.offset)
            taken_ports.update(_offset_ports(node.role, node.offset, plan))
        if node.member_port is not None:
            member_ports[index] = node.member_port
            taken_ports.add(node.member_port)

    # What is taken only grows, so the smallest free value never goes down: each search starts
    # where the last one (for the same role: the ELB binds fewer ports) stopped. Without this,
    # a server with thousands of nodes took minutes to derive.
    next_offset: dict[str, int] = {}
    for index in order:
        if index in offsets:
            continue
        role = server.nodes[index].role
        offset = next_offset.get(role, 0)
        while offset in taken_offsets or taken_ports.intersection(_offset_ports(role, offset, plan)):
            offset += 1
        offsets[index] = next_offset[role] = offset
        taken_offsets.add(offset)
        taken_ports.update(_offset_ports(role, offset, plan))

    port = FIRST_MEMBER_PORT
    for index in order:
        if index in member_ports:
            continue
        while port in taken_ports:
            port += 1
        member_ports[index] = port
        taken_ports.add(port)

    return [(offsets[index], member_ports[index]) for index in range(len(server.nodes))]


def _local_registry_db(plan: Plan, node: NodeSpec) -> str | None:
    db = plan.database
    if node.role == "elb":
        return None
    if db.local_registry == "per-node":
        return "REGISTRY_LOCAL_" + "".join(ch if ch.isalnum() else "_" for ch in node.name.upper())
    return db.manager_local_db if node.role == "manager" else db.worker_local_db


def derive(plan: Plan) -> Layout:
    """The derived layout of a plan whose shape is valid (cross-field problems are reported by
    ``installer.plan.check``; derivation still produces a layout so they can all be found)."""
    cluster = plan.cluster
    names = cluster.hostnames
    by_role: dict[str, list[tuple[ServerSpec, NodeSpec]]] = defaultdict(list)
    for server, node in plan.nodes():
        by_role[node.role].append((server, node))

    allocations = [_allocate(server, plan) for server in plan.servers]

    def member_port_of(role: str) -> int | None:
        for server_index, server in enumerate(plan.servers):
            for node_index, node in enumerate(server.nodes):
                if node.role == role:
                    return allocations[server_index][node_index][1]
        return None

    elb_member_port = member_port_of("elb")
    manager_member_port = member_port_of("manager")

    servers: list[ServerLayout] = []
    for server_index, server in enumerate(plan.servers):
        nodes: list[NodeLayout] = []
        for node_index, node in enumerate(server.nodes):
            offset, member_port = allocations[server_index][node_index]
            members: list[WkaMember] = []
            if node.role in ("manager", "worker") and elb_member_port is not None:
                members.append(WkaMember(names.elb, elb_member_port))
            if node.role == "worker" and manager_member_port is not None:
                members.append(WkaMember(names.mgt, manager_member_port))
            port_mapping: tuple[tuple[int, int], ...] = ()
            if node.role == "manager":
                port_mapping = ((cluster.elb_ports.http, SERVLET_HTTP + offset),
                                (cluster.elb_ports.https, SERVLET_HTTPS + offset))
            nodes.append(NodeLayout(
                name=node.name, role=node.role, server=server.name, address=server.address,
                home=server.install_dir / node.name, offset=offset, member_port=member_port,
                offset_pinned=node.offset is not None, member_port_pinned=node.member_port is not None,
                domain=cluster.lb_domain if node.role == "elb" else cluster.domain,
                sub_domain=SUB_DOMAINS.get(node.role), wka_members=tuple(members),
                port_mapping=port_mapping, local_registry_db=_local_registry_db(plan, node),
            ))
        servers.append(ServerLayout(
            name=server.name, address=server.address, install_dir=server.install_dir,
            hosts_file=server.hosts_file, nodes=tuple(nodes), hosts_entries=(),
        ))

    elb_address = next((s.address for s, _ in by_role["elb"]), None)
    manager_address = next((s.address for s, _ in by_role["manager"]), None)
    conflicts: list[HostsConflict] = []
    final_servers: list[ServerLayout] = []
    for server in servers:
        entries, server_conflicts = _hosts_entries(plan, server, elb_address, manager_address)
        conflicts.extend(server_conflicts)
        final_servers.append(ServerLayout(
            name=server.name, address=server.address, install_dir=server.install_dir,
            hosts_file=server.hosts_file, nodes=server.nodes, hosts_entries=entries,
        ))

    return Layout(plan=plan, servers=tuple(final_servers), databases=_databases(plan, final_servers),
                  hosts_conflicts=tuple(conflicts))


# Order of lines in a hosts block: the database first, as the seed writes them.
_HOSTS_ORDER = ("database", "elb", "mgt", "worker")


def _hosts_entries(plan: Plan, server: ServerLayout, elb_address: str | None,
                   manager_address: str | None) -> tuple[tuple[HostsEntry, ...], list[HostsConflict]]:
    """What this server's hosts file must say, following the seed's "Mapping host names" sections."""
    names = plan.cluster.hostnames
    roles = {node.role for node in server.nodes}
    wanted: list[tuple[str, str, str, str]] = []  # (kind, hostname, address, reason)
    if "elb" in roles and elb_address:
        wanted.append(("worker", names.worker, elb_address, "the ELB fronts worker requests"))
        wanted.append(("mgt", names.mgt, elb_address, "the ELB fronts management requests"))
    if roles & {"manager", "worker"}:
        wanted.append(("database", plan.database.hostname, plan.database.address, "the central database"))
        if elb_address:
            wanted.append(("elb", names.elb, elb_address, "the ELB is a well-known member"))
    if "manager" in roles and elb_address:
        wanted.append(("worker", names.worker, elb_address, "the manager's HostName points at the ELB"))
    if "worker" in roles and manager_address:
        wanted.append(("mgt", names.mgt, manager_address, "the manager is a well-known member of workers"))

    chosen: dict[str, HostsEntry] = {}
    seen: dict[str, list[tuple[str, str]]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for kind, hostname, address, reason in wanted:
        key = hostname.lower()
        seen[key].append((address, reason))
        kinds.setdefault(key, kind)
        chosen.setdefault(key, HostsEntry(address, hostname, reason))
    conflicts = [
        HostsConflict(server.name, chosen[key].hostname, tuple(dict.fromkeys(uses)))
        for key, uses in seen.items()
        if len({address for address, _ in uses}) > 1
    ]
    ordered = sorted(chosen, key=lambda key: (_HOSTS_ORDER.index(kinds[key]), key))
    return tuple(chosen[key] for key in ordered), conflicts


def _databases(plan: Plan, servers: list[ServerLayout]) -> tuple[DatabaseUse, ...]:
    db = plan.database
    esb_nodes = [node for server in servers for node in server.nodes if node.is_esb]
    uses: dict[str, tuple[str, list[str]]] = {
        db.user_db: ("JDBC user store and authorization manager", [n.name for n in esb_nodes]),
        db.registry_db: ("shared config and governance registry mounts", [n.name for n in esb_nodes]),
    }
    for node in esb_nodes:
        assert node.local_registry_db is not None
        purpose = f"local registry of {'the manager' if node.role == 'manager' else 'workers'}"
        if plan.database.local_registry == "per-node":
            purpose = f"local registry of {node.name}"
        uses.setdefault(node.local_registry_db, (purpose, []))[1].append(node.name)
    return tuple(DatabaseUse(name, purpose, tuple(nodes)) for name, (purpose, nodes) in uses.items())
