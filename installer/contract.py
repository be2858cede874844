"""The step contract: what a step's ``check``, ``preview`` and ``apply`` return, and what the
engine makes of a run, in one place (Ansible's check/diff results are the model).

``check`` says a ``Status`` (with a ``FileCheck`` per file it looked at), ``preview`` what would
change (summary lines and a ``FileDiff`` per file), ``apply`` what it changed (``StepResult``);
the engine reports each step run as a ``StepOutcome``. All are small frozen values: front ends
present them, nothing changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Status(StrEnum):
    DONE = "done"
    PENDING = "pending"
    DRIFTED = "drifted"
    FAILED = "failed"


@dataclass(frozen=True)
class FileDiff:
    """A unified diff of one file, secrets already removed; empty ``text`` means no change."""

    path: Path
    text: str
    label: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True)
class FileCheck:
    """``fingerprint``: that of the file on disk ("" when it is missing), what the caller records
    for a file found done."""

    path: Path
    label: str
    status: Status
    reason: str
    diff: FileDiff
    fingerprint: str = ""

    def outdates(self, recorded: str | None) -> bool:
        """Done, but ``recorded`` (kept from before a crash that followed the write) no longer matches."""
        return self.status == Status.DONE and recorded is not None and self.fingerprint != recorded


@dataclass(frozen=True)
class StepCheck:
    status: Status
    message: str
    files: tuple[FileCheck, ...] = ()

    @property
    def diffs(self) -> tuple[FileDiff, ...]:
        return tuple(check.diff for check in self.files if check.diff.changed)


@dataclass(frozen=True)
class StepPreview:
    summary: tuple[str, ...]
    diffs: tuple[FileDiff, ...] = ()
    problems: tuple[str, ...] = ()  # what already tells that apply would fail


@dataclass(frozen=True)
class StepResult:
    changed: bool
    message: str
    diffs: tuple[FileDiff, ...] = ()
    warnings: tuple[str, ...] = ()
    status: Status = Status.DONE  # verify: PENDING while members on other servers are not started


@dataclass(frozen=True)
class StepOutcome:
    """One step of an engine run: applied (``changed`` or not), or found done by its check."""

    name: str
    status: Status
    message: str
    diffs: tuple[FileDiff, ...] = ()
    changed: bool = False
