"""The wizard's side of deployment synchronisation (``cluster.deployment_sync``): the Cluster
screen's repository choice, svn URL and user (plan settings) and svn password (kept in memory
only, never in the plan); the plan's problems on them beside the fields; and the Apply screen
sending the operator to the screen where the missing password is entered."""

from __future__ import annotations

import pytest
import yaml
from textual.widgets import Select

from installer import GIVE_PASSWORD, Remedy
from installer.plan.draft import PlanDraft
from screens.apply import RunFailed
from screens.cluster import REPOSITORY_FIELD, SVN_PASSWORD_FIELD, SVN_URL_FIELD, SVN_USER_FIELD
from tests.support.build_distributions import build_all
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

SVN_URL = "https://svn.example.com/repos/esb"
SVN_USER = "depsync"
SVN_PASSWORD = "Svn-tui-Pa55"
DB_PASSWORD = "Db-tui-Pa55"
NEEDS_URL = "the svn repository needs 'svn_url'"
HIDDEN_NOTE = "the svn settings appear when svn is chosen"


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("tui-depsync-dists"))


@pytest.fixture
def plan(tmp_path, distributions):
    """The seed cluster: ``deployment_sync: {repository: registry}``."""
    return seed_plan(tmp_path / "cluster", distributions)


def svn_plan(tmp_path, distributions, sync):
    def edit(data):
        data["cluster"]["deployment_sync"] = sync

    return seed_plan(tmp_path / "cluster", distributions, edit=edit)


def screen_name(app) -> str:
    return type(app.screen).__name__


def svn_fields_shown(app) -> dict[str, bool]:
    return {path: form_field(app, path).display for path in (SVN_URL_FIELD, SVN_USER_FIELD, SVN_PASSWORD_FIELD)}


async def goto(pilot, step, **options):
    pilot.app.go_to(step, **options)
    await pilot.pause()


async def scroll_to(pilot, selector: str = "#derived") -> None:
    """Bring a part of the screen into view (the painted text is only what is in view)."""
    pilot.app.screen.query_one(selector).scroll_visible(animate=False)
    await pilot.pause()


async def choose_repository(pilot, repository: str) -> None:
    """Open the repository list and pick ``repository`` with the keys, as an operator does."""
    select = pilot.app.screen.query_one("#sync-repository", Select)
    select.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press("up" if repository == "registry" else "down", "enter")
    await wait_for(pilot, lambda: select.value == repository)
    await pilot.pause()


# --- the Cluster screen ------------------------------------------------------------------------------------

@sync
async def test_svn_settings_go_to_the_draft_the_password_only_to_memory_and_the_saved_plan_reloads(
        tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await scroll_to(pilot, "#sync-repository-field")
        await shows(pilot, "Deployment synchronisation", HIDDEN_NOTE)
        assert svn_fields_shown(app) == {SVN_URL_FIELD: False, SVN_USER_FIELD: False, SVN_PASSWORD_FIELD: False}
        await choose_repository(pilot, "svn")
        await type_into(pilot, SVN_URL_FIELD, SVN_URL)
        await type_into(pilot, SVN_USER_FIELD, SVN_USER)
        await type_into(pilot, SVN_PASSWORD_FIELD, SVN_PASSWORD)
        text = await shows(pilot, "Svn password", "needed here: written into the carbon.xml")
        assert SVN_PASSWORD not in text
        await scroll_to(pilot)
        text = await shows(pilot, f"manager commits what is deployed on it to svn {SVN_URL}", "worker3 check it out")
        assert SVN_PASSWORD not in text
        assert form_field(app, SVN_PASSWORD_FIELD).input.password
        draft = app.wizard.draft
        assert (draft.get(REPOSITORY_FIELD), draft.get(SVN_URL_FIELD), draft.get(SVN_USER_FIELD)) == (
            "svn", SVN_URL, SVN_USER)
        assert app.wizard.secrets.svn_password == SVN_PASSWORD
        assert app.wizard.check().under("cluster.deployment_sync") == []

        saved = app.wizard.save(tmp_path / "saved" / "plan.yaml")
        saved_text = saved.read_text()
        assert SVN_PASSWORD not in saved_text
        assert "password" not in str(yaml.safe_load(saved_text)).lower()  # no key for one either
        assert yaml.safe_load(saved_text)["cluster"]["deployment_sync"] == {
            "repository": "svn", "svn_url": SVN_URL, "svn_user": SVN_USER}

    # Opening the saved plan fills the fields; the password is not in it, so its field is empty.
    reopened = make_app(tmp_path, saved, "server-206")
    async with reopened.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await scroll_to(pilot, f"#{form_field(reopened, SVN_URL_FIELD).id}")
        await shows(pilot, "svn (a Subversion repository", SVN_URL, absent=(HIDDEN_NOTE,))
        assert reopened.screen.query_one("#sync-repository", Select).value == "svn"
        assert form_field(reopened, SVN_URL_FIELD).input.value == SVN_URL
        assert form_field(reopened, SVN_USER_FIELD).input.value == SVN_USER
        assert form_field(reopened, SVN_PASSWORD_FIELD).input.value == ""
        assert all(svn_fields_shown(reopened).values())


@sync
async def test_the_seeds_registry_setting_is_saved_as_the_seed_writes_it(tmp_path):
    app = make_app(tmp_path, server="server-206")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")  # a new plan from the seed
        await pilot.pause()
        await goto(pilot, "cluster")
        await scroll_to(pilot)
        await shows(pilot, "registry (REGISTRY_DB", "the registry (REGISTRY_DB); worker2, worker1, worker3 check")
        saved = app.wizard.save(tmp_path / "plan.yaml").read_text()
    assert "  deployment_sync:\n    repository: registry\n" in saved
    assert PlanDraft.from_yaml(saved)[0].get(REPOSITORY_FIELD) == "registry"


@sync
async def test_svn_without_a_url_is_shown_beside_the_url_field_and_blocks_next(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await choose_repository(pilot, "svn")
        # Reported by the plan on cluster.deployment_sync, shown by the URL field (not in the list
        # of problems no field owns, which names the key path).
        await shows(pilot, NEEDS_URL, absent=("cluster.deployment_sync:",))
        assert NEEDS_URL in field_problem(app, SVN_URL_FIELD)
        assert form_field(app, SVN_URL_FIELD).has_class("-invalid")
        await pilot.press("ctrl+n")
        await shows(pilot, "Fix 1 problem(s) on this screen first")
        assert screen_name(app) == "ClusterScreen"
        await type_into(pilot, SVN_URL_FIELD, "svn.example.com/esb")  # no scheme: not an svn URL
        await shows(pilot, "svn URL", absent=(NEEDS_URL,))
        assert "svn URL" in field_problem(app, SVN_URL_FIELD)
        await type_into(pilot, SVN_URL_FIELD, SVN_URL)
        await wait_for(pilot, lambda: field_problem(app, SVN_URL_FIELD) == "")
        assert not form_field(app, SVN_URL_FIELD).has_class("-invalid")


@sync
async def test_back_to_the_registry_hides_the_svn_fields_and_leaves_them_out_of_the_plan(tmp_path, plan):
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await choose_repository(pilot, "svn")
        await type_into(pilot, SVN_URL_FIELD, SVN_URL)
        await type_into(pilot, SVN_USER_FIELD, SVN_USER)
        await scroll_to(pilot, f"#{form_field(app, SVN_PASSWORD_FIELD).id}")
        await shows(pilot, "Svn URL", "Svn user", "Svn password")

        await choose_repository(pilot, "registry")
        await scroll_to(pilot)
        await shows(pilot, HIDDEN_NOTE, "to the registry (REGISTRY_DB)", absent=("Svn URL", "Svn user", "Svn password"))
        assert not any(svn_fields_shown(app).values())
        assert app.wizard.draft.get(REPOSITORY_FIELD) == "registry"
        sync_data = yaml.safe_load(app.wizard.plan_text())["cluster"]["deployment_sync"]
        assert sync_data == {"repository": "registry"}  # no "not used with the registry" warning to read
        assert app.wizard.check().under("cluster.deployment_sync") == []

        # Chosen again, svn has what was typed for it.
        await choose_repository(pilot, "svn")
        await scroll_to(pilot, f"#{form_field(app, SVN_USER_FIELD).id}")
        await shows(pilot, SVN_URL, SVN_USER, absent=(HIDDEN_NOTE,))
        assert app.wizard.draft.get(SVN_URL_FIELD) == SVN_URL


@sync
async def test_svn_keys_the_registry_does_not_use_are_shown_with_their_warning(tmp_path, distributions):
    plan = svn_plan(tmp_path, distributions, {"repository": "registry", "svn_url": SVN_URL})
    app = make_app(tmp_path, plan, "server-206")
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "cluster")
        await scroll_to(pilot, f"#{form_field(app, SVN_URL_FIELD).id}")
        # Shown where they can be cleared, the plan's warning beside the URL.
        await shows(pilot, "'svn_url' is not used with the registry", SVN_URL)
        assert "not used with the registry" in field_problem(app, SVN_URL_FIELD)
        assert form_field(app, SVN_URL_FIELD).query_one(".form-problem").has_class("-warning")
        assert app.screen.query_one("#sync-repository", Select).value == "registry"
        await type_into(pilot, SVN_URL_FIELD, "")
        await shows(pilot, absent=("not used with the registry",))
        assert "svn_url" not in app.wizard.plan_text()


# --- the Apply screen --------------------------------------------------------------------------------------

@sync
async def test_enter_passwords_goes_to_the_cluster_screen_when_only_the_svn_password_is_missing(
        tmp_path, distributions):
    plan = svn_plan(tmp_path, distributions, {"repository": "svn", "svn_url": SVN_URL, "svn_user": SVN_USER})
    # server-132 runs two workers and does not create the databases: the application password
    # (given) and the svn password (not given) are all it needs.
    app = make_app(tmp_path, plan, "server-132", environ={"WSO2_DB_PASSWORD": DB_PASSWORD})
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "apply")
        await settle(pilot)
        await shows(pilot, "Needed before running: the svn password", absent=("database password",))
        await pilot.click("#enter-passwords")
        await wait_for(pilot, lambda: screen_name(app) == "ClusterScreen")
        password = form_field(app, SVN_PASSWORD_FIELD)
        await wait_for(pilot, lambda: app.focused is password.input)
        await shows(pilot, "Svn password", "needed here: written into the carbon.xml")
        await pilot.press(*SVN_PASSWORD)
        await wait_for(pilot, lambda: app.wizard.secrets.svn_password == SVN_PASSWORD)

        await goto(pilot, "apply")
        await settle(pilot)
        await shows(pilot, "Run the steps not done", absent=("Needed before running",))


@sync
async def test_enter_passwords_goes_to_the_database_screen_when_a_database_password_is_missing(
        tmp_path, distributions):
    plan = svn_plan(tmp_path, distributions, {"repository": "svn", "svn_url": SVN_URL, "svn_user": SVN_USER})
    app = make_app(tmp_path, plan, "server-132")  # neither password given
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "apply")
        await settle(pilot)
        await shows(pilot, "the application database password and the svn password")
        await pilot.click("#enter-passwords")
        await wait_for(pilot, lambda: screen_name(app) == "DatabaseScreen")


@sync
async def test_after_a_run_that_asked_for_the_svn_password_enter_passwords_goes_to_the_cluster_screen(
        tmp_path, distributions):
    plan = svn_plan(tmp_path, distributions, {"repository": "svn", "svn_url": SVN_URL, "svn_user": SVN_USER})
    app = make_app(tmp_path, plan, "server-132", environ={"WSO2_DB_PASSWORD": DB_PASSWORD})
    async with app.run_test(size=SIZE) as pilot:
        await goto(pilot, "apply")
        await settle(pilot)
        for secret, screen in (("db_password", "DatabaseScreen"), ("svn_password", "ClusterScreen")):
            app.screen.post_message(RunFailed(
                "configure", "Password needed", f"the {secret} is needed", "", needs_password=True,
                remedy=Remedy(GIVE_PASSWORD, secret=secret)))
            await scroll_to(pilot, "#failure-buttons")
            await shows(pilot, "Password needed", f"the {secret} is needed", "Enter passwords")
            await pilot.click("#failure-passwords")
            await wait_for(pilot, lambda screen=screen: screen_name(app) == screen)
            await goto(pilot, "apply")
            await settle(pilot)
