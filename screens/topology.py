"""Step 2, Topology: the servers of the cluster and the nodes on each, which server this machine
is, and the offsets and clustering ports the installer derives (pin one to override it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, DataTable, Label, Select, Static

from installer import DEFAULT_HOSTS_FILE, ROLES, NodeDraft, PlanDraft, ServerDraft
from screens.base import WizardScreen
from screens.dialogs import ConfirmScreen, FormDialog
from screens.widgets import FormField, ProblemList
from screens.wizard import DraftCheck, WizardState, check_text

if TYPE_CHECKING:
    from installer import NodeLayout, PlanProblem

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SECTIONS = ("servers",)


def node_path(server_index: int, node_index: int) -> str:
    return f"servers[{server_index}].nodes[{node_index}]"


# How the plan check words a collision between two nodes of a server (installer/plan/check.py).
_NODE_SETTING = re.compile(r"servers\[(?P<server>\d+)\]\.nodes\[(?P<node>\d+)\]\.(?P<key>offset|member_port)")
_ALREADY_USED = re.compile(r"(?P<value>\d+) is already used by (?P<owner>\S+) on (?P<server>.+)")
_PORTS_MEET = re.compile(r"port (?P<port>\d+) \((?P<purpose>.+?) of (?P<node>\S+)\) is also "
                         r"(?P<owner_purpose>.+) of (?P<owner>\S+) on (?P<server>.+)")


def blame_edited(check: DraftCheck, draft: PlanDraft, server_index: int, node_index: int) -> DraftCheck:
    """``check`` with a collision between the node the operator edited (at ``server_index``,
    ``node_index`` of ``draft``) and another node of its server reported on the edited node.

    The plan check reports a pinned offset or member port used twice on the node whose name
    sorts later, and a port two nodes both listen on on the later node of the plan: either may be
    the node that had the value first. The operator changed the edited node, so that is where the
    problem is shown and fixed; the other node keeps none of it."""
    edited = draft.servers[server_index].nodes[node_index]
    own_path = node_path(server_index, node_index)
    problems = []
    for problem in check.problems:
        where = _NODE_SETTING.fullmatch(problem.path)
        if where is None or int(where["server"]) != server_index or int(where["node"]) == node_index:
            problems.append(problem)
            continue
        other = draft.servers[server_index].nodes[int(where["node"])].name
        key = where["key"]
        moved: PlanProblem | None = None
        if (used := _ALREADY_USED.fullmatch(problem.message)) and used["owner"] == edited.name:
            moved = replace(problem, path=f"{own_path}.{key}", line=None,
                            message=f"{used['value']} is already used by {other} on {used['server']}")
        elif (meet := _PORTS_MEET.fullmatch(problem.message)) and meet["owner"] == edited.name:
            # The edited node's port comes from its member port or from its offset.
            key = "member_port" if meet["owner_purpose"].startswith("clustering") else "offset"
            moved = replace(problem, path=f"{own_path}.{key}", line=None,
                            message=f"port {meet['port']} ({meet['owner_purpose']} of {edited.name}) is also "
                                    f"{meet['purpose']} of {meet['node']} on {meet['server']}")
        # Only onto a value the operator pinned: a derived one never takes a used value.
        problems.append(moved if moved is not None and getattr(edited, key).strip() else problem)
    return replace(check, problems=tuple(problems))


class ServerTable(DataTable):
    BINDINGS = [
        Binding("a", "screen.add_server", "Add server"),
        Binding("e", "screen.edit_server", "Edit"),
        Binding("x,delete", "screen.remove_server", "Remove"),
    ]


class NodeTable(DataTable):
    BINDINGS = [
        Binding("a", "screen.add_node", "Add node"),
        Binding("e", "screen.edit_node", "Edit"),
        Binding("x,delete", "screen.remove_node", "Remove"),
    ]


class TopologyScreen(WizardScreen):
    STEP = "topology"
    CSS_PATH = str(ASSETS / "topology.tcss")
    edited_node: str | None = None  # the node the operator edited last: collisions are shown on it

    def compose_body(self) -> ComposeResult:
        wizard = self.wizard
        with VerticalScroll(id="body"):
            with Horizontal(id="this-server-row"):
                yield Label("This server", id="this-server-label")
                yield Select(self.server_options(), value=self.selected_server(), id="this-server", compact=True,
                             prompt="(choose)")
                yield Checkbox("confirmed: this machine is that server", wizard.server_confirmed, id="confirmed",
                               compact=True)
            yield Static("", id="server-guess")
            with Horizontal(classes="table-title"):
                yield Static("Servers", classes="section-title")
                yield Button("Add", id="add-server", compact=True)
                yield Button("Edit", id="edit-server", compact=True)
                yield Button("Remove", id="remove-server", compact=True)
            yield ServerTable(id="servers", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="table-title"):
                yield Static("Nodes", classes="section-title")
                yield Button("Add", id="add-node", compact=True)
                yield Button("Edit", id="edit-node", compact=True)
                yield Button("Remove", id="remove-node", compact=True)
            yield NodeTable(id="nodes", cursor_type="row", zebra_stripes=True)
            yield Static(Text("Offsets and member ports are derived per server (smallest free value); "
                              "a value marked 'pinned' is the plan's own.", style="italic"), classes="muted",
                         id="derived-note")
            yield ProblemList()

    def on_mount(self) -> None:
        super().on_mount()
        servers = self.query_one(ServerTable)
        servers.add_columns("", "name", "address", "install dir", "hosts file", "nodes")
        nodes = self.query_one(NodeTable)
        nodes.add_columns("", "server", "node", "role", "offset", "member port", "HTTP / servlet ports")
        self.refresh_view()
        servers.focus()

    # --- what is shown -----------------------------------------------------------------------------

    def server_options(self) -> list[tuple[str, str]]:
        return [(name, name) for name in self.wizard.draft.server_names() if name]

    def selected_server(self) -> str | object:
        names = self.wizard.draft.server_names()
        return self.wizard.this_server if self.wizard.this_server in names and self.wizard.this_server else Select.NULL

    def refresh_view(self) -> None:
        check = self.checked_with_blame()
        self.fill_servers(check)
        self.fill_nodes(check)
        # The table rows only carry a mark: every problem of the topology is listed in full below.
        self.query_one(ProblemList).show_problems(check.under(*SECTIONS))
        self.show_guess()

    def checked_with_blame(self) -> DraftCheck:
        """The draft's check, a collision with the node edited last reported on that node."""
        check = self.wizard.check()
        for server_index, server in enumerate(self.wizard.draft.servers):
            for node_index, node in enumerate(server.nodes):
                if self.edited_node and node.name == self.edited_node:
                    return blame_edited(check, self.wizard.draft, server_index, node_index)
        return check

    def fill_servers(self, check: DraftCheck) -> None:
        table = self.query_one(ServerTable)
        row = table.cursor_row
        table.clear()
        for index, server in enumerate(self.wizard.draft.servers):
            errors = [problem for problem in check.errors_under(f"servers[{index}]")
                      if ".nodes[" not in problem.path]
            mark = Text("✗", style="bold red") if errors else Text("✓", style="green")
            this = " (this)" if server.name and server.name == self.wizard.this_server else ""
            # Text, not str: a DataTable reads str cells as markup, and paths may hold brackets.
            table.add_row(mark, Text(server.name + this), Text(server.address), Text(server.install_dir),
                          Text(server.hosts_file) if server.hosts_file else Text(DEFAULT_HOSTS_FILE, style="dim"),
                          str(len(server.nodes)), key=f"server-{index}")
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def fill_nodes(self, check: DraftCheck) -> None:
        table = self.query_one(NodeTable)
        row = table.cursor_row
        table.clear()
        layout = check.layout
        for server_index, server in enumerate(self.wizard.draft.servers):
            for node_index, node in enumerate(server.nodes):
                errors = check.errors_under(node_path(server_index, node_index))
                mark = Text("✗", style="bold red") if errors else Text("✓", style="green")
                offset: str | Text = "?"
                member_port: str | Text = "?"
                ports: str | Text = ""
                if layout is not None and server_index < len(layout.servers):
                    derived_nodes = layout.servers[server_index].nodes
                    if node_index < len(derived_nodes):
                        derived = derived_nodes[node_index]
                        offset = _value(derived.offset, node.offset_pinned)
                        member_port = _value(derived.member_port, node.member_port_pinned)
                        ports = _ports(derived, check)
                table.add_row(mark, Text(server.name), Text(node.name), Text(node.role), offset, member_port, ports,
                              key=f"node-{server_index}-{node_index}")
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def show_guess(self) -> None:
        guess = self.wizard.guess_server()
        if self.wizard.server_confirmed:
            # Confirmed (or named with --server): the guess is background, not a question.
            text = Text(f"from this machine's addresses: {guess.reason}", style="italic")
        elif guess.name:
            text = Text.assemble(("detected: ", "bold"), guess.reason, " - tick 'confirmed' if that is right")
        else:
            text = Text.assemble(("not detected: ", "bold yellow"), guess.reason)
        if guess.name and self.wizard.this_server and guess.name != self.wizard.this_server:
            text.append(f" (you chose {self.wizard.this_server})", style="yellow")
        self.query_one("#server-guess", Static).update(text)

    def refresh_server_select(self) -> None:
        select = self.query_one("#this-server", Select)
        with self.prevent(Select.Changed):
            select.set_options(self.server_options())
            select.value = self.selected_server()

    # --- this server -------------------------------------------------------------------------------

    @on(Select.Changed, "#this-server")
    def _this_server_changed(self, event: Select.Changed) -> None:
        value = event.value if isinstance(event.value, str) else None
        if value != self.wizard.this_server:
            self.wizard.this_server = value
            self.wizard.server_confirmed = False
            with self.prevent(Checkbox.Changed):
                self.query_one("#confirmed", Checkbox).value = False
        self.refresh_view()

    @on(Checkbox.Changed, "#confirmed")
    def _confirmed_changed(self, event: Checkbox.Changed) -> None:
        self.wizard.server_confirmed = event.value and self.wizard.this_server is not None
        if event.value and self.wizard.this_server is None:
            with self.prevent(Checkbox.Changed):
                event.checkbox.value = False
            self.set_status("Choose this server first", error=True)
        self.show_guess()

    # --- editing servers ---------------------------------------------------------------------------

    def current_server_index(self) -> int | None:
        table = self.query_one(ServerTable)
        if not table.row_count:
            return None
        return min(table.cursor_row, len(self.wizard.draft.servers) - 1)

    def current_node(self) -> tuple[int, int] | None:
        table = self.query_one(NodeTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value or ""
        _, server_index, node_index = key.split("-")
        return int(server_index), int(node_index)

    @on(Button.Pressed, "#add-server")
    def action_add_server(self) -> None:
        number = len(self.wizard.draft.servers) + 1
        first = self.wizard.draft.servers[0] if self.wizard.draft.servers else None
        template = ServerDraft(name=f"server-{number}", install_dir=first.install_dir if first else "/opt/wso2",
                               hosts_file=first.hosts_file if first else "")
        self.app.push_screen(ServerEditor(self.wizard, None, template), self.server_edited)

    @on(Button.Pressed, "#edit-server")
    def action_edit_server(self) -> None:
        index = self.current_server_index()
        if index is not None:
            self.app.push_screen(ServerEditor(self.wizard, index, self.wizard.draft.servers[index]),
                                 self.server_edited)

    @on(DataTable.RowSelected, "#servers")
    def _server_row_selected(self) -> None:
        self.action_edit_server()

    def server_edited(self, result: EditedServer | None) -> None:
        if result is None:
            return
        servers = self.wizard.draft.servers
        old_name = servers[result.index].name if result.index is not None else None
        if result.index is None:
            servers.append(result.server)
        else:
            servers[result.index] = result.server
        # Renaming a server keeps "this server" and the database server pointing at it.
        if old_name and old_name != result.server.name:
            if self.wizard.this_server == old_name:
                self.wizard.this_server = result.server.name
            if self.wizard.draft.get("database.server") == old_name:
                self.wizard.draft.set("database.server", result.server.name)
        self.refresh_server_select()
        self.refresh_view()

    @on(Button.Pressed, "#remove-server")
    def action_remove_server(self) -> None:
        index = self.current_server_index()
        if index is None:
            return
        server = self.wizard.draft.servers[index]

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            del self.wizard.draft.servers[index]
            if self.wizard.this_server == server.name:
                self.wizard.this_server = None
                self.wizard.server_confirmed = False
            self.refresh_server_select()
            self.refresh_view()

        self.app.push_screen(ConfirmScreen(f"Remove {server.name or 'this server'} and its "
                                           f"{len(server.nodes)} node(s) from the plan?", yes="Remove"), answered)

    # --- editing nodes -----------------------------------------------------------------------------

    @on(Button.Pressed, "#add-node")
    def action_add_node(self) -> None:
        if not self.wizard.draft.servers:
            self.set_status("Add a server first", error=True)
            return
        current = self.current_node()
        server_index = current[0] if current else (self.current_server_index() or 0)
        taken = {node.name for server in self.wizard.draft.servers for node in server.nodes}
        number = 1
        while f"worker{number}" in taken:
            number += 1
        template = NodeDraft(name=f"worker{number}", role="worker")
        self.app.push_screen(NodeEditor(self.wizard, server_index, None, template), self.node_edited)

    @on(Button.Pressed, "#edit-node")
    def action_edit_node(self) -> None:
        current = self.current_node()
        if current is not None:
            server_index, node_index = current
            node = self.wizard.draft.servers[server_index].nodes[node_index]
            self.app.push_screen(NodeEditor(self.wizard, server_index, node_index, node), self.node_edited)

    @on(DataTable.RowSelected, "#nodes")
    def _node_row_selected(self) -> None:
        self.action_edit_node()

    def node_edited(self, result: EditedNode | None) -> None:
        if result is None:
            return
        self.wizard.draft = result.draft
        self.edited_node = result.node
        self.refresh_server_select()
        self.refresh_view()

    @on(Button.Pressed, "#remove-node")
    def action_remove_node(self) -> None:
        current = self.current_node()
        if current is None:
            return
        server_index, node_index = current
        del self.wizard.draft.servers[server_index].nodes[node_index]
        self.refresh_view()

    # --- leaving -----------------------------------------------------------------------------------

    def blocking_reason(self) -> str:
        errors = self.wizard.check().errors_under(*SECTIONS)
        if errors:
            return f"Fix {len(errors)} problem(s) in the topology first"
        if not self.wizard.this_server:
            return "Choose which server this machine is"
        if not self.wizard.server_confirmed:
            return f"Tick 'confirmed' if this machine is {self.wizard.this_server}"
        return ""


def _value(number: int, pinned: bool) -> str:
    return f"{number} (pinned)" if pinned else str(number)


def _ports(node: NodeLayout, check: DraftCheck) -> str:
    """HTTP/HTTPS · servlet ports, as the Nodes table shows them."""
    assert check.plan is not None  # a layout is derived from a plan
    http, https = node.transport_ports(check.plan)
    servlet_http, servlet_https = node.servlet_ports
    return f"{http}/{https} · {servlet_http}/{servlet_https}"


# --- editors -----------------------------------------------------------------------------------------

@dataclass
class EditedServer:
    index: int | None  # None: a new server
    server: ServerDraft


@dataclass
class EditedNode:
    draft: PlanDraft  # the whole plan draft with the node in place (it may have moved server)
    node: str = ""  # its name


EditedT = TypeVar("EditedT")


class RecordEditor(FormDialog[EditedT]):
    """What the server and node editors share: their fields checked as they are typed against the
    whole draft with the record in place, the problems no field shows listed below, Save / Cancel
    (and FormDialog's keys). A subclass sets ``record`` (the draft being edited) and says what it
    checks and returns."""

    CSS_PATH = [str(ASSETS / "dialogs.tcss"), str(ASSETS / "topology.tcss")]
    DIALOG_CLASSES = "dialog editor-dialog"

    record: ServerDraft | NodeDraft

    def __init__(self, wizard: WizardState) -> None:
        super().__init__(classes="dialog-screen")
        self.wizard = wizard

    def editor_footer(self) -> ComposeResult:
        yield ProblemList(id="editor-problems")

    def on_mount(self) -> None:
        self.check_candidate()
        self.query_one(FormField).input.focus()

    def check_draft(self, draft: PlanDraft) -> DraftCheck:
        return check_text(draft.to_yaml(), self.wizard.effective_plan_path, check_files=False,
                          is_root=self.wizard.is_root)

    def check_candidate(self) -> DraftCheck:
        raise NotImplementedError

    def result(self) -> EditedT:
        raise NotImplementedError

    @on(FormField.Changed)
    def _changed(self, event: FormField.Changed) -> None:
        setattr(self.record, event.path.rsplit(".", 1)[1], event.value)
        self.check_candidate()

    def action_save(self) -> None:
        self.dismiss(self.result())


class ServerEditor(RecordEditor[EditedServer | None]):
    """A server's name, address, install folder and hosts file, checked as they are typed."""

    def __init__(self, wizard: WizardState, index: int | None, server: ServerDraft) -> None:
        super().__init__(wizard)
        self.index = index
        self.server = ServerDraft(server.name, server.address, server.install_dir, server.hosts_file,
                                  [NodeDraft(n.name, n.role, n.offset, n.member_port) for n in server.nodes])
        self.record = self.server

    @property
    def position(self) -> int:
        return self.index if self.index is not None else len(self.wizard.draft.servers)

    def dialog_title(self) -> str:
        return "New server" if self.index is None else f"Server {self.server.name}"

    def compose_fields(self) -> ComposeResult:
        prefix = f"servers[{self.position}]"
        yield FormField(f"{prefix}.name", "Name", self.server.name)
        yield FormField(f"{prefix}.address", "Address", self.server.address,
                        placeholder="the address the other servers reach it on")
        yield FormField(f"{prefix}.install_dir", "Install folder", self.server.install_dir,
                        note="node homes go to <install folder>/<node name>")
        yield FormField(f"{prefix}.hosts_file", "Hosts file", self.server.hosts_file,
                        placeholder=DEFAULT_HOSTS_FILE)
        yield from self.editor_footer()

    def candidate(self) -> PlanDraft:
        draft = self.wizard.draft.copy()
        if self.index is None:
            draft.servers.append(self.server)
        else:
            draft.servers[self.index] = self.server
        return draft

    def check_candidate(self) -> DraftCheck:
        check = self.check_draft(self.candidate())
        fields = {field.path for field in self.query(FormField)}
        for field in self.query(FormField):
            field.show_problems(check.for_field(field.path))
        prefix = f"servers[{self.position}]"
        others = [problem for problem in check.errors_under(prefix)
                  if problem.path not in fields and ".nodes[" not in problem.path]
        self.query_one("#editor-problems", ProblemList).show_problems(others)
        return check

    def result(self) -> EditedServer:
        return EditedServer(self.index, self.server)


class NodeEditor(RecordEditor[EditedNode | None]):
    """A node's server, name, role and (optionally pinned) offset and member port."""

    def __init__(self, wizard: WizardState, server_index: int, node_index: int | None, node: NodeDraft) -> None:
        super().__init__(wizard)
        self.original = (server_index, node_index)
        self.server_index = server_index
        self.node = NodeDraft(node.name, node.role, node.offset, node.member_port)
        self.record = self.node

    def dialog_title(self) -> str:
        return "New node" if self.original[1] is None else f"Node {self.node.name}"

    def compose_fields(self) -> ComposeResult:
        path = self.path_prefix(self.candidate())
        # Kept as attributes: their key path changes when the node moves to another server.
        self.offset_field = FormField(f"{path}.offset", "Port offset", self.node.offset, placeholder="derived")
        self.member_port_field = FormField(f"{path}.member_port", "Member port", self.node.member_port,
                                           placeholder="derived")
        servers = [(server.name or f"(server {index + 1})", index)
                   for index, server in enumerate(self.wizard.draft.servers)]
        with Horizontal(classes="form-row select-row"):
            yield Label("Server", classes="form-label")
            yield Select(servers, value=self.server_index, allow_blank=False, id="node-server", compact=True)
        with Horizontal(classes="form-row select-row"):
            yield Label("Role", classes="form-label")
            yield Select([(role, role) for role in ROLES], value=self.node.role if self.node.role in ROLES
                         else Select.NULL, id="node-role", compact=True)
        yield FormField(f"{path}.name", "Name", self.node.name, note="also the folder name of its home")
        yield self.offset_field
        yield self.member_port_field
        yield from self.editor_footer()

    def candidate(self) -> PlanDraft:
        draft = self.wizard.draft.copy()
        old_server, old_node = self.original
        if old_node is not None:
            del draft.servers[old_server].nodes[old_node]
        nodes = draft.servers[self.server_index].nodes
        if old_node is not None and old_server == self.server_index:
            nodes.insert(old_node, self.node)
        else:
            nodes.append(self.node)
        return draft

    def path_prefix(self, draft: PlanDraft) -> str:
        nodes = draft.servers[self.server_index].nodes
        index = next(position for position, node in enumerate(nodes) if node is self.node)
        return node_path(self.server_index, index)

    def check_candidate(self) -> DraftCheck:
        draft = self.candidate()
        prefix = self.path_prefix(draft)
        node_index = int(prefix.rsplit("[", 1)[1].rstrip("]"))
        check = blame_edited(self.check_draft(draft), draft, self.server_index, node_index)
        for field in self.query(FormField):
            field.path = f"{prefix}.{field.path.rsplit('.', 1)[1]}"  # the node may have moved server
            field.show_problems(check.for_field(field.path))
        if check.layout is not None:
            derived = check.layout.servers[self.server_index].nodes[node_index]
            self.offset_field.input.placeholder = f"derived: {derived.offset}"
            self.member_port_field.input.placeholder = f"derived: {derived.member_port}"
        shown = {field.path for field in self.query(FormField)}
        # The role has no text field; a collision may be reported on the other node of the pair;
        # "no manager" / "a second ELB" concern the whole list.
        name = self.node.name.strip()
        others = [problem for problem in check.under("servers")
                  if problem.path not in shown and problem.path != "servers"
                  and (problem.path.startswith(prefix) or (name and re.search(rf"\b{re.escape(name)}\b", problem.message)))]
        others += [problem for problem in check.problems if problem.path == "servers"]
        self.query_one("#editor-problems", ProblemList).show_problems(others)
        return check

    @on(Select.Changed, "#node-role")
    def _role_changed(self, event: Select.Changed) -> None:
        self.node.role = event.value if isinstance(event.value, str) else ""
        self.check_candidate()

    @on(Select.Changed, "#node-server")
    def _server_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.server_index = event.value
            self.check_candidate()

    def result(self) -> EditedNode:
        return EditedNode(self.candidate(), self.node.name)
