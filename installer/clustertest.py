"""The guide's "Testing the cluster", done for real: a probe proxy deployed on the manager, shared
with the workers by deployment synchronisation, and requests through the ELB that each worker
logs.

On the manager's server (:func:`run_cluster_test`):

1. a probe proxy (a name and token new for each run) is written atomically into the manager's
   ``synapse-configs/default/proxy-services``;
2. the manager's log must show it deployed, then a ``SynchronizeRepositoryRequest`` sent (its
   deployment synchroniser committed it); each worker on this server must log the request
   received and the probe deployed;
3. requests go through the ELB with the worker host name to ``/services/<probe>``; the probe
   logs its token, the request's number and the ``Host`` it came with (LogMediator), and sends the
   message back (Synapse's echo: ``RESPONSE`` true, ``To`` removed, ``<send/>``), so an answer
   holding the request proves a node with the probe took it; the workers' logs say which;
4. the probe is removed (always, pass or fail) and must be undeployed where it was deployed.

On a server without the manager (:func:`read_cluster_test`), each worker's log since its first
start is read for the latest probe: deployed, requests logged, undeployed.

Nothing here depends on the stand-in: the lines looked for are the ones Carbon 4.1 and Synapse
print (``ProxyService named 'X' has been deployed from file : ...``, ``Sent|Received
[SynchronizeRepositoryRequest...``, LogMediator's ``NAME = value, ...``). Each failure names the
setting most likely at fault, read from the node's own carbon.xml when it is there to read.
"""

from __future__ import annotations

import http.client
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from installer.atomic import atomic_write_bytes, fsync_dir
from installer.errors import (
    READ_NODE_LOG,
    REWRITE_CHANGED_FILES,
    RUN_CLUSTER_TEST,
    START_NODE,
    ConfigFileError,
    Remedy,
)
from installer.files.carbon import read_carbon
from installer.logwatch import LogFollower
from installer.plan.derive import Layout, NodeLayout
from installer.processes import CARBON_LOG
from installer.verify import CheckOutcome

PROBE_PREFIX = "wso2ClusterProbe"
PROXY_SERVICES = "repository/deployment/server/synapse-configs/default/proxy-services"
CARBON_XML = "repository/conf/carbon.xml"
PROBE_NAMESPACE = "urn:wso2-cluster-installer:probe"
# What the probe's log mediator prints, and how it is read back.
TOKEN_PROPERTY, REQUEST_PROPERTY, HOST_PROPERTY = "CLUSTER_PROBE", "PROBE_REQUEST", "PROBE_HOST"

_DEPLOYED = re.compile(r"ProxyService named '(?P<name>[^']+)' has been (?:deployed|updated) from file")
_UNDEPLOYED = re.compile(r"ProxyService named '?(?P<name>[\w.-]+)'? has been [Uu]ndeployed")
_SENT = "Sent [SynchronizeRepositoryRequest"
_RECEIVED = "Received [SynchronizeRepositoryRequest"
_HIT = re.compile(rf"{TOKEN_PROPERTY} = (?P<token>[0-9a-f]+), {REQUEST_PROPERTY} = (?P<request>\d+)"
                  rf"(?:, {HOST_PROPERTY} = (?P<host>\S*))?")
_PROBE_NAME = re.compile(rf"\b{PROBE_PREFIX}(?P<token>[0-9a-f]{{12}})\b")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for each phase. Carbon's deployment scheduler runs every 15 s; a worker
    checks out on the next run after the manager's message, and deploys on the one after."""

    deploy: float = 90.0
    sync: float = 120.0
    requests: float = 60.0
    undeploy: float = 120.0


def probe_name(token: str) -> str:
    return f"{PROBE_PREFIX}{token}"


def probe_proxy(name: str, token: str) -> bytes:
    """The probe: logs the token, the request's number and Host, and echoes the message back."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by wso2-cluster-installer's cluster test; removed when the test ends. -->
<proxy xmlns="http://ws.apache.org/ns/synapse" name="{name}" transports="http https" startOnLoad="true">
    <target>
        <inSequence>
            <log level="custom">
                <property name="{TOKEN_PROPERTY}" value="{token}"/>
                <property name="{REQUEST_PROPERTY}" expression="$body/*[local-name()='probe']/*[local-name()='request']"/>
                <property name="{HOST_PROPERTY}" expression="get-property('transport', 'Host')"/>
            </log>
            <header name="To" action="remove"/>
            <property name="RESPONSE" value="true"/>
            <property name="NO_ENTITY_BODY" scope="axis2" action="remove"/>
            <send/>
        </inSequence>
    </target>
</proxy>
""".encode()


def probe_message(token: str, request: int) -> bytes:
    return (f'<probe xmlns="{PROBE_NAMESPACE}"><token>{token}</token><request>{request}</request></probe>').encode()


# --- what a node's log says ---------------------------------------------------------------------------


@dataclass
class ProbeEvidence:
    """What one node's wso2carbon.log says about probes, read forward from an offset."""

    node: NodeLayout
    deployed: list[str] = field(default_factory=list)  # probe names, in log order
    undeployed: list[str] = field(default_factory=list)
    sent: int = 0  # SynchronizeRepositoryRequest sent (a manager's commit)
    received: int = 0  # ... received (a worker told to check out)
    hits: dict[str, dict[int, str]] = field(default_factory=dict)  # token -> request number -> Host
    strays: dict[str, int] = field(default_factory=dict)  # token -> requests for a probe not deployed here
    tokens: list[str] = field(default_factory=list)  # every probe token seen, in log order

    def feed(self, text: str) -> None:
        if PROBE_PREFIX in text or TOKEN_PROPERTY in text:
            self._feed_probe(text)
        elif _SENT in text:
            self.sent += 1
        elif _RECEIVED in text:
            self.received += 1

    def _feed_probe(self, text: str) -> None:
        hit = _HIT.search(text)
        if hit:
            token = hit.group("token")
            self.hits.setdefault(token, {})[int(hit.group("request"))] = hit.group("host") or ""
            self._saw(token)
            return
        deployed = _DEPLOYED.search(text)
        if deployed and deployed.group("name").startswith(PROBE_PREFIX):
            self.deployed.append(deployed.group("name"))
            self._saw(deployed.group("name")[len(PROBE_PREFIX):])
            return
        undeployed = _UNDEPLOYED.search(text)
        if undeployed and undeployed.group("name").startswith(PROBE_PREFIX):
            self.undeployed.append(undeployed.group("name"))
            return
        # A request for the probe's address that no probe took: the main sequence logged it.
        named = _PROBE_NAME.search(text)
        if named and "/services/" in text:
            token = named.group("token")
            self.strays[token] = self.strays.get(token, 0) + 1
            self._saw(token)

    def _saw(self, token: str) -> None:
        if not self.tokens or self.tokens[-1] != token:
            self.tokens.append(token)

    def has_deployed(self, name: str) -> bool:
        return name in self.deployed

    def has_undeployed(self, name: str) -> bool:
        return name in self.undeployed


class LogReader:
    """Feeds a node's log into its evidence from an offset, as it grows."""

    def __init__(self, node: NodeLayout, offset: int | None) -> None:
        self.evidence = ProbeEvidence(node)
        self._follower = LogFollower(node.home / CARBON_LOG, start_offset=offset)

    def read(self) -> ProbeEvidence:
        while True:
            lines = self._follower.poll()
            if not lines:
                return self.evidence
            for line in lines:
                self.evidence.feed(line.text)

    def close(self) -> None:
        self._follower.close()


# --- what a node's carbon.xml says ----------------------------------------------------------------------


def sync_setting_problem(layout: Layout, node: NodeLayout) -> str:
    """What in ``node``'s carbon.xml keeps deployment synchronisation from working for its role,
    or "" when it is set as the plan wants (or cannot be read: then the log is all there is)."""
    try:
        values = read_carbon((node.home / CARBON_XML).read_bytes()).deployment_sync
    except (OSError, ConfigFileError):
        return ""
    where = f"{node.name}'s carbon.xml"
    if values is None:
        return f"{where} has no <DeploymentSynchronizer>: deployment synchronisation is off"
    if (values.enabled or "").lower() != "true":
        return f"{where} has <DeploymentSynchronizer><Enabled>{values.enabled}</Enabled>: deployment synchronisation is off"
    if (values.auto_checkout or "").lower() != "true":
        return f"{where} has <AutoCheckout>{values.auto_checkout}</AutoCheckout>: it never checks out what the manager shares"
    if node.role == "manager" and (values.auto_commit or "").lower() != "true":
        return f"{where} has <AutoCommit>{values.auto_commit}</AutoCommit>: it never shares what is deployed on it"
    wanted = layout.plan.cluster.deployment_sync.repository
    if (values.repository_type or "registry").lower() != wanted:
        return f"{where} has <RepositoryType>{values.repository_type}</RepositoryType>, the plan says {wanted}"
    return ""


def _setting_outcome(name: str, detail: str, node: NodeLayout) -> CheckOutcome:
    return CheckOutcome(name, False, detail, "rewrite the changed carbon.xml with the configure step, then restart "
                        f"{node.name}", remedy=Remedy(REWRITE_CHANGED_FILES, step="configure", server=node.server))


# --- the test on the manager's server ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    request: int
    status: int
    echoed: bool
    error: str = ""


def send_probe_request(address: str, port: int, host_name: str, name: str, token: str, request: int,
                       timeout: float = 10.0) -> Answer:
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("POST", f"/services/{name}", body=probe_message(token, request),
                           headers={"Host": host_name, "Content-Type": "application/xml"})
        response = connection.getresponse()
        body = response.read(65536)
        echoed = 200 <= response.status < 300 and token.encode() in body and f"<request>{request}<".encode() in body
        return Answer(request, response.status, echoed)
    except OSError as error:
        return Answer(request, 0, False, str(error) or type(error).__name__)
    finally:
        connection.close()


def _wait(readers: Iterable[LogReader], done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    readers = list(readers)
    while True:
        for reader in readers:
            reader.read()
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def _log_size(node: NodeLayout) -> int:
    try:
        return (node.home / CARBON_LOG).stat().st_size
    except OSError:
        return 0


def run_cluster_test(layout: Layout, server_name: str, *, running: set[str], timeouts: Timeouts = Timeouts(),
                     progress: Progress = lambda text: None, token: str | None = None) -> list[CheckOutcome]:
    """The cluster test from this server, which runs the manager (see the module's docstring)."""
    manager = layout.manager
    elb = layout.elb
    if manager is None or elb is None:
        return [CheckOutcome("cluster test", False, "the plan has no manager or no ELB: nothing to test")]
    if manager.server != server_name:
        return [CheckOutcome("cluster test", False, f"{manager.name} runs on {manager.server}, not here: the probe "
                             "is deployed from there", remedy=Remedy(RUN_CLUSTER_TEST, server=manager.server))]
    if manager.name not in running:
        return [CheckOutcome("cluster test", False, f"{manager.name} is not running: the probe cannot be deployed",
                             f"start {manager.name} first", remedy=Remedy(START_NODE, node=manager.name, server=server_name))]
    token = token or secrets.token_hex(6)
    name = probe_name(token)
    workers = list(layout.nodes_with_role("worker"))
    local_workers = [node for node in workers if node.server == server_name and node.name in running]
    readers = {node.name: LogReader(node, _log_size(node)) for node in (manager, *local_workers)}
    probe_file = manager.home / PROXY_SERVICES / f"{name}.xml"
    outcomes: list[CheckOutcome] = []
    try:
        atomic_write_bytes(probe_file, probe_proxy(name, token))
        progress(f"probe {name} written to {probe_file}; waiting for {manager.name} to deploy it")
        outcomes += _manager_shares(layout, manager, readers[manager.name], name, timeouts, progress)
        if all(outcome.ok for outcome in outcomes):
            outcomes += _workers_receive(layout, local_workers, readers, name, timeouts, progress)
            outcomes += _requests(layout, workers, local_workers, readers, manager, name, token, timeouts, progress)
    finally:
        outcomes.append(_remove_probe(probe_file, name, readers, timeouts, progress))
        for reader in readers.values():
            reader.close()
    return outcomes


def _manager_shares(layout: Layout, manager: NodeLayout, reader: LogReader, name: str, timeouts: Timeouts,
                    progress: Progress) -> list[CheckOutcome]:
    evidence = reader.evidence
    if not _wait([reader], lambda: evidence.has_deployed(name), timeouts.deploy):
        return [CheckOutcome(f"cluster test: {manager.name} deploys the probe", False,
                             f"{manager.name}'s log shows no 'ProxyService named '{name}' has been deployed' within "
                             f"{timeouts.deploy:.0f} s", f"look at {manager.home / CARBON_LOG} for the deployment error",
                             remedy=Remedy(READ_NODE_LOG, node=manager.name, server=manager.server))]
    deployed = CheckOutcome(f"cluster test: {manager.name} deploys the probe", True,
                            f"{manager.name} deployed {name} (hot deployment)")
    progress(f"{manager.name} deployed the probe; waiting for it to share it (deployment synchronisation)")
    problem = sync_setting_problem(layout, manager)
    if problem:
        return [deployed, _setting_outcome(f"cluster test: {manager.name} shares the probe", problem, manager)]
    # Read from just before the probe was written: any request sent since is the commit of it.
    if not _wait([reader], lambda: evidence.sent > 0, timeouts.sync):
        return [deployed, CheckOutcome(
            f"cluster test: {manager.name} shares the probe", False,
            f"{manager.name} sent no SynchronizeRepositoryRequest within {timeouts.sync:.0f} s: its deployment "
            "synchroniser did not commit the probe",
            f"look at {manager.home / CARBON_LOG} for 'Deployment synchronization commit ... failed' (the "
            f"{layout.plan.database.registry_db} mount at /_system/config in registry.xml, or the svn repository)")]
    return [deployed, CheckOutcome(f"cluster test: {manager.name} shares the probe", True,
                                   f"{manager.name} committed it and told the cluster (SynchronizeRepositoryRequest)")]


def _workers_receive(layout: Layout, local_workers: list[NodeLayout], readers: dict[str, LogReader], name: str,
                     timeouts: Timeouts, progress: Progress) -> list[CheckOutcome]:
    if not local_workers:
        return []
    progress("waiting for " + ", ".join(node.name for node in local_workers) + " to check the probe out and deploy it")
    broken = {node.name: sync_setting_problem(layout, node) for node in local_workers}
    waiting = [node for node in local_workers if not broken[node.name]]
    _wait([readers[node.name] for node in waiting],
          lambda: all(readers[node.name].evidence.has_deployed(name) for node in waiting), timeouts.sync)
    outcomes = []
    for node in local_workers:
        label = f"cluster test: {node.name} receives the probe"
        evidence = readers[node.name].read()
        if evidence.has_deployed(name):
            outcomes.append(CheckOutcome(label, True, f"{node.name} checked {name} out and deployed it"))
        elif broken[node.name]:
            outcomes.append(_setting_outcome(label, broken[node.name], node))
        elif evidence.received:
            outcomes.append(CheckOutcome(
                label, False, f"{node.name} received the SynchronizeRepositoryRequest but did not deploy {name} "
                              f"within {timeouts.sync:.0f} s", f"look at {node.home / CARBON_LOG} for 'Deployment "
                              "synchronization update ... failed' (the registry mount or the svn repository)"))
        else:
            outcomes.append(CheckOutcome(
                label, False, f"{node.name} neither received the SynchronizeRepositoryRequest nor deployed {name} "
                              f"within {timeouts.sync:.0f} s: it is not in the manager's cluster",
                "check its clustering domain and well-known members in axis2.xml (the manager must be one)"))
    return outcomes


def _requests(layout: Layout, workers: list[NodeLayout], local_workers: list[NodeLayout],
              readers: dict[str, LogReader], manager: NodeLayout, name: str, token: str, timeouts: Timeouts,
              progress: Progress) -> list[CheckOutcome]:
    plan = layout.plan
    elb = layout.elb
    assert elb is not None
    host_name = plan.cluster.hostnames.worker
    count = max(4, 3 * len(workers))
    deadline = time.monotonic() + timeouts.requests
    first = 1
    # Workers on other servers may still be checking the probe out: send rounds until every
    # request of one is answered by a probe, or time runs out; the last round is the one judged.
    progress(f"sending {count} requests through the ELB ({elb.address}:{plan.cluster.elb_ports.http}, "
             f"Host {host_name})")
    while True:
        answers = [send_probe_request(elb.address, plan.cluster.elb_ports.http, host_name, name, token, request)
                   for request in range(first, first + count)]
        missed = sum(1 for answer in answers if not answer.echoed)
        if not missed or time.monotonic() >= deadline:
            break
        if first == 1:
            progress(f"{missed} of {count} not answered by the probe yet (a worker may still be deploying it): "
                     f"sending them again until {timeouts.requests:.0f} s have passed")
        first += count
        time.sleep(1.0)
    numbers = {answer.request for answer in answers}
    # LogMediator's line is written before the answer goes back: give the logs a moment to show it.
    _wait(readers.values(), lambda: numbers <= _logged(readers, token), 5.0)
    by_node = {node_name: sorted(numbers & set(reader.evidence.hits.get(token, {})))
               for node_name, reader in readers.items()}
    outcomes = []
    unanswered = [answer for answer in answers if not answer.echoed]
    if unanswered:
        outcomes.append(CheckOutcome(f"cluster test: requests to {host_name}", False,
                                     _unanswered_detail(unanswered, len(answers), elb),
                                     _unanswered_hint(unanswered, workers, local_workers, layout)))
    else:
        outcomes.append(CheckOutcome(f"cluster test: requests to {host_name}", True,
                                     f"{len(answers)} of {len(answers)} requests through the ELB answered by the probe"))
    if by_node.get(manager.name):
        outcomes.append(CheckOutcome(
            f"cluster test: requests to {host_name} stay off {manager.name}", False,
            f"{manager.name} logged requests {_numbers(by_node[manager.name])} sent to {host_name}",
            "the ELB sends worker traffic to the manager: check the manager's subDomain (mgt) in axis2.xml and the "
            "worker/mgt host names in the ELB's loadbalancer.conf"))
    for node in local_workers:
        hits = by_node.get(node.name, [])
        outcomes.append(CheckOutcome(
            f"cluster test: {node.name} hits", bool(hits),
            f"{node.name} logged {len(hits)} of the {len(answers)} requests ({_numbers(hits)})" if hits else
            f"{node.name} logged none of the {len(answers)} requests",
            "" if hits else f"the ELB does not send to {node.name}: check its subDomain (worker) and domain in "
                            "axis2.xml, and that it joined (membership checks)"))
    attributed = {number for hits in by_node.values() for number in hits}
    elsewhere = sorted(answer.request for answer in answers if answer.echoed and answer.request not in attributed)
    remote_workers = [node for node in workers if node not in local_workers]
    remote_servers = sorted({node.server for node in remote_workers})
    if remote_workers and not unanswered:
        # Their logs are on their servers: the cluster test there names each worker's hits.
        names = ", ".join(f"{node.name} on {node.server}" for node in remote_workers)
        outcomes.append(CheckOutcome(
            "cluster test: requests to other servers", bool(elsewhere),
            f"{len(elsewhere)} request(s) answered by the probe outside this server ({names}): the cluster "
            "test there shows each worker's" if elsewhere else
            f"no request reached {names}",
            "" if elsewhere else "the ELB does not send to the workers on " + ", ".join(remote_servers)
            + ": see the membership checks there",
            remedy=Remedy(RUN_CLUSTER_TEST, server=remote_servers[0]) if elsewhere and len(remote_servers) == 1
            else None))
    reached = sum(1 for node in local_workers if by_node.get(node.name)) + (1 if elsewhere else 0)
    # With workers elsewhere and none here to count, the test on their servers proves each one.
    if len(workers) > 1 and not (reached == 1 and elsewhere and not local_workers) and not unanswered:
        outcomes.append(CheckOutcome(
            "cluster test: more than one worker", reached > 1,
            f"requests reached {reached} or more workers" if reached > 1 else
            f"every request went to one worker of {len(workers)}",
            "" if reached > 1 else "the others have not joined the ELB's worker group: see the membership checks"))
    return outcomes


def _logged(readers: dict[str, LogReader], token: str) -> set[int]:
    return {number for reader in readers.values() for number in reader.evidence.hits.get(token, {})}


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(f"#{number}" for number in numbers[:8])
    return shown + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")


def _unanswered_detail(unanswered: list[Answer], total: int, elb: NodeLayout) -> str:
    first = unanswered[0]
    if first.status == 0:
        why = f"no answer from the ELB at {elb.address} ({first.error})"
    elif first.status >= 500:
        why = f"the ELB answered {first.status}: no worker took the request"
    else:
        why = f"answered {first.status} without the probe's echo: a node without the probe took it"
    return f"{len(unanswered)} of {total} requests not answered by the probe; {why}"


def _unanswered_hint(unanswered: list[Answer], workers: list[NodeLayout], local_workers: list[NodeLayout],
                     layout: Layout) -> str:
    if any(answer.status >= 500 for answer in unanswered):
        return ("no worker joined the ELB's worker group: check the workers' subDomain (worker) and domain in "
                "axis2.xml and the worker host name in loadbalancer.conf")
    remote = sorted({node.server for node in workers if node not in local_workers})
    if remote:
        return ("a worker without the probe answered; run the cluster test on " + ", ".join(remote)
                + ": it names the worker and its deployment synchronisation setting")
    return "a worker without the probe answered: see each worker's 'receives the probe' check"


def _remove_probe(probe_file: Path, name: str, readers: dict[str, LogReader], timeouts: Timeouts,
                  progress: Progress) -> CheckOutcome:
    try:
        probe_file.unlink()
        fsync_dir(probe_file.parent)
    except FileNotFoundError:
        pass
    except OSError as error:
        return CheckOutcome("cluster test: probe removed", False, f"cannot remove {probe_file}: {error.strerror}",
                            f"remove {probe_file} by hand")
    deployed_on = [reader for reader in readers.values() if reader.evidence.has_deployed(name)]
    if not deployed_on:
        return CheckOutcome("cluster test: probe removed", True, f"{probe_file.name} removed (it was never deployed)")
    progress("probe removed; waiting for " + ", ".join(reader.evidence.node.name for reader in deployed_on)
             + " to undeploy it")
    _wait(deployed_on, lambda: all(reader.evidence.has_undeployed(name) for reader in deployed_on), timeouts.undeploy)
    still = [reader.evidence.node.name for reader in deployed_on if not reader.evidence.has_undeployed(name)]
    if still:
        return CheckOutcome("cluster test: probe removed", False,
                            f"{probe_file.name} removed, but {', '.join(still)} did not undeploy {name} within "
                            f"{timeouts.undeploy:.0f} s", "its deployment synchroniser did not check out the removal: "
                            "see that node's log, and remove the proxy from its proxy-services folder by hand")
    return CheckOutcome("cluster test: probe removed", True,
                        f"{name} undeployed from {', '.join(reader.evidence.node.name for reader in deployed_on)}")


# --- the test on a server without the manager --------------------------------------------------------


def read_cluster_test(layout: Layout, server_name: str, launch_offsets: dict[str, dict[str, int]] | None = None,
                      running: set[str] | None = None) -> list[CheckOutcome]:
    """Each worker of this server, from its own log since its first start: did the latest probe
    reach it (deployed, requests logged, undeployed)?"""
    manager = layout.manager
    manager_server = manager.server if manager else "the manager's server"
    offsets = launch_offsets or {}
    outcomes = []
    for node in layout.server(server_name).nodes:
        if node.role != "worker":
            continue
        label = f"cluster test: {node.name}"
        if running is not None and node.name not in running:
            outcomes.append(CheckOutcome(label, False, f"{node.name} is not running",
                                         remedy=Remedy(START_NODE, node=node.name, server=server_name)))
            continue
        problem = sync_setting_problem(layout, node)
        if problem:
            outcomes.append(_setting_outcome(label, problem, node))
            continue
        reader = LogReader(node, offsets.get(node.name, {}).get(CARBON_LOG, 0))
        try:
            evidence = reader.read()
        finally:
            reader.close()
        outcomes.append(_worker_verdict(node, evidence, manager_server))
    return outcomes


def _worker_verdict(node: NodeLayout, evidence: ProbeEvidence, manager_server: str) -> CheckOutcome:
    label = f"cluster test: {node.name}"
    if not evidence.tokens:
        return CheckOutcome.waiting(label, f"no cluster test in {node.name}'s log yet",
                                    f"run the cluster test on {manager_server} first, then here again",
                                    remedy=Remedy(RUN_CLUSTER_TEST, server=manager_server))
    token = evidence.tokens[-1]
    name = probe_name(token)
    hits = sorted(evidence.hits.get(token, {}))
    if not evidence.has_deployed(name):
        strays = evidence.strays.get(token, 0)
        detail = (f"{node.name} got {strays} request(s) for {name} but never deployed it" if strays else
                  f"{node.name} never deployed the latest probe ({name})")
        return CheckOutcome(label, False, detail + ": it did not check out what the manager shared",
                            f"look at {node.home / CARBON_LOG} for 'Deployment synchronization update ... failed', "
                            "and at its clustering (the manager must be a well-known member)")
    if not hits:
        return CheckOutcome(label, False, f"{node.name} deployed {name} but logged none of its requests",
                            f"the ELB does not send to {node.name}: check its subDomain (worker) and domain in axis2.xml")
    if not evidence.has_undeployed(name):
        return CheckOutcome(label, False, f"{node.name} deployed {name} and logged {len(hits)} request(s) "
                                          f"({_numbers(hits)}), but has not undeployed it",
                            "its deployment synchroniser did not check out the removal; remove the proxy from "
                            f"{node.home / PROXY_SERVICES} by hand if it stays")
    return CheckOutcome(label, True, f"{node.name} deployed {name}, logged {len(hits)} request(s) ({_numbers(hits)}) "
                                     "and undeployed it")


def cluster_test_outcomes(layout: Layout, server_name: str, *, running: set[str],
                          launch_offsets: dict[str, dict[str, int]], timeouts: Timeouts = Timeouts(),
                          progress: Progress = lambda text: None) -> list[CheckOutcome]:
    """The cluster test as this server can run it: the whole test on the manager's server, its
    workers' logs elsewhere."""
    manager = layout.manager
    if manager is not None and manager.server == server_name:
        return run_cluster_test(layout, server_name, running=running, timeouts=timeouts, progress=progress)
    return read_cluster_test(layout, server_name, launch_offsets, running)
