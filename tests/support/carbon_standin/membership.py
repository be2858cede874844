"""Tribes-like WKA clustering over TCP on loopback: join, member lists, initialization, departures.

A member binds ``localMemberHost:localMemberPort`` and speaks newline-delimited JSON on it.
Every message is an object with a ``type``; a member is described as Tribes describes one
(host, port, domain, sub-domain, HTTP/HTTPS ports with the offset, member properties such as
``port.mapping.*``), see :class:`MemberInfo`.

The protocol (a new connection starts with the first message):

* ``JOIN {member}`` - sent by a starting member to each well-known member. A WKA member accepts it
  when the joiner is in its own domain, or (ELB) in a domain it manages (loadbalancer.conf);
  anything else is dropped without an answer, as Tribes' domain filter drops it. On acceptance it
  answers ``MEMBER_LIST {from, members}`` (itself and the members of the joiner's domain it knows),
  tells its other members of that domain ``MEMBER_JOINED {from, member}``, and the connection
  stays open as the *link* between the two.
* Over a link both sides send ``HEARTBEAT`` every second; a link that is silent for the
  ``memberDropTime`` of axis2.xml (3 s by default) or closed means the peer left: ``Member ... left
  cluster``, and the WKA side tells the others ``MEMBER_LEFT {from, member}``. A killed process
  closes its sockets at once, so peers notice within a second.
* ``GET_CONFIGURATION {member}`` - the initialization request a joined member sends to the
  members it knows, one at a time, until one answers ``CONFIGURATION``. Only a member of the
  requester's own domain answers so (an ELB has no ESB configuration to give: ``NO_CONFIGURATION``).
* ``CLUSTER_MESSAGE {from|member, message}`` - a Carbon cluster message (a
  ``SynchronizeRepositoryRequest``), sent by :meth:`ClusteringAgent.send_cluster_message` to every
  member of the sender's domain it knows: over the link when there is one, else on a connection of
  its own. Members of other domains (the ELB) never get it, as Tribes' domain filter drops it.

A starting member that gets no answer from any WKA member logs ``No responses received from WKA
members`` and tries again every 5 seconds, never reaching ``Cluster initialization completed.``,
as a Carbon node does. After joining, WKA members whose link is down are retried every 5 seconds
in the background (an ELB that restarts gets its members back).

Only loopback addresses are ever contacted or bound: a configuration naming another address is
refused with an ERROR, so a test can never send traffic onto the machine's network.
"""

from __future__ import annotations

import contextlib
import errno
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.carbon_standin.config import (
    DEFAULT_SUB_DOMAIN,
    PORT_MAPPING_PREFIX,
    TRIBES_AGENT_CLASS,
    ClusteringConfig,
    HostResolver,
    UnknownHost,
    is_ip_literal,
    is_loopback,
    unknown_host_exception,
)
from tests.support.carbon_standin.errors import StartupFailure, java_exception
from tests.support.carbon_standin.logs import CarbonLog

CLUSTERING_AGENT = "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
WKA_SCHEME = "org.apache.axis2.clustering.tribes.WkaBasedMembershipScheme"
TRIBES_UTIL = "org.apache.axis2.clustering.tribes.TribesUtil"
MEMBERSHIP_REQUESTS = "org.apache.axis2.clustering.tribes.RpcMembershipRequestHandler"
MEMBERSHIP_MANAGER = "org.apache.axis2.clustering.tribes.MembershipManager"
MEMBERSHIP_LISTENER = "org.apache.axis2.clustering.tribes.TribesMembershipListener"
GROUP_AGENT = "org.apache.axis2.clustering.management.DefaultGroupManagementAgent"
INITIALIZATION_REQUESTS = "org.apache.axis2.clustering.tribes.RpcInitializationRequestHandler"
CONFIGURATION_RESPONSE = "org.apache.axis2.clustering.control.GetConfigurationResponseCommand"
RECEIVER = "org.apache.catalina.tribes.transport.ReceiverBase"

HEARTBEAT_INTERVAL = 1.0
JOIN_RETRY_INTERVAL = 5.0  # WkaBasedMembershipScheme waits this long between JOIN rounds
CONNECT_TIMEOUT = 2.0
REPLY_TIMEOUT = 3.0
SEND_TIMEOUT = 5.0


# --------------------------------------------------------------------------------------------
# Members
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberInfo:
    """What a Tribes member carries about itself (org.apache.axis2.clustering.Member)."""

    node: str  # the home folder's name: not part of Tribes, but it makes test output readable
    host: str
    port: int
    domain: str
    sub_domain: str | None
    http_port: int
    https_port: int
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def name(self) -> str:
        """TribesUtil.getName: ``<ip>:<port>(<domain>)``."""
        return f"{self.host}:{self.port}({self.domain})"

    @property
    def effective_sub_domain(self) -> str:
        return self.sub_domain or DEFAULT_SUB_DOMAIN

    def describe(self, *, active: bool = True) -> str:
        """Member.toString(), inconsistent spacing after the colons included."""
        return (f"Host:{self.host}, Remote Host:null, Port: {self.port}, HTTP:{self.http_port}, "
                f"HTTPS:{self.https_port}, Domain: {self.domain}, Sub-domain:{self.effective_sub_domain}, "
                f"Active:{'true' if active else 'false'}")

    def target_port(self, load_balancer_port: int, *, secure: bool) -> int:
        """Where an ELB sends a request that came in on ``load_balancer_port``: a
        ``port.mapping.<that port>`` property wins over the member's own HTTP/HTTPS port."""
        mapped = dict(self.properties).get(f"{PORT_MAPPING_PREFIX}{load_balancer_port}")
        if mapped is not None:
            with contextlib.suppress(ValueError):
                return int(mapped)
        return self.https_port if secure else self.http_port

    def to_wire(self) -> dict[str, object]:
        return {"node": self.node, "host": self.host, "port": self.port, "domain": self.domain,
                "sub_domain": self.sub_domain, "http_port": self.http_port, "https_port": self.https_port,
                "properties": [list(pair) for pair in self.properties]}

    @classmethod
    def from_wire(cls, data: object) -> MemberInfo:
        """Raises ValueError (or KeyError/TypeError) for anything that is not a member."""
        if not isinstance(data, dict):
            raise ValueError("not a member")
        sub_domain = data.get("sub_domain")
        return cls(node=str(data["node"]), host=str(data["host"]), port=int(data["port"]),
                   domain=str(data["domain"]), sub_domain=None if sub_domain is None else str(sub_domain),
                   http_port=int(data["http_port"]), https_port=int(data["https_port"]),
                   properties=tuple((str(name), str(value)) for name, value in data.get("properties", [])))


# --------------------------------------------------------------------------------------------
# The wire
# --------------------------------------------------------------------------------------------


class Channel:
    """Newline-delimited JSON objects over one TCP socket."""

    def __init__(self, connection: socket.socket) -> None:
        self._socket = connection
        self._socket.settimeout(SEND_TIMEOUT)  # reads wait in select() with their own timeout
        self._buffer = b""
        self._send_lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, object]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"
        with self._send_lock:
            self._socket.sendall(data)

    def receive(self, timeout: float) -> dict[str, object] | None:
        """The next message; None when the peer closed; TimeoutError when nothing came in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message")
            readable, _, _ = select.select([self._socket], [], [], remaining)
            if not readable:
                continue
            chunk = self._socket.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("not a message")
        return message

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._socket.close()


def _connect(address: str, port: int, source_host: str) -> socket.socket:
    if not is_loopback(address):
        # Never leave the machine: the stand-in only ever talks to 127.0.0.0/8.
        raise ConnectionRefusedError(errno.EPERM, f"{address} is not a loopback address")
    return socket.create_connection((address, port), timeout=CONNECT_TIMEOUT, source_address=(source_host, 0))


class Link:
    """The open connection between a member and a WKA member it joined (or that joined it)."""

    def __init__(self, channel: Channel, drop_time: float,
                 on_message: Callable[[Link, dict[str, object]], None], on_closed: Callable[[Link], None]) -> None:
        self.channel = channel
        self.drop_time = drop_time
        self._on_message = on_message
        self._on_closed = on_closed

    def start(self) -> None:
        threading.Thread(target=self._read, name="tribes-link", daemon=True).start()

    def send(self, message: dict[str, object]) -> None:
        try:
            self.channel.send(message)
        except OSError:
            self.channel.close()  # the reader sees the close and reports the departure

    def close(self) -> None:
        self.channel.close()

    def _read(self) -> None:
        try:
            while True:
                try:
                    message = self.channel.receive(self.drop_time)
                except (TimeoutError, OSError, ValueError):
                    break  # silent for memberDropTime, reset, or garbage: the member is gone
                if message is None:
                    break
                if message.get("type") != "HEARTBEAT":
                    self._on_message(self, message)
        finally:
            self.channel.close()
            self._on_closed(self)


# --------------------------------------------------------------------------------------------
# The agent
# --------------------------------------------------------------------------------------------


@dataclass
class MemberRecord:
    """A member this node knows: a WKA member from axis2.xml, one that joined, or one it heard of."""

    name: str  # as this node logs it (static members carry this node's domain, as in Tribes)
    info: MemberInfo | None  # None for a WKA member that never answered
    static: bool = False
    link: Link | None = None  # set while this node has its own connection to the member


@dataclass(frozen=True)
class StaticMember:
    key: tuple[str, int]
    name: str


class ClusterJoinAborted(Exception):
    """The node was told to stop while it was still joining the cluster."""


class ClusteringAgent:
    """One node's view of the cluster, and the threads that keep it current."""

    def __init__(self, config: ClusteringConfig, local: MemberInfo, *, log: CarbonLog, resolver: HostResolver,
                 stopping: threading.Event, managed_groups: tuple[tuple[str, str], ...] = (),
                 local_host_configured: bool = True) -> None:
        self.config = config
        self.local = local
        self.log = log
        self.resolver = resolver
        self.stopping = stopping
        self.managed_groups = managed_groups  # (domain, sub-domain) pairs an ELB manages
        self.local_host_configured = local_host_configured
        self._drop_time = max(config.member_drop_time_ms, 500) / 1000.0
        self._lock = threading.RLock()
        self._records: dict[tuple[str, int], MemberRecord] = {}
        self._static: list[StaticMember] = []
        self._added_static_names: list[str] = []
        self._listener: socket.socket | None = None
        self._initialized = threading.Event()
        # Who gets the Carbon cluster messages this node receives (set before start()).
        self.on_cluster_message: Callable[[dict[str, object]], None] | None = None

    # --- what the rest of the node asks ---------------------------------------------------------

    @property
    def managed_domains(self) -> set[str]:
        return {domain for domain, _ in self.managed_groups}

    def application_members(self, domain: str, sub_domain: str) -> list[MemberInfo]:
        """The joined, active members of one application group (what an ELB routes to)."""
        with self._lock:
            return [record.info for record in self._records.values()
                    if record.link is not None and record.info is not None and record.info.domain == domain
                    and record.info.effective_sub_domain == sub_domain]

    def send_cluster_message(self, message: dict[str, object]) -> None:
        """Send a Carbon cluster message to every member of this node's domain it knows."""
        with self._lock:
            targets = [(record.info, record.link) for record in self._records.values()
                       if record.info is not None and record.info.domain == self.local.domain
                       and record.info.key != self.local.key]
        for member, link in targets:
            if link is not None:
                link.send({"type": "CLUSTER_MESSAGE", "from": self.local.to_wire(), "message": message})
                continue
            # A member heard of through a WKA member: no link of our own, so a connection of its own.
            try:
                channel = Channel(_connect(member.host, member.port, self.local.host))
            except OSError:
                continue
            try:
                channel.send({"type": "CLUSTER_MESSAGE", "member": self.local.to_wire(), "message": message})
            except OSError:
                pass
            finally:
                channel.close()

    def _deliver(self, sender: MemberInfo | None, message: object) -> None:
        if sender is None or sender.domain != self.local.domain or not isinstance(message, dict):
            return
        handler = self.on_cluster_message
        if handler is not None:
            handler(message)

    # --- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialize the cluster as TribesClusteringAgent.init() does; blocks until done.

        Raises :class:`StartupFailure` (bind error, bad scheme, unknown WKA host) or
        :class:`ClusterJoinAborted` when the node is stopped first.
        """
        config = self.config
        self.log.info(CLUSTERING_AGENT, "Initializing cluster...")
        if config.agent_class != TRIBES_AGENT_CLASS:
            raise StartupFailure(CLUSTERING_AGENT, "Cannot initialize the clustering agent", java_exception(
                "java.lang.ClassNotFoundException", config.agent_class or "(no class attribute)",
                ["org.eclipse.osgi.internal.loader.BundleLoader.findClassInternal(BundleLoader.java:513)"]))
        self.log.info(CLUSTERING_AGENT, f"Cluster domain: {config.domain}")
        for domain, sub_domain in self.managed_groups:
            self.log.info(CLUSTERING_AGENT, f"Managing group application domain:{domain}, sub-domain:{sub_domain} "
                                            f"using agent class {GROUP_AGENT}")
        scheme = config.membership_scheme
        if scheme not in ("wka", "multicast"):
            raise StartupFailure(CLUSTERING_AGENT, "Cannot initialize cluster", java_exception(
                "org.apache.axis2.clustering.ClusteringFault",
                f"Invalid membership scheme '{scheme}'. Supported schemes are multicast & wka"))
        self.log.info(CLUSTERING_AGENT, f"Using {scheme} based membership management scheme")
        if not self.local_host_configured:
            self.log.warn(CLUSTERING_AGENT, "Local member advertising its IP address as 127.0.0.1. "
                                            "Remote members will not be able to connect to this member.")
        self._bind()
        for _ in range(2):  # Tribes' receiver and the WKA scheme both report the bind (see the seed)
            self.log.info(WKA_SCHEME, f"Receiver Server Socket bound to:/{self.local.host}:{self.local.port}")
        threading.Thread(target=self._accept_loop, name="tribes-receiver", daemon=True).start()
        threading.Thread(target=self._heartbeat_loop, name="tribes-heartbeat", daemon=True).start()
        if scheme == "wka":
            self._add_static_members()
        self.log.info(CLUSTERING_AGENT, f"Local Member {self.local.name}")
        self._print_members()
        if scheme == "wka" and self._static:
            self._join_group()
            threading.Thread(target=self._rejoin_loop, name="tribes-wka-rejoin", daemon=True).start()
            self._send_initialization_requests()
        self._initialized.set()
        self.log.info(CLUSTERING_AGENT, "Cluster initialization completed.")

    def _bind(self) -> None:
        listener = socket.socket(socket.AF_INET6 if ":" in self.local.host else socket.AF_INET, socket.SOCK_STREAM)
        # Java's ServerSocket sets SO_REUSEADDR on Linux: a port in TIME_WAIT may be reused, one
        # that another process listens on may not.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.local.host, self.local.port))
            listener.listen(64)
        except OSError as error:
            listener.close()
            # Tribes would try the next ports (autoBind); the stand-in does not, so that a port
            # collision the installer missed shows up as the failure it is.
            self.log.info(RECEIVER, f"Unable to bind server socket to:/{self.local.host}:{self.local.port} "
                                    "throwing error.")
            text = "Address already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
            kind = "java.net.BindException"
            bind = java_exception(kind, text, [
                "sun.nio.ch.Net.bind0(Native Method)",
                "sun.nio.ch.Net.bind(Net.java:444)",
                "sun.nio.ch.ServerSocketChannelImpl.bind(ServerSocketChannelImpl.java:214)",
                "org.apache.catalina.tribes.transport.ReceiverBase.bind(ReceiverBase.java:273)",
            ])
            # Tribes' ChannelException wraps the BindException, and the agent logs the lot.
            raise StartupFailure(CLUSTERING_AGENT, "Error starting Tribes channel", java_exception(
                "org.apache.catalina.tribes.ChannelException", f"{kind}: {text}; No faulty members identified.", [
                    "org.apache.catalina.tribes.group.ChannelCoordinator.internalStart(ChannelCoordinator.java:184)",
                    "org.apache.catalina.tribes.group.GroupChannel.start(GroupChannel.java:407)",
                    "org.apache.axis2.clustering.tribes.TribesClusteringAgent.init(TribesClusteringAgent.java:285)",
                ], caused_by=bind)) from None
        listener.settimeout(0.5)
        self._listener = listener

    def _add_static_members(self) -> None:
        for member in self.config.members:
            try:
                address = self.resolver.resolve(member.host_name)
            except UnknownHost:
                raise StartupFailure(WKA_SCHEME, f"Could not add static member {member.host_name}:{member.port}",
                                     unknown_host_exception(member.host_name)) from None
            # Static members take this node's domain in their name (StaticMember in Tribes).
            static = StaticMember((address, member.port), f"{address}:{member.port}({self.config.domain})")
            if static.key == self.local.key:
                continue  # a WKA member listing itself: Tribes skips the local member
            if not is_loopback(address):
                # Kept as a WKA member that never answers (_connect refuses it every time), so the
                # node behaves as with an unreachable member, without a packet leaving loopback.
                self.log.error(WKA_SCHEME, f"Refusing to contact {member.host_name} ({address}): the Carbon "
                                           "stand-in only talks to loopback addresses")
            self._static.append(static)
            with self._lock:
                self._records.setdefault(static.key, MemberRecord(name=static.name, info=None, static=True))
            if self._can_connect(static.key):
                self.log.info(WKA_SCHEME, f"Added static member {static.name}")
                self._added_static_names.append(static.name)
            else:
                self.log.info(WKA_SCHEME, f"Could not connect to member {static.name}")

    def _can_connect(self, key: tuple[str, int]) -> bool:
        try:
            probe = _connect(key[0], key[1], self.local.host)
        except OSError:
            return False
        probe.close()
        return True

    def _print_members(self) -> None:
        names = self._added_static_names
        if not names:
            self.log.info(TRIBES_UTIL, "No members in current cluster")
            return
        self.log.info(TRIBES_UTIL, "Members of current cluster")
        for index, name in enumerate(names, start=1):
            self.log.info(TRIBES_UTIL, f"Member{index} {name}")

    # --- joining ----------------------------------------------------------------------------------

    def _join_group(self) -> None:
        self.log.info(WKA_SCHEME, "Sending JOIN message to WKA members...")
        while not self._join_wka_members():
            self.log.info(WKA_SCHEME, "No responses received from WKA members")
            if self.stopping.wait(JOIN_RETRY_INTERVAL):
                raise ClusterJoinAborted()
        if self.stopping.is_set():
            raise ClusterJoinAborted()

    def _join_wka_members(self) -> bool:
        """One JOIN round over every WKA member without a link; True when any WKA member is joined."""
        responded = False
        for static in self._static:
            if self.stopping.is_set():
                break
            with self._lock:
                record = self._records.get(static.key)
                if record is not None and record.link is not None:
                    responded = True
                    continue
            responded = self._join(static) or responded
        return responded

    def _join(self, static: StaticMember) -> bool:
        try:
            connection = _connect(static.key[0], static.key[1], self.local.host)
        except OSError:
            return False
        channel = Channel(connection)
        try:
            channel.send({"type": "JOIN", "member": self.local.to_wire()})
            reply = channel.receive(REPLY_TIMEOUT)
            if reply is None or reply.get("type") != "MEMBER_LIST":
                raise ValueError("no member list")
            responder = MemberInfo.from_wire(reply["from"])
            members = reply.get("members", [])
            if not isinstance(members, list):
                raise ValueError("no member list")
            listed = [MemberInfo.from_wire(item) for item in members]
        except (OSError, TimeoutError, ValueError, KeyError, TypeError):
            channel.close()
            return False
        link = Link(channel, self._drop_time, self._on_link_message, self._on_link_closed)
        new_members = []
        with self._lock:
            record = self._records.setdefault(static.key, MemberRecord(name=static.name, info=None, static=True))
            record.info = responder
            record.link = link
            for member in listed:
                if member.key != self.local.key and member.domain == self.local.domain:
                    known = self._records.get(member.key)
                    if known is None:
                        self._records[member.key] = MemberRecord(name=member.name, info=member)
                        new_members.append(member)
                    elif known.info is None:
                        known.info = member
        link.start()
        for member in new_members:
            self.log.info(MEMBERSHIP_LISTENER, f"New member {member.name} joined cluster.")
        return True

    def _rejoin_loop(self) -> None:
        # Tribes keeps pinging its static members; a WKA member that comes back (an ELB restart)
        # gets this member's JOIN again.
        while not self.stopping.wait(JOIN_RETRY_INTERVAL):
            self._join_wka_members()

    def _send_initialization_requests(self) -> None:
        with self._lock:
            candidates = [(key, record.name) for key, record in self._records.items()
                          if record.link is not None or (record.info is not None and not record.static)]
        for key, name in candidates:
            if self.stopping.is_set():
                raise ClusterJoinAborted()
            self.log.info(CLUSTERING_AGENT, f"Trying to send initialization request to {name}")
            try:
                channel = Channel(_connect(key[0], key[1], self.local.host))
            except OSError:
                continue
            try:
                channel.send({"type": "GET_CONFIGURATION", "member": self.local.to_wire()})
                reply = channel.receive(REPLY_TIMEOUT)
            except (OSError, TimeoutError, ValueError):
                reply = None
            finally:
                channel.close()
            if reply is not None and reply.get("type") == "CONFIGURATION":
                self.log.info(CONFIGURATION_RESPONSE, "Received configuration initialization message")
                return

    # --- serving other members ----------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self.stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break  # closed by stop()
            threading.Thread(target=self._serve, args=(connection,), name="tribes-request", daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        channel = Channel(connection)
        try:
            message = channel.receive(REPLY_TIMEOUT)
            if message is None:
                raise ValueError("closed")  # a connectivity probe
            member = MemberInfo.from_wire(message.get("member"))
        except (OSError, TimeoutError, ValueError, KeyError, TypeError):
            channel.close()
            return
        kind = message.get("type")
        if kind == "JOIN":
            self._on_join(channel, member)
        elif kind == "GET_CONFIGURATION":
            self._on_initialization_request(channel, member)
        else:
            channel.close()
            if kind == "CLUSTER_MESSAGE":
                self._deliver(member, message.get("message"))

    def _accepts(self, member: MemberInfo) -> bool:
        return member.domain == self.local.domain or member.domain in self.managed_domains

    def _on_join(self, channel: Channel, joiner: MemberInfo) -> None:
        if not self._accepts(joiner) or joiner.key == self.local.key:
            # Tribes' domain filter drops messages of other domains before any handler sees them.
            channel.close()
            return
        self.log.info(MEMBERSHIP_REQUESTS, f"Received JOIN message from {joiner.name}")
        link = Link(channel, self._drop_time, self._on_link_message, self._on_link_closed)
        with self._lock:
            old = self._records.get(joiner.key)
            replaced = old.link if old is not None else None
            # Heard of already (MEMBER_JOINED from a WKA member): its JOIN is no news to log again.
            heard_of = old is not None and old.link is None and not old.static
            record = MemberRecord(name=old.name if old is not None and old.static else joiner.name, info=joiner,
                                  static=old.static if old is not None else False, link=link)
            self._records[joiner.key] = record
            listed = [other.info.to_wire() for other in self._records.values()
                      if other is not record and other.info is not None and other.info.domain == joiner.domain
                      and (other.link is not None or not other.static)]
            to_tell = [other.link for other in self._records.values()
                       if other is not record and other.link is not None and other.info is not None
                       and other.info.domain == joiner.domain]
        if replaced is not None:
            replaced.close()  # the same member came back before its old link timed out
        # Logged before the answer goes out: once the joiner has its member list, the join is
        # on record here (and the member is routable, if this is an ELB).
        if not heard_of:
            self._log_joined(joiner)
        try:
            channel.send({"type": "MEMBER_LIST", "from": self.local.to_wire(), "members": listed})
        except OSError:
            channel.close()
        for other_link in to_tell:
            other_link.send({"type": "MEMBER_JOINED", "from": self.local.to_wire(), "member": joiner.to_wire()})
        link.start()

    def _log_joined(self, member: MemberInfo) -> None:
        if member.domain == self.local.domain:
            self.log.info(MEMBERSHIP_LISTENER, f"New member {member.name} joined cluster.")
            return
        self.log.info(MEMBERSHIP_MANAGER, f"Application member {member.name} joined group {member.domain}")
        if (member.domain, member.effective_sub_domain) in self.managed_groups:
            self.log.info(GROUP_AGENT, f"Application member {member.describe()} joined application cluster")
        else:
            # No group management agent for this sub-domain: the ELB never routes to the member.
            self.log.error(GROUP_AGENT, f"Could not add application member {member.describe()}")

    def _on_initialization_request(self, channel: Channel, requester: MemberInfo) -> None:
        try:
            if requester.domain == self.local.domain and self._initialized.is_set():
                self.log.info(INITIALIZATION_REQUESTS, "Received GetConfigurationCommand initialization request "
                                                       f"message from {requester.name}")
                channel.send({"type": "CONFIGURATION", "from": self.local.to_wire()})
            else:
                # An ELB holds no configuration of the domains it fronts (and a node still joining
                # has none to give yet).
                channel.send({"type": "NO_CONFIGURATION", "from": self.local.to_wire()})
        except OSError:
            pass
        finally:
            channel.close()

    # --- links ----------------------------------------------------------------------------------

    def _record_of(self, link: Link) -> tuple[tuple[str, int], MemberRecord] | None:
        for key, record in self._records.items():
            if record.link is link:
                return key, record
        return None

    def _on_link_message(self, link: Link, message: dict[str, object]) -> None:
        kind = message.get("type")
        if kind == "CLUSTER_MESSAGE":
            with self._lock:
                found = self._record_of(link)
            self._deliver(found[1].info if found is not None else None, message.get("message"))
            return
        if kind not in ("MEMBER_JOINED", "MEMBER_LEFT"):
            return
        try:
            member = MemberInfo.from_wire(message.get("member"))
        except (ValueError, KeyError, TypeError):
            return
        if member.key == self.local.key or member.domain != self.local.domain:
            return
        with self._lock:
            found = self._record_of(link)
            if found is None:
                return
            _, sender = found
            known = self._records.get(member.key)
            if kind == "MEMBER_JOINED":
                if known is not None:
                    return
                self._records[member.key] = MemberRecord(name=member.name, info=member)
            else:
                # A member this node has its own link to is judged by that link, not by hearsay.
                if known is None or known.link is not None or known.static:
                    return
                del self._records[member.key]
        self.log.info(MEMBERSHIP_REQUESTS, f"Received {kind} message from {sender.name}")
        if kind == "MEMBER_JOINED":
            self.log.info(MEMBERSHIP_LISTENER, f"New member {member.name} joined cluster.")
        else:
            self.log.info(MEMBERSHIP_LISTENER, f"Member {member.name} left cluster")

    def _on_link_closed(self, link: Link) -> None:
        with self._lock:
            found = self._record_of(link)
            if found is None:
                return  # replaced by a newer link of the same member
            key, record = found
            record.link = None
            if not record.static:
                del self._records[key]
            member = record.info
            to_tell = [other.link for other in self._records.values()
                       if other.link is not None and other.info is not None and member is not None
                       and other.info.domain == member.domain]
        if self.stopping.is_set() or member is None:
            return  # our own shutdown closes every link: nobody left
        self.log.info(MEMBERSHIP_LISTENER, f"Member {record.name} left cluster")
        if member.domain != self.local.domain and member.domain in self.managed_domains:
            self.log.info(GROUP_AGENT, f"Application member {member.describe()} left cluster.")
        for other_link in to_tell:
            other_link.send({"type": "MEMBER_LEFT", "from": self.local.to_wire(), "member": member.to_wire()})

    def _heartbeat_loop(self) -> None:
        while not self.stopping.wait(HEARTBEAT_INTERVAL):
            with self._lock:
                links = [record.link for record in self._records.values() if record.link is not None]
            for link in links:
                link.send({"type": "HEARTBEAT"})

    # --- stop -------------------------------------------------------------------------------------

    def stop(self, *, announce: bool = True) -> None:
        """Close the receiver and every link (peers then see this member leave)."""
        if announce:
            self.log.info(CLUSTERING_AGENT, "Stopping Tribes channel...")
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            links = [record.link for record in self._records.values() if record.link is not None]
        for link in links:
            link.close()


def local_member_address(config: ClusteringConfig, resolver: HostResolver) -> tuple[str, bool]:
    """(address to bind and advertise, whether localMemberHost was given).

    Without localMemberHost Tribes advertises the machine's address; the stand-in takes 127.0.0.1
    (and logs Tribes' warning about it) rather than ever binding a non-loopback address.
    """
    if config.local_member_host is None:
        return "127.0.0.1", False
    host = config.local_member_host
    try:
        address = host if is_ip_literal(host) else resolver.resolve(host)
    except UnknownHost:
        raise StartupFailure(CLUSTERING_AGENT, f"Cannot resolve localMemberHost {host}",
                             unknown_host_exception(host)) from None
    if not is_loopback(address):
        raise StartupFailure(CLUSTERING_AGENT, f"Refusing to bind localMemberHost {host} ({address}): the Carbon "
                             "stand-in only binds loopback addresses, so that tests never reach the network",
                             java_exception("java.net.BindException", "Cannot assign requested address"))
    return address, True
