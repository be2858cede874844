"""The layers: the engine never imports a front end (checked in a fresh interpreter, as Harlequin
does), and the front ends (the wizard in screens/, the CLI in cli/) use the engine only through
the public names of ``installer``."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import installer
from tests.paths import REPO_DIR


def engine_modules() -> list[str]:
    return sorted(module.name for module in pkgutil.walk_packages(installer.__path__, "installer."))


def test_every_engine_module_imports_without_textual_or_screens():
    modules = engine_modules()
    assert "installer.session" in modules and "installer.steps" in modules  # the walk found the engine
    bad = ui_modules_loaded_by(modules)
    assert bad == "", f"installer pulled in UI modules: {bad}"


def ui_modules_loaded_by(modules: list[str]) -> str:
    """Import ``modules`` in a fresh interpreter; the Textual / screens modules that are then loaded."""
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m in ('textual', 'cli') or m.startswith(('textual.', 'screens', 'cli.')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_check_itself_would_notice_textual():
    assert "textual" in ui_modules_loaded_by(["installer.plan.model", "textual.app"]).split(",")


def ui_imports(source: str) -> list[str]:
    """Every import of Textual or of screens in ``source``, at any depth (an import inside a
    function escapes the import check above until that function runs)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names
                  if name.split(".")[0] in ("textual", "screens", "cli")]
    return found


def test_no_engine_source_imports_the_ui_even_inside_a_function():
    sources = sorted((REPO_DIR / "installer").rglob("*.py"))
    assert any(path.name == "session.py" for path in sources)
    found = [f"{path.relative_to(REPO_DIR)}:{line}" for path in sources for line in ui_imports(path.read_text())]
    assert found == []


def test_the_source_check_sees_an_import_inside_a_function():
    assert ui_imports("def run():\n    from screens.app import create_app\n") == ["2: screens.app"]


def test_the_headless_entry_point_points_to_the_wizard_instead_of_opening_it(capsys):
    from cli.exits import EXIT_INVALID
    from cli.parser import main

    assert main(["tui"]) == EXIT_INVALID
    assert "wso2-cluster console command" in capsys.readouterr().err


def test_the_console_command_opens_the_wizard_with_the_options_given(monkeypatch):
    from cli import console

    opened = []
    monkeypatch.setattr(console, "open_wizard", lambda plan, server: opened.append((plan, server)) or 7)
    assert console.main(["tui", "--plan", "p.yaml", "--server", "s1"]) == 7  # its exit code is the command's
    assert console.main([]) == 7
    assert opened == [(Path("p.yaml"), "s1"), (None, None)]


# --- front ends use the public names only ----------------------------------------------------------

STDLIB = frozenset(sys.stdlib_module_names)


def front_end_imports(folder: str, allowed_packages: set[str]) -> list[str]:
    """Imports under ``folder`` that are neither the standard library, the front end's own
    package, ``allowed_packages``, nor ``from installer import <public name>``."""
    import installer

    public = set(installer.__all__)
    found = []
    for path in sorted((REPO_DIR / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(REPO_DIR)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    if top not in STDLIB and top not in allowed_packages and top != folder:
                        found.append(f"{where}: import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
                if top == "installer":
                    names = {alias.name for alias in node.names}
                    if node.module != "installer" or not names <= public:
                        found.append(f"{where}: from {node.module} import {', '.join(sorted(names))}")
                elif top not in STDLIB and top not in allowed_packages and top != folder:
                    found.append(f"{where}: from {node.module}")
    return found


def test_the_wizard_uses_only_the_engines_public_names():
    assert front_end_imports("screens", {"textual", "rich"}) == []


def test_the_cli_uses_only_the_engines_public_names():
    # The console command opens the wizard (screens) when no command is given.
    assert front_end_imports("cli", {"rich", "screens"}) == []


def test_the_front_end_check_sees_a_private_engine_import(tmp_path, monkeypatch):
    import tests.test_layering as this

    (tmp_path / "front").mkdir()
    (tmp_path / "front" / "x.py").write_text("def f():\n    from installer.steps import StartStep\n"
                                             "from installer import Session\n")
    monkeypatch.setattr(this, "REPO_DIR", tmp_path)
    assert front_end_imports("front", set()) == ["front/x.py:2: from installer.steps import StartStep"]


def test_every_public_name_resolves():
    import installer

    missing = [name for name in installer.__all__ if getattr(installer, name, None) is None]
    assert missing == []


# --- what the wizard's first screen loads ------------------------------------------------------------

def engine_modules_loaded_by(statement: str) -> list[str]:
    script = f"import sys\n{statement}\nprint(' '.join(sorted(m for m in sys.modules if m.startswith('installer.'))))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    return result.stdout.split()


@pytest.mark.parametrize(("name", "modules"), [
    ("STEP_NAMES", ["installer.steps"]),  # not the steps themselves, nor the database driver they load
    ("PlanDraft", ["installer.plan", "installer.plan.draft", "installer.plan.load"]),  # nor derive / check
])
def test_the_first_screens_names_load_only_their_own_modules(name, modules):
    assert engine_modules_loaded_by(f"from installer import {name}") == modules


def test_the_step_order_is_one_list_and_each_step_is_named_after_its_module():
    from installer.steps import STEP_CLASSES, STEP_NAMES

    assert STEP_NAMES == ("preflight", "extract", "configure", "database", "hosts", "start", "verify")
    assert list(STEP_CLASSES) == list(STEP_NAMES)
    assert [(step.name, step.__module__) for step in STEP_CLASSES.values()] == [
        (name, f"installer.steps.{name}") for name in STEP_NAMES]
