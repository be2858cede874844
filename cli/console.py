"""The ``wso2-cluster`` console command: the wizard when no command (or ``tui``) is given, the
headless commands otherwise. The wizard is imported only when it is opened."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from cli import parser
from cli.exits import EXIT_OK


def open_wizard(plan: Path | None, server: str | None) -> int:
    from screens.app import create_app

    create_app(plan_path=plan, server_name=server).run()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return parser.main(argv, open_wizard=open_wizard)


if __name__ == "__main__":
    sys.exit(main())
