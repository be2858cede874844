"""The headless commands behind ``wso2-cluster`` (``plan check``, ``apply``, ``status``, ``start`` /
``stop`` / ``restart``, ``logs``, ``verify``), each a thin layer over the engine's
:class:`installer.Session`: it gathers passwords, asks for confirmation on a terminal, and
shows what the session returns. :mod:`cli.parser` imports this module only for them, so that
the wizard starts without loading the whole engine.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import traceback

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_PENDING,
    EXIT_STOPPED,
    exit_code_for,
)
from cli.render import (
    EventPrinter,
    console,
    print_diffs,
    print_error,
    print_plan_error,
    print_warnings,
    what_to_do,
)
from installer import (
    ADMIN_PASSWORD,
    ADMIN_PASSWORD_ENV,
    APP_PASSWORD,
    APP_PASSWORD_ENV,
    SVN_PASSWORD,
    SVN_PASSWORD_ENV,
    FileDiff,
    InstallerError,
    NodeLog,
    PasswordSource,
    PlanError,
    Secrets,
    Session,
    Status,
    StepReport,
    UsageError,
    check_plan,
    layout_tables,
    log_line_view,
    parse_step_list,
    resolve_password,
    select_steps,
    terminal_prompt,
)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Carry out a parsed command (any but ``tui``) and turn errors into exit codes."""
    out, err = console(stderr=False), console(stderr=True)
    commands = {"plan": command_plan_check, "apply": command_apply, "status": command_status,
                "start": command_control, "stop": command_control, "restart": command_control,
                "logs": command_logs, "verify": command_verify}
    command = commands.get(args.command)
    if command is None:
        parser.print_help()
        return EXIT_INVALID
    try:
        return command(args, out, err)
    except PlanError as error:
        print_plan_error(error, err)
        return exit_code_for(error)
    except InstallerError as error:
        print_error(error, err)
        return exit_code_for(error)
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        return EXIT_INTERRUPTED
    except Exception:
        logging.getLogger("wso2_cluster").exception("unexpected error")
        err.print("[bold red]Unexpected error[/] (a bug): the traceback follows; please report it.")
        err.print(traceback.format_exc(), markup=False)
        return EXIT_FAILED


# --- passwords ---------------------------------------------------------------------------------

def given_secrets(args: argparse.Namespace) -> Secrets:
    """Passwords from the files named on the command line, else the environment."""
    return Secrets(
        db_password=resolve_password(PasswordSource("application database password", APP_PASSWORD_ENV,
                                                    args.db_password_file)),
        db_admin_password=resolve_password(PasswordSource("database admin password", ADMIN_PASSWORD_ENV,
                                                          args.db_admin_password_file)),
        svn_password=resolve_password(PasswordSource("svn password", SVN_PASSWORD_ENV,
                                                     getattr(args, "svn_password_file", None))))


def ask_for_needed(session: Session) -> None:
    """On a terminal, ask for each password the steps still to run need (the session says which)."""
    prompt = terminal_prompt()
    if prompt is None:
        return
    users = {APP_PASSWORD: session.plan.database.user, ADMIN_PASSWORD: session.plan.database.admin_user,
             SVN_PASSWORD: session.plan.cluster.deployment_sync.svn_user}
    answers = {need.secret: prompt(f"{need.label.capitalize()} ({users[need.secret]}): ") or None
               for need in session.secrets_needed()}
    if answers:
        session.secrets = Secrets(db_password=answers.get(APP_PASSWORD, session.secrets.db_password),
                                  db_admin_password=answers.get(ADMIN_PASSWORD, session.secrets.db_admin_password),
                                  svn_password=answers.get(SVN_PASSWORD, session.secrets.svn_password))


# --- commands ----------------------------------------------------------------------------------

def command_plan_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=not args.no_files)
    for table in layout_tables(checked.layout):
        out.print(table)
    print_warnings(checked, err)
    out.print(f"[green]{escape(str(args.plan))}: the plan is valid[/] "
              f"({len(checked.layout.nodes)} nodes on {len(checked.layout.servers)} servers)")
    return EXIT_OK


def command_apply(args: argparse.Namespace, out: Console, err: Console) -> int:
    steps = select_steps(parse_step_list(args.only, "--only"), parse_step_list(args.skip, "--skip"))
    checked = check_plan(args.plan)
    print_warnings(checked, err)
    session = Session(checked, args.server, secrets=given_secrets(args), emit=EventPrinter(out), steps=steps)
    ask_for_needed(session)
    if args.dry_run:
        return dry_run(session, out, err)
    if not args.yes and sys.stdin.isatty():
        pending = [(name, check) for name, check in session.check() if check.status != Status.DONE]
        if not pending:
            out.print("every selected step is already done")
        else:
            for name, check in pending:
                out.print(f"  {name}: {check.status} - {check.message}", markup=False)
            answer = input(f"Apply these steps on {session.server.name}? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                err.print("nothing changed")
                return EXIT_STOPPED
    return summarise(session.apply(force=args.force), session, out)


def dry_run(session: Session, out: Console, err: Console) -> int:
    """Every selected step's preview; exit 1 when one already tells that applying would fail."""
    out.print(f"[bold]Dry run for {escape(session.server.name)}[/]: nothing is changed")
    steps = session.dry_run()
    for step in steps:
        out.print(f"[bold]>> {step.name}[/]")
        if step.error is not None:
            print_error(step.error, out)
            continue
        assert step.preview is not None
        for line in step.preview.summary:
            out.print(f"   {line}", markup=False)
        print_diffs(step.preview.diffs, out)
    failing = [step.name for step in steps if step.will_fail]
    if failing:
        err.print(f"[red]applying would fail at: {', '.join(failing)}[/] (see above)")
        return EXIT_FAILED
    return EXIT_OK


def summarise(outcomes: list[StepReport], session: Session, out: Console) -> int:
    out.print(f"state: {session.state_file}   log: {session.log_file}", markup=False)
    pending = [outcome for outcome in outcomes if outcome.status == Status.PENDING]
    if pending:
        # The first server of several: done here, the cluster is verified once the others run.
        for outcome in pending:
            out.print(f"[yellow]{outcome.step} pending[/]: {escape(outcome.message)}")
        out.print(f"[green]{escape(session.server.name)}: every step this server can do is done[/]")
        return EXIT_OK
    out.print(f"[green]{escape(session.server.name)}: all selected steps are done[/]")
    return EXIT_OK


def command_status(args: argparse.Namespace, out: Console, err: Console) -> int:
    # Files and environment only: status never prompts.
    session = Session.open(args.plan, args.server, check_files=False, secrets=given_secrets(args))
    table = Table(title=escape(f"{session.server.name}: {session.state_file}"), title_justify="left")
    for column in ("step", "status", "details"):
        table.add_column(column)
    diffs: list[FileDiff] = []
    broken: list[str] = []
    for name, check in session.check():
        colour = {"done": "green", "failed": "red", "drifted": "red"}.get(check.status.value, "yellow")
        if check.status in (Status.FAILED, Status.DRIFTED):
            broken.append(f"{name} {check.status.value}")
        table.add_row(name, f"[{colour}]{check.status.value}[/]", escape(check.message))
        for file_check in check.files:
            if file_check.status == Status.DRIFTED or (args.diff and file_check.status != Status.DONE):
                table.add_row("", f"[{colour}]{file_check.status.value}[/]", escape(str(file_check.path)))
                diffs.append(file_check.diff)
    out.print(table)
    print_diffs(diffs, out)
    if broken:
        err.print(f"[red]not as it should be[/]: {', '.join(broken)}")
        return EXIT_FAILED
    return EXIT_OK


def command_control(args: argparse.Namespace, out: Console, err: Console) -> int:
    session = Session.open(args.plan, args.server, check_files=False, emit=EventPrinter(out))
    names = args.node or None
    if args.command == "stop":
        session.stop(names, timeout=args.timeout)
    elif args.command == "start":
        out.print(session.start(names), markup=False)
    else:
        out.print(session.restart(names, timeout=args.timeout), markup=False)
    return EXIT_OK


def command_logs(args: argparse.Namespace, out: Console, err: Console) -> int:
    session = Session.open(args.plan, args.server, check_files=False)
    (node,) = session.nodes([args.node])
    milestones = session.milestones(node)
    reached: set[str] = set()
    out.print(f"{node.home / 'repository/logs/wso2carbon.log'} (milestones of a {node.role} marked; "
              "Ctrl-C to stop)", style="dim", markup=False)
    stop = threading.Event()
    offsets = {node.name: 0} if args.from_start else None
    for batch in session.follow([node.name], stop=stop, from_offsets=offsets, until_end=args.no_follow):
        show_log(batch, out, raw=args.raw or not out.is_terminal)
        reached.update(event.milestone.id for event in batch.reached)
    pending = [milestone.label for milestone in milestones if milestone.required and milestone.id not in reached]
    if pending:
        out.print("not seen yet: " + "; ".join(pending), style="yellow", markup=False)
    return EXIT_OK


def show_log(batch: NodeLog, out: Console, *, raw: bool = True) -> None:
    """The lines, each followed by what it caused (milestone reached, known failure); unless
    ``raw``, each line as the wizard's log panes show it (``log_line_view``)."""
    by_line: dict[int, list[tuple[str, str]]] = {}
    for event in batch.reached:
        by_line.setdefault(event.line.offset, []).append((f"[x] {event.milestone.label}", "green"))
    for failure in batch.failures:
        # The line is printed just above; as written, it is repeated here for grep.
        said = f": {failure.line.text.strip()}" if raw else ""
        text = f"{failure.signature.name}{said} -> {failure.hint}"
        by_line.setdefault(failure.line.offset, []).append((text, "red"))
    for line in batch.lines:
        if raw:
            out.print(line.text, markup=False, highlight=False)
        else:
            out.print(log_line_view(line.text, out.width), highlight=False)
        for text, style in by_line.get(line.offset, ()):
            out.print(f"   {'>>' if style == 'green' else '!!'} {batch.node}: {text}", style=style, markup=False)


def command_verify(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.probe_timeout is not None and not args.cluster_test:
        raise UsageError("--probe-timeout only applies with --cluster-test", "add --cluster-test, or leave it out")
    if args.probe_timeout is not None and not 0 < args.probe_timeout <= 3600:
        raise UsageError(f"--probe-timeout {args.probe_timeout:g} is out of range", "give seconds from 1 to 3600")
    session = Session.open(args.plan, args.server, check_files=False, secrets=given_secrets(args))
    report = session.verify(cluster_test=args.cluster_test, probe_timeout=args.probe_timeout,
                            progress=lambda text: err.print(f"[dim]cluster test: {escape(text)}[/]"))
    if args.json:
        print(report.to_json(lambda check: what_to_do(check.hint, check.remedy)))
    else:
        table = Table(title=f"verify {escape(report.server)}", title_justify="left")
        for column in ("check", "result", "details", "what to do"):
            table.add_column(column)
        looks = {"passed": "[green]ok[/]", "failed": "[red]FAIL[/]", "pending": "[yellow]pending[/]"}
        for check in report.checks:
            table.add_row(escape(check.name), looks[check.status], escape(check.detail),
                          escape(what_to_do(check.hint, check.remedy)))
        out.print(table)
        if report.ok:
            out.print(f"[green]the cluster holds[/] ({report.summary})")
        elif report.failures:
            out.print(f"[red]{escape(report.summary)}[/]")
        else:
            out.print(f"[yellow]{escape(report.summary)}[/]: run verify again once they are started")
    return EXIT_OK if report.ok else EXIT_FAILED if report.failures else EXIT_PENDING
