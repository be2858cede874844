"""Where the repository and ``../shared`` live, for tests and test support."""

from __future__ import annotations

from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_DIR.parent / "shared"
CARBON_CONFIGS_DIR = SHARED_DIR / "carbon-configs"
SEED_PAGE = SHARED_DIR / "seed" / "000_42ae32b79f097e1c.txt"


def real_config_files(file_name: str) -> list[Path]:
    """Every real (non-template) file named ``file_name`` in the carbon-configs corpus.

    Sets whose name starts with ``tmpl-`` are templates and are left out.
    """
    return sorted(
        path
        for path in CARBON_CONFIGS_DIR.rglob(file_name)
        if not path.relative_to(CARBON_CONFIGS_DIR).parts[0].startswith("tmpl-")
    )
