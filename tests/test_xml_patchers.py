"""The XML patchers against golden before/after files of our own, plus their edge cases.

The golden files live in ``tests/golden/xml/<kind>/``: ``<input>.before.xml`` is written by us in
the shape of the real files; ``<case>.after.xml`` is what the patcher must make of it with the
seed's values for that node. After a deliberate change of behaviour, regenerate the after files
with ``UPDATE_GOLDEN=1`` and review their diff before committing.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from lxml import etree

from installer.errors import ConfigFileError
from installer.files.axis2 import TRIBES_AGENT_CLASS, patch_axis2, read_axis2
from installer.files.carbon import CarbonValues, patch_carbon, read_carbon
from installer.files.datasources import patch_datasources, read_datasources
from installer.files.registry import patch_registry, read_registry
from installer.files.settings import (
    Axis2Settings,
    CarbonSettings,
    Datasource,
    DatasourcesSettings,
    DeploymentSyncSettings,
    RegistryMount,
    RegistrySettings,
    UserMgtSettings,
    WkaMember,
)
from installer.files.usermgt import patch_user_mgt, read_user_mgt

GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "xml"

# ---- the seed's values (Clustering Guide 4.1.0; xxx.xxx.xxx.206/.132 as 192.0.2.206/.132) ----------

ELB_MEMBER = WkaMember("elb.wso2.com", 4000)
MANAGER_MEMBER = WkaMember("mgt.esb.wso2.com", 4001)

ELB_AXIS2 = Axis2Settings(
    domain="wso2.carbon.lb.domain",
    local_member_host="192.0.2.206",
    local_member_port=4000,
    transport_ports=(80, 443),
)
MANAGER_AXIS2 = Axis2Settings(
    domain="wso2.esb.domain",
    local_member_host="192.0.2.206",
    local_member_port=4001,
    members=(ELB_MEMBER,),
    sub_domain="mgt",
    port_mapping=((80, 9764), (443, 9444)),
    wsdl_epr_prefix=("http://worker.esb.wso2.com:80", "https://worker.esb.wso2.com:443"),
)
WORKER1_AXIS2 = Axis2Settings(
    domain="wso2.esb.domain",
    local_member_host="192.0.2.132",
    local_member_port=4000,
    members=(ELB_MEMBER, MANAGER_MEMBER),
    sub_domain="worker",
)
WORKER2_AXIS2 = replace(WORKER1_AXIS2, local_member_host="192.0.2.206", local_member_port=4002)
WORKER3_AXIS2 = replace(WORKER1_AXIS2, local_member_port=4001)

# The guide's "Dep-sync management" node (the manager) commits and checks out; workers check out.
MANAGER_SYNC = DeploymentSyncSettings(enabled=True, auto_commit=True, auto_checkout=True)
WORKER_SYNC = DeploymentSyncSettings(enabled=True, auto_commit=False, auto_checkout=True)
# A password with every character XML escapes or quotes, and spaces at either end.
SVN_PASSWORD = ' <s&v"n\'> '
MANAGER_SVN_SYNC = replace(MANAGER_SYNC, repository_type="svn", svn_url="https://svn.example.com/repos/esb",
                           svn_user="depsync", svn_password=SVN_PASSWORD)
WORKER_SVN_SYNC = replace(MANAGER_SVN_SYNC, auto_commit=False)

ELB_CARBON = CarbonSettings(offset=0)
MANAGER_CARBON = CarbonSettings(offset=1, host_name="worker.esb.wso2.com", mgt_host_name="mgt.esb.wso2.com",
                                deployment_sync=MANAGER_SYNC)
WORKER2_CARBON = CarbonSettings(offset=2, deployment_sync=WORKER_SYNC)
WORKER3_CARBON = CarbonSettings(offset=3, host_name="worker.esb.wso2.com", mgt_host_name="mgt.esb.wso2.com",
                                deployment_sync=WORKER_SYNC)
MANAGER_SVN_CARBON = replace(MANAGER_CARBON, deployment_sync=MANAGER_SVN_SYNC)
WORKER_SVN_CARBON = replace(WORKER2_CARBON, deployment_sync=WORKER_SVN_SYNC)

DB_URL = "jdbc:mysql://carbondb.mysql-wso2.com:3306/"


def seed_datasources(local_registry_db: str, password: str = "regadmin") -> DatasourcesSettings:
    return DatasourcesSettings(
        (
            Datasource(
                name=local_registry_db,
                description="The datasource used for registry- local",
                jndi_name="jdbc/WSO2CarbonDB",
                url=f"{DB_URL}{local_registry_db}?autoReconnect=true",
                username="regadmin",
                password=password,
            ),
            Datasource(
                name="REGISTRY_DB",
                description="The datasource used for registry- config/governance",
                jndi_name="jdbc/WSO2RegistryDB",
                url=f"{DB_URL}REGISTRY_DB?autoReconnect=true",
                username="regadmin",
                password=password,
            ),
            Datasource(
                name="WSO2_USER_DB",
                description="The datasource used for registry and user manager",
                jndi_name="jdbc/WSO2UMDB",
                url=f"{DB_URL}WSO2_USER_DB",
                username="regadmin",
                password=password,
            ),
        )
    )


MANAGER_DATASOURCES = seed_datasources("REGISTRY_LOCAL1")
WORKER_DATASOURCES = seed_datasources("REGISTRY_LOCAL2")

USER_MGT = UserMgtSettings(data_source="jdbc/WSO2UMDB")

SEED_MOUNTS = (
    RegistryMount(path="/_system/config", target_path="/_system/asNodes"),
    RegistryMount(path="/_system/governance", target_path="/_system/governance"),
)
MANAGER_REGISTRY = RegistrySettings(
    db_config_name="sharedregistry",
    data_source="jdbc/WSO2RegistryDB",
    instance_id="instanceid",
    remote_url="https://localhost:9443/registry",
    read_only=False,
    # The same on every node (DESIGN.md): <db user>@<JDBC URL of REGISTRY_DB>.
    cache_id=f"regadmin@{DB_URL}REGISTRY_DB?autoReconnect=true",
    mounts=SEED_MOUNTS,
)
WORKER_REGISTRY = replace(MANAGER_REGISTRY, read_only=True)

Patcher = Callable[..., bytes]


@dataclass(frozen=True)
class GoldenCase:
    kind: str
    before: str
    after: str
    patch: Patcher
    settings: object

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.after}"

    @property
    def before_path(self) -> Path:
        return GOLDEN_DIR / self.kind / f"{self.before}.before.xml"

    @property
    def after_path(self) -> Path:
        return GOLDEN_DIR / self.kind / f"{self.after}.after.xml"


GOLDEN_CASES = [
    GoldenCase("axis2", "elb", "elb", patch_axis2, ELB_AXIS2),
    GoldenCase("axis2", "esb", "manager", patch_axis2, MANAGER_AXIS2),
    GoldenCase("axis2", "esb", "worker1", patch_axis2, WORKER1_AXIS2),
    GoldenCase("axis2", "esb", "worker2", patch_axis2, WORKER2_AXIS2),
    GoldenCase("carbon", "esb", "elb", patch_carbon, ELB_CARBON),
    GoldenCase("carbon", "esb", "manager", patch_carbon, MANAGER_CARBON),
    GoldenCase("carbon", "esb", "worker2", patch_carbon, WORKER2_CARBON),
    GoldenCase("carbon", "esb", "manager-svn", patch_carbon, MANAGER_SVN_CARBON),
    GoldenCase("carbon", "no-comments", "worker3", patch_carbon, WORKER3_CARBON),
    GoldenCase("datasources", "kernel", "manager", patch_datasources, MANAGER_DATASOURCES),
    GoldenCase("datasources", "kernel", "worker", patch_datasources, WORKER_DATASOURCES),
    GoldenCase("user-mgt", "kernel", "esb", patch_user_mgt, USER_MGT),
    GoldenCase("user-mgt", "inline", "inline", patch_user_mgt, USER_MGT),
    GoldenCase("registry", "kernel", "manager", patch_registry, MANAGER_REGISTRY),
    GoldenCase("registry", "kernel", "worker", patch_registry, WORKER_REGISTRY),
    GoldenCase("registry", "mounted", "worker-mounted", patch_registry, WORKER_REGISTRY),
]


def run(case: GoldenCase, data: bytes | None = None) -> bytes:
    return case.patch(
        data if data is not None else case.before_path.read_bytes(), case.settings, path=case.id
    )


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.id)
def test_golden(case: GoldenCase):
    result = run(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        case.after_path.write_bytes(result)
    assert result == case.after_path.read_bytes()


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.id)
def test_second_run_returns_the_same_object(case: GoldenCase):
    once = run(case)
    assert run(case, once) is once


def test_an_unchanged_file_comes_back_as_the_same_object():
    case = next(case for case in GOLDEN_CASES if case.id == "carbon/elb")
    original = case.before_path.read_bytes()
    assert case.patch(original, case.settings, path=case.id) is original


# ---- one setting changes only its lines --------------------------------------------------------------


def changed_lines(first: bytes, second: bytes) -> tuple[list[str], list[str]]:
    removed, added = [], []
    diff = difflib.unified_diff(
        first.decode("latin-1").splitlines(), second.decode("latin-1").splitlines(), n=0
    )
    for line in diff:
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:].strip())
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:].strip())
    return removed, added


ONE_SETTING_CHANGES = [
    (
        "axis2/manager",
        replace(MANAGER_AXIS2, domain="other.domain"),
        ['<parameter name="domain">wso2.esb.domain</parameter>'],
        ['<parameter name="domain">other.domain</parameter>'],
    ),
    (
        "axis2/manager",
        replace(MANAGER_AXIS2, local_member_port=4100),
        ['<parameter name="localMemberPort">4001</parameter>'],
        ['<parameter name="localMemberPort">4100</parameter>'],
    ),
    (
        "axis2/manager",
        replace(MANAGER_AXIS2, local_member_host="192.0.2.7"),
        ['<parameter name="localMemberHost">192.0.2.206</parameter>'],
        ['<parameter name="localMemberHost">192.0.2.7</parameter>'],
    ),
    (
        "axis2/manager",
        replace(MANAGER_AXIS2, port_mapping=((80, 9765), (443, 9444))),
        ['<property name="port.mapping.80" value="9764"/>'],
        ['<property name="port.mapping.80" value="9765"/>'],
    ),
    (
        "axis2/manager",
        replace(
            MANAGER_AXIS2,
            wsdl_epr_prefix=("http://worker.esb.wso2.com:8280", "https://worker.esb.wso2.com:443"),
        ),
        ['<parameter name="WSDLEPRPrefix" locked="false">http://worker.esb.wso2.com:80</parameter>'],
        ['<parameter name="WSDLEPRPrefix" locked="false">http://worker.esb.wso2.com:8280</parameter>'],
    ),
    (
        "axis2/worker1",
        replace(WORKER1_AXIS2, members=(ELB_MEMBER, WkaMember("mgt2.esb.wso2.com", 4001))),
        ["<hostName>mgt.esb.wso2.com</hostName>"],
        ["<hostName>mgt2.esb.wso2.com</hostName>"],
    ),
    (
        "axis2/worker1",
        replace(WORKER1_AXIS2, sub_domain="worker2"),
        ['<property name="subDomain" value="worker"/>'],
        ['<property name="subDomain" value="worker2"/>'],
    ),
    (
        "axis2/elb",
        replace(ELB_AXIS2, transport_ports=(8280, 443)),
        ['<parameter name="port">80</parameter>'],
        ['<parameter name="port">8280</parameter>'],
    ),
    ("carbon/manager", replace(MANAGER_CARBON, offset=5), ["<Offset>1</Offset>"], ["<Offset>5</Offset>"]),
    (
        "carbon/worker2",
        replace(WORKER2_CARBON, deployment_sync=MANAGER_SYNC),
        ["<AutoCommit>false</AutoCommit>"],
        ["<AutoCommit>true</AutoCommit>"],
    ),
    (
        "carbon/manager-svn",
        replace(MANAGER_SVN_CARBON, deployment_sync=replace(MANAGER_SVN_SYNC, svn_password="n3w")),
        ["<SvnPassword> &lt;s&amp;v\"n'&gt; </SvnPassword>"],
        ["<SvnPassword>n3w</SvnPassword>"],
    ),
    (
        "carbon/manager",
        replace(MANAGER_CARBON, mgt_host_name="admin.esb.wso2.com"),
        ["<MgtHostName>mgt.esb.wso2.com</MgtHostName>"],
        ["<MgtHostName>admin.esb.wso2.com</MgtHostName>"],
    ),
    (
        "datasources/manager",
        seed_datasources("REGISTRY_LOCAL1", password="n3w"),
        ["<password>regadmin</password>"] * 3,
        ["<password>n3w</password>"] * 3,
    ),
    (
        "user-mgt/esb",
        UserMgtSettings(data_source="jdbc/Other"),
        ['<Property name="dataSource">jdbc/WSO2UMDB</Property>'],
        ['<Property name="dataSource">jdbc/Other</Property>'],
    ),
    ("registry/manager", WORKER_REGISTRY, ["<readOnly>false</readOnly>"], ["<readOnly>true</readOnly>"]),
    (
        "registry/manager",
        replace(
            MANAGER_REGISTRY, mounts=(RegistryMount("/_system/config", "/_system/esbNodes"), SEED_MOUNTS[1])
        ),
        ["<targetPath>/_system/asNodes</targetPath>"],
        ["<targetPath>/_system/esbNodes</targetPath>"],
    ),
]


@pytest.mark.parametrize(
    ("case_id", "changed", "removed", "added"),
    ONE_SETTING_CHANGES,
    ids=[f"{case_id}-{index}" for index, (case_id, *_) in enumerate(ONE_SETTING_CHANGES)],
)
def test_changing_one_setting_changes_only_its_lines(case_id, changed, removed, added):
    case = next(case for case in GOLDEN_CASES if case.id == case_id)
    patched = run(case)
    repatched = case.patch(patched, changed, path=case.id)
    assert changed_lines(patched, repatched) == (removed, added)
    # Straight from the original the result is the same as going through the first settings.
    assert case.patch(case.before_path.read_bytes(), changed, path=case.id) == repatched


# ---- axis2.xml -------------------------------------------------------------------------------------

AXIS2_MINIMAL = """<axisconfig name="AxisJava2.0">
    <transportReceiver name="http" class="x.Http">
        <parameter name="port">8280</parameter>
    </transportReceiver>
    <transportReceiver name="https" class="x.Https">
        <parameter name="port">8243</parameter>
    </transportReceiver>
    <clustering class="some.OtherAgent" enable="false">
        <parameter name="membershipScheme">multicast</parameter>
        <parameter name="domain">d</parameter>
        <parameter name="localMemberPort">4000</parameter>
    </clustering>
</axisconfig>
"""


def test_axis2_creates_properties_and_members_when_absent():
    result = patch_axis2(AXIS2_MINIMAL.encode(), MANAGER_AXIS2, path="axis2.xml")
    values = read_axis2(result)
    assert values.clustering_class == TRIBES_AGENT_CLASS
    assert values.enabled
    assert values.local_member_host == "192.0.2.206"
    assert values.properties == (
        ("subDomain", "mgt"),
        ("port.mapping.80", "9764"),
        ("port.mapping.443", "9444"),
    )
    assert values.members == (ELB_MEMBER,)
    assert values.http_wsdl_epr_prefix == "http://worker.esb.wso2.com:80"
    text = result.decode()
    # localMemberHost (no commented-out form here) goes right after localMemberPort.
    assert (
        '<parameter name="localMemberPort">4001</parameter>\n'
        '        <parameter name="localMemberHost">192.0.2.206</parameter>\n'
        "\n"
        '        <parameter name="properties">\n'
        '            <property name="subDomain" value="mgt"/>\n'
    ) in text
    assert (
        "        <members>\n            <member>\n                <hostName>elb.wso2.com</hostName>\n" in text
    )
    # WSDLEPRPrefix without a commented-out form goes after the port parameter.
    assert (
        '<parameter name="port">8280</parameter>\n'
        '        <parameter name="WSDLEPRPrefix" locked="false">http://worker.esb.wso2.com:80</parameter>\n'
    ) in text


def test_axis2_new_properties_go_before_existing_members():
    text = AXIS2_MINIMAL.replace(
        "    </clustering>",
        "        <members>\n            <member>\n                <hostName>127.0.0.1</hostName>\n"
        "                <port>4000</port>\n            </member>\n        </members>\n    </clustering>",
    )
    result = patch_axis2(text.encode(), WORKER1_AXIS2, path="axis2.xml").decode()
    assert (
        '        <parameter name="properties">\n'
        '            <property name="subDomain" value="worker"/>\n'
        "        </parameter>\n\n"
        "        <members>\n"
    ) in result


def test_axis2_members_absent_and_none_wanted_stays_absent():
    result = patch_axis2(AXIS2_MINIMAL.encode(), ELB_AXIS2, path="axis2.xml")
    assert b"<members" not in result
    assert b"properties" not in result


def test_axis2_properties_hold_exactly_our_port_mappings_and_keep_the_others():
    text = AXIS2_MINIMAL.replace(
        '<parameter name="localMemberPort">4000</parameter>',
        '<parameter name="localMemberPort">4000</parameter>\n'
        '        <parameter name="properties">\n'
        '            <property name="backendServerURL" value="https://${hostName}:${httpsPort}/services/"/>\n'
        '            <property name="port.mapping.8280" value="9763"/>\n'
        '            <property name="subDomain" value="old"/>\n'
        '            <property name="port.mapping.443" value="1"/>\n'
        '            <property name="subDomain" value="older"/>\n'
        "        </parameter>",
    )
    result = patch_axis2(text.encode(), MANAGER_AXIS2, path="axis2.xml")
    assert read_axis2(result).properties == (
        ("backendServerURL", "https://${hostName}:${httpsPort}/services/"),
        ("subDomain", "mgt"),
        ("port.mapping.443", "9444"),
        ("port.mapping.80", "9764"),
    )
    worker = patch_axis2(result, WORKER1_AXIS2, path="axis2.xml")
    assert read_axis2(worker).properties == (
        ("backendServerURL", "https://${hostName}:${httpsPort}/services/"),
        ("subDomain", "worker"),
    )


def test_axis2_sub_domain_none_leaves_the_properties_alone():
    patched = patch_axis2(AXIS2_MINIMAL.encode(), MANAGER_AXIS2, path="axis2.xml")
    as_elb = patch_axis2(patched, replace(ELB_AXIS2, transport_ports=None), path="axis2.xml")
    assert read_axis2(as_elb).properties == read_axis2(patched).properties


def test_axis2_port_mapping_without_sub_domain_is_a_programming_error():
    with pytest.raises(ValueError):
        patch_axis2(AXIS2_MINIMAL.encode(), replace(ELB_AXIS2, port_mapping=((80, 9764),)))


def test_axis2_members_shrink_and_grow():
    two = patch_axis2(AXIS2_MINIMAL.encode(), WORKER1_AXIS2, path="axis2.xml")
    one = patch_axis2(two, replace(WORKER1_AXIS2, members=(MANAGER_MEMBER,)), path="axis2.xml")
    assert read_axis2(one).members == (MANAGER_MEMBER,)
    none = patch_axis2(one, replace(WORKER1_AXIS2, members=()), path="axis2.xml")
    assert read_axis2(none).members == ()
    again = patch_axis2(none, WORKER1_AXIS2, path="axis2.xml")
    assert read_axis2(again).members == (ELB_MEMBER, MANAGER_MEMBER)
    assert again == two


def test_axis2_without_clustering_is_refused():
    text = '<axisconfig>\n    <!--clustering enable="true"/-->\n</axisconfig>\n'
    with pytest.raises(ConfigFileError, match=r"/x/axis2\.xml.*<clustering>"):
        patch_axis2(text.encode(), ELB_AXIS2, path="/x/axis2.xml")


def test_axis2_hazelcast_is_refused():
    text = AXIS2_MINIMAL.replace(
        "some.OtherAgent", "org.wso2.carbon.core.clustering.hazelcast.HazelcastClusteringAgent"
    )
    with pytest.raises(ConfigFileError, match="Hazelcast") as raised:
        patch_axis2(text.encode(), ELB_AXIS2, path="axis2.xml")
    assert "4.7.0" in raised.value.hint


def test_axis2_missing_transport_receiver_is_refused_when_needed():
    text = AXIS2_MINIMAL.replace('name="https"', 'name="local"')
    assert patch_axis2(text.encode(), WORKER1_AXIS2, path="axis2.xml")  # workers do not need it
    with pytest.raises(ConfigFileError, match='transportReceiver name="https"'):
        patch_axis2(text.encode(), ELB_AXIS2, path="axis2.xml")


# ---- carbon.xml ------------------------------------------------------------------------------------


def test_carbon_updates_active_host_names_in_place():
    text = (
        '<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">\n'
        "    <Version>1</Version>\n"
        "    <HostName>old.example.org</HostName>\n"
        "    <Ports>\n        <Offset>7</Offset>\n    </Ports>\n"
        "</Server>\n"
    )
    result = patch_carbon(text.encode(), replace(MANAGER_CARBON, deployment_sync=None), path="carbon.xml")
    assert result.decode() == text.replace("old.example.org", "worker.esb.wso2.com").replace(
        "<Offset>7</Offset>", "<Offset>1</Offset>"
    ).replace(
        "    <HostName>worker.esb.wso2.com</HostName>\n",
        "    <HostName>worker.esb.wso2.com</HostName>\n    <MgtHostName>mgt.esb.wso2.com</MgtHostName>\n",
    )
    assert read_carbon(result) == CarbonValues(1, "worker.esb.wso2.com", "mgt.esb.wso2.com")


def test_carbon_missing_offset_is_written_first_in_ports():
    text = b'<Server xmlns="urn:c">\n    <Ports>\n        <JMX/>\n    </Ports>\n</Server>\n'
    result = patch_carbon(text, replace(WORKER2_CARBON, deployment_sync=None), path="carbon.xml")
    assert result == text.replace(b"        <JMX/>", b"        <Offset>2</Offset>\n        <JMX/>")


def test_carbon_host_names_none_are_left_alone():
    text = b'<Server xmlns="urn:c">\n    <HostName>keep.example.org</HostName>\n    <Ports><Offset>0</Offset></Ports>\n</Server>\n'
    result = patch_carbon(text, CarbonSettings(offset=0), path="carbon.xml")
    assert result is text


@pytest.mark.parametrize(
    "text",
    [
        '<Server xmlns="urn:c"><Version>1</Version><!--Ports><Offset>0</Offset></Ports--></Server>',
        "<Other><Ports><Offset>0</Offset></Ports></Other>",
    ],
    ids=["no-ports", "wrong-root"],
)
def test_carbon_without_ports_or_server_is_refused(text):
    with pytest.raises(ConfigFileError, match=r"/x/carbon\.xml"):
        patch_carbon(text.encode(), ELB_CARBON, path="/x/carbon.xml")


# ---- carbon.xml: <DeploymentSynchronizer> ---------------------------------------------------------

CARBON_NS = "http://wso2.org/projects/carbon/carbon.xml"


def carbon_text(body: str) -> str:
    """A small carbon.xml with ``body`` (lines indented by four) after its ``<Ports>``."""
    return (
        f'<Server xmlns="{CARBON_NS}">\n'
        "    <Version>4.7.0</Version>\n"
        "    <Ports>\n        <Offset>0</Offset>\n    </Ports>\n"
        f"{body}"
        "</Server>\n"
    )


# Carbon 4.2's kernel file ships the svn block active and disabled.
ACTIVE_SVN_BLOCK = """    <DeploymentSynchronizer>
        <Enabled>false</Enabled>
        <AutoCommit>false</AutoCommit>
        <AutoCheckout>true</AutoCheckout>
        <RepositoryType>svn</RepositoryType>
        <SvnUrl>http://svnrepo.example.com/repos/</SvnUrl>
        <SvnUser>username</SvnUser>
        <SvnPassword>password</SvnPassword>
        <SvnUrlAppendTenantId>true</SvnUrlAppendTenantId>
    </DeploymentSynchronizer>
"""


def sync_children(data: bytes) -> list[list[tuple[str, str]]]:
    """Per active <DeploymentSynchronizer> (lxml, independently of read_carbon): its children."""
    root = etree.fromstring(data)
    return [
        [(etree.QName(child).localname, child.text) for child in block if isinstance(child.tag, str)]
        for block in root.findall(f"{{{CARBON_NS}}}DeploymentSynchronizer")
    ]


def wanted_children(sync: DeploymentSyncSettings) -> list[tuple[str, str]]:
    flag = {True: "true", False: "false"}
    children = [("Enabled", flag[sync.enabled]), ("AutoCommit", flag[sync.auto_commit]),
                ("AutoCheckout", flag[sync.auto_checkout]), ("RepositoryType", sync.repository_type)]
    if sync.repository_type == "svn":
        children.append(("SvnUrl", sync.svn_url))
        if sync.svn_user:
            children += [("SvnUser", sync.svn_user), ("SvnPassword", sync.svn_password)]
    return children


def test_carbon_deployment_sync_without_examples_goes_after_http_get_request_processors():
    text = carbon_text(
        "    <HttpGetRequestProcessors>\n        <Processor/>\n    </HttpGetRequestProcessors>\n"
        "    <WorkDirectory>/tmp/work</WorkDirectory>\n"
    )
    result = patch_carbon(text.encode(), WORKER2_CARBON, path="carbon.xml")
    assert result.decode() == text.replace(
        "    </HttpGetRequestProcessors>\n",
        "    </HttpGetRequestProcessors>\n"
        "\n"
        "    <DeploymentSynchronizer>\n"
        "        <Enabled>true</Enabled>\n"
        "        <AutoCommit>false</AutoCommit>\n"
        "        <AutoCheckout>true</AutoCheckout>\n"
        "        <RepositoryType>registry</RepositoryType>\n"
        "    </DeploymentSynchronizer>\n",
    ).replace("<Offset>0</Offset>", "<Offset>2</Offset>")
    assert patch_carbon(result, WORKER2_CARBON, path="carbon.xml") is result


def test_carbon_deployment_sync_without_examples_or_processors_goes_last_in_server():
    # The golden carbon/worker3 shows the same with a file that has nothing else after <Ports>.
    text = carbon_text("    <WorkDirectory>/tmp/work</WorkDirectory>\n")
    result = patch_carbon(text.encode(), WORKER2_CARBON, path="carbon.xml").decode()
    assert result.endswith(
        "    <WorkDirectory>/tmp/work</WorkDirectory>\n\n    <DeploymentSynchronizer>\n"
        "        <Enabled>true</Enabled>\n"
        "        <AutoCommit>false</AutoCommit>\n"
        "        <AutoCheckout>true</AutoCheckout>\n"
        "        <RepositoryType>registry</RepositoryType>\n"
        "    </DeploymentSynchronizer>\n</Server>\n"
    )


def test_carbon_deployment_sync_svn_goes_after_the_svn_example():
    result = run(next(case for case in GOLDEN_CASES if case.id == "carbon/manager-svn")).decode()
    svn_example = result.index("<!--<DeploymentSynchronizer>")
    registry_example = result.index("<!--<DeploymentSynchronizer>", svn_example + 1)
    active = result.index("\n    <DeploymentSynchronizer>")
    assert svn_example < active < registry_example
    assert result[:active].endswith("</DeploymentSynchronizer>-->\n")  # a blank line before it


def test_carbon_an_active_svn_block_switched_to_registry_loses_its_svn_elements():
    text = carbon_text("\n" + ACTIVE_SVN_BLOCK)
    result = patch_carbon(text.encode(), MANAGER_CARBON, path="carbon.xml")
    assert sync_children(result) == [wanted_children(MANAGER_SYNC)]
    removed, added = changed_lines(text.encode(), result)
    assert removed == [
        "<Offset>0</Offset>", "<Enabled>false</Enabled>", "<AutoCommit>false</AutoCommit>",
        "<RepositoryType>svn</RepositoryType>", "<SvnUrl>http://svnrepo.example.com/repos/</SvnUrl>",
        "<SvnUser>username</SvnUser>", "<SvnPassword>password</SvnPassword>",
        "<SvnUrlAppendTenantId>true</SvnUrlAppendTenantId>",
    ]
    assert "<RepositoryType>registry</RepositoryType>" in added
    values = read_carbon(result).deployment_sync
    assert (values.repository_type, values.svn_url, values.svn_user, values.svn_password) == (
        "registry", None, None, None)


def test_carbon_an_active_registry_block_switched_to_svn_gets_the_svn_elements():
    registry = patch_carbon(carbon_text("\n" + ACTIVE_SVN_BLOCK).encode(), WORKER2_CARBON, path="carbon.xml")
    result = patch_carbon(registry, WORKER_SVN_CARBON, path="carbon.xml")
    # SvnUrlAppendTenantId went with the registry; it is svn's own switch, not one we add.
    assert sync_children(result) == [wanted_children(WORKER_SVN_SYNC)]
    assert result.decode().count("<DeploymentSynchronizer>") == 1
    assert patch_carbon(result, WORKER_SVN_CARBON, path="carbon.xml") is result


def test_carbon_svn_keeps_svn_url_append_tenant_id_and_sets_the_rest_in_place():
    text = carbon_text("\n" + ACTIVE_SVN_BLOCK)
    result = patch_carbon(text.encode(), WORKER_SVN_CARBON, path="carbon.xml")
    assert sync_children(result) == [[*wanted_children(WORKER_SVN_SYNC), ("SvnUrlAppendTenantId", "true")]]
    removed, _added = changed_lines(text.encode(), result)
    assert "<SvnUrlAppendTenantId>true</SvnUrlAppendTenantId>" not in removed
    assert "<AutoCheckout>true</AutoCheckout>" not in removed  # already right: not touched


def test_carbon_svn_without_a_user_removes_the_examples_login():
    no_user = replace(WORKER_SVN_SYNC, svn_user=None, svn_password=None)
    text = carbon_text("\n" + ACTIVE_SVN_BLOCK)
    result = patch_carbon(text.encode(), replace(WORKER2_CARBON, deployment_sync=no_user), path="carbon.xml")
    assert sync_children(result) == [[*wanted_children(no_user), ("SvnUrlAppendTenantId", "true")]]
    assert b"SvnUser" not in result and b"SvnPassword" not in result
    values = read_carbon(result).deployment_sync
    assert (values.svn_user, values.svn_password) == (None, None)


def test_carbon_every_active_block_is_set():
    second = """    <DeploymentSynchronizer>
        <Enabled>true</Enabled>
        <RepositoryType>registry</RepositoryType>
    </DeploymentSynchronizer>
"""
    text = carbon_text("\n" + ACTIVE_SVN_BLOCK + second)
    result = patch_carbon(text.encode(), MANAGER_SVN_CARBON, path="carbon.xml")
    assert sync_children(result) == [
        [*wanted_children(MANAGER_SVN_SYNC), ("SvnUrlAppendTenantId", "true")],
        wanted_children(MANAGER_SVN_SYNC),
    ]
    registry = patch_carbon(result, MANAGER_CARBON, path="carbon.xml")
    assert sync_children(registry) == [wanted_children(MANAGER_SYNC)] * 2


def test_carbon_an_element_missing_in_an_active_block_is_added_in_the_kernels_order():
    text = carbon_text(
        "    <DeploymentSynchronizer>\n"
        "        <!-- kept -->\n"
        "        <AutoCheckout>false</AutoCheckout>\n"
        "    </DeploymentSynchronizer>\n"
    )
    result = patch_carbon(text.encode(), WORKER2_CARBON, path="carbon.xml")
    assert sync_children(result) == [wanted_children(WORKER_SYNC)]
    assert b"<!-- kept -->" in result
    assert patch_carbon(result, WORKER2_CARBON, path="carbon.xml") is result


def test_carbon_a_self_closing_active_block_is_filled_in():
    text = carbon_text("    <DeploymentSynchronizer/>\n")
    result = patch_carbon(text.encode(), MANAGER_SVN_CARBON, path="carbon.xml")
    assert sync_children(result) == [wanted_children(MANAGER_SVN_SYNC)]


def test_carbon_the_elb_leaves_an_active_block_alone():
    text = carbon_text("\n" + ACTIVE_SVN_BLOCK).encode()
    assert patch_carbon(text, ELB_CARBON, path="carbon.xml") is text


def test_carbon_an_svn_password_with_xml_characters_and_spaces_round_trips():
    result = patch_carbon(carbon_text("").encode(), MANAGER_SVN_CARBON, path="carbon.xml")
    assert b"<SvnPassword> &lt;s&amp;v\"n'&gt; </SvnPassword>" in result
    values = read_carbon(result).deployment_sync
    assert values.svn_password == SVN_PASSWORD  # exactly, with its spaces
    assert (values.svn_url, values.svn_user) == (MANAGER_SVN_SYNC.svn_url, MANAGER_SVN_SYNC.svn_user)
    assert etree.fromstring(result).findtext(f"{{{CARBON_NS}}}DeploymentSynchronizer/{{{CARBON_NS}}}SvnPassword") \
        == SVN_PASSWORD
    # The same password given again: nothing to change.
    assert patch_carbon(result, MANAGER_SVN_CARBON, path="carbon.xml") is result


def test_the_svn_password_is_never_in_a_repr():
    result = patch_carbon(carbon_text("").encode(), MANAGER_SVN_CARBON, path="carbon.xml")
    values = read_carbon(result)
    for shown in (repr(values), repr(values.deployment_sync), str(values.deployment_sync),
                  repr(MANAGER_SVN_SYNC), repr(MANAGER_SVN_CARBON)):
        assert "s&v" not in shown and SVN_PASSWORD.strip() not in shown, shown
    assert "svn_password=set" in repr(values.deployment_sync)
    assert "depsync" in repr(values.deployment_sync)  # the rest is shown


# ---- master-datasources.xml --------------------------------------------------------------------------


def datasource_names(data: bytes) -> list[str]:
    return [value.name for value in read_datasources(data)]


def test_datasources_values_are_escaped_and_read_back():
    settings = DatasourcesSettings(
        (replace(MANAGER_DATASOURCES.datasources[0], url=f"{DB_URL}X?a=1&b=2", password="p<&>w"),)
    )
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_bytes()
    result = patch_datasources(before, settings, path="m.xml")
    assert b"?a=1&amp;b=2" in result
    [value] = read_datasources(result)
    assert (value.url, value.password) == (f"{DB_URL}X?a=1&b=2", "p<&>w")
    assert "p<&>w" not in repr(value)


def test_a_password_with_spaces_at_either_end_is_written_and_read_back_exactly(tmp_path):
    from tests.support.carbon_standin.config import MASTER_DATASOURCES_XML, read_master_datasources

    settings = DatasourcesSettings(tuple(replace(datasource, password=" pa ss ")
                                         for datasource in MANAGER_DATASOURCES.datasources))
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_bytes()
    result = patch_datasources(before, settings, path="m.xml")
    assert {value.password for value in read_datasources(result)} == {" pa ss "}
    # The stand-in reads it as Carbon does (JAXB keeps the spaces): the node logs in with it.
    (tmp_path / MASTER_DATASOURCES_XML).parent.mkdir(parents=True)
    (tmp_path / MASTER_DATASOURCES_XML).write_bytes(result)
    assert {config.password for config in read_master_datasources(tmp_path)} == {" pa ss "}
    # A second patch with the same password changes nothing.
    assert patch_datasources(result, settings, path="m.xml") is result


def test_datasources_kept_apart_or_out_of_order_are_rewritten_together_once():
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_bytes()
    manager = patch_datasources(before, MANAGER_DATASOURCES, path="m.xml")
    # Someone put another datasource between ours and swapped two of them.
    tree_text = manager.decode()
    other = (
        "        <datasource>\n            <name>OTHER</name>\n            <jndiConfig>\n"
        "                <name>jdbc/Other</name>\n            </jndiConfig>\n"
        '            <definition type="RDBMS">\n                <configuration>\n'
        "                    <url>jdbc:h2:other</url>\n                </configuration>\n"
        "            </definition>\n        </datasource>\n\n"
    )
    first_end = tree_text.index("        <datasource>", tree_text.index("</datasource>"))
    shuffled = (tree_text[:first_end] + other + tree_text[first_end:]).encode()
    assert datasource_names(shuffled) == ["REGISTRY_LOCAL1", "OTHER", "REGISTRY_DB", "WSO2_USER_DB"]
    fixed = patch_datasources(shuffled, MANAGER_DATASOURCES, path="m.xml")
    assert datasource_names(fixed) == ["REGISTRY_LOCAL1", "REGISTRY_DB", "WSO2_USER_DB", "OTHER"]
    assert patch_datasources(fixed, MANAGER_DATASOURCES, path="m.xml") is fixed
    etree.fromstring(fixed)


def test_datasources_duplicates_of_our_names_are_removed_and_others_kept():
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_bytes().decode()
    block_start = before.index("        <datasource>")
    block_end = before.index("</datasource>") + len("</datasource>\n")
    block = before[block_start:block_end]
    doubled = (
        before[:block_end]
        + "\n"
        + block.replace("WSO2_CARBON_DB", "KEEP_ME").replace("jdbc/WSO2CarbonDB", "jdbc/Keep")
        + "\n"
        + block
        + before[block_end:]
    )
    result = patch_datasources(doubled.encode(), MANAGER_DATASOURCES, path="m.xml")
    names = datasource_names(result)
    assert sorted(names) == sorted(["REGISTRY_LOCAL1", "REGISTRY_DB", "WSO2_USER_DB", "KEEP_ME"])
    assert [value.jndi_name for value in read_datasources(result)].count("jdbc/WSO2CarbonDB") == 1


def test_datasources_a_second_one_with_our_jndi_name_is_removed_in_place():
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_text()
    block_start = before.index("        <datasource>")
    block_end = before.index("</datasource>") + len("</datasource>\n")
    doubled = (
        before[:block_end]
        + before[block_start:block_end].replace("WSO2_CARBON_DB", "SECOND_DB")
        + before[block_end:]
    )
    result = patch_datasources(doubled.encode(), WORKER_DATASOURCES, path="m.xml")
    assert datasource_names(result) == ["REGISTRY_LOCAL2", "REGISTRY_DB", "WSO2_USER_DB"]
    # The first one was updated in place, not rewritten: its original line is still unchanged.
    assert (
        result.decode().count("            <jndiConfig>\n                <name>jdbc/WSO2CarbonDB</name>") == 1
    )
    assert "SECOND_DB" not in result.decode()


def test_datasources_in_the_wrong_order_are_put_in_ours():
    before = (GOLDEN_DIR / "datasources" / "kernel.before.xml").read_bytes()
    manager = patch_datasources(before, MANAGER_DATASOURCES, path="m.xml")
    swapped = DatasourcesSettings(tuple(reversed(MANAGER_DATASOURCES.datasources)))
    result = patch_datasources(manager, swapped, path="m.xml")
    assert datasource_names(result) == ["WSO2_USER_DB", "REGISTRY_DB", "REGISTRY_LOCAL1"]
    assert patch_datasources(result, swapped, path="m.xml") is result


def test_datasources_pair_by_name_before_jndi_name():
    # REGISTRY_DB exists under its name (with a pool setting we do not manage) and its JNDI name
    # is held by another datasource: the named one is updated in place, the other one goes.
    text = """<datasources-configuration>
    <datasources>
        <datasource>
            <name>REGISTRY_DB</name>
            <jndiConfig>
                <name>jdbc/Old</name>
            </jndiConfig>
            <definition type="RDBMS">
                <configuration>
                    <url>jdbc:h2:old</url>
                    <minIdle>5</minIdle>
                </configuration>
            </definition>
        </datasource>
        <datasource>
            <name>SQUATTER</name>
            <jndiConfig>
                <name>jdbc/WSO2RegistryDB</name>
            </jndiConfig>
            <definition type="RDBMS">
                <configuration>
                    <url>jdbc:h2:squat</url>
                </configuration>
            </definition>
        </datasource>
    </datasources>
</datasources-configuration>
"""
    settings = DatasourcesSettings((MANAGER_DATASOURCES.datasources[1],))
    result = patch_datasources(text.encode(), settings, path="m.xml")
    assert datasource_names(result) == ["REGISTRY_DB"]
    assert b"<minIdle>5</minIdle>" in result
    assert read_datasources(result)[0].jndi_name == "jdbc/WSO2RegistryDB"


def test_datasources_without_datasources_element_is_refused():
    with pytest.raises(ConfigFileError, match=r"m\.xml"):
        patch_datasources(b"<datasources-configuration/>", MANAGER_DATASOURCES, path="m.xml")


def test_datasources_into_an_empty_list():
    text = (
        b"<datasources-configuration>\n    <datasources>\n    </datasources>\n</datasources-configuration>\n"
    )
    result = patch_datasources(text, WORKER_DATASOURCES, path="m.xml")
    assert datasource_names(result) == ["REGISTRY_LOCAL2", "REGISTRY_DB", "WSO2_USER_DB"]
    assert patch_datasources(result, WORKER_DATASOURCES, path="m.xml") is result


# ---- user-mgt.xml -----------------------------------------------------------------------------------


def test_user_mgt_without_configuration_is_refused():
    with pytest.raises(ConfigFileError, match=r"u\.xml.*Realm/Configuration"):
        patch_user_mgt(b"<UserManager><Realm/></UserManager>", USER_MGT, path="u.xml")


def test_user_mgt_configuration_without_properties_gets_one():
    text = b"<UserManager>\n    <Realm>\n        <Configuration>\n            <AdminRole>admin</AdminRole>\n        </Configuration>\n    </Realm>\n</UserManager>\n"
    result = patch_user_mgt(text, USER_MGT, path="u.xml")
    assert (
        b'            <AdminRole>admin</AdminRole>\n            <Property name="dataSource">jdbc/WSO2UMDB</Property>\n'
        in result
    )
    assert read_user_mgt(result).data_source == "jdbc/WSO2UMDB"


def test_user_mgt_data_source_goes_after_the_last_property_not_last():
    text = (
        b"<UserManager>\n    <Realm>\n        <Configuration>\n"
        b'            <Property name="url">jdbc:h2:x</Property>\n'
        b"            <AdminRole>admin</AdminRole>\n"
        b"        </Configuration>\n    </Realm>\n</UserManager>\n"
    )
    result = patch_user_mgt(text, USER_MGT, path="u.xml")
    assert result == text.replace(
        b"jdbc:h2:x</Property>\n",
        b'jdbc:h2:x</Property>\n            <Property name="dataSource">jdbc/WSO2UMDB</Property>\n',
    )


# ---- registry.xml -----------------------------------------------------------------------------------


def test_registry_refuses_the_synapse_registry_definition():
    text = b'<registry xmlns="http://ws.apache.org/ns/synapse" provider="x"/>'
    with pytest.raises(ConfigFileError, match="wso2registry"):
        patch_registry(text, MANAGER_REGISTRY, path="synapse-configs/default/registry.xml")


def test_registry_remote_instance_found_by_id_is_updated_in_place():
    before = (GOLDEN_DIR / "registry" / "kernel.before.xml").read_bytes()
    manager = patch_registry(before, MANAGER_REGISTRY, path="r.xml")
    moved = patch_registry(
        manager, replace(MANAGER_REGISTRY, remote_url="https://mgt.esb.wso2.com:9444/registry"), path="r.xml"
    )
    assert changed_lines(manager, moved) == (
        ['<remoteInstance url="https://localhost:9443/registry">'],
        ['<remoteInstance url="https://mgt.esb.wso2.com:9444/registry">'],
    )


def test_registry_updates_ours_in_place_and_drops_duplicate_mounts():
    before = (GOLDEN_DIR / "registry" / "kernel.before.xml").read_bytes()
    manager = patch_registry(before, MANAGER_REGISTRY, path="r.xml")
    text = manager.decode()
    mount_start = text.index('    <mount path="/_system/governance"')
    mount_end = text.index("</mount>", mount_start) + len("</mount>\n")
    doubled = text[:mount_end] + "\n" + text[mount_start:mount_end] + text[mount_end:]
    assert len(read_registry(doubled.encode()).mounts) == 3
    worker = patch_registry(doubled.encode(), WORKER_REGISTRY, path="r.xml")
    values = read_registry(worker)
    assert [mount.path for mount in values.mounts] == ["/_system/config", "/_system/governance"]
    [remote] = values.remote_instances
    assert remote.read_only == "true"
    assert values.db_configs == (
        ("wso2registry", "jdbc/WSO2CarbonDB"),
        ("sharedregistry", "jdbc/WSO2RegistryDB"),
    )
    assert values.current_db_config == "wso2registry"
