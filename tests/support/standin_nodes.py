"""Real Carbon stand-in processes for end-to-end tests: the seed's homes prepared by the installer's
own CLI against the suite's MariaDB, nodes started the way the installer starts them, and their logs
read from where they stood at launch.

Every address is on loopback (127.0.0.2 plays server-206, 127.0.0.3 server-132), and the member
ports and offsets are the seed's: tests that start these processes must hold the suite's e2e lock
(``flock /tmp/wso2-e2e.lock``) so that no other run binds the same addresses at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.paths import REPO_DIR
from tests.support.build_distributions import AXIS2_XML, CARBON_XML, build_all
from tests.support.mariadb import MariaDBServer
from tests.support.plans import LOOPBACK_ADDRESSES, SeedCluster, write_seed_plan

APP_PASSWORD = "standin-App-Pa55"
# Binding 80/443 needs root; otherwise the plan moves the ELB to 8280/8243, as the seed allows.
ELB_HTTP, ELB_HTTPS = (80, 443) if os.geteuid() == 0 else (8280, 8243)
ELB_ADDRESS = LOOPBACK_ADDRESSES["server-206"]
WORKERS = (("server-132", "worker1"), ("server-206", "worker2"), ("server-132", "worker3"))
# (address, member port, offset) of each worker, as the installer derives them for the seed.
WORKER_LAYOUT = {"worker1": ("127.0.0.3", 4000, 0), "worker2": ("127.0.0.2", 4002, 2),
                 "worker3": ("127.0.0.3", 4001, 3)}
STARTED = "WSO2 Carbon started in"
WAIT = 20.0
WORKER_HOST = "worker.esb.wso2.com"
MGT_HOST = "mgt.esb.wso2.com"
DOMAIN = "wso2.esb.domain"

_TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
CONSOLE_LINE = re.compile(rf"^\[{_TIMESTAMP}\] (ERROR| WARN| INFO) - (\S+) (.*)$")
FILE_LINE = re.compile(rf"^TID: \[0\] \[(\w*)\] \[{_TIMESTAMP}\] (ERROR| WARN| INFO) \{{([\w.$]+)\}} -  (.*) \{{\3\}}$")


# --- processes ----------------------------------------------------------------------------------------


@dataclass
class StartedNode:
    """A stand-in started by a test; logs are read from where they stood at launch."""

    name: str
    home: Path
    process: subprocess.Popen[bytes]
    console: Path
    console_offset: int
    log_offset: int

    @property
    def carbon_log(self) -> Path:
        return self.home / "repository/logs/wso2carbon.log"

    def console_text(self) -> str:
        return _read_from(self.console, self.console_offset)

    def log_text(self) -> str:
        return _read_from(self.carbon_log, self.log_offset)

    def console_events(self) -> list[tuple[str, str, str]]:
        """(level, logger's short name, message) of every console log line."""
        return [(m[1].strip(), m[2], m[3]) for m in map(CONSOLE_LINE.match, self.console_text().splitlines()) if m]

    def file_events(self) -> list[tuple[str, str, str]]:
        events = []
        for line in self.log_text().splitlines():
            match = FILE_LINE.match(line)
            if match:
                events.append((match[2].strip(), match[3].rsplit(".", 1)[-1], match[4]))
        return events

    def wait_for(self, text: str, *, count: int = 1, timeout: float = WAIT) -> None:
        """Until wso2carbon.log holds ``text`` ``count`` times; fails early if the node exits."""
        self._wait_until(lambda log: log.count(text) >= count, f"{text!r} x{count}", timeout)

    def wait_for_match(self, pattern: re.Pattern[str], *, after: int = 0, timeout: float = WAIT) -> re.Match[str]:
        """The first match of ``pattern`` in wso2carbon.log from character ``after`` (of
        :meth:`log_text`) on, once there is one."""
        self._wait_until(lambda log: pattern.search(log, after) is not None, f"/{pattern.pattern}/", timeout)
        match = pattern.search(self.log_text(), after)
        assert match is not None
        return match

    def _wait_until(self, found: Callable[[str], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if found(self.log_text()):
                return
            exited = self.process.poll() is not None
            if exited or time.monotonic() > deadline:
                if found(self.log_text()):
                    return
                state = f"exited with {self.process.returncode}" if exited else f"still running after {timeout:.0f}s"
                pytest.fail(f"{self.name} {state} without logging {what}; console:\n{self.console_text()[-3000:]}")
            time.sleep(0.05)

    def wait_for_exit(self, timeout: float = WAIT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still runs after {timeout:.0f}s; console:\n{self.console_text()[-3000:]}")


def _die_with_parent() -> None:
    # In the child before exec (the script exec()s Python, which keeps the setting): should the
    # test process be killed outright, finalizers never run, and the kernel kills the node instead
    # of leaving it holding its ports.
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@dataclass
class Launcher:
    """Starts stand-ins the way the installer does, and kills whatever is left at the end."""

    seed: SeedCluster
    started: list[StartedNode] = field(default_factory=list)

    def start(self, server: str, home: Path, *flags: str) -> StartedNode:
        environment = dict(os.environ)
        environment.pop("CARBON_HOME", None)  # the script would trust it over its own location
        environment.update(CARBON_STANDIN_PYTHON=sys.executable, CARBON_STANDIN_PYTHONPATH=str(REPO_DIR),
                           CARBON_STANDIN_HOSTS_FILE=str(self.seed.hosts_file(server)))
        console = home / "repository/logs/console.log"
        console.parent.mkdir(parents=True, exist_ok=True)
        node_log = home / "repository/logs/wso2carbon.log"
        console_offset, log_offset = _size(console), _size(node_log)
        with open(console, "ab") as output:
            process = subprocess.Popen(["sh", str(home / "bin/wso2server.sh"), *flags], cwd=home, env=environment,
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        node = StartedNode(home.name, home, process, console, console_offset, log_offset)
        self.started.append(node)
        return node

    def kill_all(self) -> None:
        for node in self.started:
            if node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)  # the node's own process group
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=10)


# --- fixtures ------------------------------------------------------------------------------------------


def prepare_seed(root: Path, mariadb: MariaDBServer) -> SeedCluster:
    """The seed's homes, databases and hosts files under ``root``, prepared by ``wso2-cluster apply``
    on both servers (the suite's MariaDB emptied first)."""
    mariadb.reset()
    distributions = build_all(root / "dists")

    def point_at_test_database(data):
        data["database"]["address"] = ELB_ADDRESS
        data["database"]["port"] = mariadb.port
        data["database"]["admin_user"] = mariadb.admin_user
        data["cluster"]["elb_ports"] = {"http": ELB_HTTP, "https": ELB_HTTPS}

    cluster = write_seed_plan(root / "cluster", distributions, addresses=LOOPBACK_ADDRESSES,
                              edit=point_at_test_database)
    environment = dict(os.environ, WSO2_DB_ADMIN_PASSWORD=mariadb.admin_password, WSO2_DB_PASSWORD=APP_PASSWORD)
    for server in ("server-206", "server-132"):  # the database server's run first: it creates the grants
        result = subprocess.run([sys.executable, "-m", "cli", "apply", "--plan", str(cluster.plan),
                                 "--server", server, "--skip", "start,verify"], cwd=REPO_DIR, env=environment,
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    return cluster


def start_seed_cluster(seed: SeedCluster, launcher: Launcher) -> dict[str, StartedNode]:
    """The seed's cluster, started in the seed's order: ELB, manager (-Dsetup), workers."""
    elb = launcher.start("server-206", seed.home("server-206", "elb"))
    elb.wait_for(STARTED)
    manager = launcher.start("server-206", seed.home("server-206", "manager"), "-Dsetup")
    manager.wait_for(STARTED)
    workers = [launcher.start(server, seed.home(server, name), "-DworkerNode=true") for server, name in WORKERS]
    for worker in workers:
        worker.wait_for(STARTED)
    return {node.name: node for node in (elb, manager, *workers)}


def copy_home(seed: SeedCluster, server: str, source: str, name: str,
              edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of a prepared home (logs and pid file left out) with ``old -> new`` text edits."""
    target = seed.home(server, name)
    shutil.copytree(seed.home(server, source), target, ignore=shutil.ignore_patterns("*.log", "wso2carbon.pid"))
    for relative, replacements in edits.items():
        path = target / relative
        text = path.read_text()
        for old, new in replacements:
            assert old in text, f"{relative} has no {old!r}"
            text = text.replace(old, new)
        path.write_text(text)
    return target


def moved(member_port: int, offset: int, *, from_port: int, from_offset: int) -> dict[str, list[tuple[str, str]]]:
    """Edits giving a copied home its own member port and offset, so it can run next to its source."""
    return {
        AXIS2_XML: [(f'<parameter name="localMemberPort">{from_port}</parameter>',
                     f'<parameter name="localMemberPort">{member_port}</parameter>')],
        CARBON_XML: [(f"<Offset>{from_offset}</Offset>", f"<Offset>{offset}</Offset>")],
    }


def get(address: str, port: int, host: str | None = None, *, method: str = "GET",
        path: str = "/") -> tuple[int, str | None, str]:
    """(status, X-Carbon-Node, body) of one request."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request(method, path, body=b"" if method == "POST" else None,
                           headers={"Host": host} if host else {})
        response = connection.getresponse()
        return response.status, response.getheader("X-Carbon-Node"), response.read().decode()
    finally:
        connection.close()


def assert_in_order(events: list[tuple[str, str, str]], expected: list[tuple[str, str]]) -> None:
    """``expected`` (logger, message) pairs appear among INFO ``events`` in this order."""
    position = 0
    for logger, message in expected:
        for index in range(position, len(events)):
            if events[index] == ("INFO", logger, message):
                position = index + 1
                break
        else:
            shown = "\n".join(f"{level} - {name} {text}" for level, name, text in events)
            pytest.fail(f"missing (in order): INFO - {logger} {message}\namong:\n{shown}")
