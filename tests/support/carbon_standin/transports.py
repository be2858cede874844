"""The node's HTTP listeners: pass-through (8280/8243 + offset), servlet (9763/9443 + offset), and the
ELB's routing of requests by ``Host`` to the members of the cluster it fronts.

Plain HTTP on every port, the "https" ones included: what the installer checks is who answers
where, not TLS. Every response carries ``X-Carbon-Node: <node name>``; a request the node answers
itself gets 200 and a one-line body naming the node and the port.

On the ELB's transports a request whose ``Host`` (port stripped) is one of loadbalancer.conf's
``hosts`` goes, round-robin, to the joined and active members of that domain / sub-domain. The
target port is the member's ``port.mapping.<port the request came in on>`` property when it has
one, else its own HTTP (or HTTPS, for the https transport) pass-through port. The member's
response comes back as it is (its ``X-Carbon-Node`` included). No member: 503; a host name the
ELB does not front: 404; a request to an address (no host name): the ELB answers itself.

On an ESB node's pass-through ports, ``/services/<name>`` (any method) is a message for the proxy
service ``<name>``: its inSequence runs (:mod:`.synapse`), LogMediator lines go to the node's log,
and the answer is the mediation's (200 from ``<respond/>`` or the echo, else 202 with no body). A name no proxy
has goes, as in the ESB, to the default main sequence: ``<log level="full"/>``, then 202. Other
paths keep the node's own one-line answer (the installer's checks ask for ``/``).

A worker node (``-DworkerNode=true``) refuses changes through its management (servlet) ports,
as the read-only node the seed describes.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import itertools
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.carbon_standin.config import LoadBalancedDomain, is_ip_literal, is_loopback
from tests.support.carbon_standin.deployment import ProxyServices
from tests.support.carbon_standin.errors import java_exception
from tests.support.carbon_standin.logs import CarbonLog
from tests.support.carbon_standin.membership import ClusteringAgent, MemberInfo
from tests.support.carbon_standin.synapse import MAIN_SEQUENCE, MessageContext, mediate

NODE_HEADER = "X-Carbon-Node"
PROXY_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
SERVICES_PREFIX = "/services/"
# Headers that belong to one connection, not to the message (RFC 7230, section 6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection"})

_ENDPOINT_LOGGER = "org.apache.synapse.endpoints.dispatch.ServiceDynamicLoadbalanceEndpoint"


@dataclass(frozen=True)
class Listener:
    """One port a node listens on."""

    port: int
    transport: str  # "Pass-through HTTP", "Pass-through HTTPS", "servlet HTTP", "servlet HTTPS"
    secure: bool
    servlet: bool
    routed: bool = False  # an ELB transport: requests are routed by Host

    @property
    def logger(self) -> str:
        if self.servlet:
            return "org.apache.catalina.core.StandardService"
        suffix = "SSLListener" if self.secure else "Listener"
        return f"org.apache.synapse.transport.passthru.PassThroughHttp{suffix}"

    @property
    def server_header(self) -> str:
        return "WSO2 Carbon Server" if self.servlet else "WSO2-PassThrough-HTTP"


class LoadBalancerRouter:
    """Picks the members a request for a host name goes to, round-robin per group."""

    def __init__(self, domains: tuple[LoadBalancedDomain, ...], agent: ClusteringAgent | None) -> None:
        self.domains = domains
        self.agent = agent
        self._turns: dict[tuple[tuple[str, str], ...], itertools.count[int]] = {}
        self._lock = threading.Lock()

    def groups_for(self, host_name: str) -> list[LoadBalancedDomain]:
        wanted = host_name.casefold()
        return [entry for entry in self.domains if wanted in (host.casefold() for host in entry.hosts)]

    def members_in_turn(self, groups: list[LoadBalancedDomain]) -> list[MemberInfo]:
        """The active members of ``groups``, starting with the one whose turn it is."""
        members: list[MemberInfo] = []
        if self.agent is None:
            return members  # clustering is off: no member ever joins
        for group in groups:
            members += [m for m in self.agent.application_members(group.domain, group.sub_domain) if m not in members]
        if not members:
            return []
        key = tuple((group.domain, group.sub_domain) for group in groups)
        with self._lock:
            start = next(self._turns.setdefault(key, itertools.count())) % len(members)
        return members[start:] + members[:start]


@dataclass
class NodeContext:
    """What every request handler of a node needs."""

    node_name: str
    product: str
    host: str
    worker_node: bool
    log: CarbonLog
    router: LoadBalancerRouter | None = None
    services: ProxyServices | None = None  # an ESB node's deployed proxies


class CarbonHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # as Tomcat and Synapse set SO_REUSEADDR

    def __init__(self, context: NodeContext, listener: Listener) -> None:
        self.context = context
        self.listener = listener
        super().__init__((context.host, listener.port), CarbonRequestHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up is no news; never print Python tracebacks on Carbon's console


class CarbonRequestHandler(BaseHTTPRequestHandler):
    server: CarbonHttpServer
    protocol_version = "HTTP/1.0"
    timeout = REQUEST_TIMEOUT

    def version_string(self) -> str:
        return self.server.listener.server_header

    def log_message(self, format: str, *args: object) -> None:
        pass  # Carbon writes access logs to a file of their own, not to the console

    def do_GET(self) -> None:  # http.server's naming
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # --- dispatch -------------------------------------------------------------------------------

    def _handle(self) -> None:
        context, listener = self.server.context, self.server.listener
        body = self._read_body()
        if listener.routed and context.router is not None:
            host_name = self._host_name()
            if host_name and not is_ip_literal(host_name):
                self._route(context.router, host_name, body)
                return
        if context.services is not None and not listener.servlet and self.path.startswith(SERVICES_PREFIX):
            self._mediate(context.services, body)
            return
        if context.worker_node and listener.servlet and self.command in CHANGING_METHODS:
            self._answer(403, f"{context.node_name} is a worker node (-DworkerNode=true): it is read-only and "
                              "refuses deployment changes; make them on the manager node\n")
            return
        self._answer(200, f"{context.product} node {context.node_name} answered {self.command} {self.path} on "
                          f"{context.host}:{listener.port} ({listener.transport})\n")

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if not length:
            return None
        try:
            return self.rfile.read(int(length))
        except (ValueError, OSError):
            return None

    def _host_name(self) -> str:
        host = (self.headers.get("Host") or "").strip()
        if host.startswith("["):  # [ipv6]:port
            return host[1:].split("]", 1)[0]
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    # --- proxy services -----------------------------------------------------------------------------

    def _mediate(self, services: ProxyServices, body: bytes | None) -> None:
        context = self.server.context
        name = self.path[len(SERVICES_PREFIX):].split("?", 1)[0].split("/", 1)[0]
        proxy = services.get(name) if name else None
        message = MessageContext(to=self.path, method=self.command, headers=dict(self.headers.items()),
                                 payload=body or b"", content_type=self.headers.get("Content-Type"),
                                 server_ip=context.host, proxy_name=proxy.name if proxy else None)
        result = mediate(proxy.in_sequence if proxy is not None else MAIN_SEQUENCE, message)
        for entry in result.log:
            context.log.write(entry.level, entry.logger, entry.message)
        self._answer_bytes(result.status, result.body, result.content_type)

    # --- the load balancer ------------------------------------------------------------------------

    def _route(self, router: LoadBalancerRouter, host_name: str, body: bytes | None) -> None:
        context, listener = self.server.context, self.server.listener
        groups = router.groups_for(host_name)
        if not groups:
            self._answer(404, f"{context.node_name} fronts no service with the host name {host_name}\n")
            return
        members = router.members_in_turn(groups)
        if not members:
            wanted = ", ".join(f"domain {g.domain} sub-domain {g.sub_domain}" for g in groups)
            self._answer(503, f"No application members available for {host_name} ({wanted})\n")
            return
        for member in members:
            port = member.target_port(listener.port, secure=listener.secure)
            if not is_loopback(member.host):
                # Never leave the machine: the stand-in only forwards to loopback addresses.
                context.log.error(_ENDPOINT_LOGGER, f"Refusing to forward to {member.host}:{port}: the Carbon "
                                                    "stand-in only connects to loopback addresses")
                continue
            if self._forward(member, port, body):
                return
            context.log.warn(_ENDPOINT_LOGGER, f"Failed to send the request to application member "
                                               f"{member.describe()} on port {port}; trying the next member")
        self._answer(502, f"No application member of {host_name} answered\n")

    def _forward(self, member: MemberInfo, port: int, body: bytes | None) -> bool:
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["Connection"] = "close"
        connection = http.client.HTTPConnection(member.host, port, timeout=PROXY_TIMEOUT,
                                                source_address=(self.server.context.host, 0))
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return True

    # --- answers ----------------------------------------------------------------------------------

    def _answer(self, status: int, text: str) -> None:
        self._answer_bytes(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _answer_bytes(self, status: int, data: bytes, content_type: str | None) -> None:
        self.send_response(status)
        self.send_header(NODE_HEADER, self.server.context.node_name)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def start_listeners(context: NodeContext, listeners: list[Listener]) -> list[CarbonHttpServer]:
    """Bind and serve every listener; a port that cannot be bound is logged as Carbon logs it and
    left out (Carbon keeps running without that transport)."""
    servers = []
    for listener in listeners:
        try:
            server = CarbonHttpServer(context, listener)
        except OSError as error:
            text = {errno.EADDRINUSE: "Address already in use", errno.EACCES: "Permission denied"}.get(
                error.errno or 0, error.strerror or str(error))
            context.log.error(listener.logger, f"Failed to start the {listener.transport} transport on "
                                               f"{context.host}:{listener.port}", java_exception(
                "java.net.BindException", text, [
                    "sun.nio.ch.Net.bind0(Native Method)",
                    "sun.nio.ch.Net.bind(Net.java:444)",
                    "sun.nio.ch.ServerSocketChannelImpl.bind(ServerSocketChannelImpl.java:214)",
                ]))
            continue
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         name=f"http-{listener.port}", daemon=True).start()
        servers.append(server)
        if not listener.servlet:
            context.log.info(listener.logger, f"{listener.transport} Listener started on {context.host}:{listener.port}")
    return servers


def stop_listeners(servers: list[CarbonHttpServer]) -> None:
    """Stop every listener at once (each ``shutdown()`` waits for its serve loop to notice)."""

    def stop(server: CarbonHttpServer) -> None:
        with contextlib.suppress(OSError):
            server.shutdown()
            server.server_close()

    stoppers = [threading.Thread(target=stop, args=(server,), daemon=True) for server in servers]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join(timeout=5)
