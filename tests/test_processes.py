"""Process control with real processes: argv lists, process groups, TERM then KILL, pid reuse."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from installer.plan.derive import NodeLayout
from installer.processes import (
    CONSOLE_LOG,
    NodeProcess,
    exit_status,
    is_running,
    java_problem,
    node_argv,
    start_node,
    stop_node,
)
from installer.secrets import ADMIN_PASSWORD_ENV, APP_PASSWORD_ENV, SECRET_ENV_NAMES
from tests.paths import REPO_DIR

SCRIPT_PRINTS_ENV_AND_WAITS = """#!/bin/sh
echo "args: $*"
echo "carbon_home: ${CARBON_HOME:-unset}"
echo "marker: ${TEST_MARKER:-unset}"
sleep 300 &
wait
"""

SCRIPT_IGNORES_TERM = """#!/bin/sh
trap '' TERM
echo started
while true; do sleep 0.1; done
"""

SCRIPT_EXITS = """#!/bin/sh
echo "bye"
exit 3
"""


def make_node(tmp_path: Path, name: str, role: str, script: str) -> NodeLayout:
    home = tmp_path / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "wso2server.sh").write_text(script)
    return NodeLayout(name=name, role=role, server="s", address="127.0.0.2", home=home, offset=0, member_port=4000,
                      offset_pinned=False, member_port_pinned=False, domain="d", sub_domain=None, wka_members=(),
                      port_mapping=(), local_registry_db=None)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def exited(process):
    """Gone, or a zombie: it has exited and only waits for its parent (here, once its own parent
    died, the system's init) to collect it."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_flags_per_role(tmp_path):
    manager = make_node(tmp_path, "manager", "manager", "")
    worker = make_node(tmp_path, "worker", "worker", "")
    elb = make_node(tmp_path, "elb", "elb", "")
    assert node_argv(manager, first_start=True)[-1] == "-Dsetup"
    assert "-Dsetup" not in node_argv(manager, first_start=False)
    assert node_argv(worker, first_start=True)[-1] == "-DworkerNode=true"
    assert node_argv(elb, first_start=True) == ["sh", str(elb.home / "bin/wso2server.sh")]


def test_start_passes_environment_but_not_carbon_home_and_stop_terminates_the_group(tmp_path, monkeypatch):
    monkeypatch.setenv("CARBON_HOME", "/somewhere/else")
    monkeypatch.setenv("TEST_MARKER", "passed-through")
    node = make_node(tmp_path, "worker1", "worker", SCRIPT_PRINTS_ENV_AND_WAITS)
    record = start_node(node, first_start=True)
    try:
        console = node.home / CONSOLE_LOG
        assert wait_for(lambda: console.exists() and "marker:" in console.read_text())
        text = console.read_text()
        assert "args: -DworkerNode=true" in text and "carbon_home: unset" in text and "marker: passed-through" in text
        assert is_running(record)
        process = psutil.Process(record.pid)
        assert os.getpgid(record.pid) == record.pid != os.getpgid(0)  # its own group
        assert wait_for(lambda: len(process.children()) == 1)
        child = process.children()[0]
        assert stop_node(record, timeout=5) == "stopped"
        assert not is_running(record) and exited(child)
    finally:
        stop_node(record, timeout=1)


def test_stop_kills_after_the_timeout(tmp_path):
    node = make_node(tmp_path, "stubborn", "worker", SCRIPT_IGNORES_TERM)
    record = start_node(node, first_start=True)
    assert wait_for(lambda: "started" in (node.home / CONSOLE_LOG).read_text())
    assert stop_node(record, timeout=1) == "killed after 1 s"
    assert not is_running(record)


def test_exited_node_is_not_running_and_its_status_is_known(tmp_path):
    node = make_node(tmp_path, "quitter", "elb", SCRIPT_EXITS)
    record = start_node(node, first_start=True)
    assert wait_for(lambda: not is_running(record))
    assert exit_status(record) == 3


def test_recycled_pid_is_not_our_node():
    me = psutil.Process()
    impostor = NodeProcess(node="x", pid=me.pid, create_time=me.create_time() - 1000, argv=())
    assert not is_running(impostor)
    assert stop_node(impostor) == "not running"  # and, above all, we were not signalled


def test_java_needed_only_by_scripts_that_use_it(tmp_path):
    real_like = make_node(tmp_path, "real", "manager", 'if [ -z "$JAVA_HOME" ]; then echo "set JAVA_HOME"; fi\n')
    stand_in = make_node(tmp_path, "standin", "manager", "exec python3 -m something\n")
    assert java_problem(stand_in, {"PATH": "/nonexistent"}) is None
    assert "none was found" in java_problem(real_like, {"PATH": "/nonexistent"})
    assert "does not exist" in java_problem(real_like, {"JAVA_HOME": str(tmp_path / "nojdk")})
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("")
    assert java_problem(real_like, {"JAVA_HOME": str(jdk)}) is None


def test_preflight_names_missing_java_for_a_real_start_script(tmp_path, monkeypatch):
    from tests.support.build_distributions import WSO2SERVER_SH, FixtureFile, build_all, build_esb
    from tests.support.plans import write_seed_plan
    from tests.test_apply_e2e import run_cli

    def real_script(files):
        files[WSO2SERVER_SH] = FixtureFile.text('#!/bin/sh\nif [ -z "$JAVA_HOME" ]; then echo "set JAVA_HOME"; exit 1; fi\n',
                                                mode=0o755)

    dists = build_all(tmp_path / "d")
    cluster = write_seed_plan(tmp_path / "run", {**dists, "esb": build_esb(tmp_path / "real", mutate=real_script)})
    result = run_cli("apply", "--plan", cluster.plan, "--server", "server-132", "--skip", "database",
                     env_extra={"JAVA_HOME": "", "PATH": "/nonexistent"})  # no java anywhere
    assert result.returncode == 1
    assert "Preflight failed" in result.stderr and "Java" in result.stderr
    assert not cluster.install_dir("server-132").exists() or not list(cluster.install_dir("server-132").glob("worker*"))


# --- secrets stay with the installer ---------------------------------------------------------------

def environ_of(pid):
    """A process's environment as the kernel holds it (what any process of the same user can read)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode("utf-8", "replace").split("\0") if "=" in entry)


def test_the_installer_passwords_never_reach_a_node_or_what_it_starts(tmp_path, monkeypatch):
    secrets = {APP_PASSWORD_ENV: "proc-App-Secret-71", ADMIN_PASSWORD_ENV: "proc-Admin-Secret-72"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEST_MARKER", "passed-through")
    node = make_node(tmp_path, "worker1", "worker", SCRIPT_PRINTS_ENV_AND_WAITS)  # its script forks a child
    record = start_node(node, first_start=True)
    try:
        process = psutil.Process(record.pid)
        assert wait_for(lambda: len(process.children()) == 1)
        pids = [record.pid, *(child.pid for child in process.children(recursive=True))]
        for pid in pids:
            environment = environ_of(pid)
            assert environment.get("TEST_MARKER") == "passed-through"  # we read the right thing
            # Names only in the messages: a failing test must not print the passwords.
            named = sorted(name for name in environment if name in SECRET_ENV_NAMES)
            holding = sorted(name for name, value in environment.items() if value in secrets.values())
            assert named == [], f"pid {pid} got {named}"
            assert holding == [], f"pid {pid} got a password in {holding}"
    finally:
        stop_node(record, timeout=5)


# --- zombies: an exited node is stopped, whoever its parent is ---------------------------------------

def test_an_exited_child_we_did_not_launch_through_start_node_is_reaped_and_not_running():
    # E.g. a node launched by an earlier run inside this same long-lived process (the wizard).
    child = subprocess.Popen(["sh", "-c", "exit 0"], start_new_session=True)
    assert wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE)
    record = NodeProcess(node="x", pid=child.pid, create_time=psutil.Process(child.pid).create_time(), argv=())
    assert not is_running(record)
    assert not psutil.pid_exists(child.pid)  # collected, not left a zombie
    assert stop_node(record) == "not running"


def test_stop_by_another_process_of_a_node_that_is_our_child_says_stopped(tmp_path):
    # The wizard started the node (it is the wizard's child); the operator stops it from a shell.
    # Once it exits it is a zombie until its parent collects it: for the stopping process it is
    # stopped, not a process that ignores SIGTERM and has to be killed.
    node = make_node(tmp_path, "worker1", "worker", SCRIPT_PRINTS_ENV_AND_WAITS)
    record = start_node(node, first_start=True)
    try:
        assert wait_for(lambda: "marker:" in (node.home / CONSOLE_LOG).read_text())
        stopper = subprocess.run(
            [sys.executable, "-c", "import sys\n"
             "from installer.processes import NodeProcess, stop_node\n"
             f"print(stop_node(NodeProcess('worker1', {record.pid}, {record.create_time!r}, ()), timeout=5))"],
            cwd=REPO_DIR, capture_output=True, text=True, timeout=60)
        assert stopper.returncode == 0, stopper.stderr
        assert stopper.stdout.strip() == "stopped"
        assert not is_running(record)
        assert not psutil.pid_exists(record.pid)  # and this process, its parent, collected it
        assert exit_status(record) is not None
    finally:
        stop_node(record, timeout=1)
