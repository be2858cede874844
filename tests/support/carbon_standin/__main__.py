"""``python -m tests.support.carbon_standin --carbon-home HOME [-Dname[=value] ...]``."""

from tests.support.carbon_standin.server import main

raise SystemExit(main())
