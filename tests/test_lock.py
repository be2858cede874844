"""One changing run per install dir: apply, start, stop and restart take an exclusive lock; a
second run, in another process or another thread, is refused with who holds it; read-only
commands never wait for it or take it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from installer.lock import LockedError, install_lock, lock_path
from installer.processes import start_node, stop_node
from tests.paths import REPO_DIR
from tests.support.build_distributions import build_all
from tests.support.plans import write_seed_plan
from tests.test_apply_e2e import run_cli, tree_snapshot
from tests.test_processes import SCRIPT_PRINTS_ENV_AND_WAITS, make_node

SERVER = "server-132"  # no database work on it: the CLI runs need no MariaDB

HOLD_THE_LOCK = """
import sys
from installer.lock import install_lock
with install_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()  # until the test closes our stdin (or kills us)
"""


class Holder:
    """Another process holding the lock through the real API, until released or killed."""

    def __init__(self, install_dir: Path, command: str = "apply") -> None:
        self.process = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(install_dir), command],
                                        cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "held"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture
def holders():
    made: list[Holder] = []

    def hold(install_dir: Path, command: str = "apply") -> Holder:
        made.append(Holder(install_dir, command))
        return made[-1]

    yield hold
    for holder in made:
        if holder.process.poll() is None:
            holder.kill()


def taken_elsewhere(install_dir: Path) -> bool:
    """Whether a fresh process is refused the lock."""
    probe = subprocess.run([sys.executable, "-c", "import sys\nfrom installer.lock import install_lock, LockedError\n"
                            "try:\n    with install_lock(sys.argv[1], 'probe'):\n        pass\n"
                            "except LockedError:\n    sys.exit(7)\n", str(install_dir)],
                           cwd=REPO_DIR, capture_output=True, text=True, timeout=60)
    assert probe.returncode in (0, 7), probe.stderr
    return probe.returncode == 7


# --- the lock itself ---------------------------------------------------------------------------------

def test_the_lock_file_says_who_holds_it_and_is_reentrant_in_the_holding_thread(tmp_path):
    with install_lock(tmp_path, "apply") as taken:
        assert taken
        holder = json.loads(lock_path(tmp_path).read_text())
        assert holder["pid"] == os.getpid() and holder["command"] == "apply" and holder["since"]
        # apply's start step stops and starts nodes under the lock apply took: no deadlock.
        with install_lock(tmp_path, "start") as again:
            assert not again
            assert json.loads(lock_path(tmp_path).read_text())["command"] == "apply"
        assert taken_elsewhere(tmp_path)  # still held after the inner release
    assert not taken_elsewhere(tmp_path)
    assert lock_path(tmp_path).read_text() == ""  # nobody holds it: it names nobody


def test_another_thread_of_the_same_process_is_refused(tmp_path):
    refused: list[BaseException] = []

    def second() -> None:
        try:
            with install_lock(tmp_path, "start"):
                pass
        except LockedError as error:
            refused.append(error)

    with install_lock(tmp_path, "apply"):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert len(refused) == 1
    assert "this process" in refused[0].message and "apply" in refused[0].message


def test_a_second_process_is_refused_with_who_holds_it_and_since_when(tmp_path, holders):
    holder = holders(tmp_path, "restart")
    with pytest.raises(LockedError) as refused:
        with install_lock(tmp_path, "apply"):
            pytest.fail("the lock was taken twice")
    error = refused.value
    assert error.title == "Another run is in progress"
    since = json.loads(lock_path(tmp_path).read_text())["since"]
    assert f"process {holder.pid}" in error.message and "restart" in error.message and since in error.message
    assert "wait" in error.hint and str(holder.pid) in error.hint
    holder.release()
    with install_lock(tmp_path, "apply"):
        pass


def test_the_lock_dies_with_its_holder(tmp_path, holders):
    holder = holders(tmp_path, "apply")
    assert taken_elsewhere(tmp_path)
    holder.kill()  # no cleanup runs: the kernel releases the lock
    with install_lock(tmp_path, "start"):
        assert json.loads(lock_path(tmp_path).read_text())["pid"] == os.getpid()


def test_a_node_started_under_the_lock_does_not_keep_it(tmp_path):
    # The lock is an open file: a node that inherited it would hold it for as long as it runs.
    node = make_node(tmp_path, "worker1", "worker", SCRIPT_PRINTS_ENV_AND_WAITS)
    with install_lock(tmp_path, "start"):
        record = start_node(node, first_start=True)
    try:
        assert not taken_elsewhere(tmp_path)
    finally:
        stop_node(record, timeout=5)


# --- the commands ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


@pytest.fixture
def cluster(tmp_path, distributions):
    seed = write_seed_plan(tmp_path, distributions)
    extracted = run_cli("apply", "--plan", seed.plan, "--server", SERVER, "--only", "preflight,extract")
    assert extracted.returncode == 0, extracted.stdout + extracted.stderr
    return seed


def snapshot(cluster) -> tuple[dict, bytes, bytes]:
    install_dir = cluster.install_dir(SERVER)
    state = install_dir / ".wso2-cluster" / f"state-{SERVER}.json"
    return tree_snapshot(install_dir), state.read_bytes(), cluster.hosts_file(SERVER).read_bytes()


def cli(cluster, command, *extra):
    return run_cli(command, "--plan", cluster.plan, "--server", SERVER, *extra)


@pytest.mark.parametrize("command", [("apply", "--yes", "--skip", "database,start,verify"),
                                     ("start",), ("stop",), ("restart", "--node", "worker1")])
def test_a_changing_command_is_refused_while_another_run_holds_the_lock(cluster, holders, command):
    before = snapshot(cluster)
    holder = holders(cluster.install_dir(SERVER), "apply")
    refused = cli(cluster, *command)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Another run is in progress" in refused.stderr
    assert f"process {holder.pid}" in refused.stderr and "`apply`" in refused.stderr
    assert snapshot(cluster) == before  # nothing configured, started or recorded
    holder.release()
    if command[0] == "apply":  # and once it is released, the same command does its work
        applied = cli(cluster, *command)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert snapshot(cluster) != before


def test_read_only_commands_do_not_take_the_lock(cluster, holders):
    holders(cluster.install_dir(SERVER), "apply")
    ran = {("status",): "extract", ("verify",): f"verify {SERVER}",
           ("logs", "--node", "worker1", "--no-follow"): "wso2carbon.log", ("apply", "--dry-run"): "Dry run"}
    for command, shown in ran.items():
        result = cli(cluster, *command)
        assert "Another run is in progress" not in result.stderr, command
        assert shown in result.stdout, (command, result.stdout, result.stderr)  # it did its work
    plan_check = run_cli("plan", "check", cluster.plan)
    assert plan_check.returncode == 0, plan_check.stderr
