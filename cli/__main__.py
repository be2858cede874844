"""``python -m cli ARGS``: the headless commands (the wizard is ``python -m cli.console``)."""

import sys

from cli.parser import main

sys.exit(main())
