"""Starting and stopping Carbon nodes: argv lists, own process groups, pids kept in state.

A node is started as ``sh <home>/bin/wso2server.sh [flags]`` (never through a shell string),
in its own session so stopping it reaches the JVM and everything the script started, with the
operator's environment passed through (``JAVA_HOME`` included) except ``CARBON_HOME``, which the
script would otherwise trust over its own location, and the installer's password variables, which
a node never needs. Console output goes to ``<home>/repository/logs/console.log``. A process is
ours when its pid and start time match what we recorded, so a recycled pid is never mistaken for a
node. A node that exited is stopped even while it is a zombie: only its parent can collect it, and
that parent may be another program (the wizard that started it); when it is our child, we do.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from installer.errors import InstallerError
from installer.plan.derive import NodeLayout
from installer.secrets import SECRET_ENV_NAMES

START_SCRIPT = "bin/wso2server.sh"
CONSOLE_LOG = "repository/logs/console.log"
CARBON_LOG = "repository/logs/wso2carbon.log"
STOP_TIMEOUT = 30.0
STOP_POLL_INTERVAL = 0.05

# Nodes this process launched: polled to reap them when they exit (so an exited node is never a
# zombie that looks alive), without touching children started by anyone else.
_LAUNCHED: dict[int, subprocess.Popen[bytes]] = {}


class ProcessError(InstallerError):
    title = "Node process problem"


@dataclass(frozen=True)
class NodeProcess:
    """What we record about a started node (in the state file)."""

    node: str
    pid: int
    create_time: float
    argv: tuple[str, ...]

    def to_record(self) -> dict[str, object]:
        return {"pid": self.pid, "create_time": self.create_time, "argv": list(self.argv)}

    @classmethod
    def from_record(cls, node: str, record: Mapping[str, object]) -> NodeProcess:
        return cls(node=node, pid=int(record["pid"]), create_time=float(record["create_time"]),  # type: ignore[arg-type]
                   argv=tuple(record.get("argv", ())))  # type: ignore[arg-type]


def node_argv(node: NodeLayout, *, first_start: bool) -> list[str]:
    return ["sh", str(node.home / START_SCRIPT), *node.start_flags(first_start=first_start)]


def node_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a node starts with: ``base`` (default: ours) without ``CARBON_HOME`` and
    without the installer's passwords. A node reads its database password from its own
    master-datasources.xml; in its environment a password would be readable through
    /proc/PID/environ for as long as the node runs, and passed on to everything it starts."""
    environment = dict(os.environ if base is None else base)
    for name in ("CARBON_HOME", *SECRET_ENV_NAMES):
        environment.pop(name, None)
    return environment


def java_problem(node: NodeLayout, environment: Mapping[str, str] | None = None) -> str | None:
    """When this node's start script needs Java (a real Carbon script reads JAVA_HOME) and none is
    found, say so; a start script that does not use Java needs none."""
    script = node.home / START_SCRIPT
    try:
        text = script.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return java_problem_for_script(text, environment)


def java_problem_for_script(script_text: str, environment: Mapping[str, str] | None = None) -> str | None:
    """The same check on a start script's text (e.g. read from the zip before extraction)."""
    environment = os.environ if environment is None else environment
    if "JAVA_HOME" not in script_text:
        return None
    java_home = environment.get("JAVA_HOME")
    if java_home:
        if not (Path(java_home) / "bin" / "java").exists():
            return f"JAVA_HOME is {java_home} but {java_home}/bin/java does not exist"
        return None
    if shutil.which("java", path=environment.get("PATH")):
        return ("JAVA_HOME is not set; Carbon's wso2server.sh refuses to start without it "
                "(java is on PATH: set JAVA_HOME to its installation folder)")
    return "Carbon needs Java and none was found: install a JDK and set JAVA_HOME"


def start_node(node: NodeLayout, *, first_start: bool, environment: Mapping[str, str] | None = None) -> NodeProcess:
    """Launch the node; returns at once (waiting for its milestones is the caller's job)."""
    script = node.home / START_SCRIPT
    if not script.is_file():
        raise ProcessError(f"{script} does not exist", "run the extract step first")
    argv = node_argv(node, first_start=first_start)
    console = node.home / CONSOLE_LOG
    console.parent.mkdir(parents=True, exist_ok=True)
    with open(console, "ab") as output:
        try:
            process = subprocess.Popen(argv, cwd=node.home, env=node_environment(environment), stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            raise ProcessError(f"cannot start {node.name}: {error.strerror}", f"check {script}") from error
    _LAUNCHED[process.pid] = process
    try:
        create_time = psutil.Process(process.pid).create_time()
    except psutil.NoSuchProcess:
        create_time = time.time()
    return NodeProcess(node=node.name, pid=process.pid, create_time=create_time, argv=tuple(argv))


def _process(record: NodeProcess) -> psutil.Process | None:
    """The node's process while it runs; None once it is gone, a zombie, or its pid was reused."""
    reap_children()
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.create_time) > 1.0:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return None
        return process
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_running(record: NodeProcess | None) -> bool:
    return record is not None and _process(record) is not None


def reap_children() -> None:
    """Collect nodes this process launched that have exited (no zombies while we watch)."""
    for process in _LAUNCHED.values():
        process.poll()  # reaps it once it has exited; the Popen keeps its exit status


def _reap(pid: int) -> None:
    """Collect ``pid`` (known to be an exited node) if it is our child. One we launched is
    collected through its Popen, which keeps the exit status; any other child of ours (a node
    launched through another route in this long-lived process) directly."""
    launched = _LAUNCHED.get(pid)
    if launched is not None:
        launched.poll()
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its own parent collects it


def exit_status(record: NodeProcess) -> int | None:
    """The exit status of a node this process launched and that has exited, else None."""
    process = _LAUNCHED.get(record.pid)
    if process is None:
        return None
    return process.poll()


def stop_node(record: NodeProcess, *, timeout: float = STOP_TIMEOUT) -> str:
    """SIGTERM the node's process group, SIGKILL it after ``timeout``; returns what happened."""
    process = _process(record)
    if process is None:
        return "not running"
    try:
        group = os.getpgid(record.pid)
    except ProcessLookupError:
        return "not running"
    members = _group_members(group)
    _signal_group(group, signal.SIGTERM)
    alive = _wait_until_exited(members, timeout)
    if alive:
        _signal_group(group, signal.SIGKILL)
        _wait_until_exited(alive, 5)
        return f"killed after {timeout:.0f} s"
    return "stopped"


def _wait_until_exited(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` for ``processes`` to exit; returns those still running. A zombie has
    exited: psutil's own wait would keep waiting for it to disappear, which a zombie whose
    parent is another program (the wizard that started the node) does only when that program
    looks, so it would wait the whole timeout and then SIGKILL a process that is already dead."""
    deadline = time.monotonic() + timeout
    while True:
        processes = [process for process in processes if _still_running(process)]
        if not processes or time.monotonic() >= deadline:
            return processes
        time.sleep(STOP_POLL_INTERVAL)


def _still_running(process: psutil.Process) -> bool:
    try:
        if not process.is_running():  # gone, or its pid reused by another process
            return False
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(process.pid)
            return False
        return True
    except psutil.NoSuchProcess:
        return False


def _group_members(group: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == group:
                members.append(process)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return members


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass
