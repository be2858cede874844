"""What every step shares: the run's context, the ``Step`` base class (check / preview / apply),
and reading a distribution's files from its zip, which steps do before the node homes exist.
"""

from __future__ import annotations

import threading
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from installer.contract import StepReport
from installer.errors import DistributionError
from installer.events import EventSink, Note, ignore_events
from installer.plan.derive import Layout, NodeLayout, ServerLayout
from installer.plan.model import Plan
from installer.secrets import Secrets
from installer.state import State
from installer.steps import STEP_NAMES


@dataclass
class RunContext:
    plan: Plan
    layout: Layout
    server: ServerLayout
    state: State
    secrets: Secrets = field(default_factory=Secrets)
    emit: EventSink = ignore_events
    selected: tuple[str, ...] = STEP_NAMES
    # Set by a front end to give up a start in progress (the wizard, when the operator quits).
    stop: threading.Event | None = None


class Step:
    # The step's name, that of its module (installer/steps/<name>.py, listed in order in STEPS).
    name = ""
    # A step that changes nothing and whose every run should show its findings (verify): the
    # engine applies it directly instead of checking it first.
    always_apply = False

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        cls.name = cls.__module__.rpartition(".")[2]

    def __init__(self, context: RunContext) -> None:
        self.context = context

    def check(self) -> StepReport:
        raise NotImplementedError

    def preview(self) -> StepReport:
        raise NotImplementedError

    def apply(self, *, force: bool = False) -> StepReport:
        raise NotImplementedError

    def note(self, message: str, level: str = "info") -> None:
        self.context.emit(Note(self.name, message, level))


# --- the distribution zips ------------------------------------------------------------------------

def zip_for(plan: Plan, node: NodeLayout) -> Path:
    """The zip that ``node``'s home is extracted from."""
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


def uncompressed_size(path: Path) -> int:
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
