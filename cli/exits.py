"""Exit codes of ``wso2-cluster``, in one place, and which error gives which.

0 done; 1 a step or check failed (``status``: a step failed or a file drifted); 2 the plan or
the command line is not valid; 3 stopped short on purpose (files changed by hand and no
``--force``, or the operator declined); 4 ``verify``: nothing failed, but some checks are pending
(members on servers not started yet); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from installer import DriftError, InstallerError, PlanError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_STOPPED = 3
EXIT_PENDING = 4
EXIT_INTERRUPTED = 130


def exit_code_for(error: InstallerError) -> int:
    if isinstance(error, PlanError | UsageError):
        return EXIT_INVALID
    if isinstance(error, DriftError):
        return EXIT_STOPPED
    return EXIT_FAILED
