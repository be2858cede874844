"""The engine's ``apply`` in a child process, its events relayed back through a pipe.

Why a process and not only a thread: extraction decompresses with several Python threads, and
while they hold the interpreter lock a key press waited hundreds of milliseconds. In a child
process the engine has its own interpreter; the wizard keeps one thread worker that reads the
child's reports and posts messages, and stays answered within the 100 ms the issue asks for.

Stopping terminates the child. The engine is built for that (every write atomic, state saved after
each step, homes renamed into place only when complete; the interruption tests SIGKILL it at
every boundary), so a stopped run resumes like any interrupted one.

Passwords go to the child through its stdin pipe, never through its arguments or environment.
Part of the engine (it never imports the UI): any front end that must stay responsive while
the engine works can run it this way; the wizard's Apply screen does.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from installer.errors import Remedy
from installer.secrets import Secrets

POLL_SECONDS = 0.1
STOP_GRACE_SECONDS = 5.0
_LENGTH = struct.Struct("!I")


@dataclass(frozen=True)
class RunRequest:
    plan_path: Path
    server: str
    selected: tuple[str, ...]
    force: bool
    secrets: Secrets


@dataclass(frozen=True)
class RunFinishedReport:
    outcomes: tuple[tuple[str, str, str], ...]  # step, status, message


@dataclass(frozen=True)
class RunFailedReport:
    title: str
    message: str
    hint: str
    drifted: bool = False
    needs_password: bool = False
    remedy: Remedy | None = None


@dataclass(frozen=True)
class RunCrashedReport:
    """Not an error the operator can act on: a bug (or the child died); the traceback is kept."""

    details: str


def run_child(request: RunRequest, send: Callable[[object], None]) -> None:
    """In the child: apply, sending every engine event and then one final report."""
    try:
        from installer.errors import DriftError, InstallerError, SecretError
        from installer.session import Session

        try:
            session = Session.open(request.plan_path, request.server, secrets=request.secrets, emit=send,
                                   steps=request.selected)
            outcomes = session.apply(force=request.force)
        except InstallerError as error:
            send(RunFailedReport(error.title, error.message, error.hint, isinstance(error, DriftError),
                                 isinstance(error, SecretError), error.remedy))
            return
        send(RunFinishedReport(tuple((outcome.step, outcome.status.value, outcome.message) for outcome in outcomes)))
    except BaseException:
        send(RunCrashedReport(traceback.format_exc()))


def _frame(report: object) -> bytes:
    data = pickle.dumps(report)
    return _LENGTH.pack(len(data)) + data


def child_main() -> int:
    """``python -m installer.runner``: the request on stdin, the reports on stdout, framed."""
    request = pickle.loads(sys.stdin.buffer.read())
    # Batch work next to an interactive program on a machine of two cores: the screen first.
    os.nice(5)
    channel = os.dup(1)
    # The terminal belongs to the wizard, and stdout now carries frames: nothing else may
    # write to either.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def send(report: object) -> None:
        data = _frame(report)
        while data:
            data = data[os.write(channel, data):]

    run_child(request, send)
    return 0


class EngineProcess:
    """One run of the engine in a child process (the same Python, ``-m installer.runner``)."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def start(self) -> None:
        # Its own session: a signal meant for the wizard's terminal does not reach it.
        self.process = subprocess.Popen([sys.executable, "-m", "installer.runner"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        start_new_session=True, close_fds=True)
        assert self.process.stdin is not None
        # Passwords travel in this pipe, never in the child's arguments or environment.
        self.process.stdin.write(pickle.dumps(self.request))
        self.process.stdin.close()

    def reports_until_done(self, stop_requested: Callable[[], bool]) -> Iterator[object]:
        """Every event and the final report, in order; stops the child when ``stop_requested()``."""
        assert self.process is not None and self.process.stdout is not None
        output = self.process.stdout.fileno()
        while True:
            if stop_requested():
                self.stop()
                return
            ready, _, _ = select.select([output], [], [], POLL_SECONDS)
            if not ready:
                continue
            chunk = os.read(output, 65536)
            if not chunk:  # the child is gone
                self.process.wait()
                yield RunCrashedReport(f"the engine's process ended with exit code {self.process.returncode} "
                                       "before saying how the run went")
                return
            self._buffer += chunk
            for report in self._complete_frames():
                yield report
                if isinstance(report, RunFinishedReport | RunFailedReport | RunCrashedReport):
                    self.process.wait(STOP_GRACE_SECONDS)
                    return

    def _complete_frames(self) -> Iterator[object]:
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < _LENGTH.size + length:
                return
            data = self._buffer[_LENGTH.size:_LENGTH.size + length]
            self._buffer = self._buffer[_LENGTH.size + length:]
            yield pickle.loads(data)  # our own child's frames, in a pipe only we hold

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    # Run as installer.runner, not as __main__: the reports must unpickle in the parent as
    # installer.runner's classes.
    from installer.runner import child_main as main

    sys.exit(main())
