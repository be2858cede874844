"""The wizard at 80x24, the smallest terminal it is made for: what matters is in view without
scrolling (Apply's failure and its buttons), nothing is cut (Review's layout tables fold their
cells instead), and every screen's footer fits with its essential keys."""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from installer import Remedy
from screens.apply import RunFailed
from screens.widgets import STEP_ORDER, STEP_TITLES
from tests.support.build_distributions import build_all
from tests.test_tui_support import make_app, seed_plan, shows, sync, wait_for

SIZE = (80, 24)
LONG_ELB_HOST = "elb.a-rather-long-subdomain-name.cluster.example.org"
# A database failure as the engine words it (message and hint, both long).
DATABASE_FAILURE = RunFailed(
    "database", "Database problem",
    "cannot reach the database server at 127.0.0.2:9 from 127.0.0.2: Can't connect to MySQL server on "
    "'127.0.0.2' ([Errno 111] Connection refused); the server may not run, may listen on another address "
    "(bind-address) or port, or a firewall may drop the connection on the way",
    "check that MySQL/MariaDB runs there, listens on that address and port (bind-address, port), and that no "
    "firewall blocks it; then run again")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("narrow-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    return seed_plan(tmp_path / "cluster", distributions)


def in_view(app, widget) -> bool:
    """Painted on the screen, unscrolled: inside the terminal, and what is at its middle."""
    region = widget.region
    if not region or not Region(0, 0, *SIZE).contains_region(region):
        return False
    found, _ = app.screen.get_widget_at(region.x + region.width // 2, region.y)
    return found is widget or widget in found.ancestors


async def apply_loaded(pilot) -> None:
    pilot.app.go_to("apply")
    await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ApplyScreen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.query_one("#step-preflight").status != "checking", timeout=60)
    await pilot.pause()


# --- Apply: a failure and its buttons -------------------------------------------------------------------

@sync
async def test_a_failed_step_shows_its_error_and_buttons_without_scrolling(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await apply_loaded(pilot)
        app.screen.post_message(DATABASE_FAILURE)
        await shows(pilot, "Database problem", "Retry", "Skip database", "Abort")
        screen = app.screen
        for selector in ("#retry", "#skip", "#abort"):
            button = screen.query_one(selector, Button)
            assert button.display and in_view(app, button), (selector, button.region)
        assert in_view(app, screen.query_one(".error-title"))
        assert app.focused is screen.query_one("#retry")  # Enter retries
        # The failed step stays in view above it; the steps list is what scrolls.
        await wait_for(pilot, lambda: in_view(app, screen.query_one("#step-database")))
        assert screen.query_one("#body").scroll_y > 0


@sync
async def test_a_drifted_file_offers_force_and_a_missing_password_enter_passwords_in_view(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await apply_loaded(pilot)
        app.screen.post_message(RunFailed("configure", "Changed by hand", "elb: axis2.xml was changed after the "
                                          "installer wrote it", "look at the diff in Review", drifted=True))
        await shows(pilot, "Changed by hand", "Rewrite my values (force)")
        for selector in ("#retry", "#force", "#abort"):
            assert in_view(app, app.screen.query_one(selector, Button)), selector
        app.screen.post_message(RunFailed("configure", "Password needed", "the db_password is needed", "",
                                          needs_password=True, remedy=Remedy("give-password", secret="db_password")))
        await shows(pilot, "Password needed", "Enter passwords")
        for selector in ("#retry", "#failure-passwords", "#abort"):
            assert in_view(app, app.screen.query_one(selector, Button)), selector


# --- Review: the layout tables fold, never cut ---------------------------------------------------------

def region_lines(app, widget) -> list[str]:
    """The lines the terminal shows where ``widget`` is."""
    region = widget.region
    strips = app.screen._compositor.render_strips()
    return [strip.text[region.x:region.right] for strip in strips[region.y:region.bottom]]


def appears_whole(lines: list[str], value: str) -> bool:
    """``value`` is on the lines, in one piece or folded: each next piece on the next line, at the
    same column (a table cell) or at the start of the text (a title)."""
    for row, line in enumerate(lines):
        column = line.find(value[:1])
        while column >= 0:
            if _folded_from(lines, row, column, value):
                return True
            column = line.find(value[:1], column + 1)
    return False


def _folded_from(lines: list[str], row: int, column: int, value: str) -> bool:
    rest = value
    while rest:
        if row >= len(lines):
            return False
        piece = lines[row][column:].split(" ", 1)[0]
        if not piece or not rest.startswith(piece):
            return False
        rest = rest[len(piece):]
        row += 1
        if rest and row < len(lines) and not lines[row][column:].startswith(rest[:1]):
            column = len(lines[row]) - len(lines[row].lstrip())
    return True


def test_the_fold_check_itself():
    assert appears_whole(["  node  elb.a-long-", "        host:4000"], "elb.a-long-host:4000")
    assert appears_whole(["title - homes in /a/b", "/c/d"], "/a/b/c/d")
    assert not appears_whole(["  node  elb.a-lo…", "        host:4000"], "elb.a-long-host:4000")
    assert not appears_whole(["  node  elb.a-long-"], "elb.a-long-host:4000")


@sync
async def test_review_layout_tables_show_long_values_whole_at_80_columns(tmp_path, distributions):
    def long_names(data):
        data["cluster"]["hostnames"]["elb"] = LONG_ELB_HOST

    plan = seed_plan(tmp_path / "a-cluster-folder-with-a-long-name" / "and-deeper" / "cluster", distributions,
                     edit=long_names)
    install_dir = str(plan.parent / "server-206" / "wso2")
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=(80, 100)) as pilot:  # 80 columns; tall, to see every table at once
        app.go_to("review")
        await wait_for(pilot, lambda: getattr(app.screen, "preview_result", None) is not None, timeout=60)
        await shows(pilot, "WKA members", "manager port mapping")
        layout = app.screen.query_one("#layout")
        lines = region_lines(app, layout)
        text = "\n".join(lines)
        assert "…" not in text, text
        assert max(len(line.rstrip()) for line in lines) <= layout.region.width
        assert appears_whole(lines, f"{LONG_ELB_HOST}:4000"), text  # a WKA member
        assert appears_whole(lines, install_dir), text  # in a table's title
        assert appears_whole(lines, "-DworkerNode=true"), text
        assert appears_whole(lines, "regadmin@jdbc:mysql://carbondb.mysql-wso2.com:9/REGISTRY_DB?autoReconnect=true"), text
        for ports in ("8281/8244", "9764/9444"):
            assert appears_whole(lines, ports), text


# --- every screen's footer --------------------------------------------------------------------------------

MAIN_ACTIONS = {"welcome": "Open plan", "review": "Save plan", "apply": "Run", "launch": "Start",
                "verify": "Run again", "topology": "Add server"}


@sync
async def test_every_footer_fits_80_columns_with_back_next_quit_and_help(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        for index, step in enumerate(STEP_ORDER):
            if step != "welcome":
                app.go_to(step)
            await shows(pilot, f"{index + 1}/{len(STEP_ORDER)} {STEP_TITLES[step]}")  # painted: mounted
            expected = ["^q Quit", "f1 Help"]
            if index > 0:
                expected.append("esc Back")
            if index + 1 < len(STEP_ORDER):
                expected.append("^n Next")
            if step in MAIN_ACTIONS:
                expected.append(MAIN_ACTIONS[step])
            footer = app.screen.query_one(Footer)
            await wait_for(pilot, lambda footer=footer: bool(footer.query(FooterKey)))
            await pilot.pause()
            line = app.screen._compositor.render_strips()[-1].text
            assert all(key in line for key in expected), (step, line)
            for key in footer.query(FooterKey):
                assert key.region.right <= SIZE[0], (step, key.description, key.region, line)
