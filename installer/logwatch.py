"""Follow a growing log file the way ``tail -F`` does, without ever reading it whole.

Toolong is the model: a follower keeps an open descriptor and a saved offset, reads new bytes in
fixed chunks with ``os.pread`` (``os.read`` at the saved offset, without a shared file position
to keep in step) and splits them into lines, keeping an unfinished last line until
its newline arrives. It survives the two ways logs get rotated:

* rename + new file (log4j's rolling appenders, logrotate ``create``): the path now names another
  inode. The old file is read to its end first, then the new one from its start; the old file
  stays open for a short grace period, because a writer may still append to it before it reopens.
* truncation in place (logrotate ``copytruncate``): the file is shorter than our offset, so we
  start again from 0.

A path that does not exist yet is waited for; everything in it is new when it appears.

Waiting is separate from reading. ``ChangeWaiter`` sleeps until a followed file may have changed:
with inotify (Linux, through ctypes) it watches the files' folders and costs no CPU while the
logs are quiet, like ``tail -F``; elsewhere it falls back to polling ``os.stat`` with a short
adaptive sleep. Either way it returns at once when the caller's stop ``Event`` is set.

Memory stays bounded: one ``poll()`` reads at most ``batch_bytes`` (1 MiB by default), and a
line longer than ``max_line_bytes`` (4 MiB) is handed out in pieces rather than buffered whole.
Nothing here is shared between instances: each follower and waiter owns its descriptors, so
several threads may each follow their own files.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import select
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from itertools import accumulate, repeat
from pathlib import Path
from typing import NamedTuple

CHUNK_BYTES = 64 * 1024
BATCH_BYTES = 16 * CHUNK_BYTES
MAX_LINE_BYTES = 4 * 1024 * 1024
ROTATION_GRACE_SECONDS = 1.0
_REWRITE_PROBE_BYTES = 32
POLL_INTERVAL_SECONDS = 0.02
# The fallback poll never sleeps longer than this, so a line is seen within about 50 ms.
MAX_POLL_INTERVAL_SECONDS = 0.05
# A stop relay thread (see ChangeWaiter) re-checks this often whether its waiter was closed; long,
# because every check is a wake-up and an idle follower should not wake up at all.
STOP_RELAY_RECHECK_SECONDS = 300.0


class LogLine(NamedTuple):
    """One line of a followed log, without its line ending.

    A NamedTuple rather than a dataclass: a follower reading a large log creates millions.
    """

    text: str
    offset: int  # byte offset of the line's first byte in the file it was read from
    line_number: int  # 1 for the first line this follower returned, counted across rotations
    generation: int = 0  # which file: 0 for the first, +1 after each rotation or truncation
    continues: bool = False  # an over-long line cut in pieces: the next LogLine goes on with it


class _OpenLog:
    """An open file being read: descriptor, identity, read offset and the unfinished last line."""

    __slots__ = ("fd", "identity", "offset", "pending", "pending_offset", "generation", "retire_at", "last_bytes")

    def __init__(self, fd: int, identity: tuple[int, int], offset: int, generation: int) -> None:
        self.fd = fd
        self.identity = identity
        self.offset = offset
        self.pending = bytearray()
        self.pending_offset = offset
        self.generation = generation
        self.retire_at = 0.0
        self.last_bytes = b""  # the bytes just before ``offset``: see LogFollower._rewritten


class LogFollower:
    """Follows one log file from an offset; ``poll()`` returns the lines written since.

    ``start_offset``: ``None`` starts at the current end of the file (what is already there is
    old), ``0`` at its beginning, any other value at that byte (a position saved earlier with
    ``position``). An offset past the end means the file was replaced since: it is read from 0.
    When the file does not exist yet, whatever appears later is read from its beginning.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start_offset: int | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        batch_bytes: int = BATCH_BYTES,
        max_line_bytes: int = MAX_LINE_BYTES,
        rotation_grace: float = ROTATION_GRACE_SECONDS,
    ) -> None:
        if chunk_bytes <= 0 or batch_bytes < chunk_bytes or max_line_bytes < chunk_bytes:
            # A complete line inside one chunk must never need cutting: keeps the fast path simple.
            raise ValueError("need 0 < chunk_bytes <= batch_bytes and chunk_bytes <= max_line_bytes")
        self.path = Path(path)
        self._chunk_bytes = chunk_bytes
        self._batch_bytes = batch_bytes
        self._max_line_bytes = max_line_bytes
        self._rotation_grace = rotation_grace
        self._line_number = 0
        self._generation = 0
        self._path_missing = False
        self._retired: list[_OpenLog] = []
        self._current: _OpenLog | None = None
        self._closed = False
        # Opened now, not at the first poll: "the current end" means the end at construction.
        self._current = self._open(start_offset)

    # --- public API --------------------------------------------------------------------------------

    def poll(self) -> list[LogLine]:
        """The complete lines written since the last call, oldest first; ``[]`` when there is
        nothing new.

        Reads about ``batch_bytes`` per call so that a large backlog comes in bounded slices:
        call again while it returns lines (``follow`` does). One follower serves one thread at a
        time; followers share nothing, so each thread may have its own.
        """
        if self._closed:
            raise ValueError(f"follower of {self.path} is closed")
        lines: list[LogLine] = []
        budget = self._batch_bytes
        if self._retired:
            budget -= self._drain_retired(lines, budget)
        if self._current is None:
            self._current = self._open(0)
            if self._current is None:
                return lines
        current = self._current
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            # Renamed away or deleted and not recreated yet: what we hold open may still grow.
            self._path_missing = True
            self._read(current, budget, lines)
            return lines
        self._path_missing = False
        if (stat.st_dev, stat.st_ino) != current.identity:
            # Rotated. Finish the old file first so that lines keep their order.
            budget -= self._read(current, budget, lines)
            if budget <= 0:
                return lines
            replacement = self._open(0)
            if replacement is None:  # vanished again between stat and open
                return lines
            current.retire_at = time.monotonic() + self._rotation_grace
            self._retired.append(current)
            self._current = current = replacement
        elif stat.st_size == current.offset:
            return lines  # the common idle case: one stat, no read
        elif stat.st_size < current.offset or self._rewritten(current):
            # Truncated in place (copytruncate): the old content is gone, start again from 0.
            self._flush_pending(current, lines)
            self._generation += 1
            current.generation = self._generation
            current.offset = current.pending_offset = 0
            current.last_bytes = b""
        self._read(current, budget, lines)
        return lines

    def follow(
        self, stop: threading.Event, interval: float = POLL_INTERVAL_SECONDS, *, use_inotify: bool = True,
    ) -> Iterator[LogLine]:
        """Yields lines as they are written until ``stop`` is set.

        Sleeps in a ``ChangeWaiter`` between polls: no CPU while the log is quiet when inotify is
        available (and ``use_inotify``), otherwise polls every ``interval`` seconds, backing off
        to 50 ms while idle.
        """
        with ChangeWaiter([self], stop, interval=interval, use_inotify=use_inotify) as waiter:
            while not stop.is_set():
                lines = self.poll()
                if lines:
                    waiter.reset_backoff()
                    yield from lines
                    continue
                waiter.wait()

    @property
    def position(self) -> int:
        """Where to resume reading the current file later: the start of the unfinished line."""
        if self._current is None:
            return 0
        return self._current.pending_offset if self._current.pending else self._current.offset

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def needs_polling(self) -> bool:
        """True while a change could go unnoticed by a watch on the file's folder.

        A rotated file kept open for its grace period, or an open file whose path is gone, has
        another name (or none) now: inotify events for it do not carry our file's name.
        """
        return bool(self._retired) or (self._current is not None and self._path_missing)

    def close(self) -> None:
        for log in [*self._retired, *([self._current] if self._current else [])]:
            os.close(log.fd)
        self._retired.clear()
        self._current = None
        self._closed = True

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- reading -----------------------------------------------------------------------------------

    def _open(self, start_offset: int | None) -> _OpenLog | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._path_missing = True
            return None
        stat = os.fstat(fd)
        if start_offset is None:
            offset = stat.st_size
        elif start_offset > stat.st_size:
            offset = 0
        else:
            offset = start_offset
        if self._current is not None or self._retired:
            self._generation += 1  # a new file after a rotation
        self._path_missing = False
        return _OpenLog(fd, (stat.st_dev, stat.st_ino), offset, self._generation)

    def _drain_retired(self, lines: list[LogLine], budget: int) -> int:
        used = 0
        now = time.monotonic()
        for log in list(self._retired):
            used += self._read(log, budget - used, lines)
            if now >= log.retire_at and used < budget:
                self._flush_pending(log, lines)  # the file is finished: its last line is complete
                os.close(log.fd)
                self._retired.remove(log)
            if used >= budget:
                break
        return used

    def _read(self, log: _OpenLog, budget: int, lines: list[LogLine]) -> int:
        """Reads whole chunks from ``log`` until its end or ``budget`` bytes; returns bytes read.

        Goes past the budget while no line has come out (a long unfinished line): an empty
        ``poll()`` must mean "nothing new", and the unfinished line is bounded anyway.
        """
        total = 0
        while total < budget or not lines:
            chunk = os.pread(log.fd, self._chunk_bytes, log.offset)
            if not chunk:
                break
            chunk_offset = log.offset
            log.offset += len(chunk)
            total += len(chunk)
            log.last_bytes = (log.last_bytes + chunk[-_REWRITE_PROBE_BYTES:])[-_REWRITE_PROBE_BYTES:]
            self._split(log, chunk, chunk_offset, lines)
        return total

    def _rewritten(self, log: _OpenLog) -> bool:
        """True when the bytes before our offset changed: truncated, then written past our offset
        again before we looked (an appending writer after copytruncate), which the size alone
        cannot show."""
        if not log.last_bytes:
            return False
        probe = os.pread(log.fd, len(log.last_bytes), log.offset - len(log.last_bytes))
        return probe != log.last_bytes

    def _split(self, log: _OpenLog, chunk: bytes, chunk_offset: int, lines: list[LogLine]) -> None:
        last_newline = chunk.rfind(b"\n")
        if last_newline < 0:
            if not log.pending:
                log.pending_offset = chunk_offset
            log.pending += chunk
            self._cut_overlong(log, lines)
            return
        body_start = 0
        if log.pending:
            # The unfinished line from earlier chunks ends in this one.
            first_newline = chunk.find(b"\n")
            log.pending += chunk[:first_newline]
            self._cut_overlong(log, lines)
            self._emit_one(bytes(log.pending), log.pending_offset, log.generation, lines)
            body_start = first_newline + 1
        if body_start <= last_newline:
            self._emit_many(chunk[body_start:last_newline], chunk_offset + body_start, log.generation, lines)
        log.pending = bytearray(chunk[last_newline + 1:])
        log.pending_offset = chunk_offset + last_newline + 1

    def _emit_many(self, body: bytes, offset: int, generation: int, lines: list[LogLine]) -> None:
        """Complete lines joined by newlines (the last one's newline already cut off)."""
        if body.isascii():
            # Fast path for the usual log: one decode and one split per chunk; character
            # counts are byte counts, so offsets follow from the lengths.
            parts = body.decode("ascii").split("\n")
            starts = accumulate((len(part) + 1 for part in parts), initial=offset)
        else:
            raw_parts = body.split(b"\n")
            starts = accumulate((len(part) + 1 for part in raw_parts), initial=offset)
            parts = [part.decode("utf-8", "replace") for part in raw_parts]
        if b"\r" in body:  # CRLF line endings: drop the CR as well
            parts = [part[:-1] if part.endswith("\r") else part for part in parts]
        first = self._line_number + 1
        self._line_number += len(parts)
        lines.extend(map(LogLine, parts, starts, range(first, first + len(parts)), repeat(generation)))

    def _emit_one(self, raw: bytes, offset: int, generation: int, lines: list[LogLine]) -> None:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        self._line_number += 1
        lines.append(LogLine(text, offset, self._line_number, generation))

    def _cut_overlong(self, log: _OpenLog, lines: list[LogLine]) -> None:
        """Hands out the front of an unfinished line that has grown past ``max_line_bytes``."""
        while len(log.pending) > self._max_line_bytes:
            cut = _utf8_boundary(log.pending, self._max_line_bytes)
            piece = bytes(log.pending[:cut]).decode("utf-8", "replace")
            lines.append(LogLine(piece, log.pending_offset, self._line_number + 1, log.generation, True))
            del log.pending[:cut]
            log.pending_offset += cut

    def _flush_pending(self, log: _OpenLog, lines: list[LogLine]) -> None:
        if log.pending:
            self._emit_one(bytes(log.pending), log.pending_offset, log.generation, lines)
            log.pending = bytearray()
        log.pending_offset = log.offset


def _utf8_boundary(data: bytearray, limit: int) -> int:
    """The largest cut <= ``limit`` that does not split a UTF-8 character (``limit`` if none).

    ``data[cut]`` starts the second part: step back over continuation bytes (10xxxxxx), at
    most three, the longest tail of a character.
    """
    for cut in range(limit, max(limit - 3, 1) - 1, -1):
        if data[cut] & 0xC0 != 0x80:
            return cut
    return limit


# --- waiting -----------------------------------------------------------------------------------------

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_FOLDER_EVENTS = (
    _IN_MODIFY | _IN_ATTRIB | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
    | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
)
_FOLDER_GONE = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED
_EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)


@functools.cache
def _libc_inotify() -> ctypes.CDLL | None:
    """glibc's inotify functions, or None where there are none (not Linux, no glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


class _FolderWatch:
    """One inotify instance watching the folders of the followed files."""

    def __init__(self, libc: ctypes.CDLL, fd: int, files: Iterable[Path]) -> None:
        self._libc = libc
        self.fd = fd
        self._names_by_folder: dict[bytes, set[bytes]] = {}
        for file in files:
            folder = os.fsencode(os.path.dirname(os.path.abspath(file)))
            self._names_by_folder.setdefault(folder, set()).add(os.fsencode(file.name))
        self._folder_by_wd: dict[int, bytes] = {}

    @classmethod
    def create(cls, files: Iterable[Path]) -> _FolderWatch | None:
        libc = _libc_inotify()
        if libc is None:
            return None
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:  # EMFILE: too many inotify instances; polling still works
            return None
        return cls(libc, fd, files)

    @property
    def complete(self) -> bool:
        """True when every folder is watched (a missing folder cannot be)."""
        return len(self._folder_by_wd) == len(self._names_by_folder)

    def watch_missing_folders(self) -> bool:
        """Adds the watches that are missing; True if one was added.

        Whatever happened in a folder before its watch existed went unseen: after adding one,
        the caller must poll before it waits.
        """
        if self.complete:
            return False
        added = False
        watched = set(self._folder_by_wd.values())
        for folder in self._names_by_folder:
            if folder in watched:
                continue
            wd = self._libc.inotify_add_watch(self.fd, folder, _FOLDER_EVENTS)
            if wd >= 0:
                self._folder_by_wd[wd] = folder
                added = True
            elif ctypes.get_errno() not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ENOSPC):
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), os.fsdecode(folder))
        return added

    def read_relevant(self) -> bool:
        """Drains the queued events; True if one may concern a followed file."""
        relevant = False
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return relevant
            position = 0
            while position + _EVENT_HEADER.size <= len(data):
                wd, mask, _cookie, length = _EVENT_HEADER.unpack_from(data, position)
                name = data[position + _EVENT_HEADER.size:position + _EVENT_HEADER.size + length].rstrip(b"\0")
                position += _EVENT_HEADER.size + length
                if mask & _IN_Q_OVERFLOW:
                    relevant = True
                elif mask & _FOLDER_GONE and not name:
                    # The folder was deleted or moved: watch the path again once it exists.
                    folder = self._folder_by_wd.pop(wd, None)
                    if folder is not None and not mask & _IN_IGNORED:
                        self._libc.inotify_rm_watch(self.fd, wd)
                    relevant = True
                elif name in self._names_by_folder.get(self._folder_by_wd.get(wd, b""), ()):
                    relevant = True

    def close(self) -> None:
        os.close(self.fd)


def _relay_stop(stop: threading.Event, finished: threading.Event, write_fd: int) -> None:
    """Turns ``stop`` being set into a byte on a pipe, so that a poll() on the pipe wakes up."""
    try:
        while not finished.is_set():
            if stop.wait(STOP_RELAY_RECHECK_SECONDS):
                try:
                    os.write(write_fd, b"\0")
                except OSError:  # the waiter closed its end meanwhile
                    pass
                return
    finally:
        os.close(write_fd)


class ChangeWaiter:
    """Sleeps until one of the followers' files may have changed, ``stop`` is set, or a timeout.

    With inotify, one watch per folder and a relay thread that turns ``stop.set()`` into a
    wake-up: a quiet log costs no CPU. The relay thread blocks on ``stop``; when the waiter is
    closed before ``stop`` is set it notices within ``STOP_RELAY_RECHECK_SECONDS`` and exits.
    Without inotify: ``stop.wait()`` for ``interval`` seconds, doubling up to 50 ms while idle.

    A wake-up means "poll now", not "there are lines": callers poll, then wait again.
    """

    def __init__(
        self,
        followers: Iterable[LogFollower],
        stop: threading.Event,
        *,
        interval: float = POLL_INTERVAL_SECONDS,
        use_inotify: bool = True,
    ) -> None:
        self._followers = list(followers)
        self._stop = stop
        self._interval = interval
        self._max_interval = max(interval, MAX_POLL_INTERVAL_SECONDS)
        self._delay = interval
        self._watch = _FolderWatch.create(f.path for f in self._followers) if use_inotify else None
        if self._watch is not None:
            # Before the caller's first poll: a line written between that poll and a watch
            # added later would wake nobody.
            self._watch.watch_missing_folders()
        self._poller: select.poll | None = None
        self._wake_read: int | None = None
        self._relay_finished = threading.Event()

    @property
    def uses_inotify(self) -> bool:
        return self._watch is not None

    def reset_backoff(self) -> None:
        """Lines just came: poll at the short interval again (fallback mode only)."""
        self._delay = self._interval

    def wait(self, timeout: float | None = None) -> None:
        """Returns when a followed file may have changed, ``stop`` is set, or after ``timeout``."""
        if self._stop.is_set():
            return
        if self._watch is None:
            delay = self._delay if timeout is None else min(self._delay, max(timeout, 0.0))
            self._stop.wait(delay)
            self._delay = min(self._delay * 2, self._max_interval)
            return
        poller = self._ensure_poller()
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while not self._stop.is_set():
            if self._watch.watch_missing_folders():
                return
            limit = deadline
            if not self._watch.complete or any(f.needs_polling for f in self._followers):
                # A folder that does not exist yet, or a file that lost its name: poll as well.
                poll_at = time.monotonic() + self._interval
                limit = poll_at if limit is None else min(limit, poll_at)
            milliseconds = None if limit is None else max(0, round((limit - time.monotonic()) * 1000))
            ready = poller.poll(milliseconds)
            if not ready:
                return  # timed out
            if any(fd == self._watch.fd for fd, _ in ready) and self._watch.read_relevant():
                return
            if limit is not None and time.monotonic() >= limit:
                return

    def _ensure_poller(self) -> select.poll:
        if self._poller is None:
            assert self._watch is not None
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            self._wake_read = read_fd
            relay = threading.Thread(
                target=_relay_stop, args=(self._stop, self._relay_finished, write_fd),
                name="logwatch-stop-relay", daemon=True,
            )
            relay.start()
            self._poller = select.poll()
            self._poller.register(self._watch.fd, select.POLLIN)
            self._poller.register(read_fd, select.POLLIN)
        return self._poller

    def close(self) -> None:
        self._relay_finished.set()
        if self._wake_read is not None:
            os.close(self._wake_read)
            self._wake_read = None
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def __enter__(self) -> ChangeWaiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
