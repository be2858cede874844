"""One changing run at a time per install dir: an exclusive lock beside the state file.

``apply``, ``start``, ``stop`` and ``restart`` change the node homes, the processes and the state
file; two at once would record a pid that is already dead, orphan the node really running, or
remove each other's half-extracted homes. Each of them holds ``flock(2)`` on
``<install_dir>/.wso2-cluster/lock`` for as long as it runs; a second one is refused at once (it
does not wait: the operator decides) with who holds the lock, which the holder writes into the
file. The kernel releases a flock when its holder's process ends, however it ends, so a crashed
or killed run never leaves a stale lock behind; the file is never deleted (a process could lock
the deleted file while another creates a new one). Read-only commands never take it.

Within one process the lock is reentrant for the thread that holds it (``apply`` runs the start
step, which stops and starts nodes under the lock ``apply`` took); another thread of the same
process is refused like another process, since two runs in one process corrupt state as well.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from installer.errors import InstallerError
from installer.state import State, state_folder

LOCK_NAME = "lock"
# A holder writes its name right after taking the lock: a run refused in that instant reads again.
HOLDER_READ_ATTEMPTS = 20
HOLDER_READ_INTERVAL = 0.025


class LockedError(InstallerError):
    title = "Another run is in progress"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    command: str
    since: str
    host: str

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "command": self.command, "since": self.since, "host": self.host}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        try:
            raw = json.loads(text)
            return cls(pid=int(raw["pid"]), command=str(raw["command"]), since=str(raw["since"]),
                       host=str(raw.get("host", "")))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass
class _Held:
    fd: int
    thread: int
    depth: int
    holder: LockHolder


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()  # guards _HELD: the wizard runs the engine in worker threads


def lock_path(install_dir: Path) -> Path:
    return state_folder(Path(install_dir)) / LOCK_NAME


@contextmanager
def install_lock(install_dir: Path, command: str) -> Iterator[bool]:
    """Hold the lock of ``install_dir`` for ``command`` (``apply``, ``start`` ...); yields True
    when this call took it, False when this thread held it already. Raises :class:`LockedError`
    when another process or thread holds it."""
    with _lock(state_folder(Path(install_dir)), command) as taken:
        yield taken


@contextmanager
def locked_state(state: State, command: str) -> Iterator[None]:
    """Hold the lock of the install dir ``state`` belongs to. On taking it (not on re-entering)
    the state is read again, in place: another run may have saved it after this one loaded it,
    and what that run recorded (the pids of the nodes it started) must not be overwritten."""
    with _lock(state.path.parent, command) as taken:
        if taken:
            fresh = State.load(state.path, state.server)
            for field in fields(State):
                if field.name == "steps":
                    state.steps.clear()  # the same dict: steps may hold a reference to it
                    state.steps.update(fresh.steps)
                elif field.name not in ("path", "server"):
                    setattr(state, field.name, getattr(fresh, field.name))
        yield


@contextmanager
def _lock(folder: Path, command: str) -> Iterator[bool]:
    key = _key(folder)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None and held.thread != threading.get_ident():
            raise _refused(folder, held.holder, same_process=True)
        if held is None:
            fd = _open(folder)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _read_holder(fd)
                os.close(fd)
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise _refused(folder, holder, same_process=False) from None
                raise _unusable(folder, error) from error
            holder = LockHolder(pid=os.getpid(), command=command, since=time.strftime("%Y-%m-%d %H:%M:%S %z"),
                                host=socket.gethostname())
            _write(fd, holder.to_json())
            held = _HELD[key] = _Held(fd=fd, thread=threading.get_ident(), depth=0, holder=holder)
        held.depth += 1
        taken = held.depth == 1
    try:
        yield taken
    finally:
        with _GUARD:
            held.depth -= 1
            if held.depth == 0:
                del _HELD[key]
                # Names nobody once released; emptied while still held, so never someone else's name.
                _write(held.fd, "")
                os.close(held.fd)  # releases the flock


def _key(folder: Path) -> Path:
    try:
        return folder.resolve()
    except OSError:
        return folder.absolute()


def _open(folder: Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Not inheritable (Python's default, said here because it matters): a node started under
        # the lock must not keep it for as long as it runs.
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise _unusable(folder, error) from error
    return fd


def _write(fd: int, text: str) -> None:
    try:
        os.ftruncate(fd, 0)
        if text:
            os.pwrite(fd, text.encode("utf-8"), 0)
    except OSError:
        pass  # who holds it is for the message of a refused run; the flock itself is what counts


def _read_holder(fd: int) -> LockHolder | None:
    for _ in range(HOLDER_READ_ATTEMPTS):
        try:
            holder = LockHolder.from_json(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        except OSError:
            return None
        if holder is not None:
            return holder
        time.sleep(HOLDER_READ_INTERVAL)
    return None


def _refused(folder: Path, holder: LockHolder | None, *, same_process: bool) -> LockedError:
    install_dir = folder.parent
    if holder is None:
        return LockedError(f"another run is changing {install_dir} (its lock file {folder / LOCK_NAME} does not "
                           "say which)", "wait for it to finish, then run this command again; the lock is released "
                           "when the process holding it ends")
    if same_process:
        return LockedError(f"this process (pid {holder.pid}) is already running `{holder.command}` on {install_dir} "
                           f"since {holder.since}", "wait for it to finish, then try again")
    where = "" if holder.host in ("", socket.gethostname()) else f" on host {holder.host}"
    return LockedError(f"process {holder.pid}{where} has been running `{holder.command}` on {install_dir} "
                       f"since {holder.since}",
                       f"wait for it to finish, then run this command again. If process {holder.pid} is no longer "
                       "running, its lock is already released (the system releases it when the process ends): "
                       "run this command again")


def _unusable(folder: Path, error: OSError) -> InstallerError:
    return InstallerError(f"the lock file {folder / LOCK_NAME} cannot be used: {error.strerror or error}",
                          "run as the user who installed (who may write there), or change install_dir in the plan",
                          title="Install folder not writable")
