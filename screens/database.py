"""Step 5, Database: where MySQL / MariaDB runs, the admin and application users and their
passwords (masked, kept in memory only), the database names, and *Test connection* from this
server's address, run in a thread worker with the result shown inline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Label, Select, Static

from installer import LOCAL_REGISTRY_MODES
from screens.base import FormScreen
from screens.widgets import FormField, ProblemList, problem_text
from screens.wizard import DraftCheck

if TYPE_CHECKING:
    from textual.widget import Widget

    from installer import DatabaseError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ADMIN_PASSWORD_FIELD = "secret.db_admin_password"
APP_PASSWORD_FIELD = "secret.db_password"


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    who: str
    message: str
    hint: str = ""


def try_connection(address: str, port: int, bind_address: str | None, user: str, password: str,
                   role: str, *, databases: Sequence[str] = (), database_server: str = "") -> ConnectionResult:
    """Connect once as ``user`` (the client socket bound to this server's address, as the nodes
    will connect) and say what happened. ``databases`` (the ones this server's nodes use) and
    ``database_server`` (the plan server that creates them) make the advice exact."""
    from installer import probe_database

    probe = probe_database(address, port, bind_address, user, password, role=role)
    hint = wizard_hint(probe.error, databases, database_server) if probe.error is not None else ""
    return ConnectionResult(probe.ok, f"{role} user '{user}'", probe.message, hint)


def wizard_hint(error: DatabaseError, databases: Sequence[str] = (), database_server: str = "") -> str:
    """What to do, in the wizard's words (its fields and buttons), never a command-line flag."""
    from installer import HostNotAllowed, PasswordRefused

    on_server = f" on {database_server}" if database_server else " on the database server"
    if isinstance(error, HostNotAllowed):
        if error.role == "admin":
            return error.hint
        exact = error.for_databases(databases) if databases else error
        return (f"{exact.hint}; or Apply{on_server}: its database step creates the account for every plan "
                "server's address")
    if isinstance(error, PasswordRefused):
        if error.role == "admin":
            return (f"check the Admin user and Admin password above (an admin account that admits "
                    f"{error.address or 'this server'}), then Test connection again")
        return (f"check the Application password above: it must be the one '{error.user}' was given when the "
                f"database step ran{on_server}; if it has not run yet, Apply there first creates the account")
    return error.hint


class DatabaseScreen(FormScreen):
    STEP = "database"
    CSS_PATH = str(ASSETS / "database.tcss")
    SECTIONS = ("database",)
    SHOWN_BY_SCREEN = ("database.server", "database.local_registry")

    @dataclass
    class Tested(Message):
        results: list[ConnectionResult]

    def compose_body(self) -> ComposeResult:
        draft = self.wizard.draft
        secrets = self.wizard.secrets
        with VerticalScroll(id="body"):
            yield Static("Where the database runs", classes="section-title")
            yield self.form_field("database.hostname", note="the name every node's JDBC URLs use (hosts file line)")
            yield self.form_field("database.address")
            yield self.form_field("database.port")
            with Horizontal(classes="form-row select-row", id="db-server-row"):
                yield Label("Creates the databases", classes="form-label")
                names = [name for name in draft.server_names() if name]
                current = draft.get("database.server")
                yield Select([(name, name) for name in names], value=current if current in names else Select.NULL,
                             id="db-server", compact=True, prompt="(choose a server)")
            yield Static("", classes="form-problem -empty", id="db-server-problem")
            yield Static("Users and passwords (kept in memory only, never written to the plan)",
                         classes="section-title")
            yield self.form_field("database.admin_user")
            yield FormField(ADMIN_PASSWORD_FIELD, "Admin password", secrets.db_admin_password or "", password=True)
            yield self.form_field("database.user")
            yield FormField(APP_PASSWORD_FIELD, "Application password", secrets.db_password or "", password=True)
            with Horizontal(id="test-row"):
                yield Button("Test connection", id="test-connection", compact=True, variant="primary")
                yield Static("", id="test-status")
            yield Static("", id="test-results", classes="-empty")
            yield Static("Databases", classes="section-title")
            yield self.form_field("database.user_db")
            yield self.form_field("database.registry_db")
            with Horizontal(classes="form-row select-row"):
                yield Label("Local registry", classes="form-label")
                mode = draft.get("database.local_registry") or "per-role"
                yield Select([("per-role (the guide: one for the manager, one for workers)", "per-role"),
                              ("per-node (one database per ESB node)", "per-node")],
                             value=mode if mode in LOCAL_REGISTRY_MODES else Select.NULL, id="local-registry",
                             compact=True)
            yield self.form_field("database.manager_local_db")
            yield self.form_field("database.worker_local_db")
            yield ProblemList()

    # --- fields outside the plan -------------------------------------------------------------------

    def field_changed(self, path: str, value: str) -> None:
        if path == ADMIN_PASSWORD_FIELD:
            self.wizard.secrets.db_admin_password = value or None
        elif path == APP_PASSWORD_FIELD:
            self.wizard.secrets.db_password = value or None

    @on(Select.Changed, "#db-server")
    def _db_server_changed(self, event: Select.Changed) -> None:
        self.wizard.draft.set("database.server", event.value if isinstance(event.value, str) else "")
        self.refresh_problems()

    @on(Select.Changed, "#local-registry")
    def _local_registry_changed(self, event: Select.Changed) -> None:
        self.wizard.draft.set("database.local_registry", event.value if isinstance(event.value, str) else "")
        self.refresh_problems()

    def after_check(self, check: DraftCheck) -> None:
        server_problem = self.query_one("#db-server-problem", Static)
        problems = check.for_field("database.server") + check.for_field("database.local_registry")
        server_problem.update(problem_text(problems))
        server_problem.set_class(not problems, "-empty")
        server_problem.set_class(bool(problems), "-error")
        per_node = self.wizard.draft.get("database.local_registry") == "per-node"
        for field in self.query(FormField):
            if field.path in ("database.manager_local_db", "database.worker_local_db"):
                field.display = not per_node
        self.show_password_needs(check)

    def show_password_needs(self, check: DraftCheck) -> None:
        """Say which password this server needs, and why."""
        this_server = self.wizard.this_server
        database_server = self.wizard.draft.get("database.server")
        admin_user = self.wizard.draft.get("database.admin_user").strip() or "root"
        admin_note = (f"needed here: {this_server} creates the databases (leave it empty if this server's MySQL "
                      f"socket admits '{admin_user}')" if this_server and this_server == database_server
                      else f"needed only on {database_server or 'the database server'}, which creates the databases")
        esb_here = check.runs_esb_on(this_server)
        app_note = ("needed here: written into master-datasources.xml (mode 0600) and used to check access"
                    if esb_here else "used by the ESB nodes; checked from every server that runs one")
        for field in self.query(FormField):
            if field.path == ADMIN_PASSWORD_FIELD:
                field.set_note(admin_note)
            elif field.path == APP_PASSWORD_FIELD:
                field.set_note(app_note)

    # --- test connection ---------------------------------------------------------------------------

    @on(Button.Pressed, "#test-connection")
    def action_test_connection(self) -> None:
        check = self.wizard.check()
        errors = check.errors_under("database.address", "database.port", "database.admin_user", "database.user")
        status = self.query_one("#test-status", Static)
        if errors or check.plan is None:
            status.update(Text("fix the address, port and users first", style="bold red"))
            return
        database = check.plan.database
        bind_address = None
        index = self.wizard.server_index(self.wizard.this_server)
        if index is not None:
            bind_address = self.wizard.draft.servers[index].address.strip() or None
        databases: tuple[str, ...] = ()
        if check.layout is not None and self.wizard.this_server:
            try:
                databases = tuple(check.layout.databases_used_on(check.layout.server(self.wizard.this_server)))
            except KeyError:
                databases = ()
        status.update(Text("connecting…", style="italic"))
        button = self.query_one("#test-connection", Button)
        had_focus = self.focused is button
        button.disabled = True  # which moves the focus off it while the test runs
        # The focus goes back to the button with the result, unless the operator moved it meanwhile.
        self.focus_while_testing: tuple[Widget | None] | None = (self.focused,) if had_focus else None
        self.run_connection_test(database.address, database.port, bind_address, database.admin_user,
                                 self.wizard.secrets.db_admin_password, database.user, self.wizard.secrets.db_password,
                                 databases, database.server)

    @work(thread=True, exclusive=True, exit_on_error=False, group="test-connection")
    def run_connection_test(self, address: str, port: int, bind_address: str | None, admin_user: str,
                            admin_password: str | None, user: str, password: str | None,
                            databases: tuple[str, ...] = (), database_server: str = "") -> None:
        results = []
        if admin_password:
            results.append(try_connection(address, port, bind_address, admin_user, admin_password, "admin",
                                          database_server=database_server))
        else:
            results.append(ConnectionResult(False, f"admin user '{admin_user}'", "not tried: no admin password given"))
        if password:
            results.append(try_connection(address, port, bind_address, user, password, "application",
                                          databases=databases, database_server=database_server))
        else:
            results.append(ConnectionResult(False, f"application user '{user}'",
                                            "not tried: no application password given"))
        self.post_message(self.Tested(results))

    @on(Tested)
    def _tested(self, message: Tested) -> None:
        button = self.query_one("#test-connection", Button)
        button.disabled = False
        focus_while_testing = getattr(self, "focus_while_testing", None)
        if focus_while_testing is not None and self.focused is focus_while_testing[0]:
            button.focus()
        self.query_one("#test-status", Static).update("")
        made = datetime.now().strftime("%H:%M:%S")  # a result read later says when it was true
        text = Text()
        for result in message.results:
            if text:
                text.append("\n")
            text.append(f"{made} ", style="dim")
            text.append("✓ " if result.ok else "✗ ", style="bold green" if result.ok else "bold red")
            text.append(f"{result.who}: ", style="bold")
            text.append(result.message)
            if result.hint:
                text.append(f"\n  What to do: {result.hint}", style="italic")
        results = self.query_one("#test-results", Static)
        results.update(text)
        results.set_class(False, "-empty")
        self.call_after_refresh(results.scroll_visible)  # the result may be below the fold
