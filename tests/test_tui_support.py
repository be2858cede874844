"""Helpers for the wizard's tests (imported by the other ``test_tui_*`` modules): an app made
for a test, typing into a field the way an operator does, and the text the screen shows."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select

from screens.app import InstallerApp, create_app
from screens.widgets import FormField
from tests.support.plans import LOOPBACK_ADDRESSES, write_seed_plan

# What "this machine" has in tests: loopback only, as on a CI runner with no network.
TEST_ADDRESSES = {"127.0.0.1": "lo", "::1": "lo"}
SIZE = (100, 30)


def make_app(tmp_path: Path, plan: Path | None = None, server: str | None = None, *, is_root: bool = False,
             environ: dict[str, str] | None = None, working_folder: Path | None = None) -> InstallerApp:
    """The real app, from the real factory, with its files (log, last plan) under ``tmp_path``."""
    return create_app(plan_path=plan, server_name=server, local_addresses=TEST_ADDRESSES, is_root=is_root,
                      environ=environ if environ is not None else {}, recent_file=tmp_path / "last-plan",
                      log_file=tmp_path / "tui.log", working_folder=working_folder or tmp_path)


def seed_plan(root: Path, distributions: dict[str, Path], *, edit=None) -> Path:
    """The seed cluster on loopback with install dirs and hosts files under ``root``."""
    return write_seed_plan(root, distributions, addresses=LOOPBACK_ADDRESSES, edit=edit).plan


def painted_text(app: InstallerApp) -> str:
    """What the terminal shows now, as plain text, runs of spaces and line ends made one space
    (so a message wrapped over two lines still reads as one)."""
    strips = app.screen._compositor.render_strips()
    return " ".join(" ".join(strip.text for strip in strips).split())


def form_field(app: InstallerApp, path: str) -> FormField:
    for field in app.screen.query(FormField):
        if field.path == path:
            return field
    raise LookupError(f"no field {path} on {type(app.screen).__name__}")


def field_problem(app: InstallerApp, path: str) -> str:
    """The validation message shown under a field ("" when there is none)."""
    message = form_field(app, path).query_one(".form-problem")
    if message.has_class("-empty"):
        return ""
    content = message.content
    return getattr(content, "plain", str(content))


async def type_into(pilot: Pilot, path: str, text: str) -> None:
    """Clear a field and type ``text`` into it key by key, as an operator would."""
    field = form_field(pilot.app, path)
    field.input.focus()
    await pilot.pause()
    field.input.action_end()
    await pilot.press("ctrl+u")
    if text:
        await pilot.press(*text)  # one key per character
    await pilot.pause()


async def confirm_server(pilot, name="server-206"):
    """Choose and confirm "this server" on the Topology screen, through its widgets."""
    screen = pilot.app.screen
    screen.query_one("#this-server", Select).value = name
    await pilot.pause()
    screen.query_one("#confirmed", Checkbox).value = True
    await pilot.pause()


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Pause until ``condition()`` holds (for screens whose workers never finish, like log
    followers); fails the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def holds() -> bool:
        try:
            return bool(condition())
        except NoMatches:  # the screen asked about is still being built
            return False

    while not holds():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {condition.__doc__ or condition}")
        await pilot.pause(0.05)


async def shows(pilot: Pilot, *fragments: str, absent: tuple[str, ...] = (), timeout: float = 20.0) -> str:
    """Wait until the screen, as painted, shows every fragment and none of ``absent``; return that
    text. A widget's new content reaches the terminal only after the next layout and paint, so a
    test that reads the screen right after an action must wait on the painted text itself."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = painted_text(pilot.app)
        if all(fragment in text for fragment in fragments) and not any(fragment in text for fragment in absent):
            return text
        if loop.time() > deadline:
            missing = [fragment for fragment in fragments if fragment not in text]
            present = [fragment for fragment in absent if fragment in text]
            raise AssertionError(f"after {timeout} s the screen still lacks {missing} / shows {present}:\n{text}")
        await pilot.pause(0.05)


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages be handled (never on a screen that follows logs:
    those workers run until the screen goes away)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def input_values(app: InstallerApp) -> dict[str, str]:
    return {field.path: field.query_one(Input).value for field in app.screen.query(FormField)}


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run: the suite has no async pytest plugin, and needs none.
    ``functools.wraps`` keeps the signature, so pytest still finds the fixtures it names."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run
