"""Progress events the engine emits; the CLI prints them and the TUI turns them into messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StepStarted:
    step: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class Progress:
    """``done`` out of ``total`` units (bytes for extraction) of the work ``what``."""

    step: str
    what: str
    done: int
    total: int


@dataclass(frozen=True)
class Note:
    step: str
    message: str
    level: str = "info"  # info | warning


Event = StepStarted | StepFinished | Progress | Note
EventSink = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """The default sink."""


def human_size(count: int) -> str:
    """A byte count the way progress lines show it: ``1.5 GiB``, ``312.0 KiB``, ``40 bytes``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
