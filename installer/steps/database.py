"""The database step: the central database, its user and grants, created on the plan's database
server and checked from every other server.
"""

from __future__ import annotations

from installer import database
from installer.contract import Status, StepReport
from installer.errors import GIVE_PASSWORD, InstallerError, Remedy, SecretError
from installer.sqlscript import split_statements
from installer.steps.base import Step, read_from_zip

MYSQL_SCRIPT = "dbscripts/mysql.sql"


class DatabaseStep(Step):
    """The seed's "Setting up the central database": created on the plan's database server,
    checked from every other server as the nodes will connect."""

    @property
    def on_database_server(self) -> bool:
        return self.context.plan.database.server == self.context.server.name

    def _endpoint(self) -> database.Endpoint:
        db = self.context.plan.database
        return database.Endpoint(db.address, db.port, bind_address=self.context.server.address)

    def _script(self) -> tuple[str, list]:
        """The distribution's own dbscripts/mysql.sql: from an extracted ESB home here, else the zip."""
        for node in self.context.server.nodes:
            path = node.home / MYSQL_SCRIPT
            if node.is_esb and path.is_file():
                return str(path), database.read_script(path)
        source_zip = self.context.plan.distributions.esb
        data = read_from_zip(source_zip, MYSQL_SCRIPT)
        if data is None:
            raise database.DatabaseError(f"{source_zip.name} has no {MYSQL_SCRIPT}",
                                         "use the ESB distribution zip as downloaded from WSO2")
        label = f"{MYSQL_SCRIPT} in {source_zip.name}"
        return label, split_statements(data.decode("utf-8", "surrogateescape"), source=label)

    def _node_databases(self) -> list[str]:
        return self.context.layout.databases_used_on(self.context.server)

    def admin_access(self) -> database.AdminAccess:
        """How the admin connects: through the local socket when the database runs on this
        server (the plan's database.admin_socket, else where the packages put it), else TCP."""
        db = self.context.plan.database
        return database.AdminAccess.for_server(self._endpoint(), db.admin_user, self.context.secrets.db_admin_password,
                                               plan_socket=db.admin_socket)

    def admin_password_needed(self) -> bool:
        """Whether the admin needs the password not given yet: False when none is needed (the
        local socket admits the admin without one) or when a password would not help (the
        plan's socket is wrong: the step says so)."""
        if self.context.secrets.db_admin_password:
            return False
        try:
            with database.admin_connection(self.admin_access()):
                return False
        except SecretError:
            return True
        except InstallerError:
            return False

    def _app_password(self) -> str:
        password = self.context.secrets.db_password
        if not password:
            raise SecretError("the application database password is needed",
                              remedy=Remedy(GIVE_PASSWORD, secret="db_password"))
        return password

    def _inspect(self) -> tuple[database.DatabaseReport, list, str, str]:
        """What is on the server, the script, its label and how the admin connected."""
        label, statements = self._script()
        with database.admin_connection(self.admin_access()) as admin:
            report = database.inspect(admin.connection, self.context.layout, statements,
                                      password=self.context.secrets.db_password)
        return report, statements, label, admin.describe()

    def _access_problems(self) -> list[database.AccessProblem]:
        if not self._node_databases():
            return []
        db = self.context.plan.database
        return database.check_application_access(self._endpoint(), db.user, self._app_password(),
                                                 self._node_databases())

    def check(self) -> StepReport:
        try:
            if not self.on_database_server:
                if not self._node_databases():
                    return StepReport.checked(Status.DONE, "no ESB node on this server: nothing to check")
                problems = self._access_problems()
                if problems:
                    return StepReport.checked(Status.FAILED, "; ".join(map(str, problems)))
                return StepReport.checked(Status.DONE, f"the application user reaches {', '.join(self._node_databases())} "
                                          f"from {self.context.server.address}")
            report, _, _, _ = self._inspect()
        except SecretError as error:
            if self.context.state.step_status(self.name) == Status.DONE:
                return StepReport.checked(Status.DONE, f"done at the last run (not re-checked: {error.message})")
            return StepReport.checked(Status.PENDING, f"cannot look yet: {error.message}")
        except InstallerError as error:
            return StepReport.checked(Status.FAILED, error.message)
        summary = "; ".join(report.summary())
        if report.foreign or report.password_conflicts:
            return StepReport.checked(Status.FAILED, summary)
        if not report.complete:
            return StepReport.checked(Status.PENDING, summary)
        if self.context.secrets.db_password:
            problems = self._access_problems()
            if problems:
                return StepReport.checked(Status.FAILED, "; ".join(map(str, problems)))
        return StepReport.checked(Status.DONE, summary)

    def preview(self) -> StepReport:
        if not self.on_database_server:
            names = ", ".join(self._node_databases()) or "(none)"
            return StepReport.previewed((f"check that '{self.context.plan.database.user}' reaches {names} at "
                                         f"{self._endpoint()} from {self.context.server.address}",))
        try:
            report, statements, label, admin = self._inspect()
        except InstallerError as error:
            return StepReport.previewed((f"cannot look at the database server as the admin "
                                         f"{self.admin_access().describe()} ({error.message}); it would run:",
                                         *self._all_actions_shown()), problems=(error.message,))
        actions = database.planned_actions(report, statements)
        lines = [f"admin connection: {admin}", *report.summary(),
                 f"statements to run ({len(actions)}; schema from {label}):"]
        lines += [f"  {action.shown};" for action in actions]
        return StepReport.previewed(tuple(lines))

    def _all_actions_shown(self) -> list[str]:
        label, statements = self._script()
        empty = database.DatabaseReport(
            schemas=tuple(database.SchemaReport(name, exists=False) for name in database.database_names(self.context.layout)),
            user_hosts=frozenset(), grants=frozenset(), wanted_hosts=database.client_hosts(self.context.layout),
            user=self.context.plan.database.user)
        return [f"  {action.shown};" for action in database.planned_actions(empty, statements)]

    def apply(self, *, force: bool = False) -> StepReport:
        if not self.on_database_server:
            problems = self._access_problems()
            if problems:
                raise database.access_error(problems, database_server=self.context.plan.database.server,
                                            plan_address=self.context.server.address)
            return StepReport.applied(False, f"the application user reaches {', '.join(self._node_databases())}")
        db = self.context.plan.database
        label, statements = self._script()
        with database.admin_connection(self.admin_access()) as admin:
            connection = admin.connection
            self.note(f"admin connection: {admin.describe()}")
            missing = database.missing_admin_privileges(connection)
            if missing:
                raise database.DatabaseError(
                    f"the admin user '{db.admin_user}' lacks {', '.join(missing)} on {self._endpoint()} "
                    f"(connected {admin.via}); nothing was changed",
                    f"use an account with CREATE, CREATE USER and GRANT OPTION, e.g. "
                    f"GRANT ALL PRIVILEGES ON *.* TO {admin.account} WITH GRANT OPTION")
            # Every account of the user, on any host, is looked at before anything changes: a
            # refusal half-way would leave accounts with two passwords and a hint that dead-ends.
            report = database.inspect(connection, self.context.layout, statements,
                                      password=self.context.secrets.db_password)
            if report.foreign and not force:
                raise report.foreign_error()
            if report.password_conflicts and not force:
                raise report.conflict_error()
            if report.missing_users:
                self._app_password()
            # With --force the given password is set on the conflicting accounts first, so the new
            # accounts never exist beside them with another password.
            actions = [*database.set_password_actions(db.user, [conflict.host for conflict in report.password_conflicts]),
                       *database.planned_actions(report, statements)]
            run = database.DatabaseRun(connection, label, self.context.secrets.db_password or "")
            loaded: dict[str, int] = {}
            for action in actions:
                run.run([action])
                if action.statement is None:
                    self.note(action.shown)
                elif action.database is not None:
                    loaded[action.database] = loaded.get(action.database, 0) + 1
            for name, count in loaded.items():
                self.note(f"{name}: {count} statement(s) of {label} run")
        if self.context.secrets.db_password:
            problems = self._access_problems()
            if problems:
                raise database.DatabaseError("after setting up the databases the application user still cannot "
                                             "reach them:\n  " + "\n  ".join(map(str, problems)),
                                             "see the messages above")
        created_databases = sum(1 for action in actions if action.sql.startswith("CREATE DATABASE"))
        created_users = sum(1 for action in actions if action.sql.startswith("CREATE USER"))
        grants = sum(1 for action in actions if action.sql.startswith("GRANT"))
        passwords_set = sum(1 for action in actions if action.sql.startswith("ALTER USER"))
        schema_statements = sum(1 for action in actions if action.statement is not None)
        if actions:
            reset = f", set the given password on {passwords_set} existing account(s)" if passwords_set else ""
            return StepReport.applied(True, f"created {created_databases} database(s), ran {schema_statements} schema "
                                      f"statement(s), created {created_users} user account(s), added {grants} grant(s)"
                                      + reset)
        return StepReport.applied(False, "databases, schemas, users and grants already in place")
