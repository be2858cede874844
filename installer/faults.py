"""Crash points for the interruption tests: the process SIGKILLs itself at a named point.

``WSO2_CLUSTER_CRASH_AT`` holds a comma list of point names (``before:configure``,
``after:extract``, ``extract:half``, ``write:axis2.xml`` ...). Unset (always, outside the test
suite) this does nothing. A real SIGKILL is the point: no cleanup handler runs, as when a
machine loses power or an operator kills the process.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "WSO2_CLUSTER_CRASH_AT"


def crash_point(name: str) -> None:
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
