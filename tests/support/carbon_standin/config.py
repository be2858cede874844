"""Reading a Carbon home's configuration the way a Carbon 4.0/4.1 server reads it.

The stand-in does not trust the installer: it parses the files itself (lxml for the XML, a small
parser of its own for ``loadbalancer.conf``), looks only at active elements (comments are not
configuration), applies Carbon's defaults where an element is missing, and turns every problem
Carbon would stop at into a :class:`StartupFailure` carrying Carbon-like exception lines.

Host names are resolved through the hosts file named by ``CARBON_STANDIN_HOSTS_FILE`` when it is
set, so that each simulated server sees its own ``/etc/hosts``; names it does not list are
unknown (no DNS query is ever made then). Without the variable the system resolver is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tests.support.carbon_standin.errors import StartupFailure, java_exception

HOSTS_FILE_ENV = "CARBON_STANDIN_HOSTS_FILE"

CARBON_XML = "repository/conf/carbon.xml"
AXIS2_XML = "repository/conf/axis2/axis2.xml"
MASTER_DATASOURCES_XML = "repository/conf/datasources/master-datasources.xml"
REGISTRY_XML = "repository/conf/registry.xml"
LOADBALANCER_CONF = "repository/conf/loadbalancer.conf"

# Axis2's defaults for what the <clustering> section may leave out.
DEFAULT_DOMAIN = "apache.axis2.domain"
DEFAULT_MEMBERSHIP_SCHEME = "multicast"
DEFAULT_LOCAL_MEMBER_PORT = 4000
DEFAULT_MEMBER_DROP_TIME_MS = 3000
# The sub-domain of a member that names none (org.apache.axis2.clustering.ClusteringConstants).
DEFAULT_SUB_DOMAIN = "__$default"
TRIBES_AGENT_CLASS = "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
PORT_MAPPING_PREFIX = "port.mapping."

# Carbon's servlet transports (catalina-server.xml); like every port but localMemberPort, they
# move with carbon.xml's <Offset>.
SERVLET_HTTP_PORT = 9763
SERVLET_HTTPS_PORT = 9443

_SERVER_CONFIGURATION = "org.wso2.carbon.base.ServerConfiguration"
_AXIS2_BUILDER = "org.apache.axis2.deployment.AxisConfigBuilder"
_DATASOURCE_READER = "org.wso2.carbon.ndatasource.core.DataSourceRepository"
_LB_CONFIGURATION = "org.wso2.carbon.lb.common.conf.LoadBalancerConfiguration"
_REGISTRY_CONFIGURATION = "org.wso2.carbon.registry.core.config.RegistryConfigurationProcessor"

# Carbon 4.1's deployment synchronizer uses the registry when <RepositoryType> is not given.
DEFAULT_REPOSITORY_TYPE = "registry"
# The config registry's path as the registry.xml of the seed mounts it (/_system/config).
CONFIG_REGISTRY_PATH = "/_system/config"


# --------------------------------------------------------------------------------------------
# Host names
# --------------------------------------------------------------------------------------------


class UnknownHost(Exception):
    """``java.net.UnknownHostException``: the name is in no hosts file (or resolver)."""


def is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8 and ::1: the only addresses the stand-in ever talks to."""
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class HostResolver:
    """Resolves host names as the JVM would on the server being played.

    With ``hosts_file`` set, that file plays ``/etc/hosts``: the first line naming the host wins
    (glibc's ``files`` backend); it is read again on every lookup, as the tests may change it.
    """

    def __init__(self, hosts_file: Path | None) -> None:
        self.hosts_file = hosts_file

    @classmethod
    def from_environment(cls) -> HostResolver:
        value = os.environ.get(HOSTS_FILE_ENV)
        return cls(Path(value) if value else None)

    def resolve(self, name: str) -> str:
        """The address of ``name`` (an IP literal is its own answer); raises :class:`UnknownHost`."""
        name = name.strip()
        if is_ip_literal(name):
            return name
        if self.hosts_file is None:
            try:
                return socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
            except OSError as error:
                raise UnknownHost(name) from error
        wanted = name.casefold()
        try:
            text = self.hosts_file.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise UnknownHost(name) from error
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and is_ip_literal(fields[0]) and wanted in (f.casefold() for f in fields[1:]):
                return fields[0]
        raise UnknownHost(name)


def unknown_host_exception(name: str) -> list[str]:
    return java_exception("java.net.UnknownHostException", name, [
        "java.net.AbstractPlainSocketImpl.connect(AbstractPlainSocketImpl.java:178)",
        "java.net.InetAddress.getAllByName0(InetAddress.java:1259)",
        "java.net.InetAddress.getByName(InetAddress.java:1105)",
    ])


# --------------------------------------------------------------------------------------------
# XML
# --------------------------------------------------------------------------------------------


def _local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    """Active child elements called ``name`` (any namespace, as Carbon's readers match them)."""
    return [child for child in parent if isinstance(child.tag, str) and _local_name(child) == name]


def _child(parent: etree._Element | None, name: str) -> etree._Element | None:
    if parent is None:
        return None
    found = _children(parent, name)
    return found[0] if found else None


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext()).strip()


def _raw_text(element: etree._Element | None) -> str | None:
    """An element's text exactly, spaces kept: how Carbon's datasource reader takes a password."""
    return None if element is None else "".join(element.itertext())


def _parse_exception(path: Path, error: etree.XMLSyntaxError) -> list[str]:
    line, column = error.position if error.position else (error.lineno or 0, 0)
    # What the JDK's StAX parser (SJSXP) says about a malformed document.
    return java_exception("javax.xml.stream.XMLStreamException",
                          f"ParseError at [row,col]:[{line},{column}]\nMessage: {error.msg}", [
                              "com.sun.org.apache.xerces.internal.impl.XMLStreamReaderImpl.next(XMLStreamReaderImpl.java:598)",
                              "org.apache.axiom.om.impl.builder.StAXOMBuilder.next(StAXOMBuilder.java:267)",
                          ])


def parse_xml(path: Path, *, logger: str, what: str) -> etree._Element:
    """The root element of ``path``; a missing or malformed file is a :class:`StartupFailure`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StartupFailure(logger, f"Cannot read {what} {path}", java_exception(
            "java.io.FileNotFoundException", f"{path} (No such file or directory)",
            ["java.io.FileInputStream.open(Native Method)", "java.io.FileInputStream.<init>(FileInputStream.java:138)"],
        )) from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise StartupFailure(logger, f"Error while reading {what} {path}", _parse_exception(path, error)) from None


def _number_format_exception(value: str) -> list[str]:
    return java_exception("java.lang.NumberFormatException", f'For input string: "{value}"', [
        "java.lang.NumberFormatException.forInputString(NumberFormatException.java:65)",
        "java.lang.Integer.parseInt(Integer.java:492)",
    ])


def _as_int(value: str, *, logger: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise StartupFailure(logger, f"Invalid value for {what}", _number_format_exception(value)) from None


# --------------------------------------------------------------------------------------------
# carbon.xml
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentSynchronizerConfig:
    """carbon.xml's ``<DeploymentSynchronizer>``; its absence means disabled, as in a fresh pack."""

    enabled: bool = False
    auto_commit: bool = False
    auto_checkout: bool = False
    repository_type: str = DEFAULT_REPOSITORY_TYPE
    svn_url: str | None = None
    svn_url_append_tenant_id: bool = True


@dataclass(frozen=True)
class CarbonConfig:
    name: str
    server_key: str
    version: str
    offset: int
    host_name: str | None
    mgt_host_name: str | None
    deployment_synchronizer: DeploymentSynchronizerConfig = DeploymentSynchronizerConfig()

    @property
    def product(self) -> str:
        """What the ``Server           :`` start-up line prints."""
        return f"{self.name}-{self.version}"


def read_carbon_xml(home: Path, system_properties: dict[str, str]) -> CarbonConfig:
    path = home / CARBON_XML
    root = parse_xml(path, logger=_SERVER_CONFIGURATION, what="the server configuration file carbon.xml")
    if _local_name(root) != "Server":
        raise StartupFailure(_SERVER_CONFIGURATION, f"Error while reading the server configuration file {path}",
                             java_exception("org.wso2.carbon.base.ServerConfigurationException",
                                            f"Invalid root element <{_local_name(root)}> in carbon.xml"))
    offset_text = _text(_child(_child(root, "Ports"), "Offset"))
    # Carbon lets -DportOffset=N override <Ports><Offset>.
    offset_text = system_properties.get("portOffset", offset_text)
    offset = 0 if not offset_text else _as_int(offset_text, logger=_SERVER_CONFIGURATION, what="Ports.Offset")
    return CarbonConfig(
        name=_text(_child(root, "Name")) or "WSO2 Carbon",
        server_key=_text(_child(root, "ServerKey")) or "",
        version=_text(_child(root, "Version")) or "",
        offset=offset,
        host_name=_text(_child(root, "HostName")) or None,
        mgt_host_name=_text(_child(root, "MgtHostName")) or None,
        deployment_synchronizer=_deployment_synchronizer(_child(root, "DeploymentSynchronizer")),
    )


def _parse_boolean(text: str | None, default: bool = False) -> bool:
    """Java's Boolean.parseBoolean (what ServerConfiguration's readers use): only "true" is true."""
    return default if text is None else text.strip().lower() == "true"


def _deployment_synchronizer(element: etree._Element | None) -> DeploymentSynchronizerConfig:
    if element is None:
        return DeploymentSynchronizerConfig()

    def value(name: str) -> str | None:
        return _text(_child(element, name))

    return DeploymentSynchronizerConfig(
        enabled=_parse_boolean(value("Enabled")),
        auto_commit=_parse_boolean(value("AutoCommit")),
        auto_checkout=_parse_boolean(value("AutoCheckout")),
        repository_type=(value("RepositoryType") or DEFAULT_REPOSITORY_TYPE).lower(),
        svn_url=value("SvnUrl") or None,
        svn_url_append_tenant_id=_parse_boolean(value("SvnUrlAppendTenantId"), default=True),
    )


# --------------------------------------------------------------------------------------------
# axis2.xml
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WkaMemberConfig:
    host_name: str
    port: int


@dataclass(frozen=True)
class ClusteringConfig:
    enabled: bool
    agent_class: str
    membership_scheme: str
    domain: str
    local_member_host: str | None
    local_member_port: int
    member_drop_time_ms: int
    members: tuple[WkaMemberConfig, ...]
    properties: tuple[tuple[str, str], ...]

    def property_value(self, name: str) -> str | None:
        return next((value for key, value in self.properties if key == name), None)

    @property
    def sub_domain(self) -> str | None:
        return self.property_value("subDomain")


@dataclass(frozen=True)
class Axis2Config:
    clustering: ClusteringConfig | None
    http_port: int | None  # the http transportReceiver's port, before the offset
    https_port: int | None


def _parameters(parent: etree._Element) -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for parameter in _children(parent, "parameter"):
        # Axis2 keeps the first of two parameters with the same name.
        found.setdefault(parameter.get("name", ""), parameter)
    return found


def _receiver_port(root: etree._Element, name: str) -> int | None:
    for receiver in _children(root, "transportReceiver"):
        if receiver.get("name") == name:
            port = _parameters(receiver).get("port")
            if port is None:
                return None
            return _as_int(_text(port) or "", logger=_AXIS2_BUILDER, what=f"the {name} transport port")
    return None


def read_axis2_xml(home: Path) -> Axis2Config:
    path = home / AXIS2_XML
    root = parse_xml(path, logger=_AXIS2_BUILDER, what="the Axis2 configuration")
    http_port = _receiver_port(root, "http")
    https_port = _receiver_port(root, "https")
    clustering_elements = _children(root, "clustering")
    if not clustering_elements:
        return Axis2Config(None, http_port, https_port)
    clustering = clustering_elements[0]
    parameters = _parameters(clustering)

    def parameter(name: str) -> str | None:
        return _text(parameters.get(name))

    members = []
    members_element = _child(clustering, "members")
    for member in _children(members_element, "member") if members_element is not None else []:
        host = _text(_child(member, "hostName")) or ""
        port_text = _text(_child(member, "port")) or ""
        members.append(WkaMemberConfig(host, _as_int(port_text, logger=_AXIS2_BUILDER, what="a well-known member port")))
    properties = []
    properties_element = parameters.get("properties")
    if properties_element is not None:
        for item in _children(properties_element, "property"):
            properties.append((item.get("name", ""), item.get("value", "")))
    port_text = parameter("localMemberPort")
    drop_time_text = parameter("memberDropTime")
    return Axis2Config(
        clustering=ClusteringConfig(
            # Axis2 reads the attribute with Boolean.parseBoolean.
            enabled=clustering.get("enable", "").strip().lower() == "true",
            agent_class=(clustering.get("class") or "").strip(),
            membership_scheme=parameter("membershipScheme") or DEFAULT_MEMBERSHIP_SCHEME,
            domain=parameter("domain") or DEFAULT_DOMAIN,
            local_member_host=parameter("localMemberHost") or None,
            local_member_port=DEFAULT_LOCAL_MEMBER_PORT if not port_text
            else _as_int(port_text, logger=_AXIS2_BUILDER, what="localMemberPort"),
            member_drop_time_ms=DEFAULT_MEMBER_DROP_TIME_MS if not drop_time_text
            else _as_int(drop_time_text, logger=_AXIS2_BUILDER, what="memberDropTime"),
            members=tuple(members),
            properties=tuple(properties),
        ),
        http_port=http_port,
        https_port=https_port,
    )


# --------------------------------------------------------------------------------------------
# master-datasources.xml
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasourceConfig:
    name: str
    jndi_name: str | None
    definition_type: str | None
    url: str | None
    username: str | None
    password: str | None
    driver_class: str | None


def read_master_datasources(home: Path) -> tuple[DatasourceConfig, ...] | None:
    """The datasources, or None when the home has no master-datasources.xml (an ELB)."""
    path = home / MASTER_DATASOURCES_XML
    if not path.exists():
        return None
    root = parse_xml(path, logger=_DATASOURCE_READER, what="the data sources configuration")
    container = _child(root, "datasources") if _local_name(root) == "datasources-configuration" else None
    if container is None:
        raise StartupFailure(_DATASOURCE_READER, "Error in initializing system data sources",
                             java_exception("org.wso2.carbon.ndatasource.common.DataSourceException",
                                            f"Invalid data sources configuration file {path}"))
    found = []
    for element in _children(container, "datasource"):
        definition = _child(element, "definition")
        configuration = _child(definition, "configuration")
        found.append(DatasourceConfig(
            name=_text(_child(element, "name")) or "",
            jndi_name=_text(_child(_child(element, "jndiConfig"), "name")),
            definition_type=None if definition is None else definition.get("type"),
            url=_text(_child(configuration, "url")),
            username=_text(_child(configuration, "username")),
            password=_raw_text(_child(configuration, "password")),  # JAXB keeps the spaces
            driver_class=_text(_child(configuration, "driverClassName")),
        ))
    return tuple(found)


# --------------------------------------------------------------------------------------------
# registry.xml
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryDbConfig:
    """A ``<dbConfig>``: a datasource by JNDI name (Carbon 4.x), or an inline connection (older)."""

    name: str
    data_source: str | None
    url: str | None = None
    user_name: str | None = None
    password: str | None = None
    driver_name: str | None = None


@dataclass(frozen=True)
class RemoteRegistryInstance:
    instance_id: str
    db_config: str | None
    read_only: bool


@dataclass(frozen=True)
class RegistryMount:
    path: str
    instance_id: str
    target_path: str


@dataclass(frozen=True)
class RegistryConfig:
    current_db_config: str | None
    db_configs: dict[str, RegistryDbConfig]
    remote_instances: dict[str, RemoteRegistryInstance]
    mounts: tuple[RegistryMount, ...]

    def config_registry_mount(self) -> tuple[RegistryMount, RemoteRegistryInstance] | None:
        """The mount that serves /_system/config from a remote instance, if registry.xml has one.

        A mount naming an instance registry.xml does not define mounts nothing: the config registry
        stays in the node's own database."""
        for mount in self.mounts:
            if mount.path.rstrip("/") == CONFIG_REGISTRY_PATH:
                instance = self.remote_instances.get(mount.instance_id)
                if instance is not None:
                    return mount, instance
        return None


def _registry_path(text: str | None) -> str:
    path = "/" + (text or "").strip().strip("/")
    return path if path != "/" else "/"


def read_registry_xml(home: Path) -> RegistryConfig | None:
    """The parts of registry.xml that say where the config registry lives; None without the file."""
    path = home / REGISTRY_XML
    if not path.exists():
        return None
    root = parse_xml(path, logger=_REGISTRY_CONFIGURATION, what="the registry configuration")
    db_configs: dict[str, RegistryDbConfig] = {}
    for element in _children(root, "dbConfig"):
        name = element.get("name", "").strip()
        # The registry keeps the first of two dbConfigs with the same name.
        db_configs.setdefault(name, RegistryDbConfig(
            name=name, data_source=_text(_child(element, "dataSource")) or None,
            url=_text(_child(element, "url")) or None, user_name=_text(_child(element, "userName")) or None,
            password=_raw_text(_child(element, "password")), driver_name=_text(_child(element, "driverName")) or None))
    instances: dict[str, RemoteRegistryInstance] = {}
    for element in _children(root, "remoteInstance"):
        instance_id = _text(_child(element, "id")) or ""
        instances.setdefault(instance_id, RemoteRegistryInstance(
            instance_id=instance_id, db_config=_text(_child(element, "dbConfig")) or None,
            read_only=_parse_boolean(_text(_child(element, "readOnly")))))
    mounts = tuple(RegistryMount(path=_registry_path(element.get("path")),
                                 instance_id=_text(_child(element, "instanceId")) or "",
                                 target_path=_registry_path(_text(_child(element, "targetPath"))))
                   for element in _children(root, "mount"))
    return RegistryConfig(current_db_config=_text(_child(root, "currentDBConfig")) or None,
                          db_configs=db_configs, remote_instances=instances, mounts=mounts)


# --------------------------------------------------------------------------------------------
# loadbalancer.conf
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadBalancedDomain:
    """One domain block of a service in loadbalancer.conf, with the values in effect for it."""

    service: str
    domain: str
    sub_domain: str  # DEFAULT_SUB_DOMAIN when none is given
    hosts: tuple[str, ...]
    tenant_range: str


@dataclass
class _ConfBlock:
    name: str
    line: int
    properties: dict[str, str]
    blocks: list[_ConfBlock]


_TOKEN = re.compile(r"\{|\}|;|[^\s{};]+")


def _malformed_conf(path: Path, line: int, problem: str) -> StartupFailure:
    return StartupFailure(_LB_CONFIGURATION, f"Error reading the load balancer configuration {path}",
                          java_exception("org.wso2.carbon.lb.common.conf.util.MalformedConfigurationFileException",
                                         f"{problem} (line {line})"))


def _parse_conf(text: str, path: Path) -> _ConfBlock:
    """``name { key value; ... }`` blocks with ``#`` comments, into a tree (strict about braces)."""
    root = _ConfBlock("", 0, {}, [])
    stack = [root]
    words: list[tuple[str, int]] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        for token in _TOKEN.findall(raw_line.split("#", 1)[0]):
            if token == "{":
                if len(words) != 1:
                    raise _malformed_conf(path, number, "a block must have exactly one name before '{'")
                block = _ConfBlock(words[0][0], number, {}, [])
                stack[-1].blocks.append(block)
                stack.append(block)
                words = []
            elif token == "}":
                if words:
                    raise _malformed_conf(path, number, f"'{words[0][0]}' is not ended by ';'")
                if len(stack) == 1:
                    raise _malformed_conf(path, number, "'}' closes no block")
                stack.pop()
            elif token == ";":
                if len(words) < 2:
                    raise _malformed_conf(path, number, "a property needs a name and a value before ';'")
                stack[-1].properties[words[0][0]] = " ".join(word for word, _ in words[1:])
                words = []
            else:
                words.append((token, number))
    if words:
        raise _malformed_conf(path, words[0][1], f"'{words[0][0]}' is not ended by ';'")
    if len(stack) > 1:
        raise _malformed_conf(path, stack[-1].line, f"block '{stack[-1].name}' is not closed")
    return root


def read_loadbalancer_conf(path: Path) -> tuple[LoadBalancedDomain, ...]:
    """Every (service, domain, sub-domain) the ELB fronts, in file order."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise StartupFailure(_LB_CONFIGURATION, f"Cannot read the load balancer configuration {path}",
                             java_exception("java.io.FileNotFoundException", f"{path} ({error.strerror})")) from None
    root = _parse_conf(text, path)
    found: list[LoadBalancedDomain] = []
    for services in (block for block in root.blocks if block.name == "services"):
        defaults = next((block.properties for block in services.blocks if block.name == "defaults"), {})
        for service in services.blocks:
            if service.name == "defaults":
                continue
            for domains in (block for block in service.blocks if block.name == "domains"):
                for domain in domains.blocks:
                    # The ELB applies defaults, then the service's own values, then the domain's.
                    effective = {**defaults, **service.properties, **domain.properties}
                    hosts = tuple(host.strip() for host in effective.get("hosts", "").split(",") if host.strip())
                    entry = LoadBalancedDomain(
                        service=service.name, domain=domain.name,
                        sub_domain=effective.get("sub_domain") or DEFAULT_SUB_DOMAIN,
                        hosts=hosts, tenant_range=effective.get("tenant_range", "*"),
                    )
                    if entry not in found:
                        found.append(entry)
    return tuple(found)


def loadbalancer_conf_path(home: Path, system_properties: dict[str, str]) -> Path:
    """Where ``-Dloadbalancer.conf=file:...`` points (relative to the home), else the default."""
    value = system_properties.get("loadbalancer.conf")
    if not value:
        return home / LOADBALANCER_CONF
    value = value.removeprefix("file:")
    path = Path(value)
    return path if path.is_absolute() else home / path
