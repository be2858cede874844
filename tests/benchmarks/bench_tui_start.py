"""Cold start of the wizard to its first screen painted, against a minimal Textual app started
the same way in the same run. Goal: at most 1.5x the minimal app.

    .venv/bin/python -m tests.benchmarks.bench_tui_start [--repeat N]

Both programs run as a child process of this script on a pseudo-terminal of 100x30 (as a
terminal would run them), with the same interpreter, environment and working folder; the clock
starts before the process is created and stops when the screen text the program paints first
has been written to the terminal (escape sequences removed). The wizard opens the seed plan
(``wso2-cluster tui --plan assets/examples/seed.yaml``), so its first screen reads a plan too.
Runs alternate between the two programs so that neither always starts with a warm cache.

Exits 0 and prints MISS when the goal is missed; non-zero only when a measurement fails.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from tests.paths import REPO_DIR

GOAL_RATIO = 1.5
COLUMNS, LINES = 100, 30
TIMEOUT = 30.0
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>NOPMc78]|\x1b\][^\x07]*\x07")

MINIMAL_APP = '''
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Minimal app painted")
        yield Footer()


Minimal().run()
'''


def time_to_text(argv: list[str], marker: bytes, *, cwd: Path, env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` on a new pty to ``marker`` appearing in what it wrote."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd, env=env,
                               start_new_session=True, close_fds=True)
    os.close(terminal)
    seen = b""
    try:
        while True:
            remaining = TIMEOUT - (time.perf_counter() - started)
            if remaining <= 0:
                raise TimeoutError(f"{argv[0]}: {marker!r} not painted within {TIMEOUT} s")
            ready, _, _ = select.select([controller], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{argv[0]} ended before painting {marker!r}: {ESCAPES.sub(b'', seen)[-500:]!r}")
            seen += chunk
            if marker in ESCAPES.sub(b"", seen):
                return time.perf_counter() - started
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(controller)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each program (default 7)")
    args = parser.parse_args(argv)

    python = sys.executable
    wizard_command = str(Path(python).with_name("wso2-cluster"))
    if not os.access(wizard_command, os.X_OK):
        print(f"{wizard_command} is missing: install the project (./dev start) first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as work:
        work_dir = Path(work)
        minimal = work_dir / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(LINES),
                   XDG_STATE_HOME=str(work_dir / "state"))
        env.pop("TEXTUAL", None)
        seed = str(REPO_DIR / "assets/examples/seed.yaml")
        programs = {
            "minimal Textual app": ([python, str(minimal)], b"Minimal app painted"),
            "wso2-cluster tui": ([wizard_command, "tui", "--plan", seed], b"Welcome"),
            # The same app through its factory alone: what the console command adds is its own
            # start-up (the console script, argument parsing).
            "app factory only": ([python, "-c", "import sys; from pathlib import Path; "
                                  "from screens.app import create_app; create_app(plan_path=Path(sys.argv[1])).run()",
                                  seed], b"Welcome"),
        }
        times: dict[str, list[float]] = {name: [] for name in programs}
        order = list(programs)
        for run in range(args.repeat):
            for name in order if run % 2 == 0 else reversed(order):
                command, marker = programs[name]
                times[name].append(time_to_text(command, marker, cwd=REPO_DIR, env=env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:<20} median {medians[name] * 1000:7.1f} ms   runs: "
              + " ".join(f"{value * 1000:.0f}" for value in values))
    ratio = medians["wso2-cluster tui"] / medians["minimal Textual app"]
    factory_ratio = medians["app factory only"] / medians["minimal Textual app"]
    verdict = "OK" if ratio <= GOAL_RATIO else "MISS"
    print(f"ratio {ratio:.2f}x (goal <= {GOAL_RATIO}x): {verdict}")
    print(f"app factory only: {factory_ratio:.2f}x ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
