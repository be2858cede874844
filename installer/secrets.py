"""Passwords: from a file named on the command line, the environment, or a prompt on a terminal.

They are never taken from the plan or process arguments, never written to the state file or
logs, and never shown in diffs or output.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from installer.errors import SecretError

APP_PASSWORD_ENV = "WSO2_DB_PASSWORD"
ADMIN_PASSWORD_ENV = "WSO2_DB_ADMIN_PASSWORD"
SVN_PASSWORD_ENV = "WSO2_SVN_PASSWORD"
# Every variable through which a password reaches the installer: never passed on to a process
# it starts (a process's environment is readable by its user, and inherited by its children).
SECRET_ENV_NAMES = (APP_PASSWORD_ENV, ADMIN_PASSWORD_ENV, SVN_PASSWORD_ENV)


@dataclass(frozen=True)
class PasswordSource:
    label: str  # e.g. "application database password"
    env: str
    file: Path | None = None


@dataclass
class Secrets:
    """Passwords for this run; ``repr`` never shows them."""

    db_password: str | None = None
    db_admin_password: str | None = None
    svn_password: str | None = None  # deployment synchronisation through svn, with a login

    def __repr__(self) -> str:
        def shown(value: str | None) -> str:
            return "set" if value else "missing"

        return (f"Secrets(db_password={shown(self.db_password)}, db_admin_password={shown(self.db_admin_password)}, "
                f"svn_password={shown(self.svn_password)})")

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value in (self.db_password, self.db_admin_password, self.svn_password) if value)


def read_password_file(path: Path, label: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SecretError(f"the {label} file {path} cannot be read: {error.strerror}",
                          "give a readable file holding only the password") from error
    # Only the one line end an editor adds is not part of the password; spaces are, at either end.
    password = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not password:
        raise SecretError(f"the {label} file {path} is empty", "put the password on its first line")
    if "\n" in password or "\r" in password:
        # Taking the first line could log in with something else than was meant, and fail far from here.
        raise SecretError(f"the {label} file {path} holds more than one line",
                          "leave only the password in it, on one line (a line end after it is fine)")
    return password


def resolve_password(source: PasswordSource, *, environ: Mapping[str, str] | None = None,
                     prompt: Callable[[str], str] | None = None) -> str | None:
    """File first, then the environment, then a prompt (only when one is given); else None."""
    environ = os.environ if environ is None else environ
    if source.file is not None:
        return read_password_file(source.file, source.label)
    value = environ.get(source.env)
    if value:
        return value
    if prompt is not None:
        value = prompt(f"{source.label[0].upper()}{source.label[1:]}: ")
        return value or None
    return None


def terminal_prompt() -> Callable[[str], str] | None:
    """A hidden-input prompt when a terminal is attached, else None (never block a pipeline)."""
    if sys.stdin.isatty() and sys.stderr.isatty():
        return lambda text: getpass.getpass(text)
    return None
