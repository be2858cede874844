"""Process control with real processes: argv lists, process groups, TERM then KILL, pid reuse."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from installer.derive import NodeLayout
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
        assert not is_running(record) and not child.is_running()
    finally:
        stop_node(record, timeout=1)


def test_stop_kills_after_the_timeout(tmp_path):
    node = make_node(tmp_path, "stubborn", "worker", SCRIPT_IGNORES_TERM)
    record = start_node(node, first_start=True)
    assert wait_for(lambda: "started" in (node.home / CONSOLE_LOG).read_text())
    started = time.monotonic()
    assert stop_node(record, timeout=1).startswith("killed after")
    assert time.monotonic() - started < 8
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
