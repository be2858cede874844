"""The preflight step: what would stop the run on this server, found before anything changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from installer import processes
from installer.contract import Status, StepReport
from installer.errors import GIVE_PASSWORD, ConfigFileError, DistributionError, InstallerError, Remedy
from installer.steps.base import Step, read_from_zip, uncompressed_size, zip_for
from installer.steps.configure import ConfigureStep

APP_PASSWORD_NEEDED = "the application database password is needed to write master-datasources.xml"


class PreflightStep(Step):
    """Checks that need no change: folders writable, disk space, hosts file, passwords at hand."""

    def problems(self) -> list[str]:
        context = self.context
        found: list[str] = []
        install_dir = context.server.install_dir
        if not _creatable(install_dir):
            found.append(f"{install_dir} cannot be created or written: run as a user who may write there, "
                         "or change install_dir in the plan")
        missing = [node for node in context.server.nodes if not node.home.exists()]
        for source in dict.fromkeys(zip_for(context.plan, node) for node in missing):
            if not source.exists():  # said the way reading it would say it, so it is said once
                found.append(f"{source} is not there (copy the distribution zip there, or correct distributions "
                             "in the plan)")
        if missing and _creatable(install_dir):
            needed = sum(uncompressed_size(zip_for(context.plan, node)) for node in missing)
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
            source = zip_for(self.context.plan, node)
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

    def check(self) -> StepReport:
        found = self.problems()
        if found:
            return StepReport.checked(Status.FAILED, "; ".join(found))
        return StepReport.checked(Status.DONE, "this server is ready")

    def preview(self) -> StepReport:
        found = self.problems()
        return StepReport.previewed(tuple(f"problem: {text}" for text in found) or ("preflight checks pass",), problems=tuple(found))

    def apply(self, *, force: bool = False) -> StepReport:
        found = self.problems()
        if found:
            needs_password = APP_PASSWORD_NEEDED in found
            raise InstallerError("\n".join(found), "fix these, then run again", title="Preflight failed",
                                 remedy=Remedy(GIVE_PASSWORD, secret="db_password") if needs_password else None)
        return StepReport.applied(False, "this server is ready")


def _existing_ancestor(path: Path) -> Path:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _creatable(path: Path) -> bool:
    ancestor = _existing_ancestor(path)
    return ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK)
