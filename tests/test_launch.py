"""Launch, watch and verify: the seed's cluster from apply to a green verify, on two loopback
"servers" (127.0.0.2, 127.0.0.3), a real MariaDB and the Carbon stand-ins; and the diagnoses
an operator gets when something is wrong."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest

from installer.files.datasources import read_datasources
from installer.lock import install_lock
from installer.secrets import SECRET_ENV_NAMES
from tests.paths import REPO_DIR
from tests.support.build_distributions import build_all
from tests.support.plans import LOOPBACK_ADDRESSES, write_seed_plan
from tests.test_apply_e2e import run_cli

APP_PASSWORD = "launch-App-Pa55"
ELB_HTTP, ELB_HTTPS = (80, 443) if os.geteuid() == 0 else (8280, 8243)
SERVERS = ("server-206", "server-132")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


class Cluster:
    def __init__(self, root, distributions, mariadb):
        def settings(data):
            data["cluster"]["elb_ports"] = {"http": ELB_HTTP, "https": ELB_HTTPS}
            data["database"]["port"] = mariadb.port
            data["database"]["admin_user"] = mariadb.admin_user

        self.seed = write_seed_plan(root, distributions, edit=settings)
        self.mariadb = mariadb

    def env(self, server):
        return {"WSO2_DB_ADMIN_PASSWORD": self.mariadb.admin_password, "WSO2_DB_PASSWORD": APP_PASSWORD,
                "CARBON_STANDIN_PYTHON": sys.executable, "CARBON_STANDIN_PYTHONPATH": str(REPO_DIR),
                "CARBON_STANDIN_HOSTS_FILE": str(self.seed.hosts_file(server))}

    def cli(self, command, server, *extra):
        return run_cli(command, "--plan", self.seed.plan, "--server", server, *extra, env_extra=self.env(server))

    def apply(self, server, *extra):
        return self.cli("apply", server, "--yes", *extra)

    def home(self, server, node):
        return self.seed.home(server, node)

    def state(self, server):
        path = self.seed.install_dir(server) / ".wso2-cluster" / f"state-{server}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def process_record(self, server, node):
        return self.state(server)["steps"]["start"]["processes"][node]

    def kill_everything(self):
        for server in SERVERS:
            for record in self.state(server).get("steps", {}).get("start", {}).get("processes", {}).values():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(record["pid"], signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path, distributions, fresh_mariadb_state):
    made = Cluster(tmp_path, distributions, fresh_mariadb_state)
    yield made
    made.kill_everything()


def get_via_elb(host_name, port=ELB_HTTP):
    connection = http.client.HTTPConnection(LOOPBACK_ADDRESSES["server-206"], port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": host_name})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Carbon-Node")
    finally:
        connection.close()


def cmdline_of(pid):
    """The stand-in's own command line (the script exec()s python with the flags)."""
    return " ".join(psutil.Process(pid).cmdline())


def secrets_in_environment(pid):
    """Names of the installer's password variables in the environment of ``pid`` and of every
    process it started; only names, so a failing test never prints a password."""
    process = psutil.Process(pid)
    found = []
    for each in (process, *process.children(recursive=True)):
        raw = Path(f"/proc/{each.pid}/environ").read_bytes()
        names = {entry.split(b"=", 1)[0].decode() for entry in raw.split(b"\0") if b"=" in entry}
        assert "CARBON_STANDIN_PYTHONPATH" in names  # the node's environment, read the right way
        found += [f"{each.pid}:{name}" for name in sorted(names & set(SECRET_ENV_NAMES))]
    return found


def gone(pid):
    """Exited: no such process, or a zombie waiting for its parent to collect it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# --- the seed, from apply to a green verify ------------------------------------------------------------

def test_seed_cluster_from_apply_to_green_verify(cluster):
    first = cluster.apply("server-206")
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    # Started in the seed's order, each awaited through its milestones.
    assert out.index("elb: started") < out.index("manager: started") < out.index("worker2: started")
    assert "elb: [x] Cluster initialization completed" in out
    assert "worker2: [x] Cluster initialization completed" in out
    assert "-Dsetup" in cluster.process_record("server-206", "manager")["argv"]
    assert "-DworkerNode=true" in cmdline_of(cluster.process_record("server-206", "worker2")["pid"])
    # The CLI had both passwords in its environment (Cluster.env); no node got them.
    for node in ("elb", "manager", "worker2"):
        assert secrets_in_environment(cluster.process_record("server-206", node)["pid"]) == [], node
    # worker1/worker3 are not started yet: shown, not failed.
    assert "not seen yet (start it on server-132)" in out

    second = cluster.apply("server-132")
    assert second.returncode == 0, second.stdout + second.stderr

    for server in SERVERS:
        verify = cluster.cli("verify", server, "--json")
        report = json.loads(verify.stdout)
        assert verify.returncode == 0 and report["ok"], verify.stdout
        names = {check["name"] for check in report["checks"]}
        assert {"process worker1", "ports worker1"} <= names if server == "server-132" else {"process elb"} <= names
        assert any(name.startswith("routing worker.esb.wso2.com") for name in names)
        for secret in (APP_PASSWORD, cluster.mariadb.admin_password):
            assert secret not in verify.stdout + verify.stderr

    report_206 = json.loads(cluster.cli("verify", "server-206", "--json").stdout)
    membership = [check for check in report_206["checks"] if check["name"].startswith("membership")]
    assert membership and all(check["ok"] and "not seen yet" not in check["detail"] for check in membership)

    # A request through the ELB with the worker host name reaches workers, round-robin; the mgt
    # host name reaches the manager (port.mapping).
    answered = {get_via_elb("worker.esb.wso2.com")[1] for _ in range(6)}
    assert answered == {"worker1", "worker2", "worker3"}
    assert get_via_elb("mgt.esb.wso2.com") == (200, "manager")


def test_killed_worker_is_named_by_verify_and_the_elb_log_shows_it_left(cluster):
    assert cluster.apply("server-206").returncode == 0
    assert cluster.apply("server-132").returncode == 0
    worker3 = cluster.process_record("server-132", "worker3")
    os.killpg(worker3["pid"], signal.SIGKILL)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if "left cluster" in (cluster.home("server-206", "elb") / "repository/logs/wso2carbon.log").read_text():
            break
        time.sleep(0.2)

    on_132 = cluster.cli("verify", "server-132")
    assert on_132.returncode == 1
    assert "worker3: not running" in on_132.stdout
    on_206 = json.loads(cluster.cli("verify", "server-206", "--json").stdout)
    failing = [check for check in on_206["checks"] if not check["ok"]]
    assert any("worker3" in check["detail"] and "left" in check["detail"] for check in failing), failing

    # Starting it again brings the cluster back to green (no -Dsetup anywhere).
    restarted = cluster.cli("start", "server-132", "--node", "worker3")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert cluster.cli("verify", "server-206").returncode == 0


def test_restart_and_resume_never_pass_setup_again(cluster):
    assert cluster.apply("server-206").returncode == 0
    first_manager = cluster.process_record("server-206", "manager")
    assert first_manager["first_start"] and "-Dsetup" in first_manager["argv"]

    restarted = cluster.cli("restart", "server-206", "--node", "manager")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    second = cluster.process_record("server-206", "manager")
    assert second["pid"] != first_manager["pid"]
    assert "-Dsetup" not in second["argv"] and "-Dsetup" not in cmdline_of(second["pid"])

    # Resume after the manager went down: apply starts it again, without -Dsetup.
    assert cluster.cli("stop", "server-206", "--node", "manager").returncode == 0
    resumed = cluster.apply("server-206")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    third = cluster.process_record("server-206", "manager")
    assert third["pid"] not in (first_manager["pid"], second["pid"])
    assert "-Dsetup" not in cmdline_of(third["pid"])
    assert "elb: already running" in resumed.stdout

    # Starting a running node is a no-op: the same process runs on, recorded as before.
    elb = cluster.process_record("server-206", "elb")
    again = cluster.cli("start", "server-206", "--node", "elb")
    assert again.returncode == 0 and "elb: already running" in again.stdout
    assert cluster.process_record("server-206", "elb") == elb
    assert psutil.Process(elb["pid"]).create_time() == pytest.approx(elb["create_time"], abs=1.0)

    # The nodes the commands started do not hold the install dir's lock (they would, had they
    # inherited its file): with them all running, the next command may take it.
    with install_lock(cluster.seed.install_dir("server-206"), "test"):
        pass


def test_logs_command_marks_milestones(cluster):
    assert cluster.apply("server-206", "--skip", "verify").returncode == 0
    logs = cluster.cli("logs", "server-206", "--node", "manager", "--no-follow")
    assert logs.returncode == 0
    assert "Cluster domain: wso2.esb.domain" in logs.stdout
    assert ">> manager: [x] Cluster initialization completed" in logs.stdout


# --- diagnoses -------------------------------------------------------------------------------------------

def prepared_worker(cluster):
    """server-206 running, server-132 configured but not started."""
    assert cluster.apply("server-206").returncode == 0
    prepared = cluster.apply("server-132", "--skip", "start,verify")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    return cluster.home("server-132", "worker1")


def test_wrong_domain_never_joins_and_is_named(cluster):
    home = prepared_worker(cluster)
    axis2 = home / "repository/conf/axis2/axis2.xml"
    axis2.write_text(axis2.read_text().replace(
        '<parameter name="domain">wso2.esb.domain</parameter>', '<parameter name="domain">wso2.esb.domainx</parameter>'))
    result = cluster.cli("start", "server-132", "--node", "worker1")
    assert result.returncode == 1
    assert "worker1 failed to start" in result.stderr and "No responses received from WKA members" in result.stderr
    assert "domain" in result.stderr  # the hint names the setting
    # Such a node would retry for ever: it is stopped, not left half-running...
    failed = cluster.process_record("server-132", "worker1")
    assert gone(failed["pid"])
    assert "worker1: stopped, as it did not finish starting" in result.stdout
    # ...so once the domain is mended, start starts it rather than finding it "already running".
    axis2.write_text(axis2.read_text().replace("wso2.esb.domainx", "wso2.esb.domain"))
    mended = cluster.cli("start", "server-132", "--node", "worker1")
    assert mended.returncode == 0, mended.stdout + mended.stderr
    assert "already running" not in mended.stdout and "worker1: started" in mended.stdout
    assert cluster.process_record("server-132", "worker1")["pid"] != failed["pid"]


def test_taken_member_port_gives_the_bind_exception_hint(cluster):
    home = prepared_worker(cluster)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((LOOPBACK_ADDRESSES["server-132"], 4000))
        squatter.listen()
        result = cluster.cli("start", "server-132", "--node", "worker1")
    assert result.returncode == 1
    assert "worker1 failed to start" in result.stderr
    assert "BindException" in result.stderr or "Address already in use" in result.stderr
    assert "localMemberPort" in result.stderr
    assert home.exists()
    assert gone(cluster.process_record("server-132", "worker1")["pid"])


def test_wrong_database_password_gives_the_access_denied_hint(cluster):
    home = prepared_worker(cluster)
    datasources = home / "repository/conf/datasources/master-datasources.xml"
    assert {d.password for d in read_datasources(datasources.read_bytes())} == {APP_PASSWORD}
    datasources.write_text(datasources.read_text().replace(APP_PASSWORD, "not-the-password"))
    result = cluster.cli("start", "server-132", "--node", "worker1")
    assert result.returncode == 1
    assert "Access denied for user 'regadmin'@'127.0.0.3'" in result.stderr
    assert "WSO2_DB_PASSWORD" in result.stderr or "password" in result.stderr.split("likely setting:")[-1]
