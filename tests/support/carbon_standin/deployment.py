"""Hot deployment of proxy services and Carbon's deployment scheduler task, on an ESB node.

:class:`HotDeployer` plays Synapse's ProxyServiceDeployer on
``repository/deployment/server/synapse-configs/default/proxy-services``: proxies present at start are
loaded with the Synapse configuration (no "deployed" line, as Carbon); afterwards a new file is
deployed, a changed one updated, a removed one undeployed, each with Synapse's own lines::

    INFO {org.apache.synapse.deployers.ProxyServiceDeployer} -  ProxyService named 'P' has been deployed from file : /home/.../P.xml
    INFO {org.apache.synapse.deployers.ProxyServiceDeployer} -  ProxyService named 'P' has been update from file : /home/.../P.xml
    INFO {org.apache.synapse.deployers.ProxyServiceDeployer} -  ProxyService named 'P' has been undeployed

("has been update" is Synapse's wording.) A file Synapse cannot build is reported as it reports
it (ERROR lines, the file moved aside to ``P.xml.back``); a broken update leaves the deployed proxy
in place and its previous file restored.

A file is deployed once it has stayed the same over two polls (0.5 s apart), so that one being
written is never read half-way; files this node wrote whole itself (a checkout) go at once.

:class:`DeploymentScheduler` plays CarbonDeploymentSchedulerTask: each run updates the repository
from the deployment synchronizer (at the first run, and after a ``SynchronizeRepositoryRequest``
cluster message), runs the hot deployment, then, on a node that is not a worker, commits and, when
something was committed, sends a ``SynchronizeRepositoryRequest`` to the cluster::

    INFO {org.wso2.carbon.core.deployment.CarbonDeploymentSchedulerTask} -  Sent [SynchronizeRepositoryRequest{tenantId=-1234, tenantDomain='carbon.super', messageId=<uuid>}]
    INFO {org.wso2.carbon.core.deployment.SynchronizeRepositoryRequest} -  Received [SynchronizeRepositoryRequest{tenantId=-1234, tenantDomain='carbon.super', messageId=<uuid>}]

(the receiving side's message ends with one more space, after the ``]``, as Carbon's does: in
wso2carbon.log two spaces then come before the closing ``{logger}``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tests.support.carbon_standin.depsync import (
    DEPLOYMENT_REPOSITORY,
    PROXY_SERVICES,
    SUPER_TENANT_DOMAIN,
    SUPER_TENANT_ID,
    DeploymentSynchronizer,
    SynchronizerError,
    write_atomically,
)
from tests.support.carbon_standin.errors import java_exception
from tests.support.carbon_standin.logs import CarbonLog
from tests.support.carbon_standin.synapse import ProxyDefinitionError, ProxyService, parse_proxy

PROXY_SERVICES_DIR = f"{DEPLOYMENT_REPOSITORY}/{PROXY_SERVICES}"
POLL_INTERVAL = 0.5
RETRY_INTERVAL = 5.0  # after a failed update or commit: Carbon retries at its next scheduler run

PROXY_DEPLOYER = "org.apache.synapse.deployers.ProxyServiceDeployer"
ARTIFACT_DEPLOYER = "org.apache.synapse.deployers.AbstractSynapseArtifactDeployer"
CONFIG_BUILDER = "org.apache.synapse.config.xml.MultiXMLConfigurationBuilder"
PROXY_SERVICE = "org.apache.synapse.core.axis2.ProxyService"
DEPLOYMENT_INTERCEPTOR = "org.wso2.carbon.core.deployment.DeploymentInterceptor"
DEPENDENCY_TRACKER = "org.wso2.carbon.mediation.dependency.mgt.DependencyTracker"
SCHEDULER_TASK = "org.wso2.carbon.core.deployment.CarbonDeploymentSchedulerTask"
SYNCHRONIZE_REQUEST = "org.wso2.carbon.core.deployment.SynchronizeRepositoryRequest"

_SADE = "org.apache.synapse.deployers.SynapseArtifactDeploymentException"
_DEPLOY_FRAMES = (
    "org.apache.synapse.deployers.AbstractSynapseArtifactDeployer.handleSynapseArtifactDeploymentError"
    "(AbstractSynapseArtifactDeployer.java:475)",
    "org.apache.synapse.deployers.ProxyServiceDeployer.deploySynapseArtifact(ProxyServiceDeployer.java:93)",
    "org.apache.synapse.deployers.AbstractSynapseArtifactDeployer.deploy(AbstractSynapseArtifactDeployer.java:192)",
    "org.apache.axis2.deployment.repository.util.DeploymentFileData.deploy(DeploymentFileData.java:136)",
)

Stat = tuple[int, int, int]  # mtime (ns), size, inode: a rename over the file changes the inode


def _stat(path: Path) -> Stat | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def synchronize_request_text(message_id: str) -> str:
    """SynchronizeRepositoryRequest.toString() of Carbon 4.1."""
    return (f"SynchronizeRepositoryRequest{{tenantId={SUPER_TENANT_ID}, tenantDomain='{SUPER_TENANT_DOMAIN}', "
            f"messageId={message_id}}}")


class ProxyServices:
    """The proxies deployed on a node: written by the deployer, read by request handlers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proxies: dict[str, ProxyService] = {}

    def get(self, name: str) -> ProxyService | None:
        with self._lock:
            return self._proxies.get(name)

    def add(self, proxy: ProxyService) -> None:
        with self._lock:
            self._proxies[proxy.name] = proxy

    def remove(self, name: str) -> None:
        with self._lock:
            self._proxies.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._proxies)


@dataclass(frozen=True)
class DeployedFile:
    proxy_name: str
    stat: Stat
    content: bytes  # what a failed update restores


class HotDeployer:
    """ProxyServiceDeployer over one folder; only the scheduler's thread calls it after start-up."""

    def __init__(self, folder: Path, services: ProxyServices, log: CarbonLog) -> None:
        self.folder = folder
        self.services = services
        self.log = log
        self._deployed: dict[Path, DeployedFile] = {}
        self._failed: dict[Path, Stat] = {}  # retried only once the file changes, as Axis2 does
        self._last_seen: dict[Path, Stat] = {}
        self._whole: dict[Path, Stat] = {}  # written whole by this node: no need to wait for it
        # Seen but not yet settled: the commit leaves them for a later run, as Carbon commits only
        # after its deployer has looked at a file (and moved a broken one aside).
        self.unsettled: set[Path] = set()

    def _files(self) -> dict[Path, Stat]:
        found = {}
        for path in sorted(self.folder.glob("*.xml")) if self.folder.is_dir() else []:
            stat = _stat(path)
            if stat is not None and path.is_file():
                found[path] = stat
        return found

    def written_whole(self, path: Path) -> None:
        stat = _stat(path)
        if stat is not None:
            self._whole[path] = stat

    # --- start-up ---------------------------------------------------------------------------------

    def load_at_startup(self) -> None:
        """Build the proxies already in the folder, as the Synapse configuration is built at start-up."""
        self.folder.mkdir(parents=True, exist_ok=True)  # the ESB creates its default configuration folders
        current = self._files()
        for path, stat in current.items():
            try:
                data = path.read_bytes()
                proxy = parse_proxy(data)
            except OSError:
                continue
            except ProxyDefinitionError as error:
                cause = error.exception
                if error.kind in ("prolog", "parse"):
                    message = f"Error while parsing the content of the file: {path.name}"
                    self.log.error(CONFIG_BUILDER, message, error.exception)
                    cause = java_exception("org.apache.synapse.SynapseException", message, caused_by=error.exception)
                # Synapse's fail-safe mode (on by default) keeps the server starting without the proxy.
                self.log.warn(CONFIG_BUILDER, f"Proxy configuration cannot be built from : {path.name} - Continue "
                                              "in fail-safe mode", cause)
                self._failed[path] = stat
                continue
            if self.services.get(proxy.name) is not None:
                self.log.warn(CONFIG_BUILDER, f"Proxy configuration cannot be built from : {path.name} - Continue "
                                              "in fail-safe mode", java_exception(
                                                  "org.apache.synapse.SynapseException",
                                                  f"Duplicate proxy service by the name {proxy.name}"))
                self._failed[path] = stat
                continue
            self._build(proxy)
            self._deployed[path] = DeployedFile(proxy.name, stat, data)
        self._last_seen = current

    # --- one hot deployment pass ------------------------------------------------------------------

    def scan(self) -> None:
        current = self._files()
        for path in [path for path in self._deployed if path not in current]:
            self._undeploy(path)
        for path in [path for path in self._failed if path not in current]:
            del self._failed[path]
        self.unsettled = set()
        for path, stat in current.items():
            settled = self._last_seen.get(path) == stat or self._whole.get(path) == stat
            if not settled:
                self.unsettled.add(path)
                continue
            deployed = self._deployed.get(path)
            if deployed is not None:
                if deployed.stat != stat:
                    self._update(path, deployed)
            elif self._failed.get(path) != stat:
                self._deploy(path)
        self._last_seen = self._files()  # after this pass's own moves and restores
        self._whole.clear()

    def _build(self, proxy: ProxyService) -> None:
        name = proxy.name
        self.log.info(PROXY_SERVICE, f"Building Axis service for Proxy service : {name}")
        self.log.info(PROXY_SERVICE, f"Adding service {name} to the Axis2 configuration")
        self.log.info(DEPLOYMENT_INTERCEPTOR, f"Deploying Axis2 service: {name} {{super-tenant}}")
        self.log.info(PROXY_SERVICE, f"Successfully created the Axis2 service for Proxy service : {name}")
        self.services.add(proxy)
        self.log.info(DEPENDENCY_TRACKER, f"Proxy service : {name} was added to the Synapse configuration successfully")

    def _remove(self, name: str) -> None:
        self.services.remove(name)
        self.log.info(DEPLOYMENT_INTERCEPTOR, f"Removing Axis2 Service: {name} {{super-tenant}}")

    def _backup(self, path: Path) -> str:
        """AbstractSynapseArtifactDeployer.backupFile: ``P.xml.back``, ``P.xml.1.back``, ..."""
        backup = Path(f"{path}.back")
        index = 0
        while backup.exists():
            index += 1
            backup = Path(f"{path}.{index}.back")
        with contextlib.suppress(OSError):
            os.replace(path, backup)
        return str(backup)

    def _read(self, path: Path) -> tuple[bytes, Stat] | None:
        stat = _stat(path)
        try:
            data = path.read_bytes()
        except OSError:
            return None  # gone since the listing: the next pass sees it removed
        return (data, stat) if stat is not None else None

    def _deploy(self, path: Path) -> None:
        read = self._read(path)
        if read is None:
            return
        data, stat = read
        try:
            proxy = parse_proxy(data)
        except ProxyDefinitionError as error:
            self._deployment_failed(path, stat, error)
            return
        if self.services.get(proxy.name) is not None:
            self.log.warn(PROXY_DEPLOYER, "Hot deployment thread picked up an already deployed proxy - Ignoring")
            self._deployed[path] = DeployedFile(proxy.name, stat, data)
            return
        self._build(proxy)
        self._deployed[path] = DeployedFile(proxy.name, stat, data)
        self.log.info(PROXY_DEPLOYER, f"ProxyService named '{proxy.name}' has been deployed from file : {path}")

    def _deployment_failed(self, path: Path, stat: Stat, error: ProxyDefinitionError) -> None:
        if error.kind == "prolog":
            self._log_unparsable(path, error)
            self._failed[path] = stat
            return
        self._log_rejected(path, error, "Deployment")
        self.log.info(ARTIFACT_DEPLOYER, f"The file has been backed up into : {self._backup(path)}")

    def _log_unparsable(self, path: Path, error: ProxyDefinitionError) -> None:
        self.log.error(ARTIFACT_DEPLOYER, f"Deployment of synapse artifact failed. Error parsing {path} : "
                                          f"{error.message}", error.exception)

    def _log_rejected(self, path: Path, error: ProxyDefinitionError, action: str) -> None:
        """Synapse's two errors for a proxy file it parsed but could not take (``action``:
        Deployment or Update): the proxy deployer's, then the artifact deployer's."""
        if error.kind == "not-proxy":
            message = (f"ProxyService {action} Failed. The artifact described in the file {path} "
                       "is not a ProxyService")
            self.log.error(PROXY_DEPLOYER, message)
            cause: list[str] = []
        else:
            message = f"ProxyService {action} from the file : {path} : Failed."
            self.log.error(PROXY_DEPLOYER, message, error.exception)
            cause = error.exception
        self.log.error(ARTIFACT_DEPLOYER, f"{action} of the Synapse Artifact from file : {path} : Failed!",
                       java_exception(_SADE, message, _DEPLOY_FRAMES, caused_by=cause))

    def _update(self, path: Path, deployed: DeployedFile) -> None:
        read = self._read(path)
        if read is None:
            return
        data, stat = read
        try:
            proxy = parse_proxy(data)
        except ProxyDefinitionError as error:
            self._update_failed(path, deployed, error)
            return
        self._remove(deployed.proxy_name)
        if proxy.name != deployed.proxy_name:
            self.log.info(PROXY_DEPLOYER, f"ProxyService named {deployed.proxy_name} has been Undeployed")
        self._build(proxy)
        self._deployed[path] = DeployedFile(proxy.name, stat, data)
        verb = "update" if proxy.name == deployed.proxy_name else "deployed"
        self.log.info(PROXY_DEPLOYER, f"ProxyService named '{proxy.name}' has been {verb} from file : {path}")

    def _update_failed(self, path: Path, deployed: DeployedFile, error: ProxyDefinitionError) -> None:
        if error.kind == "prolog":
            self._log_unparsable(path, error)
            self._backup(path)
        else:
            self._log_rejected(path, error, "Update")
            self.log.info(ARTIFACT_DEPLOYER, f"The updated file has been backed up into : {self._backup(path)}")
        self.log.info(ARTIFACT_DEPLOYER, f"Restoring the existing artifact into the file : {path}")
        # The proxy that was deployed stays deployed; its configuration goes back into the file.
        write_atomically(path, deployed.content)
        stat = _stat(path)
        if stat is not None:
            self._deployed[path] = replace(deployed, stat=stat)
        self.log.info(PROXY_DEPLOYER, f"ProxyService named '{deployed.proxy_name}' has been restored")

    def _undeploy(self, path: Path) -> None:
        deployed = self._deployed.pop(path)
        if self.services.get(deployed.proxy_name) is None:
            return  # already gone with another file of the same name
        self._remove(deployed.proxy_name)
        self.log.info(PROXY_DEPLOYER, f"ProxyService named '{deployed.proxy_name}' has been undeployed")


class DeploymentScheduler:
    """CarbonDeploymentSchedulerTask, run every :data:`POLL_INTERVAL` on a thread of its own."""

    def __init__(self, deployer: HotDeployer, synchronizer: DeploymentSynchronizer | None, *, worker_node: bool,
                 log: CarbonLog, stopping: threading.Event) -> None:
        self.deployer = deployer
        self.synchronizer = synchronizer
        self.worker_node = worker_node
        self.log = log
        self.stopping = stopping
        # Set once clustering is up: how a committed change reaches the other members.
        self.send_cluster_message: Callable[[dict[str, object]], None] | None = None
        self._wake = threading.Event()
        self._update_required = threading.Event()
        self._initial_update_done = False
        self._retry_update_at: float | None = None
        self._retry_commit_at = 0.0
        self._thread: threading.Thread | None = None

    def on_cluster_message(self, message: dict[str, object]) -> None:
        """A cluster message for this node (called on a clustering thread)."""
        if message.get("class") != SYNCHRONIZE_REQUEST:
            return
        text = synchronize_request_text(str(message.get("message_id", "")))
        self.log.info(SYNCHRONIZE_REQUEST, f"Received [{text}] ")
        self._update_required.set()
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="carbon-deployment-scheduler", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.run_once()
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()

    def run_once(self) -> None:
        self._update()
        self.deployer.scan()
        # A worker node never commits (CarbonUtils.isWorkerNode() in the task).
        if not self.worker_node and self.synchronizer is not None and time.monotonic() >= self._retry_commit_at:
            try:
                committed = self.synchronizer.commit(skip=self.deployer.unsettled)
            except SynchronizerError as error:
                self.log.error(SCHEDULER_TASK, f"Deployment synchronization commit for tenant {SUPER_TENANT_ID} failed",
                               error.exception)
                self._retry_commit_at = time.monotonic() + RETRY_INTERVAL
                return
            if committed:
                self._send_synchronize_request()

    def _update(self) -> None:
        requested = self._update_required.is_set()
        retry_due = self._retry_update_at is not None and time.monotonic() >= self._retry_update_at
        if self.synchronizer is None or not (requested or retry_due or not self._initial_update_done):
            return
        self._update_required.clear()
        try:
            touched = self.synchronizer.update()
        except SynchronizerError as error:
            self.log.error(SCHEDULER_TASK, f"Deployment synchronization update for tenant {SUPER_TENANT_ID} failed",
                           error.exception)
            self._retry_update_at = time.monotonic() + RETRY_INTERVAL
            return
        self._initial_update_done = True
        self._retry_update_at = None
        for path in touched:
            self.deployer.written_whole(path)

    def _send_synchronize_request(self) -> None:
        if self.send_cluster_message is None:
            return  # clustering is off: no clustering agent, no message
        message_id = str(uuid.uuid4())
        self.send_cluster_message({"class": SYNCHRONIZE_REQUEST, "tenant_id": SUPER_TENANT_ID,
                                   "tenant_domain": SUPER_TENANT_DOMAIN, "message_id": message_id})
        self.log.info(SCHEDULER_TASK, f"Sent [{synchronize_request_text(message_id)}]")
