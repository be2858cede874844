"""The steps of an installation on one server, one module each, with check / preview / apply.

``check`` never changes anything; ``preview`` says what ``apply`` would change; ``apply`` makes it
so and a second ``apply`` changes nothing. The ``Step`` base class and the run's context are in
``installer.steps.base``.

``STEPS`` is the one list of them, in the order the engine runs them; ``STEP_NAMES`` and
``STEP_CLASSES`` are read from it, and a step's name is that of its module. The list names each
class instead of holding it, so that the order is known without importing a step: the wizard's
first screen lists the steps, and the steps pull in the database driver, psutil and lxml.
``STEP_CLASSES`` imports them on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from installer.steps.base import Step

# (name, class): the class is installer.steps.<name>.<class>.
STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "PreflightStep"),
    ("extract", "ExtractStep"),
    ("configure", "ConfigureStep"),
    ("database", "DatabaseStep"),
    ("hosts", "HostsStep"),
    ("start", "StartStep"),
    ("verify", "VerifyStep"),
)

# What the state file records each step by, and what --only / --skip take.
STEP_NAMES: tuple[str, ...] = tuple(name for name, _ in STEPS)


def __getattr__(name: str) -> Any:
    if name == "STEP_CLASSES":
        classes: dict[str, type[Step]] = {
            step: getattr(importlib.import_module(f"{__name__}.{step}"), class_name) for step, class_name in STEPS}
        globals()[name] = classes
        return classes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
