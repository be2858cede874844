"""Errors an operator can act on: each has a title, a message and a hint.

The CLI prints them as such and the TUI shows them as such; anything else is a bug and its
traceback goes to the log file.
"""

from __future__ import annotations


class InstallerError(Exception):
    """Base class: something the operator can act on."""

    title = "Installation error"

    def __init__(self, message: str, hint: str = "", *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
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


class DistributionError(InstallerError):
    title = "Distribution problem"


class ConfigFileError(InstallerError):
    """A configuration file inside a node home cannot be read or patched."""

    title = "Configuration file problem"


class StateError(InstallerError):
    title = "Installer state problem"


class SecretError(InstallerError):
    title = "Password needed"


class NotAvailableYet(InstallerError):
    """A step or command whose implementation has not landed yet: said plainly, never faked."""

    title = "Not available yet"
