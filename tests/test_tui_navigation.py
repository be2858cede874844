"""Getting around the wizard: the step bar's links, the digit keys, the command palette's "Go to"
entries and the help (F1 / ?); and the log panes' lines, which must read at 80 columns.

Only screens reached so far may be gone to directly (``WizardState.furthest``); forward, a jump
is refused where Next would be. Each test drives the real app (Pilot) and reads what is painted."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from installer import abbreviate_logger, log_line_view
from screens.widgets import STEP_ORDER, StepBar
from tests.support.build_distributions import build_all
from tests.test_tui_support import form_field, make_app, seed_plan, shows, sync, type_into, wait_for

NARROW = (80, 24)
DEPLOYER = "org.apache.synapse.deployers.ProxyServiceDeployer"
PROBE_FILE = "/opt/wso2/manager/repository/deployment/server/synapse-configs/default/proxy-services/wso2ClusterProbe.xml"
DEPLOYED_LINE = (f"TID: [0] [ESB] [2026-12-01 06:00:00,123]  INFO {{{DEPLOYER}}} -  ProxyService named : "
                 f"wso2ClusterProbe1234567 has been deployed from file : {PROBE_FILE} {{{DEPLOYER}}}")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("nav-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


def screen_step(app) -> str:
    return getattr(app.screen, "STEP", type(app.screen).__name__)


async def reach(pilot, step: str) -> None:
    """Show ``step`` as Next would (the furthest screen reached is then at least that one)."""
    pilot.app.go_to(step)
    await wait_for(pilot, lambda: screen_step(pilot.app) == step)
    await pilot.pause()


# --- log lines -------------------------------------------------------------------------------------------

def rendered(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_a_log_line_at_80_columns_is_time_level_short_logger_and_the_whole_message():
    lines = rendered(log_line_view(DEPLOYED_LINE, 76), 76)
    assert lines[0].startswith("06:00:00 INFO  ProxyServiceDeployer ProxyService named :"), lines
    text = "\n".join(lines)
    # Carbon's repetition is gone: no TID, no date, no fully qualified logger (front or back).
    assert "TID" not in text and "2026-12-01" not in text and "org.apache" not in text
    assert all(len(line) <= 76 for line in lines)
    # The message wraps under itself (a hanging indent after the time), nothing of it cut.
    assert len(lines) >= 3 and all(line.startswith(" " * 9) for line in lines[1:])
    head = "06:00:00 INFO  ProxyServiceDeployer "
    message = "".join(line[9:] if index else line.removeprefix(head) for index, line in enumerate(lines))
    assert message.replace(" ", "") == (f"ProxyService named : wso2ClusterProbe1234567 has been deployed from file : "
                                        f"{PROBE_FILE}").replace(" ", "")


def test_the_logger_is_shortened_to_its_width_but_its_class_name_never_is():
    assert abbreviate_logger(DEPLOYER, 100) == DEPLOYER
    assert abbreviate_logger(DEPLOYER, 36) == "o.a.s.deployers.ProxyServiceDeployer"
    assert abbreviate_logger(DEPLOYER, 28) == "o.a.s.d.ProxyServiceDeployer"
    assert abbreviate_logger(DEPLOYER, 19) == "ProxyServiceDeployer"
    wide = rendered(log_line_view(DEPLOYED_LINE, 160), 160)
    assert wide[0].startswith("06:00:00 INFO  o.a.s.deployers.ProxyServiceDeployer ProxyService named")


def test_lines_in_no_carbon_layout_wrap_as_they_are():
    trace = "\tat org.apache.axis2.clustering.tribes.TribesClusteringAgent.init(TribesClusteringAgent.java:123)"
    lines = rendered(log_line_view(trace, 40), 40)
    assert len(lines) > 1 and "".join(lines).replace(" ", "") == trace.replace("\t", "").replace(" ", "")


def test_the_cli_logs_command_shows_the_same_lines_on_a_terminal_and_as_written_otherwise():
    from cli.commands import show_log
    from installer.logwatch import LogLine
    from installer.session import NodeLog

    batch = NodeLog("manager", (LogLine(DEPLOYED_LINE, 0, 1),))
    for raw in (False, True):
        out = Console(width=80, record=True, color_system=None, file=io.StringIO())
        show_log(batch, out, raw=raw)
        text = out.export_text()
        if raw:
            assert DEPLOYED_LINE in text.replace("\n", "")
        else:
            assert text.startswith("06:00:00 INFO  ProxyServiceDeployer ProxyService named")
            assert "TID" not in text and "org.apache" not in text


@sync
async def test_the_launch_log_pane_at_80_columns_shows_the_message_wrapped_and_the_logger_short(tmp_path, plan):
    from screens.launch import CARBON_LOG

    log = plan.parent / "server-206" / "wso2" / "elb" / CARBON_LOG
    log.parent.mkdir(parents=True)
    log.write_text(f"{DEPLOYED_LINE}\njava.net.BindException: Address already in use\n")
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=(80, 40)) as pilot:
        await reach(pilot, "launch")
        pane_log = app.screen.query(".log").first()
        await wait_for(pilot, lambda: len(pane_log.lines) >= 4)
        pane_log.scroll_visible(animate=False)
        await shows(pilot, "06:00:00 INFO ProxyServiceDeployer ProxyService named", "Address already in use",
                    absent=("{org.apache", "TID:"))
        strips = [strip.text for strip in pane_log.lines]
        width = pane_log.scrollable_content_region.width
        # Every line fits the pane (nothing hidden to the right), the path folded over lines.
        assert width <= 76 and all(len(line.rstrip()) <= width for line in strips), (width, strips)
        assert PROBE_FILE in "".join(line[9:].rstrip() for line in strips[1:4])

        # Wider, the lines are wrapped again to the new width (and the logger has room for more).
        await pilot.resize_terminal(140, 40)
        await wait_for(pilot, lambda: any("o.a.s.d.ProxyServiceDeployer ProxyService named" in strip.text
                                          for strip in pane_log.lines))
        strips = [strip.text for strip in pane_log.lines]
        assert max(len(line) for line in strips) > 76 and PROBE_FILE in "".join(line[9:] for line in strips[1:3]), strips


# --- the step bar, the digits, the palette ---------------------------------------------------------------

@sync
async def test_clicking_a_reached_step_goes_there_and_an_unreached_one_does_not(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=NARROW) as pilot:
        await reach(pilot, "distributions")
        await reach(pilot, "topology")
        bar = app.screen.query_one(StepBar)
        start, _ = bar.label_columns("distributions")  # reached, ahead of this screen
        await pilot.click(StepBar, offset=(start, 0))
        await wait_for(pilot, lambda: screen_step(app) == "distributions")
        await shows(pilot, "4/9 Distributions")

        bar = app.screen.query_one(StepBar)
        start, _ = bar.label_columns("review")  # never shown: dim, not a link
        await pilot.click(StepBar, offset=(start, 0))
        await pilot.pause(0.3)
        assert screen_step(app) == "distributions"
        app.screen.set_focus(None)
        await pilot.press("6")  # the digit says why
        await shows(pilot, "Review is not reached yet")

        start, _ = bar.label_columns("welcome")
        await pilot.click(StepBar, offset=(start, 0))
        await wait_for(pilot, lambda: screen_step(app) == "welcome")


@sync
async def test_digits_go_to_a_screen_reached_and_say_when_it_is_not(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=NARROW) as pilot:
        await reach(pilot, "database")
        app.screen.set_focus(None)  # the digits are keys of the screen, not typed into a field
        await pilot.press("2")
        await wait_for(pilot, lambda: screen_step(app) == "topology")
        app.screen.set_focus(None)
        await pilot.press("5")
        await wait_for(pilot, lambda: screen_step(app) == "database")
        app.screen.set_focus(None)
        await pilot.press("8")
        await shows(pilot, "Launch is not reached yet: go on with Next")
        assert screen_step(app) == "database"


@sync
async def test_a_digit_typed_into_a_field_stays_in_the_field(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=NARROW) as pilot:
        await reach(pilot, "database")
        await reach(pilot, "cluster")  # Topology (2) and Database (5) are reachable: "2" could jump
        await type_into(pilot, "cluster.elb_ports.http", "8280")
        field = form_field(app, "cluster.elb_ports.http")
        assert app.focused is field.input
        await pilot.press("2")
        await pilot.pause()
        assert screen_step(app) == "cluster"
        assert field.input.value == "82802"
        assert app.wizard.draft.get("cluster.elb_ports.http") == "82802"


@sync
async def test_a_jump_forward_past_review_needs_the_plan_saved(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=NARROW) as pilot:
        await reach(pilot, "verify")
        await reach(pilot, "cluster")
        await type_into(pilot, "cluster.tenant_range", "1-100")  # a change not saved yet
        app.screen.set_focus(None)
        await pilot.press("7")
        await shows(pilot, "Save the plan on the Review screen first")
        assert screen_step(app) == "cluster"
        await pilot.press("6")  # up to Review itself, where it is saved, is fine
        await wait_for(pilot, lambda: screen_step(app) == "review")


@sync
async def test_the_command_palette_goes_to_the_screens_reached(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=(100, 30)) as pilot:
        await reach(pilot, "database")
        await reach(pilot, "topology")
        await pilot.press("ctrl+p")
        await pilot.press(*"go to")
        await shows(pilot, "Go to: Welcome", "Go to: Cluster", "Go to: Database", absent=("Go to: Review",
                                                                                           "Go to: Topology"))
        await pilot.press(*" data")
        await shows(pilot, "Go to: Database")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_step(app) == "database")
        await shows(pilot, "5/9 Database")


# --- the help --------------------------------------------------------------------------------------------

@sync
async def test_f1_and_question_mark_open_the_help_on_the_current_screen_and_esc_closes_it(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=NARROW) as pilot:
        await reach(pilot, "cluster")
        await pilot.press("f1")
        text = await shows(pilot, "Help - you are on 3/9 Cluster", "1 Welcome", "9 Verify", "ctrl+q")
        assert all(f"{index} " in text for index in range(1, len(STEP_ORDER) + 1))
        await pilot.press("escape")
        await shows(pilot, "3/9 Cluster", absent=("Help - you are on",))
        assert screen_step(app) == "cluster"

        app.screen.set_focus(None)
        await pilot.press("question_mark")
        await shows(pilot, "Help - you are on 3/9 Cluster")
        await pilot.press("f1")  # F1 again closes it too
        await shows(pilot, "3/9 Cluster", absent=("Help - you are on",))

        # In a field, "?" is typed, not taken for the help.
        await type_into(pilot, "cluster.tenant_range", "?")
        assert form_field(app, "cluster.tenant_range").input.value == "?"
        await shows(pilot, "3/9 Cluster", absent=("Help - you are on",))
