"""The engine never imports the UI: checked in a fresh interpreter, as Harlequin does."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import installer
from tests.paths import REPO_DIR


def engine_modules() -> list[str]:
    return sorted(module.name for module in pkgutil.walk_packages(installer.__path__, "installer."))


def test_every_engine_module_imports_without_textual_or_screens():
    modules = engine_modules()
    assert "installer.cli" in modules and "installer.steps" in modules  # the walk found the engine
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'screens')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"installer pulled in UI modules: {result.stdout.strip()}"


def test_the_check_itself_would_notice_textual():
    script = "import sys, textual; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
