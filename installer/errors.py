"""Errors an operator can act on: each has a title, a message, a hint and perhaps a remedy.

The hint is worded for anyone (what to look at, which setting); the remedy says what would fix
it without words, so that each front end says it its own way: the CLI in commands and flags,
the wizard in screens and buttons. The engine never names a CLI flag in a hint. Anything else
is a bug and its traceback goes to the log file.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a remedy asks for (Remedy.action).
GIVE_PASSWORD = "give_password"  # secret: db_password | db_admin_password
REWRITE_CHANGED_FILES = "rewrite_changed_files"  # files changed by hand: let the installer rewrite its values
SHOW_DIFFS = "show_diffs"  # look at what changed by hand
RUN_STEP = "run_step"  # step (on server)
START_NODE = "start_node"  # node (on server)
READ_NODE_LOG = "read_node_log"  # node (on server)
CHOOSE_SERVER = "choose_server"  # server names the plan knows: choices
SET_PASSWORD_ON_ACCOUNTS = "set_password_on_accounts"  # accounts (user@host) to give the plan's password
LOAD_SCHEMA_ANYWAY = "load_schema_anyway"  # databases that hold other tables
PREVIEW_HOSTS_LINES = "preview_hosts_lines"  # the hosts lines to add by hand
RUN_CLUSTER_TEST = "run_cluster_test"  # the cluster test (on server): verify with the probe proxy


@dataclass(frozen=True)
class Remedy:
    """What would fix a problem, for a front end to word (see the actions above)."""

    action: str
    step: str = ""
    node: str = ""
    server: str = ""
    secret: str = ""
    choices: tuple[str, ...] = ()


class InstallerError(Exception):
    """Base class: something the operator can act on."""

    title = "Installation error"

    def __init__(self, message: str, hint: str = "", *, title: str | None = None,
                 remedy: Remedy | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.remedy = remedy
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class PlanError(InstallerError):
    """The plan file is not valid; carries every problem found, not only the first."""

    title = "The plan is not valid"

    def __init__(self, problems: list, hint: str = "") -> None:  # list[PlanProblem]
        self.problems = list(problems)
        lines = [str(problem) for problem in self.problems]
        super().__init__("\n".join(lines), hint or "Fix the plan file and run the command again.")


class UsageError(InstallerError):
    """A name on the command line (server, step, node) that the plan or the installer does not know."""

    title = "Not a valid choice"


class DriftError(InstallerError):
    """Files the installer wrote were changed by hand since: shown, never silently overwritten."""

    title = "Files changed by hand"

    def __init__(self, drifted: list) -> None:  # list[FileCheck]
        self.drifted = drifted
        names = "\n".join(f"  {check.path} ({check.label})" for check in drifted)
        super().__init__(
            f"{len(drifted)} file(s) were changed by hand after the installer wrote them:\n{names}",
            "look at the diffs, then keep your edits by updating the plan, or let the installer rewrite its "
            "values (your other edits are kept)",
            remedy=Remedy(REWRITE_CHANGED_FILES),
        )


class DistributionError(InstallerError):
    title = "Distribution problem"


class ConfigFileError(InstallerError):
    """A configuration file inside a node home cannot be read or patched."""

    title = "Configuration file problem"


class StateError(InstallerError):
    title = "Installer state problem"


class SecretError(InstallerError):
    title = "Password needed"
