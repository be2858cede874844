"""Plan loading, derivation against the seed, and every validation rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from installer.errors import PlanError
from installer.files.settings import WkaMember
from installer.plan.check import check_plan, validate
from installer.plan.derive import derive
from installer.plan.model import load_plan, parse_plan
from tests.paths import REPO_DIR

SEED_PLAN = REPO_DIR / "assets" / "examples" / "seed.yaml"


def seed_text() -> str:
    return SEED_PLAN.read_text()


def problems_for(text: str, tmp_path: Path, *, is_root: bool = True, name: str = "plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    plan, problems = parse_plan(text, path)
    if plan is not None:
        _, more = validate(plan, check_files=False, is_root=is_root)
        problems = problems + more
    return plan, problems


def errors_of(problems):
    return [problem for problem in problems if problem.severity == "error"]


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


# --- the seed -----------------------------------------------------------------------------------------

def test_seed_plan_is_valid_and_derives_the_seed_layout(tmp_path):
    plan = load_plan(SEED_PLAN)
    layout, problems = validate(plan, check_files=False, is_root=True)
    assert errors_of(problems) == []
    nodes = {node.name: node for node in layout.nodes}
    assert {name: (node.server, node.offset, node.member_port) for name, node in nodes.items()} == {
        "elb": ("server-206", 0, 4000),
        "manager": ("server-206", 1, 4001),
        "worker2": ("server-206", 2, 4002),
        "worker1": ("server-132", 0, 4000),
        "worker3": ("server-132", 3, 4001),
    }
    assert nodes["worker3"].offset_pinned and not nodes["worker1"].offset_pinned
    assert nodes["manager"].port_mapping == ((80, 9764), (443, 9444))
    assert nodes["manager"].wka_members == (WkaMember("elb.wso2.com", 4000),)
    for worker in ("worker1", "worker2", "worker3"):
        assert nodes[worker].wka_members == (WkaMember("elb.wso2.com", 4000), WkaMember("mgt.esb.wso2.com", 4001))
        assert nodes[worker].sub_domain == "worker"
        assert nodes[worker].local_registry_db == "REGISTRY_LOCAL2"
    assert nodes["manager"].sub_domain == "mgt" and nodes["manager"].local_registry_db == "REGISTRY_LOCAL1"
    assert nodes["elb"].domain == "wso2.carbon.lb.domain" and nodes["manager"].domain == "wso2.esb.domain"
    assert nodes["manager"].home == Path("/opt/wso2/manager")
    hosts = {server.name: [(e.address, e.hostname) for e in server.hosts_entries] for server in layout.servers}
    assert sorted(hosts["server-206"]) == sorted([
        ("192.0.2.206", "carbondb.mysql-wso2.com"), ("192.0.2.206", "elb.wso2.com"),
        ("192.0.2.206", "mgt.esb.wso2.com"), ("192.0.2.206", "worker.esb.wso2.com")])
    assert sorted(hosts["server-132"]) == sorted([
        ("192.0.2.206", "carbondb.mysql-wso2.com"), ("192.0.2.206", "elb.wso2.com"),
        ("192.0.2.206", "mgt.esb.wso2.com")])
    assert [node.name for node in layout.start_order("server-206")] == ["elb", "manager", "worker2"]
    assert layout.registry_cache_id == "regadmin@jdbc:mysql://carbondb.mysql-wso2.com:3306/REGISTRY_DB?autoReconnect=true"


def test_seed_settings_for_patchers():
    layout = derive(load_plan(SEED_PLAN))
    manager = layout.axis2_settings(layout.node("manager"))
    assert manager.wsdl_epr_prefix == ("http://worker.esb.wso2.com:80", "https://worker.esb.wso2.com:443")
    assert manager.local_member_host == "192.0.2.206"
    elb = layout.axis2_settings(layout.node("elb"))
    assert elb.transport_ports == (80, 443) and elb.members == () and elb.sub_domain is None
    assert layout.carbon_settings(layout.node("manager")).mgt_host_name == "mgt.esb.wso2.com"
    assert layout.carbon_settings(layout.node("worker1")).host_name == "worker.esb.wso2.com"
    assert layout.carbon_settings(layout.node("worker1")).mgt_host_name is None
    datasources = layout.datasources(layout.node("worker1"), "s3cret").datasources
    assert [(d.name, d.jndi_name, d.url) for d in datasources] == [
        ("REGISTRY_LOCAL2", "jdbc/WSO2CarbonDB", "jdbc:mysql://carbondb.mysql-wso2.com:3306/REGISTRY_LOCAL2?autoReconnect=true"),
        ("REGISTRY_DB", "jdbc/WSO2RegistryDB", "jdbc:mysql://carbondb.mysql-wso2.com:3306/REGISTRY_DB?autoReconnect=true"),
        ("WSO2_USER_DB", "jdbc/WSO2UMDB", "jdbc:mysql://carbondb.mysql-wso2.com:3306/WSO2_USER_DB"),
    ]
    assert layout.registry_settings(layout.node("worker1")).read_only is True
    assert layout.registry_settings(layout.node("manager")).read_only is False


def test_non_root_elb_ports_change_the_port_mapping_keys(tmp_path):
    text = seed_text().replace("elb_ports: {http: 80, https: 443}", "elb_ports: {http: 8280, https: 8243}")
    plan, problems = problems_for(text, tmp_path, is_root=False)
    assert errors_of(problems) == [] and not [p for p in problems if p.severity == "warning"]
    layout = derive(plan)
    assert layout.node("manager").port_mapping == ((8280, 9764), (8243, 9444))
    # The ELB has offset 0 so its transports are exactly the plan's ports, and no ESB node on
    # the ELB's server may use 8280/8243 (offset 0): the manager gets 1, worker2 2.
    assert layout.axis2_settings(layout.node("elb")).transport_ports == (8280, 8243)
    assert (layout.node("manager").offset, layout.node("worker2").offset) == (1, 2)


def test_unpinned_values_take_the_smallest_free_per_server(tmp_path):
    text = seed_text().replace("- {name: worker1, role: worker}", "- {name: worker1, role: worker, offset: 0, member_port: 4001}")
    text = text.replace("- {name: worker3, role: worker, offset: 3}", "- {name: worker3, role: worker}")
    plan, problems = problems_for(text, tmp_path)
    assert errors_of(problems) == []
    layout = derive(plan)
    assert (layout.node("worker1").offset, layout.node("worker1").member_port) == (0, 4001)
    assert (layout.node("worker3").offset, layout.node("worker3").member_port) == (1, 4000)


def test_per_node_local_registries(tmp_path):
    text = seed_text().replace("local_registry: per-role ", "local_registry: per-node ")
    plan, problems = problems_for(text, tmp_path)
    assert errors_of(problems) == []
    layout = derive(plan)
    assert layout.node("worker3").local_registry_db == "REGISTRY_LOCAL_WORKER3"
    assert {db.name for db in layout.databases} == {
        "WSO2_USER_DB", "REGISTRY_DB", "REGISTRY_LOCAL_MANAGER", "REGISTRY_LOCAL_WORKER1",
        "REGISTRY_LOCAL_WORKER2", "REGISTRY_LOCAL_WORKER3"}


def test_relative_paths_resolve_against_the_plan_folder(tmp_path):
    plan, _ = problems_for(seed_text(), tmp_path)
    assert plan.distributions.esb == tmp_path / "wso2esb-4.7.0.zip"
    assert plan.servers[1].hosts_file == Path("/etc/hosts")


# --- shape errors ------------------------------------------------------------------------------------

def test_unknown_key_is_named_with_file_line_and_path(tmp_path):
    text = seed_text().replace("  tenant_range: \"*\"\n", "  tenant_range: \"*\"\n  tenant_rnage: 1-100\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.file == "plan.yaml"
    assert problem.line == line_of(text, "tenant_rnage")
    assert problem.path == "cluster.tenant_rnage"
    assert "unknown key" in problem.message and "tenant_range" in problem.hint
    assert str(problem).startswith(f"plan.yaml:{problem.line}: cluster.tenant_rnage: unknown key")


def test_missing_keys_are_all_reported(tmp_path):
    text = seed_text().replace("  domain: wso2.esb.domain", "").replace("    address: 192.0.2.132\n", "")
    _, problems = problems_for(text, tmp_path)
    messages = {(p.path, p.message) for p in errors_of(problems)}
    assert ("cluster", "missing key 'domain'") in messages
    assert ("servers[1]", "missing key 'address'") in messages


def test_bad_types_are_reported(tmp_path):
    text = (seed_text().replace("port: 3306", "port: '3306'")
            .replace("- {name: worker3, role: worker, offset: 3}", "- {name: worker3, role: worker, offset: three}")
            .replace("address: 192.0.2.132", "address: not-an-ip")
            .replace("- {name: worker2, role: worker}", "- {name: worker2, role: wrker}"))
    _, problems = problems_for(text, tmp_path)
    by_path = {p.path: p for p in errors_of(problems)}
    assert "must be a TCP port, not text" in by_path["database.port"].message
    assert by_path["database.port"].line == line_of(text, "port: '3306'")
    assert "port offset" in by_path["servers[1].nodes[1].offset"].message
    assert "is not an IP address" in by_path["servers[1].address"].message
    assert "'wrker' is not one of elb, manager, worker" in by_path["servers[0].nodes[2].role"].message


def test_yaml_syntax_error_names_the_line_and_the_fix(tmp_path):
    text = seed_text().replace('tenant_range: "*"', "tenant_range: *")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.line == line_of(text, "tenant_range: *")
    assert "quote" in problem.hint


def test_duplicate_yaml_key_is_reported(tmp_path):
    text = seed_text().replace("  user: regadmin\n", "  user: regadmin\n  user: other\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.path == "database.user" and "given twice" in problem.message


def test_ordinary_aliases_are_read_as_the_values_they_repeat(tmp_path):
    # Aliases are bounded, not refused (see PlanLoader): repeating a value is ordinary YAML.
    text = seed_text().replace("install_dir: /opt/wso2           #", "install_dir: &homes /opt/wso2/homes  #")
    text = text.replace("    install_dir: /opt/wso2\n", "    install_dir: *homes\n")
    plan, problems = problems_for(text, tmp_path)
    assert errors_of(problems) == []
    assert [str(server.install_dir) for server in plan.servers] == ["/opt/wso2/homes", "/opt/wso2/homes"]


def test_a_character_yaml_refuses_names_its_line(tmp_path):
    text = seed_text().replace("user: regadmin", "user: reg\x00admin")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.line == line_of(text, "user: reg") and "not valid YAML" in problem.message


# --- cross-field errors ------------------------------------------------------------------------------

def test_duplicate_node_and_server_names(tmp_path):
    text = seed_text().replace("- {name: worker3, role: worker, offset: 3}", "- {name: worker2, role: worker, offset: 3}")
    text = text.replace("name: server-132", "name: server-206")
    _, problems = problems_for(text, tmp_path)
    paths = {p.path: p.message for p in errors_of(problems)}
    assert "already used by servers[0]" in paths["servers[1].name"]
    assert "already used on server-206" in paths["servers[1].nodes[1].name"]


def test_two_nodes_with_the_same_pinned_offset(tmp_path):
    text = seed_text().replace("- {name: worker2, role: worker}", "- {name: worker2, role: worker, offset: 1}")
    text = text.replace("- {name: manager, role: manager}", "- {name: manager, role: manager, offset: 1}")
    _, problems = problems_for(text, tmp_path)
    offset_errors = [p for p in errors_of(problems) if p.path.endswith(".offset") and "already used by" in p.message]
    assert len(offset_errors) == 1
    assert offset_errors[0].path == "servers[0].nodes[2].offset"
    assert "1 is already used by manager on server-206" in offset_errors[0].message
    assert offset_errors[0].line == line_of(text, "worker2, role: worker, offset: 1")


def test_two_nodes_with_the_same_pinned_member_port(tmp_path):
    text = seed_text().replace("- {name: worker1, role: worker}", "- {name: worker1, role: worker, member_port: 4005}")
    text = text.replace("- {name: worker3, role: worker, offset: 3}", "- {name: worker3, role: worker, offset: 3, member_port: 4005}")
    _, problems = problems_for(text, tmp_path)
    messages = [p.message for p in errors_of(problems) if p.path.endswith("member_port")]
    assert any("4005 is already used by" in message for message in messages)


def test_derived_ports_colliding(tmp_path):
    # offset 37 puts worker3's pass-through HTTPS (8243 + 37) on worker1's pass-through HTTP (8280).
    text = seed_text().replace("offset: 3}", "offset: 37}")
    plan, problems = problems_for(text, tmp_path)
    assert errors_of(problems) == []  # unpinned worker1 simply moves out of the way
    assert derive(plan).node("worker1").offset == 1
    text = text.replace("- {name: worker1, role: worker}", "- {name: worker1, role: worker, offset: 0}")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.path == "servers[1].nodes[1].offset"
    assert "port 8280" in problem.message and "worker1" in problem.message and "worker3" in problem.message


def test_member_port_colliding_with_an_elb_port(tmp_path):
    text = seed_text().replace("- {name: manager, role: manager}", "- {name: manager, role: manager, member_port: 443}")
    _, problems = problems_for(text, tmp_path)
    assert any("port 443" in p.message and "ELB HTTPS" in p.message for p in errors_of(problems))


def test_host_name_needing_two_addresses(tmp_path):
    # The manager moves to .132 while worker2 stays with the ELB on .206: on .206,
    # mgt.esb.wso2.com is the ELB for clients but the manager for worker2.
    text = seed_text().replace("      - {name: manager, role: manager}\n", "")
    text = text.replace("      - {name: worker1, role: worker}\n", "      - {name: worker1, role: worker}\n      - {name: manager, role: manager}\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert problem.path == "servers[0]"
    assert "mgt.esb.wso2.com would need two addresses in server-206's hosts file" in problem.message


def test_manager_and_elb_counts(tmp_path):
    no_manager = seed_text().replace("- {name: manager, role: manager}", "- {name: manager, role: worker}")
    _, problems = problems_for(no_manager, tmp_path)
    assert any("no node with role manager" in p.message for p in errors_of(problems))

    two_managers = seed_text().replace("- {name: worker2, role: worker}", "- {name: worker2, role: manager}")
    _, problems = problems_for(two_managers, tmp_path)
    assert [p.path for p in errors_of(problems) if "second manager" in p.message] == ["servers[0].nodes[2].role"]

    no_elb = seed_text().replace("- {name: elb, role: elb}", "- {name: elb, role: worker}")
    _, problems = problems_for(no_elb, tmp_path)
    assert any("no node with role elb" in p.message for p in errors_of(problems))


def test_database_server_must_be_in_the_plan(tmp_path):
    _, problems = problems_for(seed_text().replace("server: server-206", "server: db-box"), tmp_path)
    [problem] = errors_of(problems)
    assert problem.path == "database.server" and "server-206" in problem.hint


def test_low_elb_ports_warn_without_root_only(tmp_path):
    _, problems = problems_for(seed_text(), tmp_path, is_root=False)
    [warning] = [p for p in problems if p.severity == "warning"]
    assert warning.path == "cluster.elb_ports" and "below 1024" in warning.message
    _, problems = problems_for(seed_text(), tmp_path, is_root=True)
    assert [p for p in problems if p.severity == "warning"] == []


def test_load_plan_raises_with_every_error(tmp_path):
    text = seed_text().replace("port: 3306", "port: 99999").replace("  user: regadmin", "  user: 'bad user!'")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert len(caught.value.problems) == 2
    assert "broken.yaml" in caught.value.message


# --- ports that cannot be: above 65535, or already MySQL's -----------------------------------------------

def check_plan_errors(text: str, tmp_path: Path):
    """Every error ``check_plan`` raises for ``text`` (none: an empty list)."""
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    try:
        check_plan(path, check_files=False)
    except PlanError as error:
        return error.problems
    return []


def with_extra_workers(count: int) -> str:
    data = yaml.safe_load(seed_text())
    data["servers"][1]["nodes"] += [{"name": f"extra{index}", "role": "worker"} for index in range(count)]
    return yaml.safe_dump(data, sort_keys=False)


def test_pinned_offset_putting_a_port_above_65535_is_named_on_its_line(tmp_path):
    text = seed_text().replace("offset: 3}", "offset: 60000}")
    [problem] = check_plan_errors(text, tmp_path)
    assert (problem.path, problem.line) == ("servers[1].nodes[1].offset", line_of(text, "offset: 60000"))
    assert "69763" in problem.message and "above 65535" in problem.message
    assert "55772" in problem.hint  # the largest offset that fits


def test_any_offset_whose_ports_fit_can_be_pinned(tmp_path):
    assert check_plan_errors(seed_text().replace("offset: 3}", "offset: 2000}"), tmp_path) == []
    assert check_plan_errors(seed_text().replace("offset: 3}", "offset: 55772}"), tmp_path) == []


def test_more_nodes_than_a_server_has_ports_for(tmp_path):
    # 12150 extra workers still fit on server-132; one more and the last derived values leave
    # the port range (its offset and member ports are all taken below 65536).
    assert check_plan_errors(with_extra_workers(12150), tmp_path) == []
    text = with_extra_workers(12151)
    [problem] = check_plan_errors(text, tmp_path)
    assert problem.path == "servers[1].nodes[12152]"
    assert problem.line == line_of(text, "name: extra12150")
    assert "above 65535" in problem.message and "server-132" in problem.message


def on_database_server(text: str, port: int) -> str:
    """The seed with MySQL (on server-206's address, as in the seed) listening on ``port``."""
    assert "address: 192.0.2.206\n  port: 3306" in text
    return text.replace("port: 3306", f"port: {port}")


def test_pinned_member_port_on_the_database_port_of_the_same_server(tmp_path):
    text = on_database_server(seed_text(), 4005).replace(
        "- {name: worker2, role: worker}", "- {name: worker2, role: worker, member_port: 4005}")
    [problem] = check_plan_errors(text, tmp_path)
    assert (problem.path, problem.line) == ("servers[0].nodes[2].member_port", line_of(text, "member_port: 4005"))
    assert "4005" in problem.message and "database" in problem.message
    assert f"line {line_of(text, 'port: 4005')}" in problem.message  # where database.port is


def test_pinned_offset_moving_a_servlet_port_onto_the_database_port(tmp_path):
    text = on_database_server(seed_text(), 9765).replace(
        "- {name: worker2, role: worker}", "- {name: worker2, role: worker, offset: 2}")
    [problem] = check_plan_errors(text, tmp_path)
    assert (problem.path, problem.line) == ("servers[0].nodes[2].offset", line_of(text, "offset: 2}"))
    assert "9765" in problem.message and "servlet HTTP" in problem.message


def test_elb_port_on_the_database_port_of_the_same_server(tmp_path):
    text = on_database_server(seed_text(), 443)
    [problem] = check_plan_errors(text, tmp_path)
    assert (problem.path, problem.line) == ("cluster.elb_ports.https", line_of(text, "elb_ports:"))
    assert "443" in problem.message and "database" in problem.message


def test_derived_ports_step_around_the_database_port(tmp_path):
    # The manager would take member port 4001 and offset 1 (ports 9764, 9444, 8281, 8244).
    for port in (4001, 8281):
        text = on_database_server(seed_text(), port)
        assert check_plan_errors(text, tmp_path) == []
        manager = derive(load_plan(tmp_path / "plan.yaml")).node("manager")
        assert port not in {use.port for use in manager.listening_ports(load_plan(tmp_path / "plan.yaml"))}


def test_the_database_port_only_matters_on_the_database_servers_address(tmp_path):
    text = on_database_server(seed_text(), 4005).replace("address: 192.0.2.206\n  port", "address: 192.0.2.50\n  port")
    text = text.replace("- {name: worker2, role: worker}", "- {name: worker2, role: worker, member_port: 4005}")
    assert check_plan_errors(text, tmp_path) == []


# --- deployment synchronisation (cluster.deployment_sync) --------------------------------------------

SEED_SYNC_BLOCK = (
    "  deployment_sync:                   # the manager (the guide's \"Dep-sync management\" node) shares\n"
    "    repository: registry             # what is deployed on it: registry (REGISTRY_DB) or svn (svn_url, svn_user)\n"
)
SVN_URL = "https://svn.example.com/repos/esb"


def with_sync(block: str) -> str:
    """The seed with its cluster.deployment_sync replaced by ``block`` (indented under cluster)."""
    text = seed_text()
    assert SEED_SYNC_BLOCK in text
    return text.replace(SEED_SYNC_BLOCK, block)


def warnings_of(problems):
    return [problem for problem in problems if problem.severity == "warning"]


def test_the_seed_example_says_registry_and_loads(tmp_path):
    plan = load_plan(SEED_PLAN)
    assert plan.cluster.deployment_sync.repository == "registry"
    assert plan.cluster.deployment_sync.svn_url is None and plan.cluster.deployment_sync.svn_user is None


def test_deployment_sync_defaults_to_the_registry_when_absent(tmp_path):
    plan, problems = problems_for(with_sync(""), tmp_path)
    assert problems == []
    assert (plan.cluster.deployment_sync.repository, plan.cluster.deployment_sync.svn_url,
            plan.cluster.deployment_sync.svn_user) == ("registry", None, None)
    assert not derive(plan).needs_svn_password


def test_deployment_sync_svn_with_url_and_user(tmp_path):
    text = with_sync(f"  deployment_sync:\n    repository: svn\n    svn_url: {SVN_URL}\n    svn_user: depsync\n")
    plan, problems = problems_for(text, tmp_path)
    assert problems == []
    spec = plan.cluster.deployment_sync
    assert (spec.repository, spec.svn_url, spec.svn_user) == ("svn", SVN_URL, "depsync")


@pytest.mark.parametrize("key", ["svn_password", "password"])
def test_a_password_in_deployment_sync_is_an_error_on_its_line(tmp_path, key):
    text = with_sync(f"  deployment_sync:\n    repository: svn\n    svn_url: {SVN_URL}\n    svn_user: depsync\n"
                     f"    {key}: s3cret\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = problems  # reported once: not also an "unknown key"
    assert problem.severity == "error"
    assert (problem.file, problem.line, problem.path) == ("plan.yaml", line_of(text, f"{key}: s3cret"),
                                                          f"cluster.deployment_sync.{key}")
    assert "password" in problem.message and "WSO2_SVN_PASSWORD" in problem.hint
    assert "s3cret" not in str(problem)


def test_svn_without_svn_url_is_an_error(tmp_path):
    text = with_sync("  deployment_sync:\n    repository: svn\n    svn_user: depsync\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert (problem.file, problem.line, problem.path) == ("plan.yaml", line_of(text, "deployment_sync:"),
                                                          "cluster.deployment_sync")
    assert "svn_url" in problem.message and "repository: registry" in problem.hint


@pytest.mark.parametrize(("key", "value"), [("svn_url", SVN_URL), ("svn_user", "depsync")])
def test_svn_keys_with_the_registry_are_warnings(tmp_path, key, value):
    text = with_sync(f"  deployment_sync:\n    repository: registry\n    {key}: {value}\n")
    plan, problems = problems_for(text, tmp_path)
    assert errors_of(problems) == []
    [warning] = warnings_of(problems)
    assert (warning.file, warning.line, warning.path) == ("plan.yaml", line_of(text, f"{key}: {value}"),
                                                          f"cluster.deployment_sync.{key}")
    assert "registry" in warning.message
    # Derivation ignores them: the registry holds no svn values.
    sync = derive(plan).deployment_sync_settings(derive(plan).node("manager"), "pw")
    assert (sync.repository_type, sync.svn_url, sync.svn_user, sync.svn_password) == ("registry", None, None, None)


@pytest.mark.parametrize(
    ("line", "path", "words"),
    [
        ("repository: git", "cluster.deployment_sync.repository", "'git' is not one of registry, svn"),
        ("svn_url: ftp://svn.example.com/r", "cluster.deployment_sync.svn_url", "is not a valid svn URL"),
        ("svn_user: 'two words'", "cluster.deployment_sync.svn_user", "is not a valid svn user name"),
        ("svn_usr: depsync", "cluster.deployment_sync.svn_usr", "unknown key"),
    ],
)
def test_bad_deployment_sync_values_are_errors_on_their_line(tmp_path, line, path, words):
    block = {"repository": "svn", "svn_url": SVN_URL}
    key = line.split(":")[0]
    body = "".join(f"    {name}: {value}\n" for name, value in block.items() if name != key)
    text = with_sync(f"  deployment_sync:\n{body}    {line}\n")
    _, problems = problems_for(text, tmp_path)
    [problem] = errors_of(problems)
    assert (problem.file, problem.line, problem.path) == ("plan.yaml", line_of(text, line), path)
    assert words in problem.message


def test_derived_deployment_sync_the_manager_commits_and_every_esb_node_checks_out():
    layout = derive(load_plan(SEED_PLAN))
    for node in layout.nodes:
        carbon = layout.carbon_settings(node)
        if node.role == "elb":
            assert carbon.deployment_sync is None  # the ELB deploys nothing: its file is left alone
            continue
        sync = carbon.deployment_sync
        assert sync == layout.deployment_sync_settings(node)
        assert (sync.enabled, sync.auto_commit, sync.auto_checkout) == (True, node.role == "manager", True), node.name
        assert (sync.repository_type, sync.svn_url, sync.svn_user, sync.svn_password) == ("registry", None, None, None)
    assert {node.role for node in layout.nodes if layout.carbon_settings(node).deployment_sync
            and layout.carbon_settings(node).deployment_sync.auto_commit} == {"manager"}
    assert not layout.needs_svn_password


def test_derived_svn_settings_carry_the_password_only_with_a_user(tmp_path):
    text = with_sync(f"  deployment_sync:\n    repository: svn\n    svn_url: {SVN_URL}\n    svn_user: depsync\n")
    plan, problems = problems_for(text, tmp_path)
    assert problems == []
    layout = derive(plan)
    assert layout.needs_svn_password
    worker = layout.carbon_settings(layout.node("worker1"), "pw").deployment_sync
    assert (worker.repository_type, worker.svn_url, worker.svn_user, worker.svn_password) == (
        "svn", SVN_URL, "depsync", "pw")
    assert (worker.auto_commit, worker.auto_checkout) == (False, True)
    assert "pw" not in repr(worker)
    assert layout.carbon_settings(layout.node("elb"), "pw").deployment_sync is None

    text = with_sync(f"  deployment_sync:\n    repository: svn\n    svn_url: {SVN_URL}\n")
    plan, problems = problems_for(text, tmp_path)
    assert problems == []
    layout = derive(plan)
    assert not layout.needs_svn_password  # an anonymous repository: no login to ask for
    manager = layout.carbon_settings(layout.node("manager"), "pw").deployment_sync
    assert (manager.svn_url, manager.svn_user, manager.svn_password, manager.auto_commit) == (SVN_URL, None, None, True)
