"""What each patcher is asked to make true, as plain frozen values.

Derivation (``installer.plan.derive``) computes these from the plan; the patchers in this package turn
an original file plus one of these into the patched file. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WkaMember:
    """A well-known member: ``<member><hostName>host</hostName><port>port</port></member>``."""

    host: str
    port: int


@dataclass(frozen=True)
class Axis2Settings:
    """``repository/conf/axis2/axis2.xml``.

    Always: ``<clustering class="...TribesClusteringAgent" enable="true">``, parameters
    ``membershipScheme`` = wka, ``domain``, ``localMemberHost``, ``localMemberPort``; the
    ``<members>`` element holds exactly ``members`` (an absent ``<members>`` is added only when
    ``members`` is not empty).

    ``sub_domain``: when set, ``<parameter name="properties">`` carries
    ``<property name="subDomain" value="..."/>``; when None the properties are left alone.
    ``port_mapping``: ``(elb_port, target_port)`` pairs; the properties carry exactly these
    ``port.mapping.<elb_port>`` entries (others removed). Only meaningful with ``sub_domain``.
    ``transport_ports``: ELB only, ``(http, https)`` written as ``<parameter name="port">`` of the
    ``http`` / ``https`` transportReceiver.
    ``wsdl_epr_prefix``: manager only, ``(http_prefix, https_prefix)`` written as
    ``<parameter name="WSDLEPRPrefix">`` of the ``http`` / ``https`` transportReceiver.
    """

    domain: str
    local_member_host: str
    local_member_port: int
    members: tuple[WkaMember, ...] = ()
    sub_domain: str | None = None
    port_mapping: tuple[tuple[int, int], ...] = ()
    transport_ports: tuple[int, int] | None = None
    wsdl_epr_prefix: tuple[str, str] | None = None


@dataclass(frozen=True)
class DeploymentSyncSettings:
    """carbon.xml's ``<DeploymentSynchronizer>``: how a node shares deployed artefacts.

    The manager commits and checks out (``auto_commit`` and ``auto_checkout`` true); a worker only
    checks out. ``repository_type`` is ``registry`` (the mounted config registry in REGISTRY_DB)
    or ``svn``; for svn ``svn_url``, and ``svn_user`` / ``svn_password`` when the repository asks
    for a login. ``svn_password`` is a secret: never shown (``repr``), never in a plan.
    """

    enabled: bool
    auto_commit: bool
    auto_checkout: bool
    repository_type: str = "registry"
    svn_url: str | None = None
    svn_user: str | None = None
    svn_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CarbonSettings:
    """``repository/conf/carbon.xml`` (default namespace ``http://wso2.org/projects/carbon/carbon.xml``).

    ``Ports/Offset`` always; ``HostName`` / ``MgtHostName`` when not None (inserted right after
    their commented-out form, or after ``Version`` when there is no such comment);
    ``<DeploymentSynchronizer>`` when ``deployment_sync`` is not None (the ELB leaves it alone).
    """

    offset: int
    host_name: str | None = None
    mgt_host_name: str | None = None
    deployment_sync: DeploymentSyncSettings | None = None


@dataclass(frozen=True)
class Datasource:
    """One ``<datasource>`` of ``master-datasources.xml``, RDBMS type."""

    name: str
    description: str
    jndi_name: str
    url: str
    username: str
    password: str
    driver_class: str = "com.mysql.jdbc.Driver"
    max_active: int = 50
    max_wait: int = 60000
    test_on_borrow: bool = True
    validation_query: str = "SELECT 1"
    validation_interval: int = 30000


@dataclass(frozen=True)
class DatasourcesSettings:
    """``repository/conf/datasources/master-datasources.xml``.

    The result holds ``datasources`` (in this order, where the first replaced one stood); any
    existing datasource with the same name or the same JNDI name as one of ours (so the default
    H2 ``WSO2_CARBON_DB`` / ``jdbc/WSO2CarbonDB``) is replaced; every other datasource is kept.
    """

    datasources: tuple[Datasource, ...]


@dataclass(frozen=True)
class UserMgtSettings:
    """``repository/conf/user-mgt.xml``: ``Realm/Configuration/Property[@name='dataSource']``."""

    data_source: str


@dataclass(frozen=True)
class RegistryMount:
    path: str
    target_path: str
    overwrite: str = "true"


@dataclass(frozen=True)
class RegistrySettings:
    """``repository/conf/registry.xml``.

    ``<dbConfig name=db_config_name><dataSource>data_source</dataSource></dbConfig>``; one
    ``<remoteInstance url=remote_url>`` with ``id``, ``dbConfig``, ``readOnly``, ``enableCache``
    true, ``registryRoot`` /, ``cacheId``; one ``<mount>`` per entry of ``mounts`` (replacing a
    mount with the same path).
    """

    db_config_name: str
    data_source: str
    instance_id: str
    remote_url: str
    read_only: bool
    cache_id: str
    mounts: tuple[RegistryMount, ...]


@dataclass(frozen=True)
class LbServiceDomain:
    """One ``<domain> { hosts ...; sub_domain ...; tenant_range ...; }`` block."""

    domain: str
    hosts: tuple[str, ...]
    sub_domain: str
    tenant_range: str


@dataclass(frozen=True)
class LoadBalancerSettings:
    """``repository/conf/loadbalancer.conf``: ``services { <service_name> { domains { ... } } }``."""

    service_name: str
    domains: tuple[LbServiceDomain, ...]
