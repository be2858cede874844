"""The installer's engine. Front ends (the CLI in ``cli/``, the wizard in ``screens/``) use it only
through the names listed here; everything else is the engine's own business.

The front door is :class:`Session` (one server of a plan, with this run's passwords): check,
preview, apply, start / stop / restart, follow the logs, verify, the passwords still needed.
Around it: the plan (reading, checking, deriving, the wizard's drafts), the step contract
(``installer.contract``: ``Status``, ``StepReport``, ``FileDiff``...),
the events a run emits, the errors with their remedies, and the child-process runner.

Names are loaded on first use (PEP 562): the wizard starts without paying for the whole engine,
and ``from installer import Session`` costs only what a session needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC: dict[str, str] = {}


def _export(module: str, *names: str) -> None:
    for name in names:
        _PUBLIC[name] = f"installer.{module}"


_export("session", "Session", "SecretNeed", "NodeLog", "DryRunStep", "APP_PASSWORD", "ADMIN_PASSWORD", "SVN_PASSWORD",
        "PASSWORD_LABELS", "SKIPPABLE_STEPS", "log_size")
_export("engine", "parse_step_list", "select_steps")
_export("contract", "Status", "FileDiff", "FileCheck", "StepReport")
_export("steps", "STEP_NAMES")
_export("state", "State", "state_path")
_export("events", "Event", "EventSink", "StepStarted", "StepFinished", "Progress", "Note", "human_size",
        "ignore_events")
_export("errors", "InstallerError", "PlanError", "UsageError", "DriftError", "SecretError", "StateError",
        "DistributionError", "ConfigFileError", "Remedy", "GIVE_PASSWORD", "REWRITE_CHANGED_FILES", "SHOW_DIFFS",
        "RUN_STEP", "START_NODE", "READ_NODE_LOG", "CHOOSE_SERVER", "SET_PASSWORD_ON_ACCOUNTS",
        "LOAD_SCHEMA_ANYWAY", "PREVIEW_HOSTS_LINES", "RUN_CLUSTER_TEST")
_export("lock", "LockedError")
_export("database", "DatabaseError", "HostNotAllowed", "PasswordRefused", "Probe", "probe_database")
_export("plan.model", "Plan", "PlanProblem", "ROLES", "LOCAL_REGISTRY_MODES", "parse_plan")
_export("plan.draft", "PlanDraft", "NodeDraft", "ServerDraft", "DEFAULT_HOSTS_FILE", "FIELDS_BY_PATH",
        "problem_field", "problems_under", "rebase_paths", "PLAN_READ_ERRORS")
_export("plan.check", "CheckedPlan", "check_plan", "check_parsed", "EXPECTED_VERSIONS")
_export("plan.derive", "Layout", "NodeLayout", "ServerLayout")
_export("secrets", "Secrets", "APP_PASSWORD_ENV", "ADMIN_PASSWORD_ENV", "SVN_PASSWORD_ENV", "SECRET_ENV_NAMES", "PasswordSource",
        "resolve_password", "terminal_prompt")
_export("verify", "VerifyReport", "CheckOutcome")
_export("report", "ReportItem", "Report", "build_report", "write_report", "PASSED")
_export("presentation", "layout_tables", "log_line_view", "abbreviate_logger")
_export("netinfo", "ServerGuess", "guess_this_server", "local_addresses")
_export("distribution", "inspect_distribution", "inspect_jdbc_driver", "expect_product")
_export("atomic", "atomic_write_text")
_export("processes", "CARBON_LOG")
_export("runner", "EngineProcess", "RunRequest", "RunFinishedReport", "RunFailedReport", "RunCrashedReport")

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'installer' has no public name {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
