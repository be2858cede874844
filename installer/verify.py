"""Verification: is the cluster on this server running, listening, joined, routed and reachable?

Each check says what it looked at, whether it holds, and what to do when it does not. A check
has three outcomes: passed, failed, or pending (it cannot be decided yet, such as a member on a
server not started yet). The cluster passes only when every check passed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from installer import database
from installer.errors import GIVE_PASSWORD, RUN_STEP, START_NODE, InstallerError, Remedy
from installer.files import hosts
from installer.plan.derive import Layout, NodeLayout, ServerLayout
from installer.processes import CARBON_LOG, CONSOLE_LOG, NodeProcess, is_running

CONNECT_TIMEOUT = 3.0


PASSED, FAILED, PENDING = "passed", "failed", "pending"


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    pending: bool = False  # not decided yet: neither passed nor failed
    remedy: Remedy | None = None  # what would fix it, for each front end to word

    @classmethod
    def waiting(cls, name: str, detail: str, hint: str = "", remedy: Remedy | None = None) -> CheckOutcome:
        return cls(name, False, detail, hint, pending=True, remedy=remedy)

    @property
    def status(self) -> str:
        return PENDING if self.pending else PASSED if self.ok else FAILED


class VerificationFailed(InstallerError):
    title = "The cluster does not hold"

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        open_checks = report.failures or report.pending
        lines = "\n".join(f"  {check.name} ({check.status}): {check.detail}" for check in open_checks)
        hints = "; ".join(dict.fromkeys(check.hint for check in open_checks if check.hint))
        self.state_status = report.status  # what the state records: failed, or pending
        if not report.failures:
            self.title = "The cluster is not complete yet"
        super().__init__(f"{report.summary} on {report.server}:\n{lines}", hints)


@dataclass(frozen=True)
class VerifyReport:
    server: str
    checks: tuple[CheckOutcome, ...]

    @property
    def ok(self) -> bool:
        """Every check passed: a pending one is not a pass."""
        return all(check.status == PASSED for check in self.checks)

    @property
    def failures(self) -> tuple[CheckOutcome, ...]:
        return tuple(check for check in self.checks if check.status == FAILED)

    @property
    def pending(self) -> tuple[CheckOutcome, ...]:
        return tuple(check for check in self.checks if check.status == PENDING)

    @property
    def status(self) -> str:
        return FAILED if self.failures else PENDING if self.pending else PASSED

    @property
    def summary(self) -> str:
        passed = sum(1 for check in self.checks if check.status == PASSED)
        text = f"{passed} of {len(self.checks)} checks passed"
        if self.failures:
            text += f", {len(self.failures)} failed"
        if self.pending:
            text += f", {len(self.pending)} pending"
        return text

    def to_json(self, advice: Callable[[CheckOutcome], str] | None = None) -> str:
        """``advice`` words each check's hint and remedy for the reader (the CLI's wording)."""
        checks = []
        for check in self.checks:
            fields = {key: value for key, value in asdict(check).items() if key != "remedy"}
            checks.append({**fields, "status": check.status, "hint": advice(check) if advice else check.hint})
        return json.dumps({"server": self.server, "ok": self.ok, "status": self.status, "checks": checks}, indent=2)


def port_open(address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect((address, port))
        except OSError:
            return False
    return True


def http_get_via(address: str, port: int, host_header: str, path: str = "/") -> tuple[int, str]:
    """(status, error) of a GET sent to ``address:port`` with ``Host``."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host_header})
        response = connection.getresponse()
        response.read(65536)
        return response.status, ""
    except OSError as error:
        return 0, str(error)
    finally:
        connection.close()


def check_processes(server: ServerLayout, records: dict[str, NodeProcess | None]) -> list[CheckOutcome]:
    outcomes = []
    for node in server.nodes:
        record = records.get(node.name)
        alive = is_running(record)
        detail = f"pid {record.pid}" if record else "never started by the installer"
        outcomes.append(CheckOutcome(
            f"process {node.name}", alive, f"{node.name}: {'running' if alive else 'not running'} ({detail})",
            "" if alive else f"look at {node.home / CARBON_LOG} and {node.home / CONSOLE_LOG}",
            remedy=None if alive else Remedy(START_NODE, node=node.name, server=server.name)))
    return outcomes


def check_ports(layout: Layout, server: ServerLayout) -> list[CheckOutcome]:
    outcomes = []
    for node in server.nodes:
        closed = [f"{use.port} ({use.purpose})" for use in node.listening_ports(layout.plan)
                  if not port_open(node.address, use.port)]
        outcomes.append(CheckOutcome(
            f"ports {node.name}", not closed,
            f"{node.name}: " + (f"not listening on {', '.join(closed)}" if closed else "every expected port listens"),
            "" if not closed else f"the node did not finish starting or binds elsewhere: see {node.home / CARBON_LOG}"))
    return outcomes


def check_routing(layout: Layout, server_name: str | None = None) -> list[CheckOutcome]:
    """Requests through the ELB with the worker and mgt host names are taken by a member.
    Seen from ``server_name``: when every node that should answer runs on another server, no
    answer yet is pending (that server may not be started), not failed.

    Carbon does not say which node answered; the cluster test (``installer.clustertest``) proves
    that with a probe each worker logs."""
    elb = layout.elb
    if elb is None:
        return []
    plan = layout.plan
    workers = {node.name for node in layout.nodes_with_role("worker")}
    manager = layout.manager.name if layout.manager else None
    servers_of = {node.name: node.server for node in layout.nodes}
    outcomes = []
    for host_name, expected, what in ((plan.cluster.hostnames.worker, workers, "a worker"),
                                      (plan.cluster.hostnames.mgt, {manager} if manager else set(), "the manager")):
        status, error = http_get_via(elb.address, plan.cluster.elb_ports.http, host_name)
        elsewhere = sorted({servers_of[name] for name in expected})
        if server_name is not None and status >= 500 and expected and server_name not in elsewhere:
            outcomes.append(CheckOutcome.waiting(
                f"routing {host_name}", f"the ELB answered {status} for Host {host_name}: {what} has not joined yet",
                f"start the nodes on {', '.join(elsewhere)}, then run verify again"))
            continue
        if error or status == 0:
            ok, detail = False, f"no answer from the ELB at {elb.address}:{plan.cluster.elb_ports.http}: {error}"
        elif status >= 500:
            ok, detail = False, f"the ELB answered {status} for Host {host_name}: no member took the request"
        else:
            ok, detail = True, f"Host {host_name}: answered {status} through the ELB"
        outcomes.append(CheckOutcome(
            f"routing {host_name}", ok, detail,
            "" if ok else f"check that {what} joined the ELB (sub-domain and domain in axis2.xml, loadbalancer.conf) "
            "and that the manager's port.mapping matches the ELB ports"))
    return outcomes


def check_hosts(server: ServerLayout) -> list[CheckOutcome]:
    try:
        data = server.hosts_file.read_bytes()
    except OSError as error:
        return [CheckOutcome("host names", False, f"cannot read {server.hosts_file}: {error.strerror}", "")]
    wrong = []
    for entry in server.hosts_entries:
        resolved = hosts.resolve(data, entry.hostname)
        if resolved != entry.address:
            wrong.append(f"{entry.hostname} -> {resolved or 'nothing'} (want {entry.address})")
    return [CheckOutcome("host names", not wrong,
                         "every cluster host name resolves to the plan's address" if not wrong else "; ".join(wrong),
                         "" if not wrong else "run the hosts step",
                         remedy=Remedy(RUN_STEP, step="hosts") if wrong else None)]


def check_datasources(layout: Layout, server: ServerLayout, password: str | None) -> list[CheckOutcome]:
    names = layout.databases_used_on(server)
    db = layout.plan.database
    if not names:
        return []
    if not password:
        return [CheckOutcome("datasources", False, "not checked: the application database password was not given",
                             remedy=Remedy(GIVE_PASSWORD, secret="db_password"))]
    endpoint = database.Endpoint(db.address, db.port, bind_address=server.address)
    problems = database.check_application_access(endpoint, db.user, password, names)
    return [CheckOutcome("datasources", not problems,
                         f"{db.user} reaches {', '.join(names)}" if not problems else "; ".join(map(str, problems)),
                         "" if not problems else "run the database step on the database server, then again here")]


def run_checks(checks: Sequence[Callable[[], list[CheckOutcome]]]) -> list[CheckOutcome]:
    outcomes: list[CheckOutcome] = []
    for check in checks:
        try:
            outcomes.extend(check())
        except InstallerError as error:
            outcomes.append(CheckOutcome(getattr(check, "__name__", "check"), False, error.message, error.hint,
                                         remedy=error.remedy))
    return outcomes


def tail_lines(path: Path, count: int = 20, max_bytes: int = 65536) -> list[str]:
    """The last lines of a log, reading at most ``max_bytes`` from its end."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-count:]


def node_log(node: NodeLayout) -> Path:
    return node.home / CARBON_LOG
