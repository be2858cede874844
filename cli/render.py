"""How the command line shows things: consoles, errors with what to do (remedies said in
commands and flags), plan problems, diffs and the engine's events. Every text that comes from a
plan, a path or a log is printed as written, never read as Rich markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from installer import (
    ADMIN_PASSWORD_ENV,
    APP_PASSWORD_ENV,
    CHOOSE_SERVER,
    GIVE_PASSWORD,
    LOAD_SCHEMA_ANYWAY,
    PREVIEW_HOSTS_LINES,
    READ_NODE_LOG,
    REWRITE_CHANGED_FILES,
    RUN_CLUSTER_TEST,
    RUN_STEP,
    SET_PASSWORD_ON_ACCOUNTS,
    SHOW_DIFFS,
    START_NODE,
    SVN_PASSWORD_ENV,
    CheckedPlan,
    Event,
    FileDiff,
    InstallerError,
    Note,
    PlanError,
    Progress,
    Remedy,
    StepFinished,
    StepStarted,
    human_size,
)

PASSWORD_OPTIONS = {"db_password": (APP_PASSWORD_ENV, "--db-password-file"),
                    "db_admin_password": (ADMIN_PASSWORD_ENV, "--db-admin-password-file"),
                    "svn_password": (SVN_PASSWORD_ENV, "--svn-password-file")}


def console(*, stderr: bool) -> Console:
    made = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not made.is_terminal:
        # Piped or captured output: wide enough that tables are never squeezed or cut.
        made = Console(stderr=stderr, highlight=False, soft_wrap=True, width=200)
    return made


def remedy_words(remedy: Remedy | None) -> str:
    """A remedy said the command line's way: the command or flag that does it."""
    if remedy is None:
        return ""
    on = f" on {remedy.server}" if remedy.server else ""
    action = remedy.action
    if action == GIVE_PASSWORD:
        variable, option = PASSWORD_OPTIONS[remedy.secret]
        return f"set {variable}, or give {option} FILE, or run on a terminal to be asked"
    if action == REWRITE_CHANGED_FILES:
        return ("see the diffs with wso2-cluster apply --dry-run; run again with --force to let the installer "
                "rewrite its values")
    if action == SHOW_DIFFS:
        return "wso2-cluster status --diff shows the changes"
    if action == RUN_STEP:
        return f"wso2-cluster apply --only {remedy.step}{on}"
    if action == START_NODE:
        return f"wso2-cluster start --node {remedy.node}{on}"
    if action == READ_NODE_LOG:
        return f"wso2-cluster logs --node {remedy.node}{on} shows its log with the milestones marked"
    if action == CHOOSE_SERVER:
        return f"use --server with one of: {', '.join(remedy.choices)}" if remedy.choices else "check --server"
    if action == SET_PASSWORD_ON_ACCOUNTS:
        return f"or run again with --force to set the given password on {', '.join(remedy.choices)}"
    if action == LOAD_SCHEMA_ANYWAY:
        return "or run again with --force to load Carbon's schema next to what is there"
    if action == PREVIEW_HOSTS_LINES:
        return "wso2-cluster apply --dry-run --only hosts shows the lines"
    if action == RUN_CLUSTER_TEST:
        return f"wso2-cluster verify --cluster-test{on}"
    return ""


def what_to_do(hint: str, remedy: Remedy | None) -> str:
    return "; ".join(part for part in (hint, remedy_words(remedy)) if part)


def print_error(error: InstallerError, err: Console) -> None:
    err.print(f"[bold red]{escape(error.title)}[/]: {escape(error.message)}")
    advice = what_to_do(error.hint, error.remedy)
    if advice:
        err.print(f"[yellow]What to do[/]: {escape(advice)}")


def print_plan_error(error: PlanError, err: Console) -> None:
    count = len(error.problems)
    err.print(f"[bold red]{escape(error.title)}[/]: {count} problem{'s' if count != 1 else ''}")
    for problem in error.problems:
        err.print(f"  [red]error[/]   {escape(str(problem))}", highlight=False)


def print_warnings(checked: CheckedPlan, err: Console) -> None:
    for problem in checked.warnings:
        err.print(f"  [yellow]warning[/] {escape(str(problem))}")


def print_diffs(diffs: Sequence[FileDiff], out: Console) -> None:
    for diff in diffs:
        if not diff.changed:
            continue
        out.rule(escape(str(diff.path)), align="left")
        if out.is_terminal:
            out.print(Syntax(diff.text, "diff", theme="ansi_dark", word_wrap=True))
        else:
            out.print(diff.text, markup=False, end="")


class EventPrinter:
    """Prints engine events: one line per step, progress every 10%."""

    def __init__(self, out: Console) -> None:
        self.console = out
        self.last_tenth: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.console.print(f"[bold]>> {event.step}[/]")
        elif isinstance(event, StepFinished):
            colour = {"done": "green", "failed": "red"}.get(event.status, "yellow")
            self.console.print(f"   [{colour}]{event.status}[/]: {escape(event.message)}")
        elif isinstance(event, Progress) and event.total:
            tenth = event.done * 10 // event.total
            if tenth != self.last_tenth.get(event.what):
                self.last_tenth[event.what] = tenth
                self.console.print(f"   {event.what}: {event.done * 100 // event.total}% "
                                   f"({human_size(event.done)} of {human_size(event.total)})", markup=False)
        elif isinstance(event, Note):
            colour = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"   [{colour}]{escape(event.message)}[/]")
