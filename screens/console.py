"""The ``wso2-cluster`` console command: the wizard when no command (or ``tui``) is given, the
headless commands of :mod:`installer.cli` otherwise. It lives here and not in ``installer/``
because the engine never imports the UI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from installer import cli


def open_wizard(plan: Path | None, server: str | None) -> int:
    from screens.app import create_app

    create_app(plan_path=plan, server_name=server).run()
    return cli.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, open_wizard=open_wizard)


if __name__ == "__main__":
    sys.exit(main())
