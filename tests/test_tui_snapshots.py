"""A snapshot of every wizard screen at 100x30 (pytest-textual-snapshot).

The screens show paths, so everything they name lives under one fixed folder rebuilt for the
session (deterministic zips, the seed plan on loopback). Update with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at the SVGs before keeping them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from textual.css.query import NoMatches

from screens.widgets import STEP_ORDER
from tests.support.build_distributions import build_all
from tests.test_tui_support import make_app, seed_plan, wait_for

SNAPSHOT_ROOT = Path(tempfile.gettempdir()) / "wso2-cluster-tui-snapshots"
SIZE = (100, 30)


@pytest.fixture(scope="module")
def snapshot_distributions():
    shutil.rmtree(SNAPSHOT_ROOT, ignore_errors=True)
    SNAPSHOT_ROOT.mkdir(parents=True)
    return build_all(SNAPSHOT_ROOT / "dists")


@pytest.fixture
def app_for(snapshot_distributions):
    """A fresh cluster folder for every snapshot: no test sees what another one applied."""
    def make(**options):
        for folder in ("app", "cluster"):
            shutil.rmtree(SNAPSHOT_ROOT / folder, ignore_errors=True)
        (SNAPSHOT_ROOT / "app").mkdir()
        plan = seed_plan(SNAPSHOT_ROOT / "cluster", snapshot_distributions)
        return make_app(SNAPSHOT_ROOT / "app", plan, "server-206", environ={"WSO2_DB_PASSWORD": "snapshot-Pa55"},
                        **options)
    return make


def at_step(step, ready=None):
    """run_before for snap_compare: show ``step`` and wait until it has what it computes."""
    async def run_before(pilot):
        if step != "welcome":
            pilot.app.go_to(step)
        await pilot.pause()
        if ready is not None:
            await wait_for(pilot, lambda: ready(pilot.app))
        await pilot.pause()
    return run_before


def text_of(app, selector):
    """The text a Static shows ("" while the screen is still being built)."""
    try:
        content = app.screen.query_one(selector).content
    except NoMatches:
        return ""
    return getattr(content, "plain", str(content))


def test_every_step_has_a_snapshot_test():
    tested = {name.removeprefix("test_snapshot_") for name in globals() if name.startswith("test_snapshot_")}
    assert tested == set(STEP_ORDER)


def test_snapshot_welcome(snap_compare, app_for):
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("welcome"))


def test_snapshot_topology(snap_compare, app_for):
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("topology"))


def test_snapshot_cluster(snap_compare, app_for):
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("cluster"))


def test_snapshot_distributions(snap_compare, app_for):
    ready = lambda app: "✓ MySQL JDBC driver" in text_of(app, "#field-distributions-jdbc_driver .form-note")  # noqa: E731
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("distributions", ready))


def test_snapshot_database(snap_compare, app_for):
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("database"))


def test_snapshot_review(snap_compare, app_for):
    ready = lambda app: getattr(app.screen, "preview_result", None) is not None  # noqa: E731
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("review", ready))


def test_snapshot_apply(snap_compare, app_for):
    app = app_for()
    app.wizard.skipped_steps.add("database")  # no database server in snapshots: its port would show

    async def run_before(pilot):
        pilot.app.go_to("apply", start=True)
        await wait_for(pilot, lambda: "finished" in text_of(pilot.app, "#nav-status"), timeout=60)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_launch(snap_compare, app_for):
    ready = lambda app: text_of(app, "#start-status").startswith("start:")  # noqa: E731
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("launch", ready))


def test_snapshot_verify(snap_compare, app_for):
    ready = lambda app: "verify" in text_of(app, "#checklist")  # noqa: E731
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=at_step("verify", ready))
