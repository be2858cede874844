"""The command line: ``wso2-cluster [plan check | apply | status | start | stop | restart | logs |
verify | tui]``; no command opens the wizard. Exit codes: :mod:`cli.exits`.

Only the parser lives here: the commands (:mod:`cli.commands`) and the engine behind them are
imported once the command is known, so the wizard does not pay for them at start. The console
command (:mod:`cli.console`) passes ``open_wizard``; without it ``tui`` says where the wizard is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cli.exits import EXIT_INVALID
from installer import ADMIN_PASSWORD_ENV, APP_PASSWORD_ENV, SVN_PASSWORD_ENV


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wso2-cluster",
        description="Install a WSO2 ESB 4.7.0 + ELB 2.0.3 cluster from a plan, one server at a time.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plan = commands.add_parser("plan", help="work with plan files")
    plan_commands = plan.add_subparsers(dest="plan_command", metavar="SUBCOMMAND", required=True)
    plan_check = plan_commands.add_parser("check", help="validate a plan and show the derived layout")
    plan_check.add_argument("plan", type=Path, help="the plan YAML file")
    plan_check.add_argument("--no-files", action="store_true",
                            help="do not open the distribution zips and driver (shape and layout only)")

    def server_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--plan", type=Path, required=True, help="the plan YAML file")
        sub.add_argument("--server", required=True, help="the plan server this machine is")

    def password_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--db-password-file", type=Path, metavar="FILE",
                         help=f"file holding the application database password (else ${APP_PASSWORD_ENV}, else a prompt)")
        sub.add_argument("--db-admin-password-file", type=Path, metavar="FILE",
                         help=f"file holding the database admin password (else ${ADMIN_PASSWORD_ENV}, else a prompt)")
        sub.add_argument("--svn-password-file", type=Path, metavar="FILE",
                         help="file holding the svn password, when cluster.deployment_sync uses svn with a user "
                              f"(else ${SVN_PASSWORD_ENV}, else a prompt)")

    apply = commands.add_parser("apply", help="run the steps for one server (resumes where it stopped)")
    server_options(apply)
    password_options(apply)
    apply.add_argument("--dry-run", action="store_true", help="print every diff and change nothing")
    apply.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    apply.add_argument("--force", action="store_true", help="rewrite files that were changed by hand")
    apply.add_argument("--only", metavar="STEPS", help="comma list of steps to run")
    apply.add_argument("--skip", metavar="STEPS", help="comma list of steps to leave out")

    status = commands.add_parser("status", help="show each step as done / pending / drifted")
    server_options(status)
    password_options(status)
    status.add_argument("--diff", action="store_true", help="also print the diff of every file not up to date")

    for name, text in (("start", "start this server's nodes in order (ELB, manager, workers), waiting for each"),
                       ("stop", "stop this server's nodes (TERM, then KILL after --timeout)"),
                       ("restart", "stop, then start again (never with -Dsetup)")):
        control = commands.add_parser(name, help=text)
        server_options(control)
        control.add_argument("--node", action="append", metavar="NODE", help="only this node (repeatable)")
        control.add_argument("--timeout", type=float, default=30.0, help="seconds between TERM and KILL")

    logs = commands.add_parser("logs", help="follow a node's log with its milestones marked")
    server_options(logs)
    logs.add_argument("--node", required=True, help="the node whose log to follow")
    logs.add_argument("--no-follow", action="store_true", help="print what is there and stop")
    logs.add_argument("--from-start", action="store_true", help="from the beginning of the file, not of the last launch")
    logs.add_argument("--raw", action="store_true",
                      help="the lines as Carbon wrote them (on a terminal they are shown as time, level, logger "
                           "and message, wrapped to its width; piped, they always are as written)")

    verify = commands.add_parser("verify", help="check that the cluster formed and works, as seen from this server")
    server_options(verify)
    password_options(verify)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--cluster-test", action="store_true",
                        help="also the guide's cluster test: on the manager's server, deploy a probe proxy, let "
                             "deployment synchronisation share it, send requests through the ELB and see workers "
                             "log them, then remove it; elsewhere, read this server's workers' logs for it")
    verify.add_argument("--probe-timeout", type=float, metavar="SECONDS",
                        help="longest wait for each phase of the cluster test (default: 90 to 120 s, Carbon's "
                             "deployment scheduler runs every 15 s)")

    tui = commands.add_parser("tui", help="open the guided installer (the default without a command)")
    tui.add_argument("--plan", type=Path)
    tui.add_argument("--server")
    return parser


def main(argv: Sequence[str] | None = None, *,
         open_wizard: Callable[[Path | None, str | None], int] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None or args.command == "tui":
        if open_wizard is None:
            print("wso2-cluster: the wizard is started by the wso2-cluster console command "
                  "(python -m cli.console); this entry point runs the headless commands only",
                  file=sys.stderr)
            return EXIT_INVALID
        return open_wizard(getattr(args, "plan", None), getattr(args, "server", None))
    from cli.commands import run

    return run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
