"""Pilot tests, screen by screen: enter data, see validation next to the field, move Back and Next
without losing input. Each test drives the real app from the real factory."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from textual.widgets import Checkbox, DataTable, Input, Select

from installer.plan.draft import PlanDraft
from screens.widgets import FormField
from tests.support.build_distributions import build_all
from tests.test_tui_support import (
    SIZE,
    field_problem,
    form_field,
    input_values,
    make_app,
    seed_plan,
    settle,
    shows,
    sync,
    type_into,
    wait_for,
)


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("tui-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


# A node added to server-206 of the seed (elb 0 / 4000, manager 1 / 4001, worker2 2 / 4002).
SMALLEST_FREE_ON_SERVER_206 = ("3", "4003")


def screen_name(app) -> str:
    return type(app.screen).__name__


# --- Welcome -------------------------------------------------------------------------------------------

@sync
async def test_welcome_without_a_plan_offers_open_and_new_and_blocks_next(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # No state here: nothing to resume, not even in the footer; the log file's location is shown.
        await shows(pilot, "No plan yet", "Open plan", "New plan", str(tmp_path / "tui.log"), absent=("Resume",))
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "WelcomeScreen"
        await shows(pilot, "Open a plan or start a new one first")


@sync
async def test_new_plan_starts_from_the_seed_and_goes_to_topology(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert screen_name(app) == "TopologyScreen"
        assert app.wizard.draft.server_names() == ["server-206", "server-132"]
        assert app.wizard.plan_path is None  # a new plan: not saved anywhere yet
        await shows(pilot, "worker3", "3 (pinned)")  # the seed's pinned offset, shown as such


@sync
async def test_welcome_with_state_offers_resume_with_the_steps_done(tmp_path, plan):
    state_file = plan.parent / "server-206" / "wso2" / ".wso2-cluster" / "state-server-206.json"
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"format": 1, "server": "server-206", "steps": {
        "preflight": {"status": "done", "message": "this server is ready"},
        "extract": {"status": "failed", "message": "stopped by the operator"}}}))
    app = make_app(tmp_path, plan)  # no server named: Resume finds the one with state here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await shows(pilot, "Resume server-206", "preflight done", "stopped by the operator")
        await pilot.press("r")
        await settle(pilot)
        assert screen_name(app) == "ApplyScreen"
        assert app.wizard.this_server == "server-206" and app.wizard.server_confirmed


@sync
async def test_a_plan_that_cannot_be_read_is_said_on_the_welcome_screen(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("servers: [\n")
    app = make_app(tmp_path, broken)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await shows(pilot, "cannot be read as a plan")


# --- Topology ------------------------------------------------------------------------------------------

@sync
async def test_topology_needs_this_server_confirmed_before_next(tmp_path, plan):
    app = make_app(tmp_path, plan)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")  # "Continue with this plan"
        await pilot.pause()
        assert screen_name(app) == "TopologyScreen"
        # Both servers are on loopback: this machine could be either, so nothing is guessed.
        await shows(pilot, "choose one")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "TopologyScreen"
        await shows(pilot, "Choose which server this machine is")
        app.screen.query_one("#this-server", Select).value = "server-132"
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        await shows(pilot, "Tick 'confirmed'")
        app.screen.query_one("#confirmed", Checkbox).value = True
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "ClusterScreen"
        assert app.wizard.this_server == "server-132"


@sync
async def test_node_editor_shows_a_collision_as_it_is_typed_and_pinning_moves_derived_values(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        nodes = app.screen.query_one("#nodes", DataTable)
        nodes.focus()
        nodes.move_cursor(row=3)  # worker1 on server-132, next to worker3 pinned at offset 3
        await pilot.press("e")
        await pilot.pause()
        assert screen_name(app) == "NodeEditor"
        offset = "servers[1].nodes[0].offset"
        assert form_field(app, offset).input.placeholder == "derived: 0"
        await type_into(pilot, offset, "3")
        await shows(pilot, "3 is already used by worker3 on server-132")  # on worker1, the node edited
        await type_into(pilot, offset, "7")
        await shows(pilot, absent=("already used",))
        await pilot.press("escape")  # cancelled: the plan keeps worker1 unpinned
        await pilot.pause()
        assert app.wizard.draft.servers[1].nodes[0].offset == ""

        nodes = app.screen.query_one("#nodes", DataTable)
        nodes.focus()
        nodes.move_cursor(row=2)  # worker2 on server-206
        await pilot.press("e")
        await pilot.pause()
        await type_into(pilot, "servers[0].nodes[2].offset", "1")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen_name(app) == "TopologyScreen"
        assert app.wizard.draft.servers[0].nodes[2].offset == "1"
        table = app.screen.query_one("#nodes", DataTable)
        rows = {str(table.get_row_at(index)[2]): table.get_row_at(index) for index in range(table.row_count)}
        assert str(rows["worker2"][4]) == "1 (pinned)"
        assert str(rows["manager"][4]) == "2"  # derived again: the smallest offset left free


@sync
async def test_adding_a_duplicate_node_name_is_refused_next_to_the_field(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        await pilot.click("#add-node")
        await pilot.pause()
        assert screen_name(app) == "NodeEditor"
        name_path = next(field.path for field in app.screen.query(FormField) if field.path.endswith(".name"))
        await type_into(pilot, name_path, "worker1")
        # Reported on whichever of the two comes second in the plan: here the existing worker1.
        await shows(pilot, "node name 'worker1' is already used")
        await type_into(pilot, name_path, "worker4")
        await shows(pilot, absent=("already used",))
        await pilot.click("#save")
        await pilot.pause()
        names = [node.name for server in app.wizard.draft.servers for node in server.nodes]
        assert "worker4" in names
        assert screen_name(app) == "TopologyScreen"
        # The new node gets the smallest free offset and member port of its server.
        table = app.screen.query_one("#nodes", DataTable)
        rows = {str(table.get_row_at(index)[2]): table.get_row_at(index) for index in range(table.row_count)}
        assert (str(rows["worker4"][4]), str(rows["worker4"][5])) == SMALLEST_FREE_ON_SERVER_206


@sync
async def test_removing_the_manager_is_an_error_of_the_whole_topology(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        nodes = app.screen.query_one("#nodes", DataTable)
        nodes.focus()
        nodes.move_cursor(row=1)  # manager
        await pilot.press("x")
        await pilot.pause()
        await shows(pilot, "there is no node with role manager")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "TopologyScreen"


@sync
async def test_server_editor_checks_the_address(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#servers", DataTable).focus()
        await pilot.press("e")
        await pilot.pause()
        assert screen_name(app) == "ServerEditor"
        await type_into(pilot, "servers[0].address", "300.1.1.1")
        await shows(pilot, "'300.1.1.1' is not an IP address")
        await pilot.press("escape")  # cancel: nothing changes
        await pilot.pause()
        assert app.wizard.draft.servers[0].address == "127.0.0.2"


# --- Cluster -------------------------------------------------------------------------------------------

async def goto(pilot, step):
    pilot.app.go_to(step)
    await pilot.pause()


@sync
async def test_cluster_validation_next_to_the_field_and_back_and_forth_keeps_input(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await type_into(pilot, "cluster.hostnames.mgt", "worker.esb.wso2.com")
        await shows(pilot, "is also the worker host name")
        assert form_field(app, "cluster.hostnames.mgt").has_class("-invalid")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "ClusterScreen"
        await type_into(pilot, "cluster.hostnames.mgt", "console.example.org")
        await type_into(pilot, "cluster.tenant_range", "1-100")
        assert not app.screen.query(".form-field.-invalid")
        before = input_values(app)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "DistributionsScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(app) == "ClusterScreen"
        assert input_values(app) == before
        assert app.wizard.draft.get("cluster.hostnames.mgt") == "console.example.org"


@sync
async def test_elb_ports_below_1024_warn_without_root(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206", is_root=False)
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await type_into(pilot, "cluster.elb_ports.http", "80")
        await type_into(pilot, "cluster.elb_ports.https", "443")
        await shows(pilot, "are below 1024 and need root")
        await type_into(pilot, "cluster.elb_ports.http", "8280")
        await type_into(pilot, "cluster.elb_ports.https", "8243")
        await shows(pilot, absent=("need root",))
        # A warning never blocks; port text that is not a number is an error.
        await type_into(pilot, "cluster.elb_ports.https", "84x3")
        await shows(pilot, "must be a TCP port")


# --- Distributions ---------------------------------------------------------------------------------------

@sync
async def test_distributions_detect_the_product_and_refuse_a_swapped_zip(tmp_path, plan, distributions):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "distributions")
        await settle(pilot)
        await shows(pilot, "WSO2 Enterprise Service Bus 4.7.0", "WSO2 Elastic Load Balancer 2.0.3",
                    "MySQL JDBC driver 5.1.25")
        await type_into(pilot, "distributions.esb", str(distributions["elb"]))
        await wait_for(pilot, lambda: "but the esb distribution must be" in field_problem(app, "distributions.esb"))
        await shows(pilot, "but the esb distribution must be WSO2 Enterprise Service Bus")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "DistributionsScreen"
        await type_into(pilot, "distributions.esb", str(tmp_path / "missing.zip"))
        await wait_for(pilot, lambda: "missing.zip" in field_problem(app, "distributions.esb"))
        assert "missing.zip does not exist" in field_problem(app, "distributions.esb")
        assert form_field(app, "distributions.esb").has_class("-invalid")


@sync
async def test_browse_picks_a_file_for_a_field(tmp_path, plan, distributions):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "distributions")
        await settle(pilot)
        browse = form_field(app, "distributions.jdbc_driver").query_one(".form-button")
        browse.press()
        await pilot.pause()
        assert screen_name(app) == "PathScreen"
        picker_path = app.screen.query_one("#picker-path", Input)
        picker_path.value = str(tmp_path / "nothing-here.jar")
        await pilot.press("enter")
        await pilot.pause()
        await shows(pilot, "is not a file")
        assert screen_name(app) == "PathScreen"  # refused, still open
        picker_path.value = str(distributions["esb"])  # a zip where a jar belongs: the field says so
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "DistributionsScreen"
                       and "JDBC" in field_problem(app, "distributions.jdbc_driver"))
        assert screen_name(app) == "DistributionsScreen"
        assert app.wizard.draft.get("distributions.jdbc_driver") == str(distributions["esb"])
        assert "contains no MySQL JDBC driver" in field_problem(app, "distributions.jdbc_driver")


# --- Database --------------------------------------------------------------------------------------------

@sync
async def test_database_passwords_are_masked_and_never_in_the_plan(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_password", "Pa55-tui-secret")
        await type_into(pilot, "secret.db_admin_password", "Adm1n-tui-secret")
        assert form_field(app, "secret.db_password").query_one(Input).password
        text = await shows(pilot, "needed here: server-206 creates the databases")
        assert "Pa55-tui-secret" not in text and "Adm1n-tui-secret" not in text
        assert app.wizard.secrets.db_password == "Pa55-tui-secret"
        assert "Pa55-tui-secret" not in app.wizard.plan_text()
        assert "Adm1n-tui-secret" not in app.wizard.plan_text()
        await type_into(pilot, "database.user", "bad user")
        await shows(pilot, "'bad user' is not a valid MySQL user name")
        # Back and Next: the passwords and the typed user are still there.
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "DatabaseScreen"
        assert form_field(app, "secret.db_password").input.value == "Pa55-tui-secret"
        assert form_field(app, "database.user").input.value == "bad user"


@sync
async def test_test_connection_reports_an_unreachable_server_inline(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")  # the plan's database port is 9: nothing listens there
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", "whatever")
        await pilot.click("#test-connection")
        await settle(pilot)
        text = " ".join(app.screen.query_one("#test-results").content.plain.split())
        assert "cannot reach the database server at 127.0.0.2:9" in text
        assert "What to do:" in text
        assert "not tried: no application password given" in text


@sync
async def test_test_connection_against_the_real_database(tmp_path, distributions, fresh_mariadb_state):
    server = fresh_mariadb_state

    def point_at_mariadb(data):
        data["database"]["port"] = server.port
        data["database"]["admin_user"] = server.admin_user

    plan = seed_plan(tmp_path / "cluster", distributions, edit=point_at_mariadb)
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", server.admin_password)
        await type_into(pilot, "secret.db_password", "no-such-user-yet")
        await pilot.click("#test-connection")
        await settle(pilot)
        await shows(pilot, "connected to 127.0.0.2")  # scrolled into view
        text = " ".join(app.screen.query_one("#test-results").content.plain.split())
        assert f"admin user '{server.admin_user}': connected to 127.0.0.2:{server.port} from 127.0.0.2" in text
        assert "refused the application user 'regadmin'" in text  # the database step has not run yet


# --- Review ----------------------------------------------------------------------------------------------

@sync
async def test_review_shows_layout_diffs_and_hosts_and_saves_the_plan_without_passwords(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206", environ={"WSO2_DB_PASSWORD": "Pa55-review"})
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "review")
        await settle(pilot)
        screen = app.screen
        layout = str(screen.query_one("#layout").content.renderables[0].choices[0].title)  # wide or narrow: one title
        assert "server-206 (127.0.0.2)" in layout
        files = screen.query_one("#files").content
        rendered = "\n".join(getattr(part, "code", "") for part in files.renderables)
        assert "+        <parameter name=\"localMemberHost\">127.0.0.2</parameter>" in rendered
        assert "Pa55-review" not in rendered and "********" in rendered  # the datasource password is masked
        hosts = str(screen.query_one("#hosts").content.renderables[1])
        assert "127.0.0.2\tmgt.esb.wso2.com" in hosts
        assert app.wizard.unsaved is False  # opened from a file, not changed
        target = tmp_path / "saved" / "plan.yaml"
        target.parent.mkdir()
        app.wizard.draft.set("cluster.tenant_range", "1-5")
        saved = app.wizard.save(target)
        text = saved.read_text()
        assert "Pa55-review" not in text
        reloaded, ignored = PlanDraft.from_yaml(text)
        assert ignored == [] and reloaded.get("cluster.tenant_range") == "1-5"
        # Relative paths written next to the plan still name the same zips.
        assert yaml.safe_load(text)["distributions"]["esb"] == app.wizard.draft.get("distributions.esb")


@sync
async def test_review_apply_asks_to_save_an_unsaved_plan_first(tmp_path, distributions):
    app = make_app(tmp_path, server="server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        await goto(pilot, "review")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        # The seed's zips are not in tmp_path: the plan has errors, Apply says so.
        await shows(pilot, "error(s): see Problems")
        app.wizard.draft.set("distributions.esb", str(distributions["esb"]))
        app.wizard.draft.set("distributions.elb", str(distributions["elb"]))
        app.wizard.draft.set("distributions.jdbc_driver", str(distributions["jdbc_driver"]))
        await pilot.press("ctrl+n")
        await pilot.pause()
        await shows(pilot, "Still checking")  # the plan changed: its files are checked again
        app.screen.action_refresh_preview()
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "PathScreen"  # save first
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(app) == "ReviewScreen"


# --- Launch and Verify -----------------------------------------------------------------------------------

@sync
async def test_launch_shows_the_start_order_and_where_the_start_step_is(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "launch")
        await shows(pilot, "Start the nodes of server-206 in order: elb, manager, worker2",
                    "start: pending - not running: elb, manager, worker2", "Start is not offered until Apply",
                    absent=("checking the start step",))
        # Nothing applied yet: Start waits for Apply's steps.
        assert app.screen.query_one("#start").disabled


@sync
async def test_launch_follows_a_node_log_and_ticks_its_milestones(tmp_path, plan):
    from screens.launch import CARBON_LOG

    log = plan.parent / "server-206" / "wso2" / "elb" / CARBON_LOG
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "launch")
        await pilot.pause()
        log.parent.mkdir(parents=True)
        log.write_text("TID: [0] [ELB] [2026-01-01 00:00:00,000]  INFO {org.apache.axis2.clustering.tribes."
                       "TribesClusteringAgent} -  Cluster domain: wso2.carbon.lb.domain "
                       "{org.apache.axis2.clustering.tribes.TribesClusteringAgent}\n"
                       "java.net.BindException: Address already in use\n")
        await shows(pilot, "✓ Clustering started in domain wso2.carbon.lb.domain", "Address already in use", "✗")


@sync
async def test_verify_checklist_and_report_without_secrets(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206", environ={"WSO2_DB_PASSWORD": "Pa55-verify"})
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "verify")
        await settle(pilot)
        text = await shows(pilot, "preflight", "extract", "process elb: elb: not running")
        assert re.search(r"verify failed - \d+ of \d+ checks passed, \d+ failed", text)  # nothing is running
        await pilot.press("ctrl+e")
        await settle(pilot)
        folder = plan.parent / "server-206" / "wso2" / ".wso2-cluster"
        markdown = (folder / "report-server-206.md").read_text()
        document = json.loads((folder / "report-server-206.json").read_text())
        assert document["server"] == "server-206" and document["ok"] is False
        assert "Pa55-verify" not in markdown and "Pa55-verify" not in json.dumps(document)
        await shows(pilot, "report-server-206.md")


# --- Errors ----------------------------------------------------------------------------------------------

@sync
async def test_an_error_to_act_on_is_shown_with_its_hint_and_a_bug_goes_to_the_log(tmp_path, plan, monkeypatch):
    from installer.errors import InstallerError
    from screens import verify

    def refused(installer, skipped):
        raise InstallerError("the state file is not readable", "move it away and run again", title="State problem")

    def broken(installer, skipped):
        raise ZeroDivisionError("a bug deep in the checks")

    monkeypatch.setattr(verify, "checklist", refused)
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "verify")
        await settle(pilot)
        assert screen_name(app) == "ErrorScreen"
        await shows(pilot, "State problem", "the state file is not readable", "move it away and run again")
        await pilot.press("escape")
        await pilot.pause()
        assert screen_name(app) == "VerifyScreen"

        monkeypatch.setattr(verify, "checklist", broken)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen_name(app) == "ErrorScreen"
        # The traceback is for the log, not the operator.
        await shows(pilot, "Unexpected error", str(tmp_path / "tui.log"), absent=("Traceback",))
    log = (tmp_path / "tui.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: a bug deep in the checks" in log
