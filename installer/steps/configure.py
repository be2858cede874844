"""The configure step: every configuration file of every node on this server, patched to the
derived values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from installer.contract import FileCheck, FileDiff, Status, StepReport
from installer.errors import (
    GIVE_PASSWORD,
    RUN_STEP,
    ConfigFileError,
    DriftError,
    InstallerError,
    Remedy,
    SecretError,
)
from installer.files.axis2 import patch_axis2
from installer.files.base import FilePatch, PatchFunction
from installer.files.carbon import patch_carbon, read_carbon
from installer.files.datasources import patch_datasources, read_datasources
from installer.files.lbconf import patch_loadbalancer
from installer.files.registry import patch_registry
from installer.files.usermgt import patch_user_mgt
from installer.plan.derive import NodeLayout
from installer.steps.base import Step, read_from_zip, zip_for

AXIS2_XML = "repository/conf/axis2/axis2.xml"
CARBON_XML = "repository/conf/carbon.xml"
LOADBALANCER_CONF = "repository/conf/loadbalancer.conf"
DATASOURCES_XML = "repository/conf/datasources/master-datasources.xml"
USER_MGT_XML = "repository/conf/user-mgt.xml"
REGISTRY_XML = "repository/conf/registry.xml"
DRIVER_DIR = "repository/components/lib"

# Placeholder used to render master-datasources.xml for a check when no password was given and
# none of ours is on disk yet; such a file is always "pending", never written with it.
PASSWORD_UNKNOWN = "(password not given to the installer)"
SVN_PASSWORD_UNKNOWN = "(svn password not given to the installer)"


class ConfigureStep(Step):
    """Every configuration file of every node on this server, patched to the derived values."""

    def patches(self) -> list[FilePatch]:
        patches: list[FilePatch] = []
        for node in self.context.server.nodes:
            patches.extend(self._node_patches(node))
        return patches

    def _node_patches(self, node: NodeLayout) -> list[FilePatch]:
        context = self.context
        layout = context.layout
        source_zip = zip_for(context.plan, node)

        def xml(relative: str, patch: PatchFunction, settings: object, **options: object) -> FilePatch:
            path = node.home / relative
            # Until the home is extracted the original is the zip's copy: say so in errors.
            shown = str(path) if node.home.exists() else f"{relative} in {source_zip.name} (for {node.name})"
            return FilePatch(
                path=path, label=f"{node.name}: {relative}",
                transform=lambda original: patch(original, settings, path=shown),
                pristine=lambda: read_from_zip(source_zip, relative), **options)  # type: ignore[arg-type]

        patches = [xml(AXIS2_XML, patch_axis2, layout.axis2_settings(node))]
        if node.is_esb and layout.needs_svn_password:
            # carbon.xml then holds the svn login: readable by its owner only, like the datasources.
            svn_password = (context.secrets.svn_password or self._svn_password_on_disk(node)
                            or SVN_PASSWORD_UNKNOWN)
            patches.append(xml(CARBON_XML, patch_carbon, layout.carbon_settings(node, svn_password),
                               mode=0o600, secrets=(svn_password,)))
        else:
            patches.append(xml(CARBON_XML, patch_carbon, layout.carbon_settings(node)))
        if node.role == "elb":
            patches.append(xml(LOADBALANCER_CONF, patch_loadbalancer, layout.load_balancer_settings()))
            return patches
        password = context.secrets.db_password or self._password_on_disk(node) or PASSWORD_UNKNOWN
        driver = context.plan.distributions.jdbc_driver
        patches += [
            xml(DATASOURCES_XML, patch_datasources, layout.datasources(node, password),
                mode=0o600, secrets=(password,)),
            xml(USER_MGT_XML, patch_user_mgt, layout.user_mgt_settings()),
            xml(REGISTRY_XML, patch_registry, layout.registry_settings(node)),
            FilePatch(path=node.home / DRIVER_DIR / driver.name, label=f"{node.name}: {DRIVER_DIR}/{driver.name}",
                      transform=lambda _original: _read_driver(driver), binary=True, mode=0o644),
        ]
        return patches

    def _password_on_disk(self, node: NodeLayout) -> str | None:
        """The password in a master-datasources.xml we wrote, so status works without secrets."""
        path = node.home / DATASOURCES_XML
        if self.context.state.file_fingerprint(self.name, path) is None:
            return None
        try:
            values = read_datasources(path.read_bytes())
        except (OSError, ConfigFileError):
            return None
        for datasource in values:
            if datasource.name == node.local_registry_db and datasource.password:
                return datasource.password
        return None

    def _svn_password_on_disk(self, node: NodeLayout) -> str | None:
        """The svn password in a carbon.xml we wrote, so status works without secrets; only when
        it is the password of the plan's svn user (another user's would be written for this one)."""
        path = node.home / CARBON_XML
        if self.context.state.file_fingerprint(self.name, path) is None:
            return None
        try:
            sync = read_carbon(path.read_bytes()).deployment_sync
        except (OSError, ConfigFileError):
            return None
        if sync is None or not sync.svn_password or sync.svn_user != self.context.plan.cluster.deployment_sync.svn_user:
            return None
        return sync.svn_password

    def _file_checks(self) -> list[FileCheck]:
        state = self.context.state
        checks = []
        for patch in self.patches():
            recorded = state.file_fingerprint(self.name, patch.path)
            check = patch.check(recorded)
            if check.outdates(recorded):
                # Written by a run killed before its state save. Only the in-memory record changes:
                # the engine skips apply for a done step but saves the state after it, so an apply
                # run keeps this; status and dry runs never save.
                state.record_file(self.name, patch.path, check.fingerprint)
            checks.append(check)
        return checks

    def check(self) -> StepReport:
        missing_homes = [node.name for node in self.context.server.nodes if not node.home.exists()]
        checks = self._file_checks()
        if any(check.status == Status.DRIFTED for check in checks):
            drifted = [check for check in checks if check.status == Status.DRIFTED]
            return StepReport.checked(Status.DRIFTED, f"{len(drifted)} file(s) changed by hand", tuple(checks))
        pending = [check for check in checks if check.status != Status.DONE]
        if pending:
            message = f"{len(pending)} file(s) to write"
            if missing_homes:
                message += f" (homes not extracted yet: {', '.join(missing_homes)})"
            return StepReport.checked(Status.PENDING, message, tuple(checks))
        return StepReport.checked(Status.DONE, f"{len(checks)} file(s) up to date", tuple(checks))

    def preview(self) -> StepReport:
        checks = self._file_checks()
        lines = [f"{check.status}: {check.path} ({check.reason})" for check in checks if check.status != Status.DONE]
        return StepReport.previewed(tuple(lines) or ("all configuration files are up to date",),
                                    tuple(check.diff for check in checks if check.diff.changed))

    def apply(self, *, force: bool = False) -> StepReport:
        context = self.context
        missing_homes = [node.name for node in context.server.nodes if not node.home.exists()]
        if missing_homes:
            raise InstallerError(f"node homes not extracted yet: {', '.join(missing_homes)}",
                                 "run the extract step first", title="Nothing to configure yet",
                                 remedy=Remedy(RUN_STEP, step="extract"))
        patches = self.patches()
        state = context.state
        # Render everything before writing anything: a malformed file in one node leaves every
        # node untouched.
        checks = [patch.check(state.file_fingerprint(self.name, patch.path)) for patch in patches]
        drifted = [check for check in checks if check.status == Status.DRIFTED]
        if drifted and not force:
            raise DriftError(drifted)
        # Re-writing with the password found in our own file is fine; a first write needs the real one.
        needs_password = [patch for patch, check in zip(patches, checks, strict=True)
                          if PASSWORD_UNKNOWN in patch.secrets and check.status != Status.DONE]
        if needs_password:
            raise SecretError("the application database password is needed to write "
                              + ", ".join(str(patch.path) for patch in needs_password),
                              remedy=Remedy(GIVE_PASSWORD, secret="db_password"))
        needs_svn_password = [patch for patch, check in zip(patches, checks, strict=True)
                              if SVN_PASSWORD_UNKNOWN in patch.secrets and check.status != Status.DONE]
        if needs_svn_password:
            user = context.plan.cluster.deployment_sync.svn_user
            raise SecretError(f"the svn password of '{user}' (cluster.deployment_sync) is needed to write "
                              + ", ".join(str(patch.path) for patch in needs_svn_password),
                              remedy=Remedy(GIVE_PASSWORD, secret="svn_password"))
        changed_diffs: list[FileDiff] = []
        for patch, check in zip(patches, checks, strict=True):
            if check.status == Status.DONE:
                state.record_file(self.name, patch.path, patch.fingerprint(patch.current() or b""))
                continue
            changed, fingerprint, diff = patch.apply()
            state.record_file(self.name, patch.path, fingerprint)
            state.save()
            if changed:
                changed_diffs.append(diff)
        message = f"{len(changed_diffs)} file(s) written"
        if len(changed_diffs) < len(patches):
            message += f", {len(patches) - len(changed_diffs)} already as the plan wants"
        return StepReport.applied(bool(changed_diffs), message, tuple(changed_diffs))


@lru_cache(maxsize=4)
def _read_driver_cached(path: Path, size: int, mtime_ns: int) -> bytes:
    return path.read_bytes()


def _read_driver(path: Path) -> bytes:
    stat = path.stat()
    return _read_driver_cached(path, stat.st_size, stat.st_mtime_ns)
