"""The engine never imports the UI: checked in a fresh interpreter, as Harlequin does."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import installer
from tests.paths import REPO_DIR


def engine_modules() -> list[str]:
    return sorted(module.name for module in pkgutil.walk_packages(installer.__path__, "installer."))


def test_every_engine_module_imports_without_textual_or_screens():
    modules = engine_modules()
    assert "installer.cli" in modules and "installer.steps" in modules  # the walk found the engine
    bad = ui_modules_loaded_by(modules)
    assert bad == "", f"installer pulled in UI modules: {bad}"


def ui_modules_loaded_by(modules: list[str]) -> str:
    """Import ``modules`` in a fresh interpreter; the Textual / screens modules that are then loaded."""
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'screens')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_check_itself_would_notice_textual():
    assert "textual" in ui_modules_loaded_by(["installer.plan", "textual.app"]).split(",")


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
                  if name.split(".")[0] in ("textual", "screens")]
    return found


def test_no_engine_source_imports_the_ui_even_inside_a_function():
    sources = sorted((REPO_DIR / "installer").rglob("*.py"))
    assert any(path.name == "cli.py" for path in sources)
    found = [f"{path.relative_to(REPO_DIR)}:{line}" for path in sources for line in ui_imports(path.read_text())]
    assert found == []


def test_the_source_check_sees_an_import_inside_a_function():
    assert ui_imports("def run():\n    from screens.app import create_app\n") == ["2: screens.app"]


def test_the_headless_entry_point_points_to_the_wizard_instead_of_opening_it(capsys):
    from installer.cli import EXIT_INVALID, main

    assert main(["tui"]) == EXIT_INVALID
    assert "wso2-cluster console command" in capsys.readouterr().err


def test_the_console_command_opens_the_wizard_with_the_options_given(monkeypatch):
    from screens import console

    opened = []
    monkeypatch.setattr(console, "open_wizard", lambda plan, server: opened.append((plan, server)) or 7)
    assert console.main(["tui", "--plan", "p.yaml", "--server", "s1"]) == 7  # its exit code is the command's
    assert console.main([]) == 7
    assert opened == [(Path("p.yaml"), "s1"), (None, None)]
