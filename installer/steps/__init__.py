"""The steps of an installation on one server, one module each, with check / preview / apply.

Order: preflight, extract, configure, database, hosts, start, verify. ``check`` never changes
anything; ``preview`` says what ``apply`` would change; ``apply`` makes it so and a second
``apply`` changes nothing. The ``Step`` base class and the run's context are in
``installer.steps.base``.
"""

from __future__ import annotations

from installer.steps.base import Step
from installer.steps.configure import ConfigureStep
from installer.steps.database import DatabaseStep
from installer.steps.extract import ExtractStep
from installer.steps.hosts import HostsStep
from installer.steps.preflight import PreflightStep
from installer.steps.start import StartStep
from installer.steps.verify import VerifyStep

STEP_CLASSES: dict[str, type[Step]] = {
    "preflight": PreflightStep,
    "extract": ExtractStep,
    "configure": ConfigureStep,
    "database": DatabaseStep,
    "hosts": HostsStep,
    "start": StartStep,
    "verify": VerifyStep,
}
