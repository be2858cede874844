"""The seed plan applied for both servers into temporary folders, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli.parser import main
from installer.files.axis2 import read_axis2
from installer.files.carbon import read_carbon
from installer.files.datasources import read_datasources
from installer.files.hosts import read_block
from installer.files.lbconf import read_services
from installer.files.registry import read_registry
from installer.files.settings import WkaMember
from installer.files.usermgt import read_user_mgt
from tests.paths import REPO_DIR
from tests.support.build_distributions import build_all
from tests.support.plans import UNUSED_DATABASE_PORT as DB_PORT
from tests.support.plans import write_seed_plan

PASSWORD = "Pa55-e2e-secret"
CONF = "repository/conf"


@pytest.fixture(scope="session")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


@pytest.fixture
def cluster(tmp_path, distributions):
    return write_seed_plan(tmp_path, distributions)


@pytest.fixture
def password_env(monkeypatch):
    monkeypatch.setenv("WSO2_DB_PASSWORD", PASSWORD)


def run_cli(*args, env_extra=None, crash_at=None):
    env = dict(os.environ, WSO2_DB_PASSWORD=PASSWORD)
    env.pop("WSO2_CLUSTER_CRASH_AT", None)
    if crash_at:
        env["WSO2_CLUSTER_CRASH_AT"] = crash_at
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def apply(cluster, server, *extra, **options):
    return run_cli("apply", "--plan", cluster.plan, "--server", server, "--skip", "database,start,verify",
                   *extra, **options)


def status_lines(text):
    """step name -> its row of the status table (box-drawing characters removed)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.replace("│", "|").replace("┃", "|").split("|") if cell.strip()]
        if cells and cells[0] in ("preflight", "extract", "configure", "database", "hosts", "start", "verify"):
            rows[cells[0]] = " ".join(cells[1:])
    return rows


def tree_snapshot(folder):
    """path -> (mode, content) for every file under ``folder`` (state folder excluded)."""
    result = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".wso2-cluster":
            continue
        if path.is_symlink():
            result[str(relative)] = ("link", os.readlink(path))
        elif path.is_file():
            result[str(relative)] = (path.stat().st_mode & 0o7777, path.read_bytes())
        else:
            result[str(relative)] = (path.stat().st_mode & 0o7777, None)
    return result


def check_manager(home):
    axis2 = read_axis2((home / CONF / "axis2/axis2.xml").read_bytes())
    assert axis2.enabled and axis2.membership_scheme == "wka"
    assert axis2.clustering_class == "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
    assert (axis2.domain, axis2.local_member_host, axis2.local_member_port) == ("wso2.esb.domain", "127.0.0.2", 4001)
    assert axis2.members == (WkaMember("elb.wso2.com", 4000),)
    assert axis2.property_value("subDomain") == "mgt"
    assert axis2.property_value("port.mapping.80") == "9764"
    assert axis2.property_value("port.mapping.443") == "9444"
    assert axis2.http_wsdl_epr_prefix == "http://worker.esb.wso2.com:80"
    assert axis2.https_wsdl_epr_prefix == "https://worker.esb.wso2.com:443"
    carbon = read_carbon((home / CONF / "carbon.xml").read_bytes())
    assert (carbon.offset, carbon.host_name, carbon.mgt_host_name) == (1, "worker.esb.wso2.com", "mgt.esb.wso2.com")
    registry = read_registry((home / CONF / "registry.xml").read_bytes())
    assert registry.remote_instance("instanceid").read_only == "false"


def check_esb_common(home, local_db):
    datasources_file = home / CONF / "datasources/master-datasources.xml"
    assert datasources_file.stat().st_mode & 0o777 == 0o600
    datasources = read_datasources(datasources_file.read_bytes())
    by_name = {d.name: d for d in datasources}
    assert set(by_name) == {local_db, "REGISTRY_DB", "WSO2_USER_DB"}
    assert by_name[local_db].jndi_name == "jdbc/WSO2CarbonDB"
    assert by_name[local_db].url == f"jdbc:mysql://carbondb.mysql-wso2.com:{DB_PORT}/{local_db}?autoReconnect=true"
    assert by_name["REGISTRY_DB"].jndi_name == "jdbc/WSO2RegistryDB"
    assert by_name["WSO2_USER_DB"].url == f"jdbc:mysql://carbondb.mysql-wso2.com:{DB_PORT}/WSO2_USER_DB"
    assert all(d.username == "regadmin" and d.password == PASSWORD for d in datasources)
    assert all(d.driver_class == "com.mysql.jdbc.Driver" for d in datasources)
    assert read_user_mgt((home / CONF / "user-mgt.xml").read_bytes()).data_source == "jdbc/WSO2UMDB"
    registry = read_registry((home / CONF / "registry.xml").read_bytes())
    assert ("sharedregistry", "jdbc/WSO2RegistryDB") in registry.db_configs
    instance = registry.remote_instance("instanceid")
    assert instance.cache_id == f"regadmin@jdbc:mysql://carbondb.mysql-wso2.com:{DB_PORT}/REGISTRY_DB?autoReconnect=true"
    assert {(m.path, m.target_path, m.instance_id) for m in registry.mounts} >= {
        ("/_system/config", "/_system/asNodes", "instanceid"),
        ("/_system/governance", "/_system/governance", "instanceid")}
    assert (home / "repository/components/lib/mysql-connector-java-5.1.25-bin.jar").is_file()
    assert os.access(home / "bin/wso2server.sh", os.X_OK)


def check_worker(home, address, offset, member_port):
    axis2 = read_axis2((home / CONF / "axis2/axis2.xml").read_bytes())
    assert (axis2.domain, axis2.local_member_host, axis2.local_member_port) == ("wso2.esb.domain", address, member_port)
    assert axis2.members == (WkaMember("elb.wso2.com", 4000), WkaMember("mgt.esb.wso2.com", 4001))
    assert axis2.property_value("subDomain") == "worker"
    assert axis2.property_value("port.mapping.80") is None
    carbon = read_carbon((home / CONF / "carbon.xml").read_bytes())
    assert (carbon.offset, carbon.host_name, carbon.mgt_host_name) == (offset, "worker.esb.wso2.com", None)
    assert read_registry((home / CONF / "registry.xml").read_bytes()).remote_instance("instanceid").read_only == "true"
    check_esb_common(home, "REGISTRY_LOCAL2")


def test_seed_plan_end_to_end_on_both_servers(cluster):
    for server in ("server-206", "server-132"):
        result = apply(cluster, server)
        assert result.returncode == 0, result.stdout + result.stderr
        assert PASSWORD not in result.stdout + result.stderr

    elb = cluster.home("server-206", "elb")
    elb_axis2 = read_axis2((elb / CONF / "axis2/axis2.xml").read_bytes())
    assert (elb_axis2.domain, elb_axis2.local_member_port, elb_axis2.members) == ("wso2.carbon.lb.domain", 4000, ())
    assert (elb_axis2.http_port, elb_axis2.https_port) == (80, 443)
    assert read_carbon((elb / CONF / "carbon.xml").read_bytes()).offset == 0
    [esb_service] = [s for s in read_services((elb / CONF / "loadbalancer.conf").read_bytes()) if s.name == "esb"]
    assert [(d.name, d.hosts, d.sub_domain, d.tenant_range) for d in esb_service.domains] == [
        ("wso2.esb.domain", ("mgt.esb.wso2.com",), "mgt", "*"),
        ("wso2.esb.domain", ("worker.esb.wso2.com",), "worker", "*")]

    manager = cluster.home("server-206", "manager")
    check_manager(manager)
    check_esb_common(manager, "REGISTRY_LOCAL1")
    check_worker(cluster.home("server-206", "worker2"), "127.0.0.2", 2, 4002)
    check_worker(cluster.home("server-132", "worker1"), "127.0.0.3", 0, 4000)
    check_worker(cluster.home("server-132", "worker3"), "127.0.0.3", 3, 4001)
    assert not cluster.home("server-132", "manager").exists()

    hosts_206 = cluster.hosts_file("server-206").read_bytes()
    assert sorted(read_block(hosts_206, "wso2.esb.domain")) == sorted([
        ("127.0.0.2", "carbondb.mysql-wso2.com"), ("127.0.0.2", "elb.wso2.com"),
        ("127.0.0.2", "mgt.esb.wso2.com"), ("127.0.0.2", "worker.esb.wso2.com")])
    assert hosts_206.startswith(b"127.0.0.1\tlocalhost\n# server-206's own line\n10.9.9.9 other.example.org\n")
    assert (cluster.root / "server-206" / "hosts.wso2-cluster.orig").read_bytes().endswith(b"other.example.org\n")
    assert sorted(read_block(cluster.hosts_file("server-132").read_bytes(), "wso2.esb.domain")) == sorted([
        ("127.0.0.2", "carbondb.mysql-wso2.com"), ("127.0.0.2", "elb.wso2.com"),
        ("127.0.0.2", "mgt.esb.wso2.com")])

    # No secret in the state file or the log.
    state_dir = cluster.install_dir("server-206") / ".wso2-cluster"
    for path in state_dir.iterdir():
        assert PASSWORD not in path.read_text(), path
    state = json.loads((state_dir / "state-server-206.json").read_text())
    assert {name: state["steps"][name]["status"] for name in ("preflight", "extract", "configure", "hosts")} == {
        "preflight": "done", "extract": "done", "configure": "done", "hosts": "done"}


def test_second_apply_changes_nothing_and_status_is_done(cluster):
    assert apply(cluster, "server-206").returncode == 0
    before = tree_snapshot(cluster.install_dir("server-206"))
    mtimes = {p: p.stat().st_mtime_ns for p in cluster.install_dir("server-206").rglob("*.xml")}
    hosts_before = cluster.hosts_file("server-206").read_bytes()
    again = apply(cluster, "server-206")
    assert again.returncode == 0, again.stderr
    assert "already done" in again.stdout
    assert tree_snapshot(cluster.install_dir("server-206")) == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert cluster.hosts_file("server-206").read_bytes() == hosts_before

    status = run_cli("status", "--plan", cluster.plan, "--server", "server-206")
    assert status.returncode == 0
    lines = status_lines(status.stdout)
    for step in ("extract", "configure", "hosts"):
        assert "done" in lines[step], status.stdout
    assert "pending" in lines["database"]  # no database server in this test: the step cannot be done yet


def test_dry_run_prints_every_diff_and_changes_nothing(cluster):
    hosts_before = cluster.hosts_file("server-206").read_bytes()
    result = apply(cluster, "server-206", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not cluster.install_dir("server-206").exists()
    assert cluster.hosts_file("server-206").read_bytes() == hosts_before
    out = result.stdout
    assert "extract wso2esb-4.7.0.zip" in out and "manager" in out
    # Diffs are computed from the pristine files inside the zips, before anything is extracted.
    # The manager's member port: the zip's 4000 becomes 4001 (a pinned line of the diff, not any "4001").
    assert '-        <parameter name="localMemberPort">4000</parameter>\n' \
           '+        <parameter name="localMemberPort">4001</parameter>\n' in out
    assert "port.mapping.80" in out and "9764" in out
    assert "+127.0.0.2 worker.esb.wso2.com" in out
    assert "REGISTRY_LOCAL1" in out
    assert PASSWORD not in out and "********" in out


def test_hand_edit_is_reported_as_drift_and_kept_without_force(cluster):
    assert apply(cluster, "server-206").returncode == 0
    carbon = cluster.home("server-206", "manager") / CONF / "carbon.xml"
    edited = carbon.read_bytes().replace(b"<Offset>1</Offset>", b"<Offset>7</Offset>")
    carbon.write_bytes(edited)

    status = run_cli("status", "--plan", cluster.plan, "--server", "server-206")
    assert status.returncode == 1, status.stdout + status.stderr  # drift is not a healthy status
    assert "drifted" in status.stdout and str(carbon) in status.stdout.replace("\n", "")
    assert "configure drifted" in status.stderr
    # The diff goes from the file as it is to what the plan wants.
    assert "-        <Offset>7</Offset>\n+        <Offset>1</Offset>\n" in status.stdout

    refused = apply(cluster, "server-206")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "changed by hand" in refused.stderr and "--force" in refused.stderr
    assert carbon.read_bytes() == edited

    forced = apply(cluster, "server-206", "--force")
    assert forced.returncode == 0, forced.stderr
    assert read_carbon(carbon.read_bytes()).offset == 1


def test_a_node_that_cannot_start_is_named_with_its_last_log_lines(cluster):
    # No stand-in environment here: the fixture start script's Python cannot find the stand-in.
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-132", "--skip", "database",
                     env_extra={"CARBON_STANDIN_PYTHONPATH": "/nonexistent"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "worker1 exited with status 1 before it finished starting" in result.stderr
    assert "No module named" in result.stderr  # the node's own last words, from its log
    assert (cluster.home("server-132", "worker1") / CONF / "carbon.xml").is_file()


def test_configure_without_password_asks_for_it_plainly(cluster, monkeypatch):
    monkeypatch.delenv("WSO2_DB_PASSWORD", raising=False)
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-132", "--skip", "database,start,verify",
                     env_extra={"WSO2_DB_PASSWORD": ""})
    assert result.returncode == 1
    assert "WSO2_DB_PASSWORD" in result.stderr
    assert not cluster.install_dir("server-132").exists() or not (
        cluster.home("server-132", "worker1") / CONF / "datasources/master-datasources.xml").exists()


def test_password_file_option(cluster, tmp_path):
    secret_file = tmp_path / "db-password"
    secret_file.write_text("from-a-file\n")
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-132", "--skip", "database,start,verify",
                     "--db-password-file", secret_file, env_extra={"WSO2_DB_PASSWORD": ""})
    assert result.returncode == 0, result.stderr
    datasources = read_datasources((cluster.home("server-132", "worker1") / CONF /
                                    "datasources/master-datasources.xml").read_bytes())
    assert {d.password for d in datasources} == {"from-a-file"}


def test_unknown_server_step_and_node_names_are_command_line_errors(cluster, capsys):
    # Exit 2, as for any other invalid command line (README), and nothing is done.
    assert main(["apply", "--plan", str(cluster.plan), "--server", "nope", "--yes"]) == 2
    assert "use --server with one of: server-206, server-132" in capsys.readouterr().err
    assert main(["apply", "--plan", str(cluster.plan), "--server", "server-206", "--only", "extract,bogus"]) == 2
    assert "unknown step(s) bogus" in capsys.readouterr().err
    assert main(["status", "--plan", str(cluster.plan), "--server", "nope"]) == 2
    assert main(["stop", "--plan", str(cluster.plan), "--server", "server-206", "--node", "worker9"]) == 2
    assert "worker9: no such node on server-206" in capsys.readouterr().err
    assert not cluster.install_dir("server-206").exists()


def test_a_dry_run_that_knows_a_step_will_fail_exits_non_zero(cluster):
    # The plan's database port has no server behind it: the database step cannot succeed.
    result = apply(cluster, "server-206", "--dry-run", "--only", "preflight,database")
    assert result.returncode == 0, result.stdout + result.stderr  # --skip database wins: nothing fails
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-206", "--dry-run",
                     "--only", "preflight,database")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "applying would fail at: database" in result.stderr
    assert "cannot look at the database server" in result.stdout
    assert not cluster.install_dir("server-206").exists()


def test_status_after_a_failed_step_exits_non_zero(cluster):
    nothing_yet = run_cli("status", "--plan", cluster.plan, "--server", "server-206")
    assert nothing_yet.returncode == 0, nothing_yet.stderr  # nothing done yet: pending, not failed
    zip_path = cluster.plan.parent / "gone.zip"
    text = cluster.plan.read_text()
    esb = next(line for line in text.splitlines() if line.strip().startswith("esb:"))
    cluster.plan.write_text(text.replace(esb, f"  esb: {zip_path}"))
    failed = run_cli("status", "--plan", cluster.plan, "--server", "server-206")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "preflight failed" in failed.stderr
