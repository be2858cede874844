"""Every patcher over every real file of its kind in ../shared/carbon-configs (no tmpl- sets).

For each file and each node role: the result is well-formed; the values we manage are exactly the
ones asked (read back with our read function *and* checked independently with lxml); nothing we
manage is left stale; every comment of the original is still there; the lines the patcher took
away are only lines we manage; a second run returns the same bytes.

Decision tested here: axis2.xml files that cluster with Hazelcast (Carbon 4.2: the 4.2 kernel and
ESB 4.8.1) are refused with a ConfigFileError rather than rewritten to Tribes; see
installer/files/axis2.py for why.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from installer.errors import ConfigFileError
from installer.files.axis2 import TRIBES_AGENT_CLASS, patch_axis2, read_axis2
from installer.files.carbon import DeploymentSyncValues, patch_carbon, read_carbon
from installer.files.datasources import patch_datasources, read_datasources
from installer.files.registry import patch_registry, read_registry
from installer.files.settings import Axis2Settings, CarbonSettings, DatasourcesSettings, RegistrySettings
from installer.files.usermgt import patch_user_mgt, read_user_mgt
from tests.paths import CARBON_CONFIGS_DIR, real_config_files
from tests.test_xml_patchers import (
    ELB_AXIS2,
    ELB_CARBON,
    MANAGER_AXIS2,
    MANAGER_CARBON,
    MANAGER_DATASOURCES,
    MANAGER_REGISTRY,
    MANAGER_SVN_CARBON,
    USER_MGT,
    WORKER1_AXIS2,
    WORKER2_CARBON,
    WORKER_DATASOURCES,
    WORKER_REGISTRY,
    WORKER_SVN_CARBON,
)


def file_id(path: Path) -> str:
    return str(path.relative_to(CARBON_CONFIGS_DIR))


def lxml_root(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False))


def local(root: etree._Element, path: str) -> list[etree._Element]:
    """Elements by a path of local names ("a/b/c") below root, namespaces ignored."""
    steps = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
    return root.xpath(steps)


def comment_texts(data: bytes) -> Counter[str]:
    return Counter(node.text for node in lxml_root(data).getroottree().xpath("//comment()"))


def removed_lines(original: bytes, result: bytes) -> list[str]:
    diff = difflib.unified_diff(
        original.decode("latin-1").splitlines(), result.decode("latin-1").splitlines(), n=0
    )
    return [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]


def check_common(
    patch: Callable[..., bytes], original: bytes, settings: object, path: Path, touchable: re.Pattern[str]
) -> bytes:
    result = patch(original, settings, path=str(path))
    lxml_root(result)  # well-formed
    missing_comments = comment_texts(original) - comment_texts(result)
    assert not missing_comments, f"comments of the original went missing: {missing_comments}"
    for line in removed_lines(original, result):
        assert line.strip() == "" or touchable.search(line), f"unexpected change to: {line!r}"
    again = patch(result, settings, path=str(path))
    assert again == result
    assert again is result
    return result


# ---- axis2.xml -------------------------------------------------------------------------------------

AXIS2_FILES = real_config_files("axis2.xml") + real_config_files("axis2_nhttp.xml")


def clustering_agent(path: Path) -> str:
    [clustering] = local(lxml_root(path.read_bytes()), "clustering")
    return clustering.get("class")


TRIBES_FILES = [path for path in AXIS2_FILES if "tribes" in clustering_agent(path).lower()]
HAZELCAST_FILES = [path for path in AXIS2_FILES if "hazelcast" in clustering_agent(path).lower()]

AXIS2_ROLES = {"elb": ELB_AXIS2, "manager": MANAGER_AXIS2, "worker": WORKER1_AXIS2}
AXIS2_TOUCHABLE = re.compile(
    r"<clustering|membershipScheme|\"domain\"|localMember(Host|Port)|</?member>|<hostName>|<port>"
    r"|subDomain|port\.mapping|name=\"port\"|WSDLEPRPrefix"
)


def test_the_corpus_has_both_kinds_of_axis2_files(carbon_configs_dir):
    assert {file_id(path).split("/")[0] for path in HAZELCAST_FILES} == {"carbon-kernel-4.2.x", "esb-4.8.1"}
    assert len(TRIBES_FILES) >= 8
    assert len(TRIBES_FILES) + len(HAZELCAST_FILES) == len(AXIS2_FILES)


@pytest.mark.parametrize("role", sorted(AXIS2_ROLES))
@pytest.mark.parametrize("path", TRIBES_FILES, ids=file_id)
def test_axis2(path: Path, role: str):
    settings: Axis2Settings = AXIS2_ROLES[role]
    original = path.read_bytes()
    before = read_axis2(original)
    result = check_common(patch_axis2, original, settings, path, AXIS2_TOUCHABLE)

    values = read_axis2(result)
    assert values.clustering_class == TRIBES_AGENT_CLASS
    assert values.enabled
    assert values.membership_scheme == "wka"
    assert values.domain == settings.domain
    assert values.local_member_host == settings.local_member_host
    assert values.local_member_port == settings.local_member_port
    assert values.members == settings.members
    if settings.sub_domain is None:
        assert values.properties == before.properties
    else:
        assert [value for name, value in values.properties if name == "subDomain"] == [settings.sub_domain]
        assert values.port_mapping == settings.port_mapping
        unmanaged = [
            item
            for item in before.properties
            if item[0] != "subDomain" and not item[0].startswith("port.mapping.")
        ]
        assert [
            item
            for item in values.properties
            if item[0] != "subDomain" and not item[0].startswith("port.mapping.")
        ] == unmanaged
    if settings.transport_ports is not None:
        assert (values.http_port, values.https_port) == settings.transport_ports
    else:
        assert (values.http_port, values.https_port) == (before.http_port, before.https_port)
    if settings.wsdl_epr_prefix is not None:
        assert (values.http_wsdl_epr_prefix, values.https_wsdl_epr_prefix) == settings.wsdl_epr_prefix

    # Independently of our reader: every active parameter we manage has our value, once or more.
    root = lxml_root(result)
    [clustering] = local(root, "clustering")
    assert clustering.get("class") == TRIBES_AGENT_CLASS and clustering.get("enable") == "true"
    for name, value in [
        ("membershipScheme", "wka"),
        ("domain", settings.domain),
        ("localMemberHost", settings.local_member_host),
        ("localMemberPort", str(settings.local_member_port)),
    ]:
        found = [element.text for element in local(clustering, "parameter") if element.get("name") == name]
        assert found and set(found) == {value}, name
    members = [
        (member.findtext("{*}hostName"), int(member.findtext("{*}port")))
        for member in local(clustering, "members/member")
    ]
    assert members == [(member.host, member.port) for member in settings.members]
    if settings.wsdl_epr_prefix is not None:
        for receiver_name, prefix in zip(("http", "https"), settings.wsdl_epr_prefix, strict=True):
            [receiver] = [r for r in local(root, "transportReceiver") if r.get("name") == receiver_name]
            assert [p.text for p in receiver if p.get("name") == "WSDLEPRPrefix"] == [prefix]


@pytest.mark.parametrize("path", HAZELCAST_FILES, ids=file_id)
def test_axis2_hazelcast_files_are_refused(path: Path):
    original = path.read_bytes()
    with pytest.raises(ConfigFileError) as raised:
        patch_axis2(original, MANAGER_AXIS2, path=str(path))
    assert str(path) in raised.value.message
    assert "Hazelcast" in raised.value.message
    assert raised.value.hint
    # Reading them is fine (the stand-in server and the review use it).
    assert "Hazelcast" in read_axis2(original).clustering_class


@pytest.mark.parametrize("path", real_config_files("tenant-axis2.xml"), ids=file_id)
def test_axis2_without_clustering_is_refused(path: Path):
    with pytest.raises(ConfigFileError, match="<clustering>"):
        patch_axis2(path.read_bytes(), WORKER1_AXIS2, path=str(path))


# ---- carbon.xml ------------------------------------------------------------------------------------

CARBON_FILES = real_config_files("carbon.xml")
CARBON_ROLES = {
    "elb": ELB_CARBON,
    "manager": MANAGER_CARBON,
    "worker2": WORKER2_CARBON,
    "manager-svn": MANAGER_SVN_CARBON,
    "worker-svn": WORKER_SVN_CARBON,
}
# Besides the offset and host names: the children of an active <DeploymentSynchronizer> (Carbon
# 4.2 ships one, svn and disabled) that we set in place or remove.
CARBON_TOUCHABLE = re.compile(
    r"<Offset>|HostName>|<(Enabled|AutoCommit|AutoCheckout|RepositoryType|SvnUrl|SvnUser|SvnPassword"
    r"|SvnUrlAppendTenantId)>"
)
SVN_ELEMENTS = ("SvnUrl", "SvnUser", "SvnPassword", "SvnUrlAppendTenantId")


def test_the_corpus_has_carbon_files(carbon_configs_dir):
    assert len(CARBON_FILES) >= 6
    # Both shapes of the deployment synchronizer: commented out (4.1) and active (4.2), and none.
    texts = {file_id(path).split("/")[0]: path.read_text() for path in CARBON_FILES}
    assert "<!--<DeploymentSynchronizer>" in texts["carbon-kernel-4.1.x"]
    assert "\n    <DeploymentSynchronizer>" in texts["carbon-kernel-4.2.x"]
    assert "DeploymentSynchronizer" not in texts["carbon-kernel-4.0.x"]


def sync_blocks(root: etree._Element) -> list[etree._Element]:
    """The active <DeploymentSynchronizer> elements where Carbon reads them (children of <Server>)."""
    return [child for child in root if isinstance(child.tag, str) and etree.QName(child).localname
            == "DeploymentSynchronizer"]


def without_managed(data: bytes) -> bytes:
    """The document without what patch_carbon manages, whitespace-only text dropped: what must
    come out of the patch unchanged."""
    root = lxml_root(data)
    for element in [*local(root, "Ports/Offset"), *local(root, "HostName"), *local(root, "MgtHostName"),
                    *sync_blocks(root)]:
        element.getparent().remove(element)
    for node in root.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize("role", sorted(CARBON_ROLES))
@pytest.mark.parametrize("path", CARBON_FILES, ids=file_id)
def test_carbon(path: Path, role: str):
    settings: CarbonSettings = CARBON_ROLES[role]
    original = path.read_bytes()
    before = read_carbon(original)
    result = check_common(patch_carbon, original, settings, path, CARBON_TOUCHABLE)
    values = read_carbon(result)
    assert values.offset == settings.offset
    assert values.host_name == (settings.host_name if settings.host_name is not None else before.host_name)
    assert values.mgt_host_name == (
        settings.mgt_host_name if settings.mgt_host_name is not None else before.mgt_host_name
    )
    root = lxml_root(result)
    assert [element.text for element in local(root, "Ports/Offset")] == [str(settings.offset)]
    if settings.host_name is not None:
        assert [element.text for element in local(root, "HostName")] == [settings.host_name]
        assert [element.text for element in local(root, "MgtHostName")] == [settings.mgt_host_name]
        # Still in the default namespace, like every other element of the file.
        assert {etree.QName(element).namespace for element in local(root, "HostName")} == {
            etree.QName(root).namespace
        }
    # Nothing else in the file changed (comments are checked by check_common).
    assert without_managed(result) == without_managed(original)

    sync = settings.deployment_sync
    original_blocks = sync_blocks(lxml_root(original))
    if sync is None:
        # The ELB: whatever the file says about deployment synchronisation is left as it is.
        assert [etree.tostring(block) for block in sync_blocks(root)] == [
            etree.tostring(block) for block in original_blocks]
        assert values.deployment_sync == before.deployment_sync
        return

    # Independently of read_carbon: exactly one active block, in the file's namespace, holding
    # each of our elements exactly once with our value.
    [block] = sync_blocks(root)
    assert etree.QName(block).namespace == etree.QName(root).namespace
    children = [child for child in block if isinstance(child.tag, str)]
    assert {etree.QName(child).namespace for child in children} == {etree.QName(root).namespace}
    found: dict[str, list[str | None]] = {}
    for child in children:
        found.setdefault(etree.QName(child).localname, []).append(child.text)
    flag = {True: ["true"], False: ["false"]}
    assert found.pop("Enabled") == flag[sync.enabled]
    assert found.pop("AutoCommit") == flag[sync.auto_commit]
    assert found.pop("AutoCheckout") == flag[sync.auto_checkout]
    assert found.pop("RepositoryType") == [sync.repository_type]
    if sync.repository_type == "svn":
        assert found.pop("SvnUrl") == [sync.svn_url]
        assert found.pop("SvnUser") == [sync.svn_user]
        assert found.pop("SvnPassword") == [sync.svn_password]  # exactly: leading space, <&"'> and all
        # svn's own switch stays as the file had it (Carbon 4.2's active block: true).
        append = [block.findtext("{*}SvnUrlAppendTenantId") for block in original_blocks]
        assert found.pop("SvnUrlAppendTenantId", None) == (append[:1] if append and append[0] else None)
    assert found == {}, f"unexpected elements left in <DeploymentSynchronizer>: {found}"

    assert values.deployment_sync == DeploymentSyncValues(
        enabled=flag[sync.enabled][0],
        auto_commit=flag[sync.auto_commit][0],
        auto_checkout=flag[sync.auto_checkout][0],
        repository_type=sync.repository_type,
        svn_url=sync.svn_url,
        svn_user=sync.svn_user,
        svn_password=sync.svn_password,
    )
    if not original_blocks:
        # A new block: after the commented-out example of its kind (else any), with a blank line.
        text = result.decode("latin-1")
        [active] = re.finditer(r"(?m)^[ \t]*<DeploymentSynchronizer>", text)
        start = active.start()
        assert text[:start].endswith("\n\n"), text[start - 80 : start]
        examples = [match.start() for match in re.finditer(r"<!--\s*<DeploymentSynchronizer>", text)]
        if examples:
            kind = "svn" if sync.repository_type == "svn" else "registry"
            preceding = text[: start].rstrip()
            assert preceding.endswith("</DeploymentSynchronizer>-->")
            example = text[max(index for index in examples if index < start) : start]
            assert ("<RepositoryType>svn</RepositoryType>" in example) == (kind == "svn")


# ---- master-datasources.xml ------------------------------------------------------------------------

DATASOURCE_FILES = real_config_files("master-datasources.xml")
DATASOURCE_ROLES = {"manager": MANAGER_DATASOURCES, "worker": WORKER_DATASOURCES}
DATASOURCE_TOUCHABLE = re.compile(
    r"</?(datasource|name|description|jndiConfig|definition|configuration|url|username|password"
    r"|driverClassName|maxActive|maxWait|testOnBorrow|validationQuery|validationInterval)\b"
)


def test_the_corpus_has_datasource_files(carbon_configs_dir):
    assert len(DATASOURCE_FILES) >= 4


@pytest.mark.parametrize("role", sorted(DATASOURCE_ROLES))
@pytest.mark.parametrize("path", DATASOURCE_FILES, ids=file_id)
def test_datasources(path: Path, role: str):
    settings: DatasourcesSettings = DATASOURCE_ROLES[role]
    original = path.read_bytes()
    ours_names = {datasource.name for datasource in settings.datasources}
    ours_jndi = {datasource.jndi_name for datasource in settings.datasources}
    before = read_datasources(original)
    result = check_common(patch_datasources, original, settings, path, DATASOURCE_TOUCHABLE)
    values = read_datasources(result)

    first_replaced = next(
        (
            index
            for index, value in enumerate(before)
            if value.name in ours_names or value.jndi_name in ours_jndi
        ),
        len(before),
    )
    ours = values[first_replaced : first_replaced + len(settings.datasources)]
    for value, wanted in zip(ours, settings.datasources, strict=True):
        assert (value.name, value.description, value.jndi_name, value.definition_type) == (
            wanted.name,
            wanted.description,
            wanted.jndi_name,
            "RDBMS",
        )
        assert (value.url, value.username, value.password, value.driver_class) == (
            wanted.url,
            wanted.username,
            wanted.password,
            wanted.driver_class,
        )
    others_before = [v for v in before if v.name not in ours_names and v.jndi_name not in ours_jndi]
    others_after = [v for v in values if v.name not in ours_names and v.jndi_name not in ours_jndi]
    assert others_after == others_before
    assert len(values) == len(others_before) + len(settings.datasources)

    # Independently: every pool setting of ours is in the file, in the seed's order.
    root = lxml_root(result)
    for wanted in settings.datasources:
        [element] = [d for d in local(root, "datasources/datasource") if d.findtext("{*}name") == wanted.name]
        [configuration] = local(element, "definition/configuration")
        assert [child.tag for child in configuration if isinstance(child.tag, str)][:9] == [
            "url",
            "username",
            "password",
            "driverClassName",
            "maxActive",
            "maxWait",
            "testOnBorrow",
            "validationQuery",
            "validationInterval",
        ]
        assert configuration.findtext("maxWait") == str(wanted.max_wait)


# ---- user-mgt.xml ----------------------------------------------------------------------------------

USER_MGT_FILES = real_config_files("user-mgt.xml")


def test_the_corpus_has_user_mgt_files(carbon_configs_dir):
    assert len(USER_MGT_FILES) >= 6


@pytest.mark.parametrize("path", USER_MGT_FILES, ids=file_id)
def test_user_mgt(path: Path):
    original = path.read_bytes()
    before = read_user_mgt(original)
    result = check_common(patch_user_mgt, original, USER_MGT, path, re.compile(r'name="dataSource"'))
    values = read_user_mgt(result)
    assert values.data_source == USER_MGT.data_source
    assert values.inline_url == before.inline_url  # inline connection properties are left alone
    root = lxml_root(result)
    found = [p.text for p in local(root, "Realm/Configuration/Property") if p.get("name") == "dataSource"]
    assert found == [USER_MGT.data_source]


# ---- registry.xml ----------------------------------------------------------------------------------

REGISTRY_FILES = [
    path for path in real_config_files("registry.xml") if "repository/conf/registry.xml" in str(path)
]
SYNAPSE_REGISTRY_FILES = [path for path in real_config_files("registry.xml") if path not in REGISTRY_FILES]
REGISTRY_ROLES = {"manager": MANAGER_REGISTRY, "worker": WORKER_REGISTRY}
REGISTRY_TOUCHABLE = re.compile(r"<instanceId>|<mount |<targetPath>")


def test_the_corpus_has_registry_files(carbon_configs_dir):
    assert len(REGISTRY_FILES) >= 5
    assert SYNAPSE_REGISTRY_FILES


@pytest.mark.parametrize("role", sorted(REGISTRY_ROLES))
@pytest.mark.parametrize("path", REGISTRY_FILES, ids=file_id)
def test_registry(path: Path, role: str):
    settings: RegistrySettings = REGISTRY_ROLES[role]
    original = path.read_bytes()
    before = read_registry(original)
    result = check_common(patch_registry, original, settings, path, REGISTRY_TOUCHABLE)
    values = read_registry(result)

    assert values.current_db_config == before.current_db_config
    assert [item for item in values.db_configs if item[0] == settings.db_config_name] == [
        (settings.db_config_name, settings.data_source)
    ]
    assert [item for item in values.db_configs if item[0] != settings.db_config_name] == [
        item for item in before.db_configs if item[0] != settings.db_config_name
    ]
    ours = [item for item in values.remote_instances if item.instance_id == settings.instance_id]
    assert len(ours) == 1
    remote = ours[0]
    assert (remote.url, remote.db_config, remote.read_only, remote.enable_cache, remote.registry_root) == (
        settings.remote_url,
        settings.db_config_name,
        "true" if settings.read_only else "false",
        "true",
        "/",
    )
    assert remote.cache_id == settings.cache_id
    assert [item for item in values.remote_instances if item.instance_id != settings.instance_id] == [
        item for item in before.remote_instances if item.instance_id != settings.instance_id
    ]
    our_paths = {mount.path for mount in settings.mounts}
    for mount in settings.mounts:
        found = [item for item in values.mounts if item.path == mount.path]
        assert [(item.overwrite, item.instance_id, item.target_path) for item in found] == [
            (mount.overwrite, settings.instance_id, mount.target_path)
        ]
    assert [item for item in values.mounts if item.path not in our_paths] == [
        item for item in before.mounts if item.path not in our_paths
    ]
    # Independently: the elements are children of the root, where Carbon reads them.
    root = lxml_root(result)
    assert [d.get("name") for d in local(root, "dbConfig")].count(settings.db_config_name) == 1


@pytest.mark.parametrize("path", SYNAPSE_REGISTRY_FILES, ids=file_id)
def test_the_synapse_registry_definition_is_refused(path: Path):
    with pytest.raises(ConfigFileError, match="wso2registry"):
        patch_registry(path.read_bytes(), MANAGER_REGISTRY, path=str(path))
