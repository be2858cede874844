"""The stand-in as the seed's "Testing the cluster" uses a node: hot-deployed proxy services, their
deployment synchronization from the manager to the workers (carbon.xml ``<DeploymentSynchronizer>``,
the config registry mounted from REGISTRY_DB), and requests that run a proxy's log mediator.

The first part reads configuration files and runs the deployer and the synchronizer in-process;
the second starts the seed's cluster (homes prepared by the installer's CLI, the suite's MariaDB)
with DepSync as the installer writes it into carbon.xml (manager: AutoCommit and AutoCheckout;
workers: AutoCheckout; the registry), plus copies of homes with wrong settings.

"Never" is asserted only behind a barrier: a marker proxy dropped into the node's own folder and
seen deployed. The node's scheduler handles one run at a time (update, hot deployment, commit),
so once the marker is deployed, whatever the node was going to do with an earlier message or file
is done.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from installer.database import inspect_schema
from installer.sqlscript import script_objects, split_script_file
from tests.paths import REPO_DIR
from tests.support.build_distributions import CARBON_XML, REGISTRY_XML
from tests.support.carbon_standin.config import (
    DatasourceConfig,
    DeploymentSynchronizerConfig,
    HostResolver,
    read_carbon_xml,
    read_master_datasources,
    read_registry_xml,
)
from tests.support.carbon_standin.deployment import (
    PROXY_SERVICES_DIR,
    DeploymentScheduler,
    HotDeployer,
    ProxyServices,
)
from tests.support.carbon_standin.depsync import (
    STATE_FILE,
    DeploymentSynchronizer,
    DirectoryStore,
    RegistryStore,
    SynchronizerError,
    build_synchronizer,
    registry_store,
)
from tests.support.carbon_standin.logs import CarbonLog
from tests.support.carbon_standin.synapse import (
    MAIN_SEQUENCE,
    MessageContext,
    ProxyDefinitionError,
    mediate,
    parse_proxy,
)
from tests.support.plans import SeedCluster
from tests.support.standin_nodes import (
    DOMAIN,
    ELB_ADDRESS,
    ELB_HTTP,
    STARTED,
    WORKER_HOST,
    WORKER_LAYOUT,
    Launcher,
    StartedNode,
    copy_home,
    moved,
    prepare_seed,
    start_seed_cluster,
)

REGISTRY_PATH = "/_system/asNodes/repository/deployment/server/synapse-configs/default/proxy-services"
SENT = re.compile(r"Sent \[SynchronizeRepositoryRequest\{tenantId=-1234, tenantDomain='carbon\.super', "
                  r"messageId=([0-9a-f-]{36})\}\]")
LOG_MEDIATOR = "{org.apache.synapse.mediators.builtin.LogMediator}"
PROXY_DEPLOYER = "{org.apache.synapse.deployers.ProxyServiceDeployer}"
EMPTY_ENVELOPE = ("<?xml version='1.0' encoding='utf-8'?><soapenv:Envelope "
                  "xmlns:soapenv=\"http://www.w3.org/2003/05/soap-envelope\"><soapenv:Body/></soapenv:Envelope>")


def proxy_xml(name: str, token: str, *, respond: bool = True) -> str:
    """A sample proxy as the seed's test asks for one: a log mediator in the inSequence."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<proxy xmlns="http://ws.apache.org/ns/synapse" name="{name}" transports="https http" startOnLoad="true" trace="disable">
    <description/>
    <target>
        <inSequence>
            <log level="custom">
                <property name="token" value="{token}"/>
                <property name="host" expression="$trp:Host"/>
                <property name="to" expression="get-property('To')"/>
            </log>
            {"<respond/>" if respond else ""}
        </inSequence>
        <outSequence>
            <send/>
        </outSequence>
    </target>
</proxy>
"""


def deployed_line(home: Path, name: str, verb: str = "deployed") -> str:
    return f"ProxyService named '{name}' has been {verb} from file : {home / PROXY_SERVICES_DIR / f'{name}.xml'}"


def received_line(message_id: str) -> str:
    # Carbon's message ends with a space after the bracket.
    return ("Received [SynchronizeRepositoryRequest{tenantId=-1234, tenantDomain='carbon.super', "
            f"messageId={message_id}}}] ")


def write_proxy(home: Path, name: str, text: str) -> Path:
    """Put a proxy file in place whole (as an editor saving with a rename would)."""
    target = home / PROXY_SERVICES_DIR / f"{name}.xml"
    temporary = target.parent / f".{name}.xml.writing"
    temporary.write_text(text)
    os.replace(temporary, target)
    return target


# --- configuration: carbon.xml and registry.xml --------------------------------------------------------


def depsync_block(*, enabled: bool = True, auto_commit: bool, auto_checkout: bool, extra: str = "") -> str:
    """The registry-based <DeploymentSynchronizer> of Carbon 4.1's carbon.xml, uncommented."""
    return ("    <DeploymentSynchronizer>\n"
            f"        <Enabled>{str(enabled).lower()}</Enabled>\n"
            f"        <AutoCommit>{str(auto_commit).lower()}</AutoCommit>\n"
            f"        <AutoCheckout>{str(auto_checkout).lower()}</AutoCheckout>\n"
            f"{extra}"
            "    </DeploymentSynchronizer>\n")


def test_deployment_synchronizer_is_read_from_carbon_xml_as_carbon_reads_it(carbon_configs_dir, tmp_path):
    # Carbon 4.1's own file has both blocks commented out: DepSync is off.
    kernel = read_carbon_xml(carbon_configs_dir / "carbon-kernel-4.1.x", {}).deployment_synchronizer
    assert (kernel.enabled, kernel.auto_commit, kernel.auto_checkout) == (False, False, False)

    home = tmp_path / "home"
    (home / "repository/conf").mkdir(parents=True)
    text = (carbon_configs_dir / "carbon-kernel-4.1.x" / CARBON_XML).read_text(encoding="iso-8859-1")
    (home / CARBON_XML).write_text(text.replace("</Server>", depsync_block(auto_commit=False, auto_checkout=True)
                                                + "</Server>"), encoding="iso-8859-1")
    worker = read_carbon_xml(home, {}).deployment_synchronizer
    assert (worker.enabled, worker.auto_commit, worker.auto_checkout, worker.repository_type) == (
        True, False, True, "registry")  # no <RepositoryType>: the registry, Carbon 4.1's default

    svn = ("        <RepositoryType>svn</RepositoryType>\n        <SvnUrl>file:///srv/svn/esb</SvnUrl>\n"
           "        <SvnUrlAppendTenantId>false</SvnUrlAppendTenantId>\n")
    (home / CARBON_XML).write_text(text.replace("</Server>", depsync_block(auto_commit=True, auto_checkout=True,
                                                                           extra=svn) + "</Server>"))
    manager = read_carbon_xml(home, {}).deployment_synchronizer
    assert (manager.auto_commit, manager.repository_type, manager.svn_url, manager.svn_url_append_tenant_id) == (
        True, "svn", "file:///srv/svn/esb", False)

    # Boolean.parseBoolean: any case of "true" is true, anything else is false.
    (home / CARBON_XML).write_text(text.replace("</Server>", depsync_block(auto_commit=True, auto_checkout=True)
                                                .replace(">true<", ">TRUE<").replace("<AutoCommit>TRUE",
                                                                                     "<AutoCommit>yes")
                                                + "</Server>"))
    odd = read_carbon_xml(home, {}).deployment_synchronizer
    assert (odd.enabled, odd.auto_commit, odd.auto_checkout) == (True, False, True)


def _datasource(name: str, jndi_name: str, database: str) -> DatasourceConfig:
    return DatasourceConfig(name=name, jndi_name=jndi_name, definition_type="RDBMS",
                            url=f"jdbc:mysql://carbondb.mysql-wso2.com:3306/{database}?autoReconnect=true",
                            username="regadmin", password="secret", driver_class="com.mysql.jdbc.Driver")


SEED_DATASOURCES = (_datasource("REGISTRY_LOCAL2", "jdbc/WSO2CarbonDB", "REGISTRY_LOCAL2"),
                    _datasource("REGISTRY_DB", "jdbc/WSO2RegistryDB", "REGISTRY_DB"),
                    _datasource("WSO2_USER_DB", "jdbc/WSO2UMDB", "WSO2_USER_DB"))


def test_the_config_registry_mount_decides_where_artefacts_are_shared(carbon_configs_dir, tmp_path):
    home = tmp_path / "worker"
    (home / "repository/conf").mkdir(parents=True)
    shutil.copy(REPO_DIR / "tests/golden/xml/registry/worker.after.xml", home / REGISTRY_XML)
    registry = read_registry_xml(home)
    assert registry is not None
    mount, instance = registry.config_registry_mount() or (None, None)
    assert mount is not None and instance is not None
    assert (mount.target_path, instance.instance_id, instance.db_config, instance.read_only) == (
        "/_system/asNodes", "instanceid", "sharedregistry", True)
    resolver = HostResolver(None)
    store = registry_store(home, registry, SEED_DATASOURCES, resolver=resolver, bind_address="127.0.0.3")
    assert isinstance(store, RegistryStore)
    assert (store.datasource.name, store.registry_path, store.read_only) == (
        "REGISTRY_DB", "/_system/asNodes/repository/deployment/server", True)

    # Without the mount the config registry is the node's own database, under /_system/config.
    text = (home / REGISTRY_XML).read_text()
    unmounted, count = re.subn(r'<mount path="/_system/config".*?</mount>', "", text, count=1, flags=re.S)
    assert count == 1
    (home / REGISTRY_XML).write_text(unmounted)
    store = registry_store(home, read_registry_xml(home), SEED_DATASOURCES, resolver=resolver,
                           bind_address="127.0.0.3")
    assert isinstance(store, RegistryStore)
    assert (store.datasource.name, store.registry_path, store.read_only) == (
        "REGISTRY_LOCAL2", "/_system/config/repository/deployment/server", False)

    # A real deployment's registry.xml that mounts only the governance space, its own registry on
    # H2: the config registry stays inside the node, shared with nobody.
    devcloud = read_registry_xml(carbon_configs_dir / "af-as-5.0.2-devcloud")
    assert devcloud is not None and devcloud.config_registry_mount() is None
    assert devcloud.db_configs["governance"].url == "jdbc:mysql://localhost:3306/registry?autoReconnect=true"
    store = registry_store(tmp_path / "devcloud", devcloud, (), resolver=resolver, bind_address="127.0.0.3")
    assert isinstance(store, DirectoryStore) and store.root == tmp_path / "devcloud" / \
        "repository/database/standin-depsync-registry"


@pytest.mark.parametrize("config, error", [
    (DeploymentSynchronizerConfig(enabled=False, auto_commit=True, auto_checkout=True), None),
    (DeploymentSynchronizerConfig(enabled=True, auto_checkout=True, repository_type="svn",
                                  svn_url="http://svn.example.org/repos/"),
     "Cannot reach the SVN repository http://svn.example.org/repos/"),
    (DeploymentSynchronizerConfig(enabled=True, auto_checkout=True, repository_type="git"),
     "Unsupported repository type: git"),
], ids=["disabled", "svn-over-http", "unknown-type"])
def test_no_synchronizer_runs_when_carbon_would_have_none(tmp_path, config, error):
    node = NodeLog(tmp_path / "esb")
    assert build_synchronizer(node.home, config, registry=None, datasources=(), resolver=HostResolver(None),
                              bind_address="127.0.0.3", log=node.log) is None
    errors = [text for level, text in node.messages() if level == "ERROR"]
    if error is None:
        assert errors == []  # disabled is no error: the node just never synchronizes
    else:
        assert len(errors) == 1 and f"DeploymentSynchronizerException: {error}" in node.raw()


# --- proxies and the log mediator ----------------------------------------------------------------------


def message(to: str = "/services/Probe", *, payload: bytes = b"", headers: dict[str, str] | None = None,
            proxy_name: str | None = "Probe") -> MessageContext:
    return MessageContext(to=to, method="POST" if payload else "GET", headers=headers or {}, payload=payload,
                          content_type="application/xml" if payload else None, server_ip="127.0.0.3",
                          proxy_name=proxy_name)


def test_log_mediator_prints_what_carbon_prints():
    proxy = parse_proxy(proxy_xml("Probe", "T-1").encode())
    result = mediate(proxy.in_sequence, message(payload=b"<ping>1</ping>", headers={"host": "worker.esb.wso2.com"}))
    assert [(entry.level, entry.logger, entry.message) for entry in result.log] == [
        ("INFO", "org.apache.synapse.mediators.builtin.LogMediator",
         "token = T-1, host = worker.esb.wso2.com, to = /services/Probe")]
    assert (result.status, result.body) == (200, b"<ping>1</ping>")  # <respond/> sends the message back

    proxy = parse_proxy(b"""<proxy xmlns="http://ws.apache.org/ns/synapse" xmlns:p="urn:p" name="P"><target>
        <inSequence>
            <property name="step" value="one"/>
            <log level="custom" separator=" | ">
                <property name="step" expression="get-property('step')"/>
                <property name="first" expression="$body/p:order/p:id"/>
                <property name="sum" expression="1 + 2"/>
                <property name="missing" expression="get-property('no-such-property')"/>
            </log>
            <log category="DEBUG"><property name="hidden" value="x"/></log>
            <log/>
            <drop/>
            <log level="custom"><property name="after" value="drop"/></log>
        </inSequence></target></proxy>""")
    order = b'<p:order xmlns:p="urn:p"><p:id>42</p:id></p:order>'
    request = message(payload=order, headers={"SOAPAction": '"urn:order"'})
    result = mediate(proxy.in_sequence, request)
    assert [entry.message for entry in result.log] == [
        "step = one | first = 42 | sum = 3 | missing = ",
        f"To: /services/Probe, WSAction: urn:order, SOAPAction: urn:order, MessageID: {request.message_id}, "
        "Direction: request"]
    assert request.message_id.startswith("urn:uuid:")
    assert (result.status, result.body) == (202, b"")

    # A message no proxy takes: the ESB's main sequence logs it in full and answers 202.
    lost = message("/services/Nope", proxy_name=None)
    result = mediate(MAIN_SEQUENCE, lost)
    assert [entry.message for entry in result.log] == [
        f"To: /services/Nope, MessageID: {lost.message_id}, Direction: request, Envelope: {EMPTY_ENVELOPE}"]
    assert result.status == 202


@pytest.mark.parametrize("text, kind, message_text", [
    (b'<proxy xmlns="http://ws.apache.org/ns/synapse" name="P"><target><inSequence></inSequenc></target></proxy>',
     "parse", "mismatch"),
    (b"this is not XML", "prolog", "Start tag expected"),
    (b'<proxy xmlns="http://ws.apache.org/ns/synapse"><target/></proxy>', "invalid",
     "The 'name' attribute is required for a Proxy service definition"),
    (b'<sequence xmlns="http://ws.apache.org/ns/synapse" name="S"/>', "not-proxy", "not a ProxyService"),
    (b'<proxy name="P"><target/></proxy>', "not-proxy", "not a ProxyService"),  # no Synapse namespace
    (b'<proxy xmlns="http://ws.apache.org/ns/synapse" name="P"><target><inSequence><log level="custom">'
     b'<property name="a" expression="get-property((("/></log></inSequence></target></proxy>', "invalid",
     "Invalid XPath expression for attribute 'expression' : get-property((("),
    (b'<proxy xmlns="http://ws.apache.org/ns/synapse" name="P"><target><inSequence><log level="loud"/>'
     b"</inSequence></target></proxy>", "invalid", "Invalid log level"),
    (b'<proxy xmlns="http://ws.apache.org/ns/synapse" name="P"><target><inSequence><log level="custom">'
     b'<property name="a"/></log></inSequence></target></proxy>', "invalid", "either a value or an expression"),
], ids=["tag-mismatch", "not-xml", "no-name", "a-sequence", "no-namespace", "bad-xpath", "bad-level",
        "property-without-value"])
def test_proxies_synapse_cannot_build_are_refused(text, kind, message_text):
    with pytest.raises(ProxyDefinitionError) as refused:
        parse_proxy(text)
    assert refused.value.kind == kind
    assert message_text in refused.value.message


# --- the hot deployer and the synchronizer, in-process -------------------------------------------------


class NodeLog:
    """A CarbonLog into a temporary home, read back as wso2carbon.log's messages."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log = CarbonLog(home, console=io.StringIO())
        self.log.server_key = "ESB"

    def raw(self) -> str:
        return (self.home / "repository/logs/wso2carbon.log").read_text()

    def messages(self) -> list[tuple[str, str]]:
        """(level, message) of every line, with the exception lines left out."""
        found = []
        for line in (self.home / "repository/logs/wso2carbon.log").read_text().splitlines():
            match = re.match(r"^TID: \[0\] \[ESB\] \[[^]]+\] +(\w+) \{([\w.$]+)\} -  (.*) \{\2\}$", line)
            if match:
                found.append((match[1], match[3]))
        return found


def scan_until_settled(deployer: HotDeployer) -> None:
    # A file is deployed once it stayed the same over two passes.
    deployer.scan()
    deployer.scan()


def test_hot_deployment_deploys_updates_restores_and_undeploys(tmp_path):
    node = NodeLog(tmp_path / "esb")
    folder = node.home / PROXY_SERVICES_DIR
    services = ProxyServices()
    deployer = HotDeployer(folder, services, node.log)
    deployer.load_at_startup()
    assert folder.is_dir() and services.names() == []

    proxy = write_proxy(node.home, "Probe", proxy_xml("Probe", "v1"))
    deployer.scan()
    assert services.get("Probe") is None  # seen once: it might still be being written
    deployer.scan()
    assert services.get("Probe") is not None
    assert ("INFO", f"ProxyService named 'Probe' has been deployed from file : {proxy}") in node.messages()

    write_proxy(node.home, "Probe", proxy_xml("Probe", "v2"))
    scan_until_settled(deployer)
    assert ("INFO", f"ProxyService named 'Probe' has been update from file : {proxy}") in node.messages()
    deployed = services.get("Probe")
    assert deployed is not None and "v2" in repr(deployed.in_sequence)

    # A broken update: Synapse keeps the deployed proxy and writes its configuration back.
    proxy.write_text(proxy_xml("Probe", "v3").replace("</inSequence>", "</inSequenc>"))
    scan_until_settled(deployer)
    messages = node.messages()
    assert ("ERROR", f"ProxyService Update from the file : {proxy} : Failed.") in messages
    assert ("ERROR", f"Update of the Synapse Artifact from file : {proxy} : Failed!") in messages
    assert ("INFO", f"The updated file has been backed up into : {proxy}.back") in messages
    assert ("INFO", "ProxyService named 'Probe' has been restored") in messages
    assert "v2" in proxy.read_text() and "</inSequenc>" in Path(f"{proxy}.back").read_text()
    scan_until_settled(deployer)  # the restored file is no news
    assert sum("Probe' has been update" in text for _, text in node.messages()) == 1

    broken = write_proxy(node.home, "Broken", "<proxy xmlns='http://ws.apache.org/ns/synapse' name='Broken'>")
    scan_until_settled(deployer)
    messages = node.messages()
    assert ("ERROR", f"ProxyService Deployment from the file : {broken} : Failed.") in messages
    assert ("INFO", f"The file has been backed up into : {broken}.back") in messages
    assert not broken.exists() and services.get("Broken") is None

    proxy.unlink()
    deployer.scan()
    assert ("INFO", "ProxyService named 'Probe' has been undeployed") in node.messages()
    assert services.names() == []


def test_proxies_present_at_start_are_loaded_without_a_deployment_line(tmp_path):
    node = NodeLog(tmp_path / "esb")
    (node.home / PROXY_SERVICES_DIR).mkdir(parents=True)
    write_proxy(node.home, "Early", proxy_xml("Early", "t"))
    write_proxy(node.home, "Garbled", "<proxy")
    services = ProxyServices()
    deployer = HotDeployer(node.home / PROXY_SERVICES_DIR, services, node.log)
    deployer.load_at_startup()
    scan_until_settled(deployer)
    messages = node.messages()
    assert services.names() == ["Early"]
    assert ("INFO", "Successfully created the Axis2 service for Proxy service : Early") in messages
    assert not any("has been deployed" in text for _, text in messages)
    assert ("WARN", "Proxy configuration cannot be built from : Garbled.xml - Continue in fail-safe mode") in messages
    assert (node.home / PROXY_SERVICES_DIR / "Garbled.xml").exists()  # only a hot deployment moves it aside


def test_synchronizer_commits_on_the_manager_and_checks_out_on_the_worker(tmp_path):
    manager_log, worker_log = NodeLog(tmp_path / "manager"), NodeLog(tmp_path / "worker")
    repository = tmp_path / "svn" / "-1234"
    sent: list[dict[str, object]] = []

    def node(log: NodeLog, *, worker: bool, auto_commit: bool, auto_checkout: bool) -> DeploymentScheduler:
        config = DeploymentSynchronizerConfig(enabled=True, auto_commit=auto_commit, auto_checkout=auto_checkout)
        synchronizer = DeploymentSynchronizer(config, DirectoryStore(repository, "the SVN repository"),
                                              log.home / "repository/deployment/server")
        scheduler = DeploymentScheduler(HotDeployer(log.home / PROXY_SERVICES_DIR, ProxyServices(), log.log),
                                        synchronizer, worker_node=worker, log=log.log, stopping=threading.Event())
        scheduler.send_cluster_message = sent.append
        scheduler.deployer.load_at_startup()
        return scheduler

    manager = node(manager_log, worker=False, auto_commit=True, auto_checkout=True)
    worker = node(worker_log, worker=True, auto_commit=False, auto_checkout=True)
    idle = node(NodeLog(tmp_path / "idle"), worker=True, auto_commit=False, auto_checkout=False)
    for scheduler in (manager, worker, idle):
        scheduler.run_once()
    assert sent == []  # nothing deployed, nothing committed

    write_proxy(manager_log.home, "Probe", proxy_xml("Probe", "t"))
    manager.run_once()
    manager.run_once()
    assert (repository / "synapse-configs/default/proxy-services/Probe.xml").read_text() == proxy_xml("Probe", "t")
    assert len(sent) == 1 and sent[0]["class"] == "org.wso2.carbon.core.deployment.SynchronizeRepositoryRequest"
    message_id = str(sent[0]["message_id"])
    assert ("INFO", f"Sent [SynchronizeRepositoryRequest{{tenantId=-1234, tenantDomain='carbon.super', "
                    f"messageId={message_id}}}]") in manager_log.messages()

    for scheduler in (worker, idle):
        scheduler.on_cluster_message(sent[0])
        scheduler.run_once()
    assert ("INFO", received_line(message_id)) in worker_log.messages()
    assert ("INFO", deployed_line(worker_log.home, "Probe")) in worker_log.messages()
    assert not (tmp_path / "idle" / PROXY_SERVICES_DIR / "Probe.xml").exists()  # AutoCheckout false
    assert (worker_log.home / "repository/deployment/server" / STATE_FILE).exists()

    (manager_log.home / PROXY_SERVICES_DIR / "Probe.xml").unlink()
    manager.run_once()
    assert len(sent) == 2 and not (repository / "synapse-configs/default/proxy-services/Probe.xml").exists()
    worker.on_cluster_message(sent[1])
    worker.run_once()
    assert ("INFO", "ProxyService named 'Probe' has been undeployed") in worker_log.messages()
    assert not (worker_log.home / PROXY_SERVICES_DIR / "Probe.xml").exists()


# --- the cluster ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed(tmp_path_factory, mariadb) -> SeedCluster:
    """The seed's homes as the installer writes them: DepSync on, the manager commits and checks
    out, the workers check out, through the registry."""
    return prepare_seed(tmp_path_factory.mktemp("depsync"), mariadb)


@pytest.fixture(scope="module")
def launcher(seed) -> Iterator[Launcher]:
    launcher = Launcher(seed)
    yield launcher
    launcher.kill_all()


@pytest.fixture(scope="module")
def cluster(seed, launcher) -> dict[str, StartedNode]:
    return start_seed_cluster(seed, launcher)


def send(host: str | None, path: str, *, body: bytes | None = None,
         address: str = ELB_ADDRESS, port: int = ELB_HTTP) -> tuple[int, str | None, bytes]:
    """(status, X-Carbon-Node, body) of a request (a POST when there is a body)."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    headers = {"Host": host} if host else {}
    if body is not None:
        headers["Content-Type"] = "application/xml"
    try:
        connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("X-Carbon-Node"), response.read()
    finally:
        connection.close()


def registry_rows(mariadb, database: str = "REGISTRY_DB") -> dict[str, bytes]:
    """Every resource of the registry in ``database`` (the super tenant's), as the DBA would look
    at Carbon's tables: path -> content."""
    with mariadb.connect(database=database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT P.REG_PATH_VALUE, R.REG_NAME, C.REG_CONTENT_DATA FROM REG_RESOURCE R "
                       "JOIN REG_PATH P ON P.REG_PATH_ID = R.REG_PATH_ID AND P.REG_TENANT_ID = R.REG_TENANT_ID "
                       "LEFT JOIN REG_CONTENT C ON C.REG_CONTENT_ID = R.REG_CONTENT_ID "
                       "AND C.REG_TENANT_ID = R.REG_TENANT_ID "
                       "WHERE R.REG_NAME IS NOT NULL AND R.REG_TENANT_ID = -1234")
        return {f"{folder.rstrip('/')}/{name}": bytes(content or b"") for folder, name, content in cursor.fetchall()}


def workers_of(cluster: dict[str, StartedNode]) -> list[StartedNode]:
    return [cluster[name] for name in WORKER_LAYOUT]


def deploy_on_manager(cluster: dict[str, StartedNode], name: str, text: str, *, verb: str = "deployed") -> str:
    """Write a proxy on the manager and wait until every worker has it: the message id sent."""
    manager = cluster["manager"]
    mark = len(manager.log_text())
    write_proxy(manager.home, name, text)
    manager.wait_for(deployed_line(manager.home, name, verb))
    message_id = manager.wait_for_match(SENT, after=mark)[1]
    for worker in workers_of(cluster):
        worker.wait_for(received_line(message_id))
        worker.wait_for(deployed_line(worker.home, name, verb))
    return message_id


def barrier(node: StartedNode) -> str:
    """Until ``node`` has finished what it was doing (see the module's docstring): the marker's name."""
    name = f"Barrier{uuid.uuid4().hex[:8]}"
    write_proxy(node.home, name, proxy_xml(name, "barrier"))
    node.wait_for(deployed_line(node.home, name))
    return name


def copy_esb_home(seed: SeedCluster, server: str, source: str, name: str,
                  edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of a home without the proxies and the DepSync state its source has collected."""
    home = copy_home(seed, server, source, name, edits)
    shutil.rmtree(home / PROXY_SERVICES_DIR, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (home / "repository/deployment/server" / STATE_FILE).unlink()
    return home


@contextlib.contextmanager
def running(launcher: Launcher, elb: StartedNode, server: str, home: Path, member: str,
            *flags: str) -> Iterator[StartedNode]:
    """An extra node for one test, stopped at its end so that the ELB routes as before."""
    node = launcher.start(server, home, *flags)
    try:
        node.wait_for(STARTED)
        yield node
    finally:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
            assert node.wait_for_exit() == 0
            elb.wait_for(f"Member {member}({DOMAIN}) left cluster")


def test_proxy_deployed_on_the_manager_is_committed_and_deployed_on_every_worker(cluster, mariadb):
    manager = cluster["manager"]
    message_id = deploy_on_manager(cluster, "DepSyncProbe", proxy_xml("DepSyncProbe", "first"))
    source = (manager.home / PROXY_SERVICES_DIR / "DepSyncProbe.xml").read_bytes()
    assert registry_rows(mariadb)[f"{REGISTRY_PATH}/DepSyncProbe.xml"] == source
    # Carbon's layout in wso2carbon.log, the manager's line and a worker's (its message ends with a space).
    assert (f"INFO {PROXY_DEPLOYER} -  {deployed_line(manager.home, 'DepSyncProbe')} {PROXY_DEPLOYER}"
            in manager.log_text())
    scheduler_task = "{org.wso2.carbon.core.deployment.CarbonDeploymentSchedulerTask}"
    assert f"INFO {scheduler_task} -  Sent [SynchronizeRepositoryRequest{{tenantId=-1234, " in manager.log_text()
    request_logger = "{org.wso2.carbon.core.deployment.SynchronizeRepositoryRequest}"
    for worker in workers_of(cluster):
        log = worker.log_text()
        assert f"INFO {request_logger} -  {received_line(message_id)} {request_logger}" in log
        assert log.index(received_line(message_id)) < log.index(deployed_line(worker.home, "DepSyncProbe"))
        assert (worker.home / PROXY_SERVICES_DIR / "DepSyncProbe.xml").read_bytes() == source
    assert "Sent [" not in "".join(worker.log_text() for worker in workers_of(cluster))  # workers never commit


def test_request_through_the_elb_runs_the_proxy_log_mediator_on_a_worker(cluster):
    token = f"token-{uuid.uuid4().hex}"
    deploy_on_manager(cluster, "RequestProbe", proxy_xml("RequestProbe", token))
    status, node, body = send(WORKER_HOST, "/services/RequestProbe", body=b"<ping>1</ping>")
    assert (status, body) == (200, b"<ping>1</ping>") and node in WORKER_LAYOUT
    line = f"{LOG_MEDIATOR} -  token = {token}, host = {WORKER_HOST}, to = /services/RequestProbe {LOG_MEDIATOR}"
    cluster[node].wait_for(line)
    # Round robin: the next requests reach the other workers, each logging in its own wso2carbon.log.
    answered = {node} | {send(WORKER_HOST, "/services/RequestProbe")[1] for _ in range(2)}
    assert answered == set(WORKER_LAYOUT)
    for worker in workers_of(cluster):
        worker.wait_for(line)

    status, node, body = send(WORKER_HOST, "/services/NoSuchProxy")
    assert (status, body) == (202, b"") and node in WORKER_LAYOUT
    cluster[node].wait_for_match(re.compile(
        re.escape(f"{LOG_MEDIATOR} -  To: /services/NoSuchProxy, MessageID: urn:uuid:") + r"[0-9a-f-]{36}"
        + re.escape(f", Direction: request, Envelope: {EMPTY_ENVELOPE} {LOG_MEDIATOR}")))


def test_changed_proxy_is_updated_on_every_worker(cluster):
    deploy_on_manager(cluster, "UpdateProbe", proxy_xml("UpdateProbe", "before"))
    deploy_on_manager(cluster, "UpdateProbe", proxy_xml("UpdateProbe", "after"), verb="update")
    status, node, _ = send(WORKER_HOST, "/services/UpdateProbe")
    assert status == 200 and node in WORKER_LAYOUT
    cluster[node].wait_for(f"{LOG_MEDIATOR} -  token = after, ")


def test_proxy_removed_on_the_manager_is_undeployed_everywhere(cluster, mariadb):
    manager = cluster["manager"]
    deploy_on_manager(cluster, "RemovalProbe", proxy_xml("RemovalProbe", "removed"))
    mark = len(manager.log_text())
    (manager.home / PROXY_SERVICES_DIR / "RemovalProbe.xml").unlink()
    manager.wait_for("ProxyService named 'RemovalProbe' has been undeployed")
    message_id = manager.wait_for_match(SENT, after=mark)[1]
    for worker in workers_of(cluster):
        worker.wait_for(received_line(message_id))
        worker.wait_for("ProxyService named 'RemovalProbe' has been undeployed")
        assert not (worker.home / PROXY_SERVICES_DIR / "RemovalProbe.xml").exists()
    assert f"{REGISTRY_PATH}/RemovalProbe.xml" not in registry_rows(mariadb)
    # The service is gone: its requests now go to the main sequence, as for any unknown service.
    status, node, _ = send(WORKER_HOST, "/services/RemovalProbe")
    assert status == 202 and node in WORKER_LAYOUT
    cluster[node].wait_for(f"{LOG_MEDIATOR} -  To: /services/RemovalProbe, MessageID: urn:uuid:")


def test_malformed_proxy_is_reported_and_neither_deployed_nor_committed(cluster, mariadb):
    manager = cluster["manager"]
    broken = write_proxy(manager.home, "BrokenProbe",
                         proxy_xml("BrokenProbe", "x").replace("</inSequence>", "</inSequenc>"))
    manager.wait_for(f"ERROR {PROXY_DEPLOYER} -  ProxyService Deployment from the file : {broken} : Failed. "
                     f"{PROXY_DEPLOYER}")
    manager.wait_for(f"Deployment of the Synapse Artifact from file : {broken} : Failed!")
    manager.wait_for(f"The file has been backed up into : {broken}.back")
    assert "org.apache.axiom.om.OMException: com.ctc.wstx.exc.WstxParsingException: " in manager.log_text()
    barrier(manager)
    assert not broken.exists() and Path(f"{broken}.back").exists()
    assert "ProxyService named 'BrokenProbe'" not in manager.log_text()
    assert not any("BrokenProbe" in path for path in registry_rows(mariadb))
    for worker in workers_of(cluster):
        assert "BrokenProbe" not in worker.log_text()


def test_worker_without_auto_checkout_receives_the_request_but_never_checks_out(seed, launcher, cluster):
    edits = moved(4004, 4, from_port=4000, from_offset=0)
    edits[CARBON_XML].append(("<AutoCheckout>true</AutoCheckout>", "<AutoCheckout>false</AutoCheckout>"))
    home = copy_esb_home(seed, "server-132", "worker1", "worker4", edits)
    with running(launcher, cluster["elb"], "server-132", home, "127.0.0.3:4004", "-DworkerNode=true") as worker4:
        message_id = deploy_on_manager(cluster, "CheckoutProbe", proxy_xml("CheckoutProbe", "x"))
        worker4.wait_for(received_line(message_id))  # the cluster message reaches it all the same
        barrier(worker4)
        assert "ProxyService named 'CheckoutProbe'" not in worker4.log_text()
        assert not (home / PROXY_SERVICES_DIR / "CheckoutProbe.xml").exists()


def test_worker_without_the_registry_mount_never_gets_the_artefacts(seed, launcher, cluster):
    home = copy_esb_home(seed, "server-132", "worker1", "worker5", moved(4005, 5, from_port=4000, from_offset=0))
    text = (home / REGISTRY_XML).read_text()
    unmounted, count = re.subn(r'<mount path="/_system/config".*?</mount>', "", text, count=1, flags=re.S)
    assert count == 1
    (home / REGISTRY_XML).write_text(unmounted)
    with running(launcher, cluster["elb"], "server-132", home, "127.0.0.3:4005", "-DworkerNode=true") as worker5:
        message_id = deploy_on_manager(cluster, "MountProbe", proxy_xml("MountProbe", "x"))
        worker5.wait_for(received_line(message_id))
        barrier(worker5)  # it has looked in its own registry (REGISTRY_LOCAL2): nothing there
        assert "ProxyService named 'MountProbe'" not in worker5.log_text()
        assert not (home / PROXY_SERVICES_DIR / "MountProbe.xml").exists()


def test_manager_without_auto_commit_deploys_but_never_commits(seed, launcher, cluster, mariadb):
    deploy_on_manager(cluster, "CommittedBefore", proxy_xml("CommittedBefore", "x"))
    edits = moved(4006, 6, from_port=4001, from_offset=1)
    edits[CARBON_XML].append(("<AutoCommit>true</AutoCommit>", "<AutoCommit>false</AutoCommit>"))
    home = copy_esb_home(seed, "server-206", "manager", "manager2", edits)
    with running(launcher, cluster["elb"], "server-206", home, "127.0.0.2:4006") as manager2:
        # AutoCheckout is still on: what the manager committed before comes in at start.
        manager2.wait_for(deployed_line(home, "CommittedBefore"))
        write_proxy(home, "NoCommitProbe", proxy_xml("NoCommitProbe", "x"))
        manager2.wait_for(deployed_line(home, "NoCommitProbe"))
        marker = barrier(manager2)  # its commit step for that deployment has run too
        assert "Sent [" not in manager2.log_text()
        committed = {path.rsplit("/", 1)[-1] for path in registry_rows(mariadb)}
        assert "CommittedBefore.xml" in committed
        assert "NoCommitProbe.xml" not in committed and f"{marker}.xml" not in committed
    for worker in workers_of(cluster):
        assert "NoCommitProbe" not in worker.log_text()


def test_svn_repository_type_shares_through_the_svn_url(seed, launcher, cluster, mariadb, tmp_path):
    svn = (f"<RepositoryType>svn</RepositoryType>\n        <SvnUrl>{(tmp_path / 'svn').as_uri()}</SvnUrl>\n"
           "        <SvnUrlAppendTenantId>true</SvnUrlAppendTenantId>")
    manager_edits = moved(4007, 7, from_port=4001, from_offset=1)
    manager_edits[CARBON_XML].append(("<RepositoryType>registry</RepositoryType>", svn))
    manager_home = copy_esb_home(seed, "server-206", "manager", "manager3", manager_edits)
    worker_edits = moved(4008, 8, from_port=4000, from_offset=0)
    worker_edits[CARBON_XML].append(("<RepositoryType>registry</RepositoryType>", svn))
    worker_home = copy_esb_home(seed, "server-132", "worker1", "worker6", worker_edits)
    elb = cluster["elb"]
    with running(launcher, elb, "server-206", manager_home, "127.0.0.2:4007") as manager3, \
            running(launcher, elb, "server-132", worker_home, "127.0.0.3:4008", "-DworkerNode=true") as worker6:
        mark = len(manager3.log_text())
        write_proxy(manager_home, "SvnProbe", proxy_xml("SvnProbe", "x"))
        message_id = manager3.wait_for_match(SENT, after=mark)[1]
        worker6.wait_for(received_line(message_id))
        worker6.wait_for(deployed_line(worker_home, "SvnProbe"))
        assert (tmp_path / "svn/-1234/synapse-configs/default/proxy-services/SvnProbe.xml").exists()
        assert not any("SvnProbe" in path for path in registry_rows(mariadb))


# --- the registry in Carbon's tables -------------------------------------------------------------------


PROBE_PROXIES = "synapse-configs/default/proxy-services"


def seed_registry_store(seed: SeedCluster, registry_path: str) -> RegistryStore:
    """A RegistryStore on the manager's mounted REGISTRY_DB as the manager opens it, under
    ``registry_path`` (a target no node mounts: the running cluster never sees what it writes)."""
    home = seed.home("server-206", "manager")
    store = registry_store(home, read_registry_xml(home), read_master_datasources(home) or (),
                           resolver=HostResolver(seed.hosts_file("server-206")), bind_address="127.0.0.2")
    assert isinstance(store, RegistryStore) and store.datasource.name == "REGISTRY_DB"
    return RegistryStore(store.datasource, f"{registry_path}/repository/deployment/server", read_only=False,
                         resolver=store.resolver, bind_address=store.bind_address)


def registry_paths(cursor, prefix: str) -> dict[str, tuple[int, int | None, int]]:
    """REG_PATH rows for ``/`` and the paths under ``prefix``: value -> (id, parent id, tenant)."""
    cursor.execute("SELECT REG_PATH_VALUE, REG_PATH_ID, REG_PATH_PARENT_ID, REG_TENANT_ID FROM REG_PATH "
                   "WHERE REG_PATH_VALUE = '/' OR REG_PATH_VALUE LIKE %s", (prefix.replace("_", "\\_") + "%",))
    rows = cursor.fetchall()
    values = [row[0] for row in rows]
    assert len(values) == len(set(values)), f"a collection added twice: {sorted(values)}"
    return {value: (path_id, parent, tenant) for value, path_id, parent, tenant in rows}


def test_registry_store_keeps_artefacts_in_carbons_registry_tables(seed, mariadb):
    store = seed_registry_store(seed, "/_system/standinTables")
    base = "/_system/standinTables/repository/deployment/server"
    first = store.write({f"{PROBE_PROXIES}/A.xml": b"<a>1</a>", f"{PROBE_PROXIES}/B.xml": b"<b>1</b>"}, set())
    assert store.read() == {f"{PROBE_PROXIES}/A.xml": (first[f"{PROBE_PROXIES}/A.xml"], b"<a>1</a>"),
                            f"{PROBE_PROXIES}/B.xml": (first[f"{PROBE_PROXIES}/B.xml"], b"<b>1</b>")}

    with mariadb.connect(database="REGISTRY_DB") as connection, connection.cursor() as cursor:
        # A REG_PATH row per collection, each under its parent, for the super tenant.
        paths = registry_paths(cursor, "/_system")
        chain = ["/", "/_system", "/_system/standinTables", "/_system/standinTables/repository",
                 "/_system/standinTables/repository/deployment", base, f"{base}/synapse-configs",
                 f"{base}/synapse-configs/default", f"{base}/{PROBE_PROXIES}"]
        assert set(chain) <= set(paths)
        assert paths["/"][1] is None
        for parent, child in zip(chain, chain[1:], strict=False):
            assert paths[child][1] == paths[parent][0]
        assert {paths[value][2] for value in chain} == {-1234}
        # Each collection is a resource too (REG_NAME NULL), as Carbon lists child collections by it.
        cursor.execute("SELECT REG_PATH_ID FROM REG_RESOURCE WHERE REG_NAME IS NULL AND REG_TENANT_ID = -1234")
        assert {paths[value][0] for value in chain} <= {row[0] for row in cursor.fetchall()}
        # The artefact: a REG_RESOURCE row in its collection, its bytes in REG_CONTENT.
        cursor.execute("SELECT R.REG_VERSION, R.REG_MEDIA_TYPE, R.REG_CREATOR, R.REG_LAST_UPDATOR, "
                       "R.REG_CREATED_TIME, C.REG_CONTENT_ID, C.REG_CONTENT_DATA, C.REG_TENANT_ID "
                       "FROM REG_RESOURCE R JOIN REG_CONTENT C ON C.REG_CONTENT_ID = R.REG_CONTENT_ID "
                       "WHERE R.REG_PATH_ID = %s AND R.REG_NAME = 'A.xml' AND R.REG_TENANT_ID = -1234",
                       (paths[f"{base}/{PROBE_PROXIES}"][0],))
        (version, media_type, creator, updater, created, content_id, content, tenant), = cursor.fetchall()
        assert (version, media_type, creator, updater, bytes(content), tenant) == (
            first[f"{PROBE_PROXIES}/A.xml"], "application/xml", "wso2.system.user", "wso2.system.user",
            b"<a>1</a>", -1234)

    # A change replaces the content and gives the resource a new REG_VERSION; its creation stays.
    second = store.write({f"{PROBE_PROXIES}/A.xml": b"<a>2</a>"}, set())
    assert second[f"{PROBE_PROXIES}/A.xml"] > first[f"{PROBE_PROXIES}/A.xml"]
    stored = store.read()
    assert stored[f"{PROBE_PROXIES}/A.xml"] == (second[f"{PROBE_PROXIES}/A.xml"], b"<a>2</a>")
    assert stored[f"{PROBE_PROXIES}/B.xml"] == (first[f"{PROBE_PROXIES}/B.xml"], b"<b>1</b>")
    with mariadb.connect(database="REGISTRY_DB") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM REG_CONTENT WHERE REG_CONTENT_ID = %s", (content_id,))
        assert cursor.fetchone()[0] == 0  # the old content is gone with the old version
        cursor.execute("SELECT REG_CREATED_TIME, REG_CONTENT_ID FROM REG_RESOURCE WHERE REG_VERSION = %s",
                       (second[f"{PROBE_PROXIES}/A.xml"],))
        (kept_created, new_content_id), = cursor.fetchall()
        assert kept_created == created

    # A removal deletes the resource and its content; the collections stay, as in Carbon.
    store.write({}, {f"{PROBE_PROXIES}/A.xml"})
    assert set(store.read()) == {f"{PROBE_PROXIES}/B.xml"}
    with mariadb.connect(database="REGISTRY_DB") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM REG_RESOURCE WHERE REG_VERSION = %s",
                       (second[f"{PROBE_PROXIES}/A.xml"],))
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT COUNT(*) FROM REG_CONTENT WHERE REG_CONTENT_ID = %s", (new_content_id,))
        assert cursor.fetchone()[0] == 0
        assert f"{base}/{PROBE_PROXIES}" in registry_paths(cursor, "/_system")

    # Another target path in the same database shares nothing; a read-only instance writes nothing.
    other = seed_registry_store(seed, "/_system/standinOther")
    assert other.read() == {}
    read_only = RegistryStore(store.datasource, store.registry_path, read_only=True, resolver=store.resolver,
                              bind_address=store.bind_address)
    with pytest.raises(SynchronizerError, match="Write operations are not permitted in read only mode"):
        read_only.write({f"{PROBE_PROXIES}/C.xml": b"<c/>"}, set())
    assert set(store.read()) == {f"{PROBE_PROXIES}/B.xml"}


def test_concurrent_commits_never_interleave(seed, mariadb):
    # Nodes committing at once into a registry with none of their collections yet: each
    # collection is added once, and every commit is there whole.
    stores = [seed_registry_store(seed, "/_system/standinRace") for _ in range(6)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def commit(index: int) -> None:
        try:
            start.wait()
            stores[index].write({f"{PROBE_PROXIES}/P{index}-{n}.xml": f"<p{index}/>".encode() for n in range(3)},
                                set())
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=commit, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    stored = stores[0].read()
    assert set(stored) == {f"{PROBE_PROXIES}/P{index}-{n}.xml" for index in range(len(stores)) for n in range(3)}
    assert len({revision for revision, _ in stored.values()}) == len(stored)
    with mariadb.connect(database="REGISTRY_DB") as connection, connection.cursor() as cursor:
        registry_paths(cursor, "/_system/standinRace")  # asserts no collection was added twice


def test_committed_registry_holds_no_table_carbons_script_does_not_create(cluster, mariadb):
    # After the manager's commits (this module's and one more here), every database the
    # installer loaded Carbon's script into holds that script's tables and nothing else: the
    # installer's check for foreign tables stays quiet.
    deploy_on_manager(cluster, "SchemaProbe", proxy_xml("SchemaProbe", "x"))
    assert f"{REGISTRY_PATH}/SchemaProbe.xml" in registry_rows(mariadb)
    statements = split_script_file(REPO_DIR / "tests/support/templates/esb/mysql.sql")
    script_tables = {name.upper() for name in script_objects(statements).tables}
    assert {"REG_PATH", "REG_RESOURCE", "REG_CONTENT"} <= script_tables
    with mariadb.connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                           "WHERE TABLE_SCHEMA IN (SELECT TABLE_SCHEMA FROM information_schema.TABLES "
                           "WHERE TABLE_NAME = 'REG_PATH')")
            tables: dict[str, set[str]] = {}
            for schema, table in cursor.fetchall():
                tables.setdefault(schema, set()).add(table.upper())
        assert "REGISTRY_DB" in tables
        assert {schema: names - script_tables for schema, names in tables.items()} == dict.fromkeys(tables, set())
        for schema in tables:
            assert inspect_schema(connection, schema, statements).foreign_tables == frozenset()
