"""Step 3, Cluster: the clustering domains, the public host names the ELB routes by, the tenant
range, the ELB's ports (ports below 1024 need root) and deployment synchronisation: where the
manager commits what is deployed on it and the workers check it out (the registry, or svn with
its URL, user and password; the password is kept in memory only, never written to the plan)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Select, Static

from screens.base import FormScreen
from screens.widgets import FormField, ProblemList, problem_text
from screens.wizard import DraftCheck, WizardState

ASSETS = Path(__file__).resolve().parent.parent / "assets"
REPOSITORY_FIELD = "cluster.deployment_sync.repository"
SVN_URL_FIELD = "cluster.deployment_sync.svn_url"
SVN_USER_FIELD = "cluster.deployment_sync.svn_user"
SVN_PASSWORD_FIELD = "secret.svn_password"  # not a plan setting: kept in wizard.secrets only
SVN_PLAN_FIELDS = (SVN_URL_FIELD, SVN_USER_FIELD)
SVN_FIELDS = (*SVN_PLAN_FIELDS, SVN_PASSWORD_FIELD)
DEFAULT_REPOSITORY = "registry"
REPOSITORY_CHOICES = (
    ("registry (REGISTRY_DB, mounted by every ESB node: the guide's way)", "registry"),
    ("svn (a Subversion repository: URL and login below)", "svn"),
)
SYNC_NOTE = "the manager commits what is deployed on it; the workers check it out"
REGISTRY_NOTE = "; the svn settings appear when svn is chosen"


class ClusterScreen(FormScreen):
    STEP = "cluster"
    CSS_PATH = str(ASSETS / "cluster.tcss")
    SECTIONS = ("cluster",)
    # "ports below 1024 need root" is reported on elb_ports as a whole: show it by the HTTP port;
    # "the svn repository needs 'svn_url'" is reported on deployment_sync: show it by the URL.
    FIELD_ALIASES = {"cluster.elb_ports": "cluster.elb_ports.http",
                     "cluster.deployment_sync": SVN_URL_FIELD}
    SHOWN_BY_SCREEN = (REPOSITORY_FIELD,)

    def __init__(self, wizard: WizardState, *, focus: str | None = None) -> None:
        """``focus``: the field to put the cursor in (the svn password, when Apply sends the
        operator here to enter it)."""
        super().__init__(wizard)
        self.focus_path = focus
        # What the operator typed for svn while the registry is chosen: out of the plan (it would
        # only be warned about), back in it when svn is chosen again.
        self.svn_kept: dict[str, str] = {}
        # The svn fields show with svn; with the registry only when the plan, as loaded, has svn
        # values it does not use (so the warning about them shows beside them, and they can be cleared).
        self.svn_shown = self.repository() == "svn" or any(wizard.draft.get(path).strip() for path in SVN_PLAN_FIELDS)

    def repository(self) -> str:
        """The repository as the plan has it (the engine's default when left out)."""
        return self.wizard.draft.get(REPOSITORY_FIELD).strip() or DEFAULT_REPOSITORY

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Clustering", classes="section-title")
            yield self.form_field("cluster.domain", note="every ESB node's axis2.xml and the ELB's loadbalancer.conf")
            yield self.form_field("cluster.lb_domain", note="the ELB's own clustering domain")
            yield self.form_field("cluster.tenant_range", note='"*" for all tenants, a tenant id, or a range 1-100')
            yield Static("Host names the ELB routes by", classes="section-title")
            yield self.form_field("cluster.hostnames.worker", note="service requests, sent to the workers")
            yield self.form_field("cluster.hostnames.mgt", note="the management console, sent to the manager")
            yield self.form_field("cluster.hostnames.elb", note="the ELB itself, a well-known member")
            yield Static("ELB ports", classes="section-title")
            yield self.form_field("cluster.elb_ports.http", note="80 needs root; 8280 otherwise")
            yield self.form_field("cluster.elb_ports.https", note="443 needs root; 8243 otherwise")
            yield from self.compose_deployment_sync()
            yield Static("", id="derived")
            yield ProblemList()

    def compose_deployment_sync(self) -> ComposeResult:
        yield Static("Deployment synchronisation", classes="section-title")
        with Vertical(id="sync-repository-field"):
            with Horizontal(classes="form-row", id="sync-repository-row"):
                yield Label("Repository", classes="form-label")
                repository = self.repository()
                known = [value for _, value in REPOSITORY_CHOICES]
                # A value the plan does not accept shows as no choice, its problem under it.
                yield Select(REPOSITORY_CHOICES, value=repository if repository in known else Select.NULL,
                             allow_blank=repository not in known, id="sync-repository", compact=True,
                             prompt="(choose a repository)")
            yield Static(SYNC_NOTE, classes="form-note", id="sync-note")
            yield Static("", classes="form-problem -empty", id="sync-repository-problem")
        yield self.form_field(SVN_URL_FIELD, placeholder="e.g. http://svn.example.com/repos/esb",
                              note="the manager commits to it; the workers check out from it")
        yield self.form_field(SVN_USER_FIELD, placeholder="(none)", note="blank for a repository without a login")
        yield FormField(SVN_PASSWORD_FIELD, "Svn password", self.wizard.secrets.svn_password or "", password=True)

    def on_mount(self) -> None:
        # Textual calls FormScreen.on_mount itself, after this one (every class's handler runs):
        # it focuses the first field, so the requested one is focused once mounting is over.
        self.show_svn_fields()
        if self.focus_path:
            self.call_after_refresh(self.focus_field, self.focus_path)

    def focus_field(self, path: str) -> None:
        for field in self.query(FormField):
            if field.path == path and field.display:
                field.input.focus()
                field.scroll_visible(animate=False)

    # --- deployment synchronisation ------------------------------------------------------------------

    def field_changed(self, path: str, value: str) -> None:
        if path == SVN_PASSWORD_FIELD:
            self.wizard.secrets.svn_password = value or None

    @on(Select.Changed, "#sync-repository")
    def _repository_changed(self, event: Select.Changed) -> None:
        chosen = event.value
        if not isinstance(chosen, str) or chosen == self.repository():
            return  # no choice, or the plan's own (a Select announces its first value when mounted)
        draft = self.wizard.draft
        draft.set(REPOSITORY_FIELD, chosen)
        svn = chosen == "svn"
        for field in self.query(FormField):
            if field.path not in SVN_PLAN_FIELDS:
                continue
            if svn:
                kept = self.svn_kept.pop(field.path, "")
                if kept and not draft.get(field.path).strip():
                    draft.set(field.path, kept)
                    field.input.value = kept
            else:
                typed = draft.get(field.path)
                if typed.strip():
                    self.svn_kept[field.path] = typed
                draft.set(field.path, "")
                field.input.value = ""
        self.svn_shown = svn
        self.show_svn_fields()
        self.refresh_problems()

    def show_svn_fields(self) -> None:
        for field in self.query(FormField):
            if field.path in SVN_FIELDS:
                field.display = self.svn_shown
        note = SYNC_NOTE if self.svn_shown else SYNC_NOTE + REGISTRY_NOTE
        self.query_one("#sync-note", Static).update(note)

    def svn_password_note(self, check: DraftCheck) -> str:
        """Whether this server needs the svn password, and why."""
        draft = self.wizard.draft
        if self.repository() != "svn":
            return "not used: the repository is not svn"
        if not draft.get(SVN_USER_FIELD).strip():
            return "not used without an svn user"
        this_server = self.wizard.this_server
        if check.runs_esb_on(this_server):
            return ("needed here: written into the carbon.xml of this server's ESB nodes; kept in memory only, "
                    "never written to the plan")
        return (f"needed on every server that runs an ESB node ({this_server or 'this server'} runs none); "
                "kept in memory only")

    # --- after every change ----------------------------------------------------------------------------

    def after_check(self, check: DraftCheck) -> None:
        repository_problem = self.query_one("#sync-repository-problem", Static)
        problems = check.for_field(REPOSITORY_FIELD)
        repository_problem.update(problem_text(problems))
        repository_problem.set_class(not problems, "-empty")
        repository_problem.set_class(any(problem.severity == "error" for problem in problems), "-error")
        for field in self.query(FormField):
            if field.path == SVN_PASSWORD_FIELD:
                field.set_note(self.svn_password_note(check))
        self.show_derived(check)

    def show_derived(self, check: DraftCheck) -> None:
        derived = self.query_one("#derived", Static)
        manager = check.layout.manager if check.layout is not None else None
        if manager is None or check.plan is None or check.layout is None:
            derived.update("")
            return
        ports = check.plan.cluster.elb_ports
        mapping = ", ".join(f"port.mapping.{elb} = {target}" for elb, target in manager.port_mapping)
        text = Text.assemble(
            ("Derived: ", "bold"), f"the ELB listens on {ports.http}/{ports.https}; the manager ({manager.name}) "
            f"gets {mapping}; its WSDL endpoints point at http://{check.plan.cluster.hostnames.worker}:{ports.http}.")
        if not check.errors_under("cluster.deployment_sync"):  # else its problem says what is missing
            sync = check.plan.cluster.deployment_sync
            where = (f"svn {sync.svn_url}" if sync.repository == "svn"
                     else f"the registry ({check.plan.database.registry_db or 'REGISTRY_DB'})")
            workers = ", ".join(node.name for node in check.layout.nodes_with_role("worker")) or "no worker yet"
            text.append(f" Deployment synchronisation: {manager.name} commits what is deployed on it to {where}; "
                        f"{workers} check it out.")
        derived.update(text)
