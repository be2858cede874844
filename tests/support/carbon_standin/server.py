"""The stand-in's main: start like a Carbon server, run until SIGTERM, stop like one.

Start-up order follows Carbon 4.0/4.1: configuration, the datasources (registry and user manager),
clustering (which blocks until the node has joined, as Tribes' WKA join does), on an ESB node the
Synapse configuration (the proxies already deployed), the transports, then the start-up summary;
after it the deployment scheduler runs (hot deployment and deployment synchronization,
:mod:`.deployment`). Any failure is logged as Carbon logs it and ends the process with
exit status 1; SIGTERM (or SIGINT) at any point shuts the node down and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tests.support.carbon_standin.config import (
    SERVLET_HTTP_PORT,
    SERVLET_HTTPS_PORT,
    Axis2Config,
    CarbonConfig,
    HostResolver,
    LoadBalancedDomain,
    loadbalancer_conf_path,
    read_axis2_xml,
    read_carbon_xml,
    read_loadbalancer_conf,
    read_master_datasources,
    read_registry_xml,
)
from tests.support.carbon_standin.database import DatasourceChecker
from tests.support.carbon_standin.deployment import (
    PROXY_SERVICES_DIR,
    DeploymentScheduler,
    HotDeployer,
    ProxyServices,
)
from tests.support.carbon_standin.depsync import build_synchronizer
from tests.support.carbon_standin.errors import StartupFailure
from tests.support.carbon_standin.logs import CarbonLog
from tests.support.carbon_standin.membership import (
    ClusteringAgent,
    ClusterJoinAborted,
    MemberInfo,
    local_member_address,
)
from tests.support.carbon_standin.transports import (
    CarbonHttpServer,
    Listener,
    LoadBalancerRouter,
    NodeContext,
    start_listeners,
    stop_listeners,
)

PID_FILE = "wso2carbon.pid"
DEFAULT_PASSTHROUGH_HTTP_PORT = 8280
DEFAULT_PASSTHROUGH_HTTPS_PORT = 8243

CORE_ACTIVATOR = "org.wso2.carbon.core.internal.CarbonCoreActivator"
SERVER_MANAGER = "org.wso2.carbon.core.init.CarbonServerManager"
STARTUP_FINALIZER = "org.wso2.carbon.core.internal.StartupFinalizerServiceComponent"
CARBON_UI = "org.wso2.carbon.ui.internal.CarbonUIServiceComponent"

_PROCESS_STARTED = time.monotonic()


@dataclass(frozen=True)
class Arguments:
    carbon_home: Path
    system_properties: dict[str, str] = field(default_factory=dict)
    other: tuple[str, ...] = ()

    def flag(self, name: str) -> bool:
        """``-Dname`` or ``-Dname=true``."""
        value = self.system_properties.get(name)
        return value is not None and value.strip().lower() in ("", "true")


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """``--carbon-home HOME`` plus the JVM-style ``-Dname[=value]`` options the start script passes."""
    home: Path | None = None
    properties: dict[str, str] = {}
    other: list[str] = []
    items = iter(argv)
    for item in items:
        if item == "--carbon-home":
            home = Path(next(items, ""))
        elif item.startswith("--carbon-home="):
            home = Path(item.split("=", 1)[1])
        elif item.startswith("-D") and len(item) > 2:
            name, _, value = item[2:].partition("=")
            properties[name] = value
        else:
            other.append(item)  # e.g. start/stop/version, which the real script handles itself
    if home is None:
        home = Path(os.environ.get("CARBON_HOME") or os.getcwd())
    return Arguments(home.resolve(), properties, tuple(other))


class CarbonStandin:
    """One node: everything it started, so that it can stop it again."""

    def __init__(self, arguments: Arguments, log: CarbonLog) -> None:
        self.arguments = arguments
        self.home = arguments.carbon_home
        self.node_name = self.home.name
        self.log = log
        self.stopping = threading.Event()
        self.resolver = HostResolver.from_environment()
        self.carbon: CarbonConfig | None = None
        self.agent: ClusteringAgent | None = None
        self.servers: list[CarbonHttpServer] = []
        self.scheduler: DeploymentScheduler | None = None

    @property
    def is_load_balancer(self) -> bool:
        return self.arguments.flag("wso2.loadbalancer") or loadbalancer_conf_path(
            self.home, self.arguments.system_properties).exists()

    @property
    def is_worker_node(self) -> bool:
        return self.arguments.system_properties.get("workerNode", "").strip().lower() == "true"

    def start(self) -> None:
        """Start the node; raises :class:`StartupFailure` or :class:`ClusterJoinAborted`."""
        carbon = self.carbon = read_carbon_xml(self.home, self.arguments.system_properties)
        self.log.server_key = carbon.server_key  # the [%S] of wso2carbon.log's lines
        self.log.info(CORE_ACTIVATOR, "Starting WSO2 Carbon...")
        axis2 = read_axis2_xml(self.home)
        if self.is_worker_node:
            self.log.info(SERVER_MANAGER, "Starting as a worker node (-DworkerNode=true): this node is read-only "
                                          "and refuses deployment changes")
        clustering = axis2.clustering
        if clustering is not None:
            host, host_configured = local_member_address(clustering, self.resolver)
        else:
            host, host_configured = "127.0.0.1", False
        load_balanced: tuple[LoadBalancedDomain, ...] = ()
        services: ProxyServices | None = None
        if self.is_load_balancer:
            load_balanced = read_loadbalancer_conf(loadbalancer_conf_path(self.home, self.arguments.system_properties))
        else:
            datasources = read_master_datasources(self.home)
            if datasources:
                DatasourceChecker(self.home, log=self.log, resolver=self.resolver, bind_address=host,
                                  setup=self.arguments.flag("setup")).check_all(datasources)
            services = ProxyServices()
            synchronizer = build_synchronizer(
                self.home, carbon.deployment_synchronizer, registry=read_registry_xml(self.home),
                datasources=datasources or (), resolver=self.resolver, bind_address=host, log=self.log)
            self.scheduler = DeploymentScheduler(HotDeployer(self.home / PROXY_SERVICES_DIR, services, self.log),
                                                 synchronizer, worker_node=self.is_worker_node, log=self.log,
                                                 stopping=self.stopping)
        http_port, https_port = self._transport_ports(axis2, carbon)
        if clustering is not None and clustering.enabled:
            local = MemberInfo(node=self.node_name, host=host, port=clustering.local_member_port,
                               domain=clustering.domain, sub_domain=clustering.sub_domain,
                               http_port=http_port, https_port=https_port, properties=clustering.properties)
            managed = tuple(dict.fromkeys((entry.domain, entry.sub_domain) for entry in load_balanced))
            self.agent = ClusteringAgent(clustering, local, log=self.log, resolver=self.resolver,
                                         stopping=self.stopping, managed_groups=managed,
                                         local_host_configured=host_configured)
            if self.scheduler is not None:
                # Messages may come in while the node is still joining: the scheduler keeps them.
                self.agent.on_cluster_message = self.scheduler.on_cluster_message
                self.scheduler.send_cluster_message = self.agent.send_cluster_message
            self.agent.start()
        if self.stopping.is_set():
            raise ClusterJoinAborted()
        if self.scheduler is not None:
            self.scheduler.deployer.load_at_startup()
        context = NodeContext(node_name=self.node_name, product=carbon.name, host=host,
                              worker_node=self.is_worker_node, log=self.log, services=services)
        if self.is_load_balancer:
            context.router = LoadBalancerRouter(load_balanced, self.agent)
        self.servers = start_listeners(context, self._listeners(http_port, https_port, carbon.offset))
        self._log_started(carbon, host)
        if self.scheduler is not None:
            self.scheduler.start()

    def _transport_ports(self, axis2: Axis2Config, carbon: CarbonConfig) -> tuple[int, int]:
        """The pass-through ports with the offset: what the node listens on and advertises."""
        http_port = DEFAULT_PASSTHROUGH_HTTP_PORT if axis2.http_port is None else axis2.http_port
        https_port = DEFAULT_PASSTHROUGH_HTTPS_PORT if axis2.https_port is None else axis2.https_port
        return http_port + carbon.offset, https_port + carbon.offset

    def _listeners(self, http_port: int, https_port: int, offset: int) -> list[Listener]:
        routed = self.is_load_balancer
        return [
            Listener(http_port, "Pass-through HTTP", secure=False, servlet=False, routed=routed),
            Listener(https_port, "Pass-through HTTPS", secure=True, servlet=False, routed=routed),
            Listener(SERVLET_HTTP_PORT + offset, "servlet HTTP", secure=False, servlet=True),
            Listener(SERVLET_HTTPS_PORT + offset, "servlet HTTPS", secure=True, servlet=True),
        ]

    def _log_started(self, carbon: CarbonConfig, host: str) -> None:
        console_host = carbon.mgt_host_name or carbon.host_name or host
        seconds = int(time.monotonic() - _PROCESS_STARTED)
        self.log.info(STARTUP_FINALIZER, f"Server           :  {carbon.product}")
        self.log.info(SERVER_MANAGER, f"Repository       : {self.home}/repository/deployment/server/")
        self.log.info(CARBON_UI, f"Mgt Console URL  : https://{console_host}:{SERVLET_HTTPS_PORT + carbon.offset}/carbon/")
        self.log.info(STARTUP_FINALIZER, f"WSO2 Carbon started in {seconds} sec")

    def wait(self) -> None:
        # Short waits, so that the signal handler runs promptly in this (the main) thread.
        while not self.stopping.wait(0.2):
            pass

    def shutdown(self) -> None:
        name = self.carbon.name if self.carbon is not None else "WSO2 Carbon"
        self.log.info(SERVER_MANAGER, "Shutdown hook triggered....")
        self.log.info(SERVER_MANAGER, f"Gracefully shutting down {name}...")
        self.release()
        self.log.info(SERVER_MANAGER, "Shutdown complete")
        self.log.info(SERVER_MANAGER, "Halting JVM")

    def release(self, *, announce: bool = True) -> None:
        """Close every socket the node holds (``announce``: log it, as a shutdown does)."""
        self.stopping.set()
        if self.scheduler is not None:
            self.scheduler.join(timeout=5)  # a deployment or commit under way finishes first
        stop_listeners(self.servers)
        self.servers = []
        if self.agent is not None:
            self.agent.stop(announce=announce)
            self.agent = None


def write_pid_file(home: Path) -> None:
    # org.wso2.carbon.server.Main writes the JVM's pid here; the script exec()s us, so it is ours.
    try:
        (home / PID_FILE).write_text(f"{os.getpid()}\n")
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    write_pid_file(arguments.carbon_home)
    log = CarbonLog(arguments.carbon_home)
    node = CarbonStandin(arguments, log)

    def on_signal(number: int, frame: FrameType | None) -> None:
        node.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        node.start()
    except ClusterJoinAborted:
        pass  # stopped while joining: shut down as usual
    except StartupFailure as failure:
        log.error(failure.logger, failure.message, failure.exception)
        node.release(announce=False)
        log.close()
        return 1
    except Exception as error:  # a bug of the stand-in: still say it the way Carbon would
        lines = [f"{type(error).__name__}: {error}"] + [
            f"\tat {line.strip()}" for line in traceback.format_tb(error.__traceback__) if line.strip()]
        log.error(SERVER_MANAGER, "Exception occurred while starting the server", lines)
        node.release(announce=False)
        log.close()
        return 1
    node.wait()
    node.shutdown()
    log.close()
    return 0
