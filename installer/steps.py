"""The named steps of an installation on one server, each with check / preview / apply.

Order: preflight, extract, configure, database, hosts, start, verify. ``check`` never changes
anything; ``preview`` says what ``apply`` would change; ``apply`` makes it so and a second
``apply`` changes nothing.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from installer import database, launch, processes, verify
from installer.contract import FileCheck, FileDiff, Status, StepCheck, StepPreview, StepResult
from installer.errors import (
    GIVE_PASSWORD,
    RUN_STEP,
    SHOW_DIFFS,
    ConfigFileError,
    DistributionError,
    DriftError,
    InstallerError,
    Remedy,
    SecretError,
)
from installer.events import EventSink, Note, Progress, human_size, ignore_events
from installer.faults import crash_point
from installer.files.axis2 import patch_axis2
from installer.files.base import FilePatch
from installer.files.carbon import patch_carbon
from installer.files.datasources import patch_datasources, read_datasources
from installer.files.hosts import read_block, render_hosts, shadowing_lines
from installer.files.lbconf import patch_loadbalancer
from installer.files.registry import patch_registry
from installer.files.usermgt import patch_user_mgt
from installer.lock import LockedError, locked_state
from installer.plan.derive import Layout, NodeLayout, ServerLayout
from installer.plan.model import Plan
from installer.processes import NodeProcess, is_running
from installer.secrets import Secrets
from installer.sqlscript import split_statements
from installer.state import STEP_NAMES, State

AXIS2_XML = "repository/conf/axis2/axis2.xml"
CARBON_XML = "repository/conf/carbon.xml"
LOADBALANCER_CONF = "repository/conf/loadbalancer.conf"
DATASOURCES_XML = "repository/conf/datasources/master-datasources.xml"
USER_MGT_XML = "repository/conf/user-mgt.xml"
REGISTRY_XML = "repository/conf/registry.xml"
DRIVER_DIR = "repository/components/lib"
MYSQL_SCRIPT = "dbscripts/mysql.sql"

# Placeholder used to render master-datasources.xml for a check when no password was given and
# none of ours is on disk yet; such a file is always "pending", never written with it.
PASSWORD_UNKNOWN = "(password not given to the installer)"
APP_PASSWORD_NEEDED = "the application database password is needed to write master-datasources.xml"


@dataclass
class RunContext:
    plan: Plan
    layout: Layout
    server: ServerLayout
    state: State
    secrets: Secrets = field(default_factory=Secrets)
    emit: EventSink = ignore_events
    selected: tuple[str, ...] = STEP_NAMES


class Step:
    name = ""
    # A step that changes nothing and whose every run should show its findings (verify): the
    # engine applies it directly instead of checking it first.
    always_apply = False

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def check(self) -> StepCheck:
        raise NotImplementedError

    def preview(self) -> StepPreview:
        raise NotImplementedError

    def apply(self, *, force: bool = False) -> StepResult:
        raise NotImplementedError

    def note(self, message: str, level: str = "info") -> None:
        self.context.emit(Note(self.name, message, level))


# --- preflight ------------------------------------------------------------------------------------

class PreflightStep(Step):
    """Checks that need no change: folders writable, disk space, hosts file, passwords at hand."""

    name = "preflight"

    def problems(self) -> list[str]:
        context = self.context
        found: list[str] = []
        install_dir = context.server.install_dir
        if not _creatable(install_dir):
            found.append(f"{install_dir} cannot be created or written: run as a user who may write there, "
                         "or change install_dir in the plan")
        missing = [node for node in context.server.nodes if not node.home.exists()]
        for source in dict.fromkeys(_zip_for(context.plan, node) for node in missing):
            if not source.exists():  # said the way reading it would say it, so it is said once
                found.append(f"{source} is not there (copy the distribution zip there, or correct distributions "
                             "in the plan)")
        if missing and _creatable(install_dir):
            needed = sum(_uncompressed_size(_zip_for(context.plan, node)) for node in missing)
            free = shutil.disk_usage(_existing_ancestor(install_dir)).free
            if needed * 1.1 > free:
                found.append(f"{install_dir} has {free // 2**20} MiB free but the node homes need about "
                             f"{needed // 2**20} MiB: free some space or choose another install_dir")
        hosts_file = context.server.hosts_file
        if "hosts" in context.selected:
            target = hosts_file if hosts_file.exists() else hosts_file.parent
            if not os.access(target, os.W_OK):
                found.append(f"{hosts_file} is not writable: run the installer as root (or with sudo -E), "
                             "or skip the hosts step and add its lines by hand (the preview shows them)")
        if "start" in context.selected:
            found.extend(self._java_problems())
        if "configure" in context.selected:
            # Render every configuration file now (from the zips when not extracted yet), so a
            # malformed file is reported before anything is extracted or written.
            try:
                configure_status = ConfigureStep(context).check().status
            except (ConfigFileError, DistributionError) as error:
                found.append(f"{error.message} ({error.hint})" if error.hint else error.message)
            else:
                if (configure_status != Status.DONE and not context.secrets.db_password
                        and any(node.is_esb for node in context.server.nodes)):
                    found.append(APP_PASSWORD_NEEDED)
        return list(dict.fromkeys(found))

    def _java_problems(self) -> list[str]:
        """A real Carbon start script needs Java (it reads JAVA_HOME): say so before anything."""
        seen: set[Path] = set()
        found = []
        for node in self.context.server.nodes:
            source = _zip_for(self.context.plan, node)
            if node.home.exists():
                problem = processes.java_problem(node)
            elif source not in seen and source.is_file():  # a missing zip is a problem of its own
                seen.add(source)
                try:
                    script = read_from_zip(source, processes.START_SCRIPT)
                except DistributionError as error:
                    found.append(f"{error.message} ({error.hint})")
                    continue
                problem = processes.java_problem_for_script(script.decode("utf-8", "replace")) if script else None
            else:
                continue
            if problem:
                found.append(f"{node.name}: {problem}")
        return found

    def check(self) -> StepCheck:
        found = self.problems()
        if found:
            return StepCheck(Status.FAILED, "; ".join(found))
        return StepCheck(Status.DONE, "this server is ready")

    def preview(self) -> StepPreview:
        found = self.problems()
        return StepPreview(tuple(f"problem: {text}" for text in found) or ("preflight checks pass",), problems=tuple(found))

    def apply(self, *, force: bool = False) -> StepResult:
        found = self.problems()
        if found:
            needs_password = APP_PASSWORD_NEEDED in found
            raise InstallerError("\n".join(found), "fix these, then run again", title="Preflight failed",
                                 remedy=Remedy(GIVE_PASSWORD, secret="db_password") if needs_password else None)
        return StepResult(False, "this server is ready")


def _existing_ancestor(path: Path) -> Path:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _creatable(path: Path) -> bool:
    ancestor = _existing_ancestor(path)
    return ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK)


def _zip_for(plan: Plan, node: NodeLayout) -> Path:
    return plan.distributions.elb if node.role == "elb" else plan.distributions.esb


@lru_cache(maxsize=8)
def _zip_listing(path: Path, size: int, mtime_ns: int) -> tuple[str, dict[str, str], int]:
    """(top folder, relative path -> entry name, uncompressed bytes); cached per file version."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile) as error:
        raise DistributionError(f"{path} is not a readable zip: {error}", "download it again") from error
    names: dict[str, str] = {}
    tops = {info.filename.split("/", 1)[0] for info in infos}
    top = next(iter(tops)) if len(tops) == 1 else ""
    for info in infos:
        relative = info.filename.split("/", 1)[1] if top and "/" in info.filename else info.filename
        names[relative] = info.filename
    return top, names, sum(info.file_size for info in infos)


def _listing(path: Path) -> tuple[str, dict[str, str], int]:
    stat = path.stat()
    return _zip_listing(path, stat.st_size, stat.st_mtime_ns)


def _uncompressed_size(path: Path) -> int:
    try:
        return _listing(path)[2]
    except (OSError, DistributionError):
        return 0


def read_from_zip(path: Path, relative: str) -> bytes | None:
    """One small file of a distribution, by its path inside a node home."""
    try:
        _, names, _ = _listing(path)
        entry = names.get(relative)
        if entry is None:
            return None
        with zipfile.ZipFile(path) as archive:
            return archive.read(entry)
    except (OSError, zipfile.BadZipFile) as error:
        reason = "is not there" if isinstance(error, FileNotFoundError) else f"cannot be read ({error})"
        raise DistributionError(f"{path} {reason}", "copy the distribution zip there, or correct distributions "
                                "in the plan") from error


# --- extract --------------------------------------------------------------------------------------

def zip_fingerprint(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class ExtractStep(Step):
    """One home per node on this server, from its product's zip."""

    name = "extract"

    def _homes(self) -> dict[str, dict[str, object]]:
        return self.context.state.step(self.name).setdefault("homes", {})

    def _classify(self) -> tuple[list[NodeLayout], list[NodeLayout], list[NodeLayout]]:
        """(done, missing, foreign): foreign homes exist but the installer did not create them."""
        records = self.context.state.steps.get(self.name, {}).get("homes", {})
        done, missing, foreign = [], [], []
        for node in self.context.server.nodes:
            if not node.home.exists():
                missing.append(node)
            elif node.name in records:
                done.append(node)
            else:
                foreign.append(node)
        return done, missing, foreign

    def check(self) -> StepCheck:
        done, missing, foreign = self._classify()
        if foreign:
            return StepCheck(Status.FAILED, "exists but was not created by the installer: "
                             + ", ".join(str(node.home) for node in foreign))
        if missing:
            return StepCheck(Status.PENDING, "to extract: " + ", ".join(node.name for node in missing))
        return StepCheck(Status.DONE, f"{len(done)} node home(s) in place")

    def preview(self) -> StepPreview:
        _, missing, foreign = self._classify()
        lines = [f"refuse: {node.home} exists and was not created by the installer" for node in foreign]
        for node in missing:
            source = _zip_for(self.context.plan, node)
            size = _uncompressed_size(source)
            lines.append(f"extract {source.name} ({human_size(size)}) into {node.home}")
        return StepPreview(tuple(lines) or ("all node homes are in place",))

    def apply(self, *, force: bool = False) -> StepResult:
        from installer.distribution import extract_homes

        _, missing, foreign = self._classify()
        if foreign:
            raise DistributionError(
                "these folders exist but were not created by the installer: "
                + ", ".join(str(node.home) for node in foreign),
                "move them away (the installer never deletes or overwrites a folder it did not create)")
        if not missing:
            return StepResult(False, "all node homes are in place")
        plan, state = self.context.plan, self.context.state
        groups: dict[Path, list[NodeLayout]] = {}
        for node in missing:
            groups.setdefault(_zip_for(plan, node), []).append(node)
        total = sum(_uncompressed_size(source) * len(nodes) for source, nodes in groups.items())
        finished = 0
        for source, nodes in groups.items():
            # Record intent before the homes appear: a home that exists under its final name was
            # renamed into place complete, so after a crash it is recognised as ours.
            for node in nodes:
                self._homes()[node.name] = {"zip": zip_fingerprint(source), "home": str(node.home)}
            state.save()
            base = finished

            def progress(done: int, _total: int, base: int = base, label: str = source.name) -> None:
                if (base + done) * 2 >= total:
                    crash_point("extract:half")
                self.context.emit(Progress(self.name, label, base + done, total))

            extract_homes(source, [node.home for node in nodes], on_progress=progress)
            finished += _uncompressed_size(source) * len(nodes)
        return StepResult(True, "extracted " + ", ".join(node.name for node in missing))


# --- configure ------------------------------------------------------------------------------------

class ConfigureStep(Step):
    """Every configuration file of every node on this server, patched to the derived values."""

    name = "configure"

    def patches(self) -> list[FilePatch]:
        patches: list[FilePatch] = []
        for node in self.context.server.nodes:
            patches.extend(self._node_patches(node))
        return patches

    def _node_patches(self, node: NodeLayout) -> list[FilePatch]:
        context = self.context
        layout = context.layout
        source_zip = _zip_for(context.plan, node)

        def xml(relative: str, patch: Callable[..., bytes], settings: object, **options: object) -> FilePatch:
            path = node.home / relative
            # Until the home is extracted the original is the zip's copy: say so in errors.
            shown = str(path) if node.home.exists() else f"{relative} in {source_zip.name} (for {node.name})"
            return FilePatch(
                path=path, label=f"{node.name}: {relative}",
                transform=lambda original: patch(original, settings, path=shown),
                pristine=lambda: read_from_zip(source_zip, relative), **options)  # type: ignore[arg-type]

        patches = [
            xml(AXIS2_XML, patch_axis2, layout.axis2_settings(node)),
            xml(CARBON_XML, patch_carbon, layout.carbon_settings(node)),
        ]
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

    def check(self) -> StepCheck:
        missing_homes = [node.name for node in self.context.server.nodes if not node.home.exists()]
        checks = self._file_checks()
        if any(check.status == Status.DRIFTED for check in checks):
            drifted = [check for check in checks if check.status == Status.DRIFTED]
            return StepCheck(Status.DRIFTED, f"{len(drifted)} file(s) changed by hand", tuple(checks))
        pending = [check for check in checks if check.status != Status.DONE]
        if pending:
            message = f"{len(pending)} file(s) to write"
            if missing_homes:
                message += f" (homes not extracted yet: {', '.join(missing_homes)})"
            return StepCheck(Status.PENDING, message, tuple(checks))
        return StepCheck(Status.DONE, f"{len(checks)} file(s) up to date", tuple(checks))

    def preview(self) -> StepPreview:
        checks = self._file_checks()
        lines = [f"{check.status}: {check.path} ({check.reason})" for check in checks if check.status != Status.DONE]
        return StepPreview(tuple(lines) or ("all configuration files are up to date",),
                           tuple(check.diff for check in checks if check.diff.changed))

    def apply(self, *, force: bool = False) -> StepResult:
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
        return StepResult(bool(changed_diffs), message, tuple(changed_diffs))


@lru_cache(maxsize=4)
def _read_driver_cached(path: Path, size: int, mtime_ns: int) -> bytes:
    return path.read_bytes()


def _read_driver(path: Path) -> bytes:
    stat = path.stat()
    return _read_driver_cached(path, stat.st_size, stat.st_mtime_ns)


# --- hosts ----------------------------------------------------------------------------------------

class HostsStep(Step):
    """This server's marked block in its hosts file."""

    name = "hosts"

    def _patch(self) -> FilePatch:
        context = self.context
        cluster_id = context.plan.cluster.domain
        hosts_label = str(context.server.hosts_file)
        entries = [(entry.address, entry.hostname) for entry in context.server.hosts_entries]

        def transform(original: bytes) -> bytes:
            shadows = shadowing_lines(original, cluster_id, entries, path=hosts_label)
            if shadows:
                listing = "; ".join(str(shadow) for shadow in shadows)
                raise ConfigFileError(
                    f"{hosts_label} already maps cluster host names to other addresses ({listing})",
                    "remove or correct those lines: resolvers may pick any of them instead of ours")
            return render_hosts(original, cluster_id, entries, path=hosts_label)

        def owned(data: bytes) -> bytes:
            block = read_block(data, cluster_id, path=hosts_label)
            return repr(block).encode()

        # In containers /etc/hosts is a bind mount that no rename can replace: write it in place.
        return FilePatch(path=context.server.hosts_file, label="hosts file", transform=transform, owned_part=owned,
                         in_place_fallback=True)

    def check(self) -> StepCheck:
        patch = self._patch()
        state = self.context.state
        recorded = state.file_fingerprint(self.name, patch.path)
        result = patch.check(recorded)
        if result.outdates(recorded):
            # Written by a run killed before its state save. Only the in-memory record changes:
            # the engine skips apply for a done step but saves the state after it, so an apply run
            # keeps this; status and dry runs never save.
            state.record_file(self.name, patch.path, result.fingerprint)
        return StepCheck(result.status, f"{patch.path}: {result.reason}", (result,))

    def preview(self) -> StepPreview:
        patch = self._patch()
        result = patch.check(self.context.state.file_fingerprint(self.name, patch.path))
        lines = [f"{entry.address} {entry.hostname}  # {entry.reason}" for entry in self.context.server.hosts_entries]
        return StepPreview(tuple(lines), (result.diff,) if result.diff.changed else ())

    def apply(self, *, force: bool = False) -> StepResult:
        from installer.atomic import backup_once
        from installer.files.base import write_error

        patch = self._patch()
        state = self.context.state
        result = patch.check(state.file_fingerprint(self.name, patch.path))
        if result.status == Status.DRIFTED and not force:
            raise DriftError([result])
        if result.status == Status.DONE:
            # Recorded even when nothing is written: the record may predate a crash after the write.
            state.record_file(self.name, patch.path, result.fingerprint)
            return StepResult(False, f"{patch.path} is up to date")
        try:
            backup = backup_once(patch.path)
        except OSError as error:
            raise write_error(patch.path, error) from error
        if backup is not None:
            state.step(self.name)["backup"] = str(backup)
        written = patch.write()
        state.record_file(self.name, patch.path, written.fingerprint)
        message = f"{patch.path} updated"
        if written.in_place:
            message += " in place (it is a mount point, a bind mount: no rename can replace it)"
        if backup:
            message += f" (original kept as {backup})"
        return StepResult(written.changed, message, (written.diff,) if written.changed else ())


# --- later work -----------------------------------------------------------------------------------

class DatabaseStep(Step):
    """The seed's "Setting up the central database": created on the plan's database server,
    checked from every other server as the nodes will connect."""

    name = "database"

    @property
    def on_database_server(self) -> bool:
        return self.context.plan.database.server == self.context.server.name

    def _endpoint(self) -> database.Endpoint:
        db = self.context.plan.database
        return database.Endpoint(db.address, db.port, bind_address=self.context.server.address)

    def _script(self) -> tuple[str, list]:
        """The distribution's own dbscripts/mysql.sql: from an extracted ESB home here, else the zip."""
        for node in self.context.server.nodes:
            path = node.home / MYSQL_SCRIPT
            if node.is_esb and path.is_file():
                return str(path), database.read_script(path)
        source_zip = self.context.plan.distributions.esb
        data = read_from_zip(source_zip, MYSQL_SCRIPT)
        if data is None:
            raise database.DatabaseError(f"{source_zip.name} has no {MYSQL_SCRIPT}",
                                         "use the ESB distribution zip as downloaded from WSO2")
        label = f"{MYSQL_SCRIPT} in {source_zip.name}"
        return label, split_statements(data.decode("utf-8", "surrogateescape"), source=label)

    def _node_databases(self) -> list[str]:
        return self.context.layout.databases_used_on(self.context.server)

    def _admin_password(self) -> str:
        password = self.context.secrets.db_admin_password
        if not password:
            raise SecretError("the database admin password is needed on the database server",
                              remedy=Remedy(GIVE_PASSWORD, secret="db_admin_password"))
        return password

    def _app_password(self) -> str:
        password = self.context.secrets.db_password
        if not password:
            raise SecretError("the application database password is needed",
                              remedy=Remedy(GIVE_PASSWORD, secret="db_password"))
        return password

    def _inspect(self) -> tuple[database.DatabaseReport, list, str]:
        label, statements = self._script()
        db = self.context.plan.database
        with database.admin_connection(self._endpoint(), db.admin_user, self._admin_password()) as connection:
            report = database.inspect(connection, self.context.layout, statements,
                                      password=self.context.secrets.db_password)
        return report, statements, label

    def _access_problems(self) -> list[database.AccessProblem]:
        if not self._node_databases():
            return []
        db = self.context.plan.database
        return database.check_application_access(self._endpoint(), db.user, self._app_password(),
                                                 self._node_databases())

    def check(self) -> StepCheck:
        try:
            if not self.on_database_server:
                if not self._node_databases():
                    return StepCheck(Status.DONE, "no ESB node on this server: nothing to check")
                problems = self._access_problems()
                if problems:
                    return StepCheck(Status.FAILED, "; ".join(map(str, problems)))
                return StepCheck(Status.DONE, f"the application user reaches {', '.join(self._node_databases())} "
                                 f"from {self.context.server.address}")
            report, _, _ = self._inspect()
        except SecretError as error:
            if self.context.state.step_status(self.name) == Status.DONE:
                return StepCheck(Status.DONE, f"done at the last run (not re-checked: {error.message})")
            return StepCheck(Status.PENDING, f"cannot look yet: {error.message}")
        except InstallerError as error:
            return StepCheck(Status.FAILED, error.message)
        summary = "; ".join(report.summary())
        if report.foreign or report.password_conflicts:
            return StepCheck(Status.FAILED, summary)
        if not report.complete:
            return StepCheck(Status.PENDING, summary)
        if self.context.secrets.db_password:
            problems = self._access_problems()
            if problems:
                return StepCheck(Status.FAILED, "; ".join(map(str, problems)))
        return StepCheck(Status.DONE, summary)

    def preview(self) -> StepPreview:
        if not self.on_database_server:
            names = ", ".join(self._node_databases()) or "(none)"
            return StepPreview((f"check that '{self.context.plan.database.user}' reaches {names} at "
                                f"{self._endpoint()} from {self.context.server.address}",))
        try:
            report, statements, label = self._inspect()
        except InstallerError as error:
            return StepPreview((f"cannot look at the database server ({error.message}); it would run:",
                                *self._all_actions_shown()), problems=(error.message,))
        actions = database.planned_actions(report, statements)
        lines = [*report.summary(), f"statements to run ({len(actions)}; schema from {label}):"]
        lines += [f"  {action.shown};" for action in actions]
        return StepPreview(tuple(lines))

    def _all_actions_shown(self) -> list[str]:
        label, statements = self._script()
        empty = database.DatabaseReport(
            schemas=tuple(database.SchemaReport(name, exists=False) for name in database.database_names(self.context.layout)),
            user_hosts=frozenset(), grants=frozenset(), wanted_hosts=database.client_hosts(self.context.layout),
            user=self.context.plan.database.user)
        return [f"  {action.shown};" for action in database.planned_actions(empty, statements)]

    def apply(self, *, force: bool = False) -> StepResult:
        if not self.on_database_server:
            problems = self._access_problems()
            if problems:
                raise database.access_error(problems, database_server=self.context.plan.database.server,
                                            plan_address=self.context.server.address)
            return StepResult(False, f"the application user reaches {', '.join(self._node_databases())}")
        db = self.context.plan.database
        label, statements = self._script()
        with database.admin_connection(self._endpoint(), db.admin_user, self._admin_password()) as connection:
            missing = database.missing_admin_privileges(connection)
            if missing:
                raise database.DatabaseError(
                    f"the admin user '{db.admin_user}' lacks {', '.join(missing)} on {self._endpoint()}; nothing was changed",
                    f"use an account with CREATE, CREATE USER and GRANT OPTION, e.g. "
                    f"GRANT ALL PRIVILEGES ON *.* TO '{db.admin_user}'@'{self.context.server.address}' WITH GRANT OPTION")
            # Every account of the user, on any host, is looked at before anything changes: a
            # refusal half-way would leave accounts with two passwords and a hint that dead-ends.
            report = database.inspect(connection, self.context.layout, statements,
                                      password=self.context.secrets.db_password)
            if report.foreign and not force:
                raise report.foreign_error()
            if report.password_conflicts and not force:
                raise report.conflict_error()
            if report.missing_users:
                self._app_password()
            # With --force the given password is set on the conflicting accounts first, so the new
            # accounts never exist beside them with another password.
            actions = [*database.set_password_actions(db.user, [conflict.host for conflict in report.password_conflicts]),
                       *database.planned_actions(report, statements)]
            run = database.DatabaseRun(connection, label, self.context.secrets.db_password or "")
            loaded: dict[str, int] = {}
            for action in actions:
                run.run([action])
                if action.statement is None:
                    self.note(action.shown)
                elif action.database is not None:
                    loaded[action.database] = loaded.get(action.database, 0) + 1
            for name, count in loaded.items():
                self.note(f"{name}: {count} statement(s) of {label} run")
        if self.context.secrets.db_password:
            problems = self._access_problems()
            if problems:
                raise database.DatabaseError("after setting up the databases the application user still cannot "
                                             "reach them:\n  " + "\n  ".join(map(str, problems)),
                                             "see the messages above")
        created_databases = sum(1 for action in actions if action.sql.startswith("CREATE DATABASE"))
        created_users = sum(1 for action in actions if action.sql.startswith("CREATE USER"))
        grants = sum(1 for action in actions if action.sql.startswith("GRANT"))
        passwords_set = sum(1 for action in actions if action.sql.startswith("ALTER USER"))
        schema_statements = sum(1 for action in actions if action.statement is not None)
        if actions:
            reset = f", set the given password on {passwords_set} existing account(s)" if passwords_set else ""
            return StepResult(True, f"created {created_databases} database(s), ran {schema_statements} schema "
                              f"statement(s), created {created_users} user account(s), added {grants} grant(s)"
                              + reset)
        return StepResult(False, "databases, schemas, users and grants already in place")


class StartStep(Step):
    """The seed's "Starting the ELB server" / "Starting the ESB server": this server's nodes in
    order (ELB, manager, workers), each awaited through its log milestones before the next."""

    name = "start"

    def _record(self) -> dict:
        return self.context.state.step(self.name)

    def process(self, node_name: str) -> NodeProcess | None:
        record = self.context.state.steps.get(self.name, {}).get("processes", {}).get(node_name)
        return NodeProcess.from_record(node_name, record) if record else None

    def node_processes(self) -> dict[str, NodeProcess | None]:
        return {node.name: self.process(node.name) for node in self.context.server.nodes}

    def launch_offsets(self) -> dict[str, dict[str, int]]:
        """Where each node's logs stood at its first start by the installer: membership is read
        from there, so what a restarted manager did not see again still counts (joins and
        departures are taken in log order)."""
        records = self.context.state.steps.get(self.name, {}).get("processes", {})
        return {name: dict(record.get("first_log_offsets") or record.get("log_offsets", {}))
                for name, record in records.items()}

    def _order(self) -> tuple[NodeLayout, ...]:
        return self.context.layout.start_order(self.context.server.name)

    def check(self) -> StepCheck:
        stopped = [node.name for node in self._order() if not is_running(self.process(node.name))]
        if stopped:
            return StepCheck(Status.PENDING, "not running: " + ", ".join(stopped))
        return StepCheck(Status.DONE, f"{len(self._order())} node(s) running")

    def preview(self) -> StepPreview:
        lines = []
        setup_done = self._record().get("manager_setup_done", False)
        for node in self._order():
            if is_running(self.process(node.name)):
                lines.append(f"{node.name}: already running (pid {self.process(node.name).pid})")
                continue
            argv = " ".join(processes.node_argv(node, first_start=node.role == "manager" and not setup_done))
            lines.append(f"{node.name}: {argv}, then wait for its milestones")
        return StepPreview(tuple(lines))

    def apply(self, *, force: bool = False) -> StepResult:
        return StepResult(True, self.start(self._order()))

    def start(self, nodes: tuple[NodeLayout, ...]) -> str:
        """Start ``nodes`` (in the given order) that are not running; wait for each. Holds the
        install dir's lock (already held when apply or restart calls this)."""
        with locked_state(self.context.state, "start"):
            return self._start_locked(nodes)

    def _start_locked(self, nodes: tuple[NodeLayout, ...]) -> str:
        problems = [f"{node.name}: {problem}" for node in nodes if (problem := processes.java_problem(node))]
        if problems:
            raise InstallerError("; ".join(problems), "set JAVA_HOME to a JDK Carbon supports, then run again",
                                 title="Java is needed")
        state = self.context.state
        started = []
        for node in nodes:
            if is_running(self.process(node.name)):
                self.note(f"{node.name}: already running")
                continue
            first_start = node.role == "manager" and not self._record().get("manager_setup_done", False)
            offsets = launch.log_offsets(node)
            record = processes.start_node(node, first_start=first_start)
            previous = self._record().setdefault("processes", {}).get(node.name, {})
            entry = {**record.to_record(), "log_offsets": offsets, "first_start": first_start,
                     "first_log_offsets": previous.get("first_log_offsets") or offsets}
            self._record()["processes"][node.name] = entry
            if first_start:
                # Recorded before waiting: -Dsetup recreates the registry tables and must never
                # run again, not even after a crash while this node was starting.
                self._record()["manager_setup_done"] = True
            state.save()
            self.note(f"{node.name}: started (pid {record.pid}): {' '.join(record.argv)}")
            try:
                result, died = launch.wait_for_node(self.context.layout, node, record, offsets,
                                                    on_event=self._event)
            except BaseException:  # interrupted (Ctrl-C) or a bug: not left half-started either
                self._stop_unstarted(node, record)
                raise
            if result.outcome != "completed":
                # Said from what the node did before we stop it (its exit status, its last lines).
                error = launch.startup_error(node, record, result, died=died)
                self._stop_unstarted(node, record)
                raise error
            started.append(node.name)
        return ("started " + ", ".join(started)) if started else "every node was already running"

    def stop(self, nodes: tuple[NodeLayout, ...], *, timeout: float = processes.STOP_TIMEOUT) -> list[str]:
        """Stop ``nodes`` in reverse start order, holding the install dir's lock."""
        with locked_state(self.context.state, "stop"):
            outcomes = []
            for node in reversed(nodes):
                record = self.process(node.name)
                outcome = processes.stop_node(record, timeout=timeout) if record else "not running"
                outcomes.append(f"{node.name}: {outcome}")
                self.note(f"{node.name}: {outcome}")
            return outcomes

    def _stop_unstarted(self, node: NodeLayout, record: NodeProcess) -> None:
        """A node that did not reach its milestones is stopped, not left half-running: the next
        start would take it for started ("already running") and never wait for it again."""
        outcome = processes.stop_node(record)
        if outcome != "not running":
            self.note(f"{node.name}: {outcome}, as it did not finish starting", "warning")

    def _event(self, event: object) -> None:
        message, level = launch.describe(event)  # type: ignore[arg-type]
        self.note(message, level)


class VerifyStep(Step):
    """The seed's "Testing the cluster", and more: every check must hold."""

    name = "verify"
    always_apply = True

    def report(self) -> verify.VerifyReport:
        context = self.context
        start = StartStep(context)
        configure = ConfigureStep(context)
        hosts = HostsStep(context)

        def drift() -> list[verify.CheckOutcome]:
            outcomes = []
            for step in (configure, hosts):
                check = step.check()
                drifted = [file.path for file in check.files if file.status == Status.DRIFTED]
                outcomes.append(verify.CheckOutcome(
                    f"no drift ({step.name})", not drifted,
                    "files as the installer wrote them" if not drifted else "changed by hand: " + ", ".join(map(str, drifted)),
                    remedy=Remedy(SHOW_DIFFS) if drifted else None))
            return outcomes

        checks = [
            lambda: verify.check_processes(context.server, start.node_processes()),
            lambda: verify.check_ports(context.layout, context.server),
            lambda: launch.membership_checks(context.layout, context.server.name, start.launch_offsets()),
            lambda: verify.check_routing(context.layout, context.server.name),
            lambda: verify.check_datasources(context.layout, context.server, context.secrets.db_password),
            lambda: verify.check_hosts(context.server),
            drift,
        ]
        return verify.VerifyReport(context.server.name, tuple(verify.run_checks(checks)))

    def check(self) -> StepCheck:
        if StartStep(self.context).check().status != Status.DONE:
            return StepCheck(Status.PENDING, "checked once this server's nodes are started")
        report = self.report()
        if report.ok:
            return StepCheck(Status.DONE, f"{len(report.checks)} checks hold")
        if not report.failures:
            return StepCheck(Status.PENDING, report.summary + ": " + "; ".join(c.detail for c in report.pending))
        return StepCheck(Status.FAILED, "; ".join(check.detail for check in report.failures))

    def record(self, report: verify.VerifyReport) -> bool:
        """Keep the verdict in this server's state (Welcome offers Resume until it is green).
        Under the install dir's lock, which reads the state again first; while another run
        holds it, the verdict is not kept (that run records its own) and False is returned."""
        try:
            with locked_state(self.context.state, "verify"):
                self.context.state.mark(self.name, Status.DONE.value if report.ok else report.status, report.summary)
                self.context.state.save()
        except LockedError:
            return False
        return True

    def preview(self) -> StepPreview:
        return StepPreview(("check processes, ports, membership in the ELB's and manager's logs, routing through "
                            "the ELB, datasources, host names and drift",))

    def apply(self, *, force: bool = False) -> StepResult:
        report = self.report()
        marks = {verify.PASSED: "ok  ", verify.FAILED: "FAIL", verify.PENDING: "wait"}
        for check in report.checks:
            self.note(f"{marks[check.status]} {check.name}: {check.detail}", "info" if check.ok else "warning")
        if report.failures:
            raise verify.VerificationFailed(report)
        if report.pending:
            # Normal on the first server of several: nothing failed, the rest is not started yet.
            waiting = "; ".join(dict.fromkeys(check.hint for check in report.pending if check.hint))
            return StepResult(False, f"{report.summary} on {self.context.server.name}: {waiting}",
                              status=Status.PENDING)
        return StepResult(False, f"the cluster holds on {self.context.server.name}: {len(report.checks)} checks")


STEP_CLASSES: dict[str, type[Step]] = {
    "preflight": PreflightStep,
    "extract": ExtractStep,
    "configure": ConfigureStep,
    "database": DatabaseStep,
    "hosts": HostsStep,
    "start": StartStep,
    "verify": VerifyStep,
}
