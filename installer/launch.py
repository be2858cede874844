"""Starting a server's nodes in order and proving, from their logs, that each one came up.

ELB, then manager, then workers; each node's milestones (``assets/expectations.yaml``) are
awaited before the next starts, following its logs from where they ended at launch. A failure
signature or the process exiting ends the wait at once with the likely setting and a hint.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from installer.errors import READ_NODE_LOG, START_NODE, InstallerError, Remedy
from installer.expectations import (
    FailureSeen,
    MilestoneReached,
    MilestoneState,
    MilestoneTimedOut,
    MilestoneWatch,
    WatchEvent,
    WatchResult,
    cross_node_expectations,
    expectations_for,
)
from installer.logwatch import LineFilter, LogFollower, LogLine, required_literals
from installer.plan.derive import (
    Layout,
    NodeLayout,
)
from installer.processes import CARBON_LOG, CONSOLE_LOG, NodeProcess, exit_status, is_running
from installer.verify import CheckOutcome, tail_lines


class StartupError(InstallerError):
    title = "A node did not start"


class StartStopped(InstallerError):
    """The start was given up on purpose (the run's stop event)."""

    title = "Start stopped"


def node_values(layout: Layout, node: NodeLayout) -> dict[str, object]:
    """The values ``installer.expectations`` fills into a node's milestones and failure hints."""
    plan = layout.plan
    names = plan.cluster.hostnames
    addresses = {names.elb.lower(): layout.elb.address if layout.elb else None,
                 names.mgt.lower(): layout.manager.address if layout.manager else None}
    transport = node.transport_ports(plan)
    servlet = node.servlet_ports
    return {
        "node": node.name,
        "domain": node.domain,
        "member_host": node.address,
        "member_port": node.member_port,
        "offset": node.offset,
        "servlet_http_port": servlet[0],
        "servlet_https_port": servlet[1],
        "transport_http_port": transport[0],
        "transport_https_port": transport[1],
        "wka_members": [{"wka_host": addresses.get(member.host.lower()) or member.host, "wka_port": member.port}
                        for member in node.wka_members],
    }


def cluster_values(layout: Layout, *, subjects: set[str] | None = None) -> dict[str, object]:
    """Values for the cross-node milestones; ``subjects`` limits them to those nodes."""
    def members(role: str) -> list[dict[str, object]]:
        return [{"member_node": node.name, "member_host": node.address, "member_port": node.member_port}
                for node in layout.nodes_with_role(role) if subjects is None or node.name in subjects]

    return {
        "domain": layout.plan.cluster.domain,
        "elb_node": layout.elb.name if layout.elb else "",
        "manager_node": layout.manager.name if layout.manager else "",
        "workers": members("worker"),
        "managers": members("manager"),
    }


def log_offsets(node: NodeLayout) -> dict[str, int]:
    """Where the node's logs end now: a launch follows them from here."""
    offsets = {}
    for relative in (CARBON_LOG, CONSOLE_LOG):
        try:
            offsets[relative] = (node.home / relative).stat().st_size
        except FileNotFoundError:
            offsets[relative] = 0
    return offsets


def followers_for(node: NodeLayout, offsets: dict[str, int] | None = None) -> list[LogFollower]:
    offsets = offsets or {}
    return [LogFollower(node.home / relative, start_offset=offsets.get(relative, 0))
            for relative in (CARBON_LOG, CONSOLE_LOG)]


def describe(event: WatchEvent) -> tuple[str, str]:
    """(message, level) for an event, for the CLI and the TUI."""
    if isinstance(event, MilestoneReached):
        return f"{event.node}: [x] {event.milestone.label}", "info"
    if isinstance(event, MilestoneTimedOut):
        return f"{event.node}: [ ] {event.milestone.label}: not seen within {event.milestone.timeout:.0f} s", "warning"
    if isinstance(event, FailureSeen):
        return f"{event.node}: {event.signature.name}: {event.line.text.strip()} -> {event.hint}", "warning"
    return str(event), "info"


def wait_for_node(layout: Layout, node: NodeLayout, record: NodeProcess, offsets: dict[str, int], *,
                  on_event: Callable[[WatchEvent], None] | None = None,
                  stop: threading.Event | None = None,
                  cancel: threading.Event | None = None) -> tuple[WatchResult, bool]:
    """Follow ``node``'s logs until its milestones are reached, a failure ends the wait, the
    process exits or ``cancel`` is set; returns the result and whether the process died first."""
    watch = MilestoneWatch()
    values = node_values(layout, node)
    watch.add_node(node.name, followers_for(node, offsets), expectations_for(node.role, values), values)
    stop = stop or threading.Event()
    died = threading.Event()

    def monitor() -> None:
        while not stop.wait(0.25):
            if cancel is not None and cancel.is_set():
                stop.set()
                return
            if not is_running(record):
                died.set()
                stop.set()
                return

    watcher = threading.Thread(target=monitor, name=f"monitor-{node.name}", daemon=True)
    watcher.start()
    try:
        result = watch.wait(stop=stop, on_event=on_event)
        if died.is_set() and result.outcome != "failed":
            # The process ended first: read what it wrote last, so its failure line is named.
            died_stop = threading.Event()
            died_stop.set()
            result = watch.wait(timeout=0, stop=died_stop, on_event=on_event)
    finally:
        stop.set()
        watcher.join(timeout=2)
    return result, died.is_set() and result.outcome != "completed"


def startup_error(node: NodeLayout, record: NodeProcess, result: WatchResult, *, died: bool) -> StartupError:
    log = node.home / CARBON_LOG
    last = "\n    ".join(tail_lines(log, 8) or tail_lines(node.home / CONSOLE_LOG, 8))
    failure = result.failure
    if failure is not None:
        return StartupError(
            f"{node.name} failed to start: {failure.signature.name} in {log}:\n    {failure.line.text.strip()}",
            f"likely setting: {failure.setting}. {failure.hint}")
    if died:
        status = exit_status(record)
        code = f" with status {status}" if status is not None else ""
        return StartupError(f"{node.name} exited{code} before it finished starting; last lines of {log}:\n    {last}",
                            "fix what the log names, then run the same command again (it resumes)")
    pending = [status.milestone.label for status in result.milestones
               if status.state in (MilestoneState.PENDING, MilestoneState.TIMED_OUT) and status.milestone.required]
    return StartupError(f"{node.name} did not reach: {'; '.join(pending)}; last lines of {log}:\n    {last}",
                        "check the clustering domain, member ports and hosts entries of the plan",
                        remedy=Remedy(READ_NODE_LOG, node=node.name, server=node.server))


# --- membership as the logs show it -----------------------------------------------------------------

_JOINED = (re.compile(r"Application member Host:(?P<host>[\d.:a-fA-F]+),.*?Port: (?P<port>\d+),.*joined application cluster"),
           re.compile(r"Received JOIN message from (?P<host>[\d.:a-fA-F]+):(?P<port>\d+)\("))
_LEFT = re.compile(r"(?:Application member Host:(?P<host>[\d.:a-fA-F]+),.*?Port: (?P<port>\d+),.*left cluster"
                   r"|Member (?P<host2>[\d.:a-fA-F]+):(?P<port2>\d+)\(.*?\) left cluster)")


def read_all(follower: LogFollower, only: LineFilter | None = None) -> Iterator[LogLine]:
    """Every line written so far (``only``: the lines it keeps; see ``LogFollower.poll``)."""
    while True:
        lines = follower.poll(only=only)
        if not lines:
            return
        yield from lines


def membership_checks(layout: Layout, server_name: str, launch_offsets: dict[str, dict[str, int]]) -> list[CheckOutcome]:
    """What the ELB's and the manager's logs on this server say about the cluster since they
    were started: every member joined, and none has left since."""
    outcomes: list[CheckOutcome] = []
    observers = [node for node in layout.server(server_name).nodes if node.role in ("elb", "manager")]
    if not observers:
        return outcomes
    watch = MilestoneWatch()
    for observer in observers:
        watch.add_node(observer.name, milestones=(), values=node_values(layout, observer))
    cross = cross_node_expectations(cluster_values(layout))
    watch.add_cross_node(cross, started_at=0.0)
    left: dict[tuple[str, int], str] = {}
    for observer in observers:
        # The lines that can matter: the watch's (cross-node milestones, failures) and the joins
        # and departures below; a long-running observer's log is mostly neither.
        only = LineFilter.combine([watch.line_filter(observer.name).literals,
                                   *(required_literals(pattern) for pattern in (*_JOINED, _LEFT))])
        follower = LogFollower(observer.home / CARBON_LOG, start_offset=launch_offsets.get(observer.name, {}).get(CARBON_LOG, 0))
        with follower:
            for line in read_all(follower, only):
                watch.feed(observer.name, line)
                # In log order: a member that left and joined again (a restart) is back.
                for pattern in _JOINED:
                    joined = pattern.search(line.text)
                    if joined:
                        left.pop((joined.group("host"), int(joined.group("port"))), None)
                found = _LEFT.search(line.text)
                if found:
                    host = found.group("host") or found.group("host2")
                    port = int(found.group("port") or found.group("port2"))
                    left[(host, port)] = observer.name
    result = watch.status()
    members = {(node.address, node.member_port): node.name for node in layout.nodes}
    by_name = {node.name: node for node in layout.nodes}
    for status in result.milestones:
        subject = by_name.get(status.milestone.subject or "")
        joined = status.state is MilestoneState.REACHED
        gone = subject is not None and (subject.address, subject.member_port) in left
        elsewhere = subject is not None and subject.server != server_name
        name = subject.name if subject else status.milestone.subject
        label = f"membership {status.milestone.id}"
        if joined and not gone:
            outcomes.append(CheckOutcome(label, True, f"{status.node}'s log: {status.milestone.label}: seen"))
            continue
        if elsewhere and not gone:
            # Its server may simply not be started yet: pending, neither passed nor failed; that
            # server's own verify proves its nodes, and this check turns red if they join and leave.
            outcomes.append(CheckOutcome.waiting(
                label, f"{status.node}'s log: {status.milestone.label}: not seen yet (start it on {subject.server})",
                f"start {name} on {subject.server}, then run verify again"))
            continue
        detail = "seen, but it left the cluster since" if gone else "not seen"
        outcomes.append(CheckOutcome(label, False, f"{status.node}'s log: {status.milestone.label}: {detail}",
                                     f"look at {name}'s log and run verify on its server",
                                     remedy=Remedy(READ_NODE_LOG, node=name or "", server=subject.server if subject else "")))
    for (host, port), observer in left.items():
        name = members.get((host, port), f"{host}:{port}")
        if not any(f"{name} " in f"{outcome.detail} " or name in outcome.name for outcome in outcomes if not outcome.ok):
            node = next((each for each in layout.nodes if each.name == name), None)
            outcomes.append(CheckOutcome(f"membership {name}", False, f"{observer}'s log: {name} left the cluster",
                                         "start it again",
                                         remedy=Remedy(START_NODE, node=name, server=node.server if node else "")))
    return outcomes


def log_path(node: NodeLayout) -> Path:
    return node.home / CARBON_LOG
