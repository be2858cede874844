"""The step contract: what a step's ``check``, ``preview`` and ``apply`` return, and what the
engine makes of a run, in one place (Ansible's check/diff results are the model).

``check`` says a ``Status`` (with a ``FileCheck`` per file it looked at), ``preview`` what would
change (summary lines and a ``FileDiff`` per file), ``apply`` what it changed; all three, and the
engine's record of each step it ran, are one shape: ``StepReport``. All are small frozen values:
front ends present them, nothing changes them.
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
class StepReport:
    """What a step says about itself, the one shape for its ``check``, ``preview`` and ``apply``
    and for the engine's record of a run (``step`` is set by the engine: the step's name).

    - check: ``status`` and ``message``, and ``files`` when it looked at files (``diffs`` are theirs);
    - preview: ``summary`` (what apply would do, a line each), ``diffs``, and ``problems`` (what
      already tells that apply would fail; ``status`` is FAILED then, else PENDING);
    - apply: ``status`` (DONE; verify may say PENDING), ``message``, ``changed`` and ``diffs``.

    Use the constructors ``checked``, ``previewed`` and ``applied``: each sets what means
    something for it and leaves the rest empty.
    """

    status: Status
    message: str
    changed: bool = False
    diffs: tuple[FileDiff, ...] = ()
    files: tuple[FileCheck, ...] = ()
    summary: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    step: str = ""

    @classmethod
    def checked(cls, status: Status, message: str, files: tuple[FileCheck, ...] = ()) -> StepReport:
        return cls(status, message, diffs=tuple(check.diff for check in files if check.diff.changed), files=files)

    @classmethod
    def previewed(cls, summary: tuple[str, ...], diffs: tuple[FileDiff, ...] = (),
                  problems: tuple[str, ...] = ()) -> StepReport:
        return cls(Status.FAILED if problems else Status.PENDING, summary[0] if summary else "",
                   diffs=diffs, summary=summary, problems=problems)

    @classmethod
    def applied(cls, changed: bool, message: str, diffs: tuple[FileDiff, ...] = (),
                status: Status = Status.DONE) -> StepReport:
        return cls(status, message, changed=changed, diffs=diffs)
