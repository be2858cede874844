"""Where the keyboard is, and dialogs that can always be finished: a focused button stands out
in the light and the dark theme; after Test connection the focus is back on the button and the
result says when it was made; the server and node editors keep Save / Cancel in view however
many problems they list, save on Enter and show their own keys; a duplicate offset is shown on
the node the operator edited. Each test drives the real app from the real factory."""

from __future__ import annotations

import re

import pytest
from rich.color import Color
from textual.widget import Widget
from textual.widgets import Button, DataTable

from tests.support.build_distributions import build_all
from tests.test_tui_screens import goto
from tests.test_tui_support import (
    SIZE,
    field_problem,
    form_field,
    make_app,
    seed_plan,
    settle,
    shows,
    sync,
    type_into,
    wait_for,
)

SMALL = (80, 24)
THEMES = ("textual-dark", "textual-light")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("focus-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


def painted_cells(app, widget: Widget) -> list[tuple[Color | None, Color | None, bool]]:
    """Each cell of ``widget`` as the terminal paints it: (foreground, background, bold), with
    reverse video already swapped."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    cells = []
    for y in range(region.y, region.bottom):
        for segment in strips[y].crop(region.x, region.right):
            style = segment.style
            if style is None:
                continue
            foreground, background = style.color, style.bgcolor
            if style.reverse:
                foreground, background = background, foreground
            cells += [(foreground, background, bool(style.bold))] * len(segment.text)
    return cells


def background_of(app, widget: Widget) -> Color | None:
    """The background most of the widget's cells have (its padding as well as its label)."""
    backgrounds = [background for _, background, _ in painted_cells(app, widget)]
    return max(set(backgrounds), key=backgrounds.count)


async def looks_with_focus_on(pilot, buttons: list[Button], focused: Button) -> dict[str, Color | None]:
    focused.focus()
    await wait_for(pilot, lambda: focused.has_focus and focused.has_pseudo_class("focus"))
    await pilot.pause()
    return {button.id or "": background_of(pilot.app, button) for button in buttons}


# --- focused buttons -------------------------------------------------------------------------------

@sync
async def test_a_focused_button_has_one_look_that_stands_out_in_both_themes(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await shows(pilot, "Continue with this plan", "Open plan", "New plan")
        for theme in THEMES:
            if app.theme != theme:
                await pilot.press("ctrl+t")  # the theme key, as an operator switches
            await wait_for(pilot, lambda theme=theme: app.theme == theme)
            screen_background = background_of(app, app.screen.query_one("#plan-line"))
            # Compact buttons of each kind: primary (Continue, Next) and default (Open, New).
            buttons = [button for button in app.screen.query(Button) if not button.disabled]
            assert {button.id for button in buttons} >= {"continue", "open", "new", "next"}
            assert all(button.compact for button in buttons)
            focus_looks = set()
            for focused in buttons:
                looks = await looks_with_focus_on(pilot, buttons, focused)
                focus_looks.add(looks[focused.id])
                # Far from every other button, and from the screen around them.
                for other in [looks[button.id] for button in buttons if button is not focused] + [screen_background]:
                    assert distance(looks[focused.id], other) > 100, (theme, focused.id, looks, other)
            # One look for the focus, whichever button has it: the operator learns it once.
            assert len(focus_looks) == 1, (theme, focus_looks)


def distance(one: Color | None, other: Color | None) -> float:
    """How far apart two colours are (RGB, 0 to 441)."""
    assert one is not None and other is not None
    first, second = one.get_truecolor(), other.get_truecolor()
    return sum((a - b) ** 2 for a, b in zip(first, second, strict=True)) ** 0.5


@sync
async def test_a_focused_warning_button_is_told_apart_from_an_unfocused_one(tmp_path, plan):
    """Warning buttons have the accent's colour in Textual's themes: the focus must still show."""
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await goto(pilot, "topology")
        app.screen.query_one("#servers", DataTable).focus()
        await pilot.press("x")  # remove a server: a question with a warning button
        await shows(pilot, "Remove server-206", "esc No", "y Yes", absent=("^n Next",))  # its own keys
        for theme in THEMES:
            app.theme = theme
            await pilot.pause()
            yes, no = app.screen.query_one("#yes", Button), app.screen.query_one("#no", Button)
            focused_yes = await looks_with_focus_on(pilot, [yes, no], yes)
            focused_no = await looks_with_focus_on(pilot, [yes, no], no)
            assert focused_yes["yes"] != focused_no["yes"], theme
            assert focused_no["no"] != focused_yes["no"], theme
            assert focused_yes["yes"] == focused_no["no"], theme  # one look for the focus, whatever the kind
        await pilot.press("escape")
        await pilot.pause()
        assert [server.name for server in app.wizard.draft.servers] == ["server-206", "server-132"]


# --- Test connection -------------------------------------------------------------------------------

@sync
async def test_after_test_connection_the_focus_is_back_on_the_button_and_the_result_has_its_time(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")  # the plan's database port is 9: nothing listens there
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", "whatever")
        button = app.screen.query_one("#test-connection", Button)
        for press in ("click", "enter"):
            if press == "click":
                await pilot.click("#test-connection")
            else:
                button.focus()
                await pilot.pause()
                await pilot.press("enter")
            await settle(pilot)
            text = await shows(pilot, "cannot reach the database server at 127.0.0.2:9")
            assert app.screen.focused is button, (press, app.screen.focused)
            assert not button.disabled
            lines = app.screen.query_one("#test-results").content.plain.splitlines()
            results = [line for line in lines if "user '" in line]
            assert len(results) == 2
            for line in results:
                assert re.match(r"\d\d:\d\d:\d\d [✓✗] ", line), line
            assert re.search(r"\d\d:\d\d:\d\d ✗ admin user 'root': cannot reach", text)


@sync
async def test_test_connection_leaves_the_focus_where_the_operator_moved_it(tmp_path, plan, monkeypatch):
    from screens import database

    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "database")
        await type_into(pilot, "secret.db_admin_password", "whatever")
        screen = app.screen
        tested = []
        # Hold the result back until the operator has moved on to another field.
        original = screen.post_message

        def hold(message):
            if isinstance(message, database.DatabaseScreen.Tested):
                tested.append(message)
                return True
            return original(message)

        monkeypatch.setattr(screen, "post_message", hold)
        await pilot.click("#test-connection")
        await wait_for(pilot, lambda: bool(tested))
        user = form_field(app, "database.user").input
        user.focus()
        await pilot.pause()
        original(tested[0])
        await shows(pilot, "cannot reach the database server")
        assert screen.focused is user


# --- dialogs ---------------------------------------------------------------------------------------

async def open_node_editor(pilot, row: int) -> None:
    await pilot.press("enter")  # Continue with this plan
    await shows(pilot, "worker3")
    nodes = pilot.app.screen.query_one("#nodes", DataTable)
    nodes.focus()
    nodes.move_cursor(row=row)
    await pilot.pause()
    await pilot.press("e")
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "NodeEditor")


@sync
async def test_save_and_cancel_stay_in_view_however_many_problems_the_editor_lists(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await open_node_editor(pilot, row=3)  # worker1 on server-132
        prefix = "servers[1].nodes[0]"
        await type_into(pilot, f"{prefix}.name", "worker3")  # worker3's name,
        await type_into(pilot, f"{prefix}.offset", "3")  # offset
        await type_into(pilot, f"{prefix}.member_port", "4001")  # and member port
        await shows(pilot, "3 is already used by worker3")
        screen = app.screen
        body = screen.query_one(".dialog-body")
        assert body.max_scroll_y > 0  # more problems than the dialog has rows for: they scroll
        dialog = screen.query_one(".dialog")
        for button_id in ("#save", "#cancel"):
            button = screen.query_one(button_id, Button)
            assert dialog.region.contains_region(button.region), button_id
            assert screen.region.contains_region(dialog.region)
        await shows(pilot, "Save", "Cancel")
        # The problems below the fields are read by scrolling the body (page down from the keyboard).
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y)
        await shows(pilot, "node name 'worker3' is", "Save", "Cancel")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        assert app.wizard.draft.servers[1].nodes[0].name == "worker1"


@sync
async def test_the_dialog_footer_shows_its_own_keys(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("enter")
        await shows(pilot, "Add server", "^n Next")  # the Topology screen's keys
        app.screen.query_one("#servers", DataTable).focus()
        await pilot.press("e")
        await shows(pilot, "Server server-206", "enter/^s Save", "esc Cancel", absent=("Add server", "^n Next"))
        await pilot.press("escape")
        await shows(pilot, "Add server", "^n Next", absent=("enter/^s Save",))


@sync
async def test_enter_in_any_input_of_the_editor_saves(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await open_node_editor(pilot, row=2)  # worker2 on server-206
        for key, value in (("name", "worker9"), ("offset", "7"), ("member_port", "4107")):
            path = f"servers[0].nodes[2].{key}"
            await type_into(pilot, path, value)
            assert app.screen.focused is form_field(app, path).input
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
            assert getattr(app.wizard.draft.servers[0].nodes[2], key) == value
            await shows(pilot, "worker9")
            nodes = app.screen.query_one("#nodes", DataTable)
            nodes.focus()
            nodes.move_cursor(row=2)
            await pilot.press("e")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "NodeEditor")
        # ctrl+s saves too; escape cancels.
        await type_into(pilot, "servers[0].nodes[2].offset", "8")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        assert app.wizard.draft.servers[0].nodes[2].offset == "7"


@sync
async def test_enter_in_the_server_editor_saves(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("enter")
        app.screen.query_one("#servers", DataTable).focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ServerEditor")
        await type_into(pilot, "servers[0].install_dir", "/srv/wso2")
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        assert app.wizard.draft.servers[0].install_dir == "/srv/wso2"
        await shows(pilot, "/srv/wso2")


@sync
async def test_an_error_dialog_keeps_close_in_view_with_a_long_message(tmp_path, plan):
    from screens.dialogs import ErrorScreen

    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        message = "\n".join(f"line {number} of a long error" for number in range(60))
        app.push_screen(ErrorScreen("A long error", message, "read it all"))
        await shows(pilot, "A long error", "line 0 of a long error", "Close", "esc Close")
        close = app.screen.query_one("#close", Button)
        assert app.screen.query_one(".dialog").region.contains_region(close.region)
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
        await shows(pilot, "What to do: read it all", "Close")
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")


# --- a duplicate offset ----------------------------------------------------------------------------

def node_rows(app) -> dict[str, tuple]:
    table = app.screen.query_one("#nodes", DataTable)
    return {str(table.get_row_at(index)[2]): table.get_row_at(index) for index in range(table.row_count)}


@sync
async def test_a_duplicate_offset_is_shown_on_the_node_the_operator_edited(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        # worker1 takes worker3's pinned offset; the plan check names worker3 (it sorts later).
        await open_node_editor(pilot, row=3)
        offset = "servers[1].nodes[0].offset"
        await type_into(pilot, offset, "3")
        await wait_for(pilot, lambda: "already used" in field_problem(app, offset))
        assert field_problem(app, offset).startswith("✗ 3 is already used by worker3 on server-132")
        await shows(pilot, "3 is already used by worker3 on server-132", absent=("servers[1].nodes[1]",))
        assert form_field(app, offset).has_class("-invalid")
        await pilot.press("enter")  # saved with the problem: the Topology screen says where it is
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        text = await shows(pilot, "servers[1].nodes[0].offset: 3 is already used by worker3 on server-132",
                           absent=("servers[1].nodes[1]",))
        assert "port 9766" not in text or "of worker1) is also" in text
        rows = node_rows(app)
        assert str(rows["worker1"][0]) == "✗" and str(rows["worker3"][0]) == "✓"


@sync
async def test_the_edited_node_is_blamed_whichever_way_the_names_sort(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        # worker1 pinned at 5 first, then worker3 (which sorts later) edited to 5.
        await open_node_editor(pilot, row=3)
        await type_into(pilot, "servers[1].nodes[0].offset", "5")
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        nodes = app.screen.query_one("#nodes", DataTable)
        nodes.focus()
        nodes.move_cursor(row=4)
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "NodeEditor")
        offset = "servers[1].nodes[1].offset"
        await type_into(pilot, offset, "5")
        await wait_for(pilot, lambda: "already used" in field_problem(app, offset))
        assert "5 is already used by worker1 on server-132" in field_problem(app, offset)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TopologyScreen")
        await shows(pilot, "servers[1].nodes[1].offset: 5 is already used by worker1", absent=("servers[1].nodes[0]",))
        rows = node_rows(app)
        assert str(rows["worker3"][0]) == "✗" and str(rows["worker1"][0]) == "✓"


def test_blame_moves_only_collisions_with_the_edited_node():
    """The attribution on its own: the offset and the ports it moves, onto a pinned value only."""
    from installer import NodeDraft, PlanDraft, PlanProblem, ServerDraft
    from screens.topology import blame_edited
    from screens.wizard import DraftCheck

    draft = PlanDraft()
    draft.servers = [ServerDraft("s1", "10.0.0.1", "/opt", "", [
        NodeDraft("alpha", "worker", "3"), NodeDraft("beta", "worker", "3"), NodeDraft("gamma", "worker", "")])]
    problems = (
        PlanProblem("p", 9, "servers[0].nodes[1].offset", "3 is already used by alpha on s1", "pick another"),
        PlanProblem("p", 9, "servers[0].nodes[1].offset",
                    "port 8283 (HTTP of beta) is also HTTPS of alpha on s1", "change it"),
        PlanProblem("p", 12, "servers[0].nodes[2].name", "node name 'gamma' is odd"),
    )
    check = DraftCheck("", None, None, problems)
    blamed = blame_edited(check, draft, 0, 0)  # the operator edited alpha
    assert [(problem.path, problem.message) for problem in blamed.problems] == [
        ("servers[0].nodes[0].offset", "3 is already used by beta on s1"),
        ("servers[0].nodes[0].offset", "port 8283 (HTTPS of alpha) is also HTTP of beta on s1"),
        ("servers[0].nodes[2].name", "node name 'gamma' is odd"),
    ]
    assert blamed.problems[0].hint == "pick another"
    assert blame_edited(check, draft, 0, 1).problems == problems  # beta edited: already on beta
    draft.servers[0].nodes[0].offset = ""  # alpha's offset derived: it never takes a used one
    assert blame_edited(check, draft, 0, 0).problems == problems

