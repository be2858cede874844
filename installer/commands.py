"""The headless commands behind ``wso2-cluster`` (``plan check``, ``apply``, ``status``, ``start`` /
``stop`` / ``restart``, ``logs``, ``verify``); :mod:`installer.cli` parses the command line and
imports this module only for them, so that the wizard starts without loading the whole engine.

Exit codes: 0 done; 1 a step failed; 2 the plan or the command line is not valid; 3 stopped
short on purpose (files changed by hand and no --force, steps not available yet, or the
operator declined).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import traceback
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from installer import launch
from installer.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_PENDING, EXIT_STOPPED
from installer.derive import Layout, NodeLayout
from installer.engine import Installer, StepOutcome, parse_step_list, select_steps
from installer.errors import InstallerError, PlanError, UsageError
from installer.events import Event, Note, Progress, StepFinished, StepStarted, human_size
from installer.expectations import MilestoneWatch, expectations_for
from installer.lock import locked_state
from installer.logwatch import LogFollower, LogLine
from installer.patchers.base import FileDiff, Status
from installer.processes import CARBON_LOG
from installer.secrets import (
    ADMIN_PASSWORD_ENV,
    APP_PASSWORD_ENV,
    PasswordSource,
    Secrets,
    resolve_password,
    terminal_prompt,
)
from installer.steps import DriftError, StartStep, VerifyStep
from installer.validate import CheckedPlan, check_plan


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Carry out a parsed command (any but ``tui``) and turn errors into exit codes."""
    out = _console(stderr=False)
    err = _console(stderr=True)
    try:
        if args.command == "plan":
            return command_plan_check(args, out, err)
        if args.command == "apply":
            return command_apply(args, out, err)
        if args.command == "status":
            return command_status(args, out, err)
        if args.command in ("start", "stop", "restart"):
            return command_control(args, out, err)
        if args.command == "logs":
            return command_logs(args, out, err)
        if args.command == "verify":
            return command_verify(args, out, err)
    except PlanError as error:
        print_plan_error(error, err)
        return EXIT_INVALID
    except DriftError as error:
        print_error(error, err)
        return EXIT_STOPPED
    except UsageError as error:
        print_error(error, err)
        return EXIT_INVALID
    except InstallerError as error:
        print_error(error, err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        return 130
    except Exception:
        logging.getLogger("wso2_cluster").exception("unexpected error")
        err.print("[bold red]Unexpected error[/] (a bug): the traceback follows; please report it.")
        err.print(traceback.format_exc(), markup=False)
        return EXIT_FAILED
    parser.print_help()
    return EXIT_INVALID


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # Piped or captured output: wide enough that tables are never squeezed or cut.
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=200)
    return console


# --- output helpers --------------------------------------------------------------------------------

def print_error(error: InstallerError, err: Console) -> None:
    # Messages carry plan values and paths: shown as written, never read as Rich markup.
    err.print(f"[bold red]{escape(error.title)}[/]: {escape(error.message)}")
    if error.hint:
        err.print(f"[yellow]What to do[/]: {escape(error.hint)}")


def print_plan_error(error: PlanError, err: Console) -> None:
    count = len(error.problems)
    err.print(f"[bold red]{escape(error.title)}[/]: {count} problem{'s' if count != 1 else ''}")
    for problem in error.problems:
        err.print(f"  [red]error[/]   {escape(str(problem))}", highlight=False)


def print_warnings(checked: CheckedPlan, err: Console) -> None:
    for problem in checked.warnings:
        err.print(f"  [yellow]warning[/] {escape(str(problem))}")


def layout_tables(layout: Layout) -> list[Table]:
    plan = layout.plan
    tables = []
    for server in layout.servers:
        # No vertical rules: the layout fits narrower screens (the wizard's Review at 80 columns).
        table = Table(title=escape(f"{server.name} ({server.address}) - homes in {server.install_dir}"), title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("node", "role", "offset", "member port", "HTTP/HTTPS", "servlet"):
            table.add_column(column, no_wrap=True)
        # A member is never split; on a narrow screen the flags fold onto more lines.
        longest_member = max((len(f"{member.host}:{member.port}") for node in server.nodes
                              for member in node.wka_members), default=1)
        table.add_column("WKA members", min_width=longest_member, overflow="fold")
        table.add_column("flags", overflow="fold")
        for node in layout.start_order(server.name):
            http = "/".join(map(str, node.transport_ports(plan)))
            pinned = " (pinned)" if node.offset_pinned else ""
            members = "\n".join(f"{member.host}:{member.port}" for member in node.wka_members) or "-"
            flags = "\n".join(node.start_flags(first_start=True)) or "-"
            table.add_row(*map(Text, (node.name, node.role, f"{node.offset}{pinned}", str(node.member_port), http,
                                      "/".join(map(str, node.servlet_ports)), members, flags)))
        tables.append(table)
        hosts = Table(title=escape(f"{server.name}: {server.hosts_file} block"), title_justify="left", box=box.SIMPLE_HEAD)
        hosts.add_column("address")
        hosts.add_column("host name")
        hosts.add_column("why")
        for entry in server.hosts_entries:
            hosts.add_row(Text(entry.address), Text(entry.hostname), Text(entry.reason))
        tables.append(hosts)
    manager = layout.manager
    if manager is not None:
        mapping = Table(title="manager port mapping and databases", title_justify="left", box=box.SIMPLE_HEAD)
        mapping.add_column("what")
        mapping.add_column("value")
        for elb_port, target in manager.port_mapping:
            mapping.add_row(f"port.mapping.{elb_port}", str(target))
        for database in layout.databases:
            mapping.add_row(Text(database.name), Text(f"{database.purpose} ({', '.join(database.nodes)})"))
        mapping.add_row("registry cacheId", Text(layout.registry_cache_id))
        tables.append(mapping)
    return tables


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
    """Prints engine events: one line per step, progress every 10% (a bar on a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
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
                                   f"({human_size(event.done)} of {human_size(event.total)})")
        elif isinstance(event, Note):
            colour = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"   [{colour}]{escape(event.message)}[/]")


# --- commands --------------------------------------------------------------------------------------

def command_plan_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=not args.no_files)
    for table in layout_tables(checked.layout):
        out.print(table)
    print_warnings(checked, err)
    out.print(f"[green]{escape(str(args.plan))}: the plan is valid[/] "
              f"({len(checked.layout.nodes)} nodes on {len(checked.layout.servers)} servers)")
    return EXIT_OK


def gather_secrets(args: argparse.Namespace, installer: Installer | None = None) -> Secrets:
    """Passwords from files or the environment; a terminal prompt only for one that is needed."""
    app = resolve_password(PasswordSource("application database password", APP_PASSWORD_ENV, args.db_password_file))
    admin = resolve_password(PasswordSource("database admin password", ADMIN_PASSWORD_ENV, args.db_admin_password_file))
    prompt = terminal_prompt()
    if prompt is not None and installer is not None:
        on_database_server = installer.plan.database.server == installer.server.name
        if admin is None and on_database_server and "database" in installer.selected:
            admin = prompt(f"Database admin password ({installer.plan.database.admin_user}): ") or None
        if app is None and ("database" in installer.selected or _needs_app_password(installer)):
            app = prompt(f"Application database password ({installer.plan.database.user}): ") or None
    return Secrets(db_password=app, db_admin_password=admin)


def _needs_app_password(installer: Installer) -> bool:
    if "configure" not in installer.selected or not any(node.is_esb for node in installer.server.nodes):
        return False
    return installer.step("configure").check().status != Status.DONE


def command_apply(args: argparse.Namespace, out: Console, err: Console) -> int:
    only = parse_step_list(args.only, "--only")
    skip = parse_step_list(args.skip, "--skip")
    selected = select_steps(only, skip)
    checked = check_plan(args.plan)
    print_warnings(checked, err)
    printer = EventPrinter(out)
    installer = Installer(checked, args.server, selected=selected, emit=printer)
    installer.context.secrets = gather_secrets(args, installer)

    if args.dry_run:
        return dry_run(installer, out, err)

    if not args.yes and sys.stdin.isatty():
        pending = [(name, check) for name, check in installer.status() if check.status != Status.DONE]
        if not pending:
            out.print("every selected step is already done")
        else:
            for name, check in pending:
                out.print(f"  {name}: {check.status} - {check.message}", markup=False)
            answer = input(f"Apply these steps on {installer.server.name}? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                err.print("nothing changed")
                return EXIT_STOPPED

    outcomes = installer.apply(force=args.force)
    return summarise(outcomes, installer, out)


def dry_run(installer: Installer, out: Console, err: Console) -> int:
    """Every selected step's preview; exit 1 when one already tells that applying would fail."""
    out.print(f"[bold]Dry run for {escape(installer.server.name)}[/]: nothing is changed")
    failing: list[str] = []
    for name in installer.selected:
        out.print(f"[bold]>> {name}[/]")
        try:
            preview = installer.step(name).preview()
        except InstallerError as error:
            failing.append(name)
            print_error(error, out)
            continue
        for line in preview.summary:
            out.print(f"   {line}", markup=False)
        print_diffs(preview.diffs, out)
        if preview.problems:
            failing.append(name)
    if failing:
        err.print(f"[red]applying would fail at: {', '.join(failing)}[/] (see above)")
        return EXIT_FAILED
    return EXIT_OK


def summarise(outcomes: Sequence[StepOutcome], installer: Installer, out: Console) -> int:
    unavailable = [outcome.name for outcome in outcomes if outcome.status == Status.NOT_AVAILABLE]
    out.print(f"state: {installer.state_file}   log: {installer.log_file}", markup=False)
    if unavailable:
        out.print(f"[yellow]not available yet[/]: {', '.join(unavailable)} "
                  f"(skip with --skip {','.join(unavailable)} and do these by hand as the guide describes)")
        return EXIT_STOPPED
    pending = [outcome for outcome in outcomes if outcome.status == Status.PENDING]
    if pending:
        # The first server of several: done here, the cluster is verified once the others run.
        for outcome in pending:
            out.print(f"[yellow]{outcome.name} pending[/]: {escape(outcome.message)}")
        out.print(f"[green]{escape(installer.server.name)}: every step this server can do is done[/]")
        return EXIT_OK
    out.print(f"[green]{escape(installer.server.name)}: all selected steps are done[/]")
    return EXIT_OK


def command_status(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=False)
    installer = Installer(checked, args.server)
    installer.context.secrets = gather_secrets(args)  # files and environment only: status never prompts
    table = Table(title=escape(f"{installer.server.name}: {installer.state_file}"), title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("details")
    diffs: list[FileDiff] = []
    broken: list[str] = []
    for name, check in installer.status():
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


def _selected_nodes(installer: Installer, names: Sequence[str] | None) -> tuple[NodeLayout, ...]:
    order = installer.layout.start_order(installer.server.name)
    if not names:
        return order
    known = {node.name for node in order}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(f"{', '.join(unknown)}: no such node on {installer.server.name}",
                         f"nodes here: {', '.join(sorted(known))}", title="Unknown node")
    return tuple(node for node in order if node.name in names)


def command_control(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=False)
    printer = EventPrinter(out)
    installer = Installer(checked, args.server, emit=printer)
    nodes = _selected_nodes(installer, args.node)
    step = StartStep(installer.context)
    # One hold of the install dir's lock for the whole command: a restart is one change, so no
    # other run slips in between its stop and its start.
    with locked_state(installer.state, args.command):
        if args.command in ("stop", "restart"):
            step.stop(nodes, timeout=args.timeout)
        if args.command in ("start", "restart"):
            out.print(step.start(nodes), markup=False)
        installer.state.save()
    return EXIT_OK


def command_logs(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=False)
    installer = Installer(checked, args.server)
    [node] = _selected_nodes(installer, [args.node])
    offsets = {} if args.from_start else StartStep(installer.context).launch_offsets().get(node.name, {})
    values = launch.node_values(installer.layout, node)
    watch = MilestoneWatch()
    watch.add_node(node.name, milestones=expectations_for(node.role, values), values=values)
    follower = LogFollower(node.home / CARBON_LOG, start_offset=offsets.get(CARBON_LOG, 0))
    out.print(f"{node.home / CARBON_LOG} (milestones of a {node.role} marked; Ctrl-C to stop)", style="dim",
              markup=False)

    def show(line: LogLine) -> None:
        out.print(line.text, markup=False, highlight=False)
        for event in watch.feed(node.name, line):
            message, level = launch.describe(event)
            out.print(f"   {'>>' if level == 'info' else '!!'} {message}", style="green" if level == "info" else "red",
                      markup=False)

    stop = threading.Event()
    with follower:
        if args.no_follow:
            for line in launch.read_all(follower):
                show(line)
        else:
            for line in follower.follow(stop):
                show(line)
    pending = [status.milestone.label for status in watch.status().milestones
               if status.state.name == "PENDING" and status.milestone.required]
    if pending:
        out.print("not seen yet: " + "; ".join(pending), style="yellow", markup=False)
    return EXIT_OK


def command_verify(args: argparse.Namespace, out: Console, err: Console) -> int:
    checked = check_plan(args.plan, check_files=False)
    installer = Installer(checked, args.server)
    installer.context.secrets = gather_secrets(args)
    step = VerifyStep(installer.context)
    report = step.report()
    step.record(report)
    if args.json:
        print(report.to_json())
    else:
        table = Table(title=f"verify {report.server}", title_justify="left")
        for column in ("check", "result", "details", "what to do"):
            table.add_column(column)
        looks = {"passed": "[green]ok[/]", "failed": "[red]FAIL[/]", "pending": "[yellow]pending[/]"}
        for check in report.checks:
            table.add_row(escape(check.name), looks[check.status], escape(check.detail), escape(check.hint))
        out.print(table)
        if report.ok:
            out.print(f"[green]the cluster holds[/] ({report.summary})")
        elif report.failures:
            out.print(f"[red]{escape(report.summary)}[/]")
        else:
            out.print(f"[yellow]{escape(report.summary)}[/]: run verify again once they are started")
    return EXIT_OK if report.ok else EXIT_FAILED if report.failures else EXIT_PENDING
