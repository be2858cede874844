"""The real console command in a real terminal: ``wso2-cluster tui`` started in tmux, typed at
with ``send-keys`` and read back with ``capture-pane``.

``test_launch_stop_in_tmux`` starts a Carbon stand-in on 127.0.0.2: run this module under the
e2e lock (``flock /tmp/wso2-e2e.lock``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.paths import REPO_DIR
from tests.support.build_distributions import build_all
from tests.test_apply_e2e import run_cli
from tests.test_launch import ELB_HTTP, ELB_HTTPS, gone
from tests.test_tui_support import seed_plan

COMMAND = REPO_DIR / ".venv" / "bin" / "wso2-cluster"


class Terminal:
    """One tmux session on a tmux server of its own (never the operator's)."""

    def __init__(self, command: str, *, width: int, height: int) -> None:
        self.socket = f"wso2-tui-test-{uuid.uuid4().hex[:8]}"
        self.session = "tui"
        self.tmux("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), command)

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def text(self, *, literal: str) -> None:
        self.tmux("send-keys", "-t", self.session, "-l", literal)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen after {timeout} s; the screen:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def terminal_factory():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the terminal smoke test: apt-get install tmux")
    if not os.access(COMMAND, os.X_OK):
        pytest.fail(f"{COMMAND} is missing: install the project first (./dev test does)")
    made: list[Terminal] = []

    def make(command: str, width: int = 100, height: int = 30) -> Terminal:
        made.append(Terminal(command, width=width, height=height))
        return made[-1]

    yield make
    for terminal in made:
        terminal.close()


def test_the_console_command_in_tmux(tmp_path, terminal_factory):
    plan = seed_plan(tmp_path / "cluster", build_all(tmp_path / "dists"))
    exit_file = tmp_path / "exit-code"
    command = (f"cd {tmp_path} && env XDG_STATE_HOME={tmp_path / 'state'} TERM=xterm-256color "
               f"{COMMAND} tui --plan {plan} --server server-206; echo $? > {exit_file}; sleep 30")
    terminal = terminal_factory(command)

    terminal.wait_for("1/9 Welcome")
    screen = terminal.wait_for("Quit")  # the footer, painted last
    assert "Continue with this plan" in screen and "This server: server-206" in screen
    terminal.keys("Enter")
    screen = terminal.wait_for("2/9 Topology")
    assert "server-206 (this)" in screen and "3 (pinned)" in screen

    terminal.keys("C-n")
    terminal.wait_for("3/9 Cluster")
    terminal.wait_for("Management host name")
    time.sleep(0.5)  # the screen is painted; let its first field take the focus before typing
    # The first field (the cluster domain) has the focus: replace it with something invalid.
    terminal.keys("C-u")
    terminal.text(literal="bad domain!")
    screen = terminal.wait_for("is not a valid clustering domain")
    terminal.keys("C-n")
    screen = terminal.wait_for("Fix 1 problem(s) on this screen first")
    assert "3/9 Cluster" in screen
    terminal.keys("C-u")
    terminal.text(literal="wso2.esb.domain")
    terminal.wait_for("wso2.esb.domain")
    terminal.keys("C-n")
    screen = terminal.wait_for("WSO2 Enterprise Service Bus 4.7.0")
    assert "4/9 Distributions" in screen and "WSO2 Elastic Load Balancer 2.0.3" in screen

    terminal.keys("Escape")  # Back: what was typed is still there
    screen = terminal.wait_for("3/9 Cluster")
    assert "wso2.esb.domain" in screen and "bad domain!" not in screen

    terminal.keys("C-q")
    deadline = time.monotonic() + 15
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.read_text().strip() == "0"


def test_the_first_screen_is_usable_at_80x24(tmp_path, terminal_factory):
    exit_file = tmp_path / "exit-code"
    command = (f"cd {tmp_path} && env XDG_STATE_HOME={tmp_path / 'state'} TERM=xterm-256color "
               f"{COMMAND}; echo $? > {exit_file}; sleep 30")
    terminal = terminal_factory(command, width=80, height=24)
    terminal.wait_for("1/9 Welcome")
    screen = terminal.wait_for("Quit")  # the footer, painted last
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "Open plan" in screen and "New plan" in screen and "Quit" in screen
    terminal.keys("n")  # New plan: the guide's example
    screen = terminal.wait_for("2/9 Topology")
    assert "worker3" in screen
    terminal.keys("C-q")
    deadline = time.monotonic() + 15
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_file.read_text().strip() == "0"


def test_launch_stop_in_tmux(tmp_path, terminal_factory):
    """Launch at 80x24 with the ELB running (started from the command line): Start is not
    offered (the database step was left out) and says so; Stop stops the ELB."""
    def elb_ports(data):
        data["cluster"]["elb_ports"] = {"http": ELB_HTTP, "https": ELB_HTTPS}

    plan = seed_plan(tmp_path / "cluster", build_all(tmp_path / "dists"), edit=elb_ports)
    env = {"CARBON_STANDIN_PYTHON": sys.executable, "CARBON_STANDIN_PYTHONPATH": str(REPO_DIR),
           "CARBON_STANDIN_HOSTS_FILE": str(tmp_path / "cluster" / "server-206" / "hosts")}
    applied = run_cli("apply", "--plan", plan, "--server", "server-206", "--yes", "--skip", "database,start,verify",
                      env_extra=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    started = run_cli("start", "--plan", plan, "--server", "server-206", "--node", "elb", env_extra=env)
    assert started.returncode == 0, started.stdout + started.stderr
    state = tmp_path / "cluster" / "server-206" / "wso2" / ".wso2-cluster" / "state-server-206.json"
    elb_pid = json.loads(state.read_text())["steps"]["start"]["processes"]["elb"]["pid"]
    try:
        exit_file = tmp_path / "exit-code"
        command = (f"cd {tmp_path} && env XDG_STATE_HOME={tmp_path / 'state'} TERM=xterm-256color "
                   f"{COMMAND} tui --plan {plan} --server server-206; echo $? > {exit_file}; sleep 30")
        terminal = terminal_factory(command, width=80, height=24)
        terminal.wait_for("Resume server-206")
        terminal.keys("r")  # Resume: the Apply screen, then on to Launch
        terminal.wait_for("7/9 Apply")
        terminal.keys("C-n")
        terminal.wait_for(f"running (pid {elb_pid})", timeout=30)
        screen = terminal.wait_for("s S Stop")  # the footer names the keys (painted after the bindings settle)
        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        assert "8/9 Launch" in screen and "Stop elb" in screen and "Start is not offered" in screen
        assert f"running (pid {elb_pid})" in screen and "elb ●" in screen and "Quit" in screen
        terminal.keys("s")  # Stop the node of the current tab
        screen = terminal.wait_for("Stop elb: elb stopped", timeout=60)
        assert "elb ○" in screen
        deadline = time.monotonic() + 10
        while not gone(elb_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(elb_pid)
        terminal.keys("C-q")  # nothing runs any more: no question
        deadline = time.monotonic() + 15
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
    finally:
        run_cli("stop", "--plan", plan, "--server", "server-206", env_extra=env)
