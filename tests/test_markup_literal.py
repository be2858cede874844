"""Plan values and paths that look like Rich markup are shown as written, by the CLI and the
wizard alike: a bracket in a folder name is not a style, and a bad one is not a crash."""

from __future__ import annotations

from cli.parser import main
from tests.support.build_distributions import build_all
from tests.support.plans import LOOPBACK_ADDRESSES, write_seed_plan
from tests.test_tui_support import make_app, shows, sync

# Markup Rich would read: a style that would swallow the brackets, and a closing tag that
# would raise MarkupError if parsed.
ODD_FOLDER = "opt-[bold]wso2[/bold]-[/red]"


def plan_with_odd_folders(root, distributions=None):
    def odd(data):
        data["servers"][0]["install_dir"] = str(root / ODD_FOLDER)
        data["servers"][0]["hosts_file"] = str(root / "[i]hosts[/i]")

    return write_seed_plan(root, distributions or build_all(root / "dists"), addresses=LOOPBACK_ADDRESSES,
                           edit=odd)


def test_plan_check_prints_bracketed_paths_literally(tmp_path, capsys):
    seed = plan_with_odd_folders(tmp_path)
    assert main(["plan", "check", str(seed.plan), "--no-files"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"homes in {tmp_path / ODD_FOLDER}" in out
    assert "[i]hosts[/i] block" in out


def test_plan_errors_with_brackets_are_printed_literally(tmp_path, capsys):
    seed = plan_with_odd_folders(tmp_path)
    seed.plan.write_text(seed.plan.read_text().replace("name: worker1", "name: '[/red]worker1'"))
    assert main(["plan", "check", str(seed.plan), "--no-files"]) == 2
    assert "'[/red]worker1'" in capsys.readouterr().err


@sync
async def test_topology_shows_bracketed_paths_literally(tmp_path):
    seed = plan_with_odd_folders(tmp_path)
    app = make_app(tmp_path, seed.plan, "server-206")
    async with app.run_test(size=(320, 30)) as pilot:  # wide enough for whole temporary paths
        await pilot.press("enter")  # Continue with this plan: the Topology screen
        await shows(pilot, ODD_FOLDER, "[i]hosts[/i]")
