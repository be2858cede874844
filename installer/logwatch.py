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

Catching up with a large log is a matter of not looking at most of it. A reader that only
matches lines (milestones, failure signatures) says which strings every line it can match
contains (``LineFilter``, built from its regular expressions by ``required_literals``); a
follower given one (``poll(only=...)``) searches each chunk's bytes for those strings and decodes
only the lines that hold one. The others are counted, never split or decoded, so offsets and
line numbers are the same as without the filter.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import select
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate, repeat
from pathlib import Path
from re import _constants as _sre_constants
from re import _parser as _sre_parser
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

    def poll(self, *, only: LineFilter | None = None) -> list[LogLine]:
        """The complete lines written since the last call, oldest first; ``[]`` when there is
        nothing new.

        Reads about ``batch_bytes`` per call so that a large backlog comes in bounded slices:
        call again while it returns lines (``follow`` does). One follower serves one thread at a
        time; followers share nothing, so each thread may have its own.

        ``only``: return just the lines that may hold one of the filter's strings (every line
        that does, and perhaps a few others); the rest are read and counted but never decoded.
        Offsets and line numbers are those of every line. ``[]`` still means that nothing new is
        left: a filtered poll reads on past ``batch_bytes`` until a line comes out or the file
        ends (the lines left out are not kept, so memory stays bounded).
        """
        if self._closed:
            raise ValueError(f"follower of {self.path} is closed")
        if only is not None and only.keeps_everything:
            only = None
        lines: list[LogLine] = []
        budget = self._batch_bytes
        if self._retired:
            budget -= self._drain_retired(lines, budget, only)
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
            self._read(current, budget, lines, only)
            return lines
        self._path_missing = False
        if (stat.st_dev, stat.st_ino) != current.identity:
            # Rotated. Finish the old file first so that lines keep their order.
            budget -= self._read(current, budget, lines, only)
            if budget <= 0 and lines:
                return lines
            # (Without lines, go on to the new file now: an empty poll must mean "nothing new",
            # and nothing may ever write to the old file again to wake a waiter.)
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
            self._flush_pending(current, lines, only)
            self._generation += 1
            current.generation = self._generation
            current.offset = current.pending_offset = 0
            current.last_bytes = b""
        self._read(current, budget, lines, only)
        return lines

    def follow(
        self, stop: threading.Event, interval: float = POLL_INTERVAL_SECONDS, *, use_inotify: bool = True,
        only: LineFilter | None = None,
    ) -> Iterator[LogLine]:
        """Yields lines as they are written until ``stop`` is set (``only``: see ``poll``).

        Sleeps in a ``ChangeWaiter`` between polls: no CPU while the log is quiet when inotify is
        available (and ``use_inotify``), otherwise polls every ``interval`` seconds, backing off
        to 50 ms while idle.
        """
        with ChangeWaiter([self], stop, interval=interval, use_inotify=use_inotify) as waiter:
            while not stop.is_set():
                lines = self.poll() if only is None else self.poll(only=only)
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

    def _drain_retired(self, lines: list[LogLine], budget: int, only: LineFilter | None) -> int:
        used = 0
        now = time.monotonic()
        for log in list(self._retired):
            used += self._read(log, budget - used, lines, only)
            if now >= log.retire_at and used < budget:
                self._flush_pending(log, lines, only)  # the file is finished: its last line is complete
                os.close(log.fd)
                self._retired.remove(log)
            if used >= budget:
                break
        return used

    def _read(self, log: _OpenLog, budget: int, lines: list[LogLine], only: LineFilter | None) -> int:
        """Reads whole chunks from ``log`` until its end or ``budget`` bytes; returns bytes read.

        Goes past the budget while no line has come out (a long unfinished line, or only lines
        the filter leaves out): an empty ``poll()`` must mean "nothing new", and what is kept
        meanwhile is bounded anyway.
        """
        read_bytes = self._chunk_bytes
        total = 0
        while total < budget or not lines:
            chunk = os.pread(log.fd, read_bytes, log.offset)
            if not chunk:
                break
            if only is not None and len(chunk) == read_bytes:
                # A backlog, filtered: most bytes are only searched and counted, so larger reads
                # mean fewer calls per byte. Only then: pread allocates what it is asked for, and
                # a live follower mostly reads a line or two. Never above max_line_bytes: a
                # complete line inside one read is never cut.
                read_bytes = min(self._batch_bytes, self._max_line_bytes)
            chunk_offset = log.offset
            log.offset += len(chunk)
            total += len(chunk)
            log.last_bytes = (log.last_bytes + chunk[-_REWRITE_PROBE_BYTES:])[-_REWRITE_PROBE_BYTES:]
            self._split(log, chunk, chunk_offset, lines, only)
        return total

    def _rewritten(self, log: _OpenLog) -> bool:
        """True when the bytes before our offset changed: truncated, then written past our offset
        again before we looked (an appending writer after copytruncate), which the size alone
        cannot show."""
        if not log.last_bytes:
            return False
        probe = os.pread(log.fd, len(log.last_bytes), log.offset - len(log.last_bytes))
        return probe != log.last_bytes

    def _split(
        self, log: _OpenLog, chunk: bytes, chunk_offset: int, lines: list[LogLine], only: LineFilter | None,
    ) -> None:
        last_newline = chunk.rfind(b"\n")
        if last_newline < 0:
            if not log.pending:
                log.pending_offset = chunk_offset
            log.pending += chunk
            self._cut_overlong(log, lines, only)
            return
        body_start = 0
        if log.pending:
            # The unfinished line from earlier chunks ends in this one.
            first_newline = chunk.find(b"\n")
            log.pending += chunk[:first_newline]
            self._cut_overlong(log, lines, only)
            self._emit_one(bytes(log.pending), log.pending_offset, log.generation, lines, only)
            body_start = first_newline + 1
        if body_start <= last_newline:
            if only is None:
                self._emit_many(chunk[body_start:last_newline], chunk_offset + body_start, log.generation, lines)
            else:
                self._emit_matching(chunk, body_start, last_newline, chunk_offset, log.generation, lines, only)
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

    def _emit_matching(
        self, chunk: bytes, start: int, end: int, chunk_offset: int, generation: int, lines: list[LogLine],
        only: LineFilter,
    ) -> None:
        """``_emit_many`` for ``chunk[start:end]``, keeping only the lines ``only`` may want; the
        others are counted, not split or decoded. Each kept line is decoded and stripped of its
        CR exactly as ``_emit_many`` would."""
        first = self._line_number + 1
        counted_to = start
        index = 0  # of the line at counted_to, among the lines of chunk[start:end]
        for line_start, line_end in only.line_spans(chunk, start, end):
            index += chunk.count(b"\n", counted_to, line_start)
            counted_to = line_start
            text = chunk[line_start:line_end].decode("utf-8", "replace")
            if text.endswith("\r"):
                text = text[:-1]
            lines.append(LogLine(text, chunk_offset + line_start, first + index, generation))
        self._line_number += index + chunk.count(b"\n", counted_to, end) + 1

    def _emit_one(
        self, raw: bytes, offset: int, generation: int, lines: list[LogLine], only: LineFilter | None = None,
    ) -> None:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        self._line_number += 1
        if only is None or only.may_match(text):
            lines.append(LogLine(text, offset, self._line_number, generation))

    def _cut_overlong(self, log: _OpenLog, lines: list[LogLine], only: LineFilter | None) -> None:
        """Hands out the front of an unfinished line that has grown past ``max_line_bytes``."""
        while len(log.pending) > self._max_line_bytes:
            cut = _utf8_boundary(log.pending, self._max_line_bytes)
            piece = bytes(log.pending[:cut]).decode("utf-8", "replace")
            if only is None or only.may_match(piece):  # each piece is matched as a line of its own
                lines.append(LogLine(piece, log.pending_offset, self._line_number + 1, log.generation, True))
            del log.pending[:cut]
            log.pending_offset += cut

    def _flush_pending(self, log: _OpenLog, lines: list[LogLine], only: LineFilter | None) -> None:
        if log.pending:
            self._emit_one(bytes(log.pending), log.pending_offset, log.generation, lines, only)
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


# --- filtering: which lines can matter, decided on a chunk's bytes ------------------------------------

# How common each byte is in log text, most common first: which byte of a string to look for
# before any of the file has been sampled (then the file's own counts decide). Bytes not listed
# count as the rarest.
_COMMON_BYTES = (b" etaoinsrlcdhumpgf.0123456789:-_/[]{}()=,'\"ywbvkxjqz"
                 b"INFOTSEDRLACMPBGWUHKJVXYQZ")
_COMMONNESS = {byte: len(_COMMON_BYTES) - index for index, byte in enumerate(_COMMON_BYTES)}
# A filter counts the bytes of its strings in the first SAMPLE_BYTES it searches (over several
# regions if they are small), and again after every RESAMPLE_BYTES: a log's vocabulary drifts.
SAMPLE_BYTES = 64 * 1024
RESAMPLE_BYTES = 64 * 1024 * 1024
# Occurrences of a string's byte checked one at a time per region; past that the byte is frequent
# here and the rest of the region goes to one search with the byte's regular expression.
_CHECKED_ONE_BY_ONE = 8
# Characters that cannot be looked for in bytes: a line break never is inside a line, and U+FFFD
# or a lone surrogate in decoded text may stand for bytes that are not its UTF-8 encoding.
_NOT_IN_BYTES = re.compile("[\n\ufffd\ud800-\udfff]")


class _AnchorGroup(NamedTuple):
    """The strings looked for by one of their bytes: ``anchor`` is at ``index`` in each."""

    anchor: bytes
    entries: tuple[tuple[bytes, int], ...]  # (string, index of the anchor byte in it)
    pattern: re.Pattern[bytes]  # the anchor byte, then any entry around it (lookbehind, rest)


class LineFilter:
    """Which lines a reader needs: those that contain at least one of a few strings.

    Whoever matches lines knows strings that every line it can match contains: the logger a
    milestone requires, the level a signature requires, a literal part of a pattern
    (``required_literals``). ``combine`` joins such requirements; a requirement without a string
    (a pattern such as ``.``) makes a filter that keeps every line. A filter may keep a few lines
    that hold none of its strings, never leave out one that holds one.

    A follower given a filter (``LogFollower.poll(only=...)``) finds the lines in a chunk with
    ``line_spans``: each string is looked for by its rarest byte, counted in a sample of the file
    being read. ``bytes.find`` of one byte is ``memchr``, so a byte absent from a chunk costs next
    to nothing; where a byte turns out to be frequent, one regular expression per byte (that byte,
    then the strings around it) takes over, and ``re`` scans for a leading literal in C. A single
    alternation of every string would not do: ``re`` has no multi-string search and tries each
    string at each byte, about ten times slower than this.

    A filter adapts to what it reads (the sample) but never changes which lines it keeps; it may
    be shared, but one thread at a time should search with it.
    """

    def __init__(self, literals: Iterable[str] | None) -> None:
        cleaned = None if literals is None else _cleaned_literals(literals)
        self.literals: frozenset[str] | None = None if cleaned is None else frozenset(cleaned)
        self._encoded = () if cleaned is None else tuple(literal.encode("utf-8") for literal in cleaned)
        self._alphabet = [(byte, byte.to_bytes(1, "big"))
                          for byte in sorted({byte for literal in self._encoded for byte in literal})]
        self._plan = _anchor_plan(self._encoded, lambda byte: (_COMMONNESS.get(byte, 0), 0))
        self._searched = 0
        self._sampled_at: int | None = None
        self._sample_counts = dict.fromkeys((byte for byte, _ in self._alphabet), 0)
        self._sample_size = 0
        by_character: dict[str, list[str]] = {}
        for literal in cleaned or ():
            character = min(literal, key=lambda char: _COMMONNESS.get(ord(char), 0) if ord(char) < 128 else 0)
            by_character.setdefault(character, []).append(literal)
        self._by_character = tuple((character, tuple(group)) for character, group in by_character.items())

    @classmethod
    def everything(cls) -> LineFilter:
        """A filter that keeps every line."""
        return cls(None)

    @classmethod
    def combine(cls, requirements: Iterable[Iterable[str] | None]) -> LineFilter:
        """The lines any of several readers may want: each requirement is the strings one of
        which every line that reader can match contains; ``None`` is a reader that may match any
        line (the result keeps every line)."""
        literals: set[str] = set()
        for requirement in requirements:
            if requirement is None:
                return cls(None)
            literals.update(requirement)
        return cls(literals)

    @property
    def keeps_everything(self) -> bool:
        return self.literals is None

    def may_match(self, text: str) -> bool:
        """Whether a decoded line holds one of the strings (always True for ``everything``)."""
        if self.literals is None:
            return True
        for character, literals in self._by_character:
            if character in text:
                for literal in literals:
                    if literal in text:
                        return True
        return False

    def line_spans(self, data: bytes, start: int, end: int) -> list[tuple[int, int]]:
        """(start, end) of each line of ``data[start:end]`` that holds one of the strings, in
        order; lines are separated by ``\\n`` and ``start`` begins one. Every line is kept by a
        filter that keeps everything."""
        if self.literals is None:
            return _every_line(data, start, end)
        self._adapt(data, start, end)
        found: dict[int, int] = {}  # line start -> line end
        for group in self._plan:
            position = data.find(group.anchor, start, end)
            checked = 0
            while position >= 0:
                # (The pattern's lookbehind may look before ``start``: the byte there is a line
                # break, which no string holds.)
                if checked < _CHECKED_ONE_BY_ONE:
                    checked += 1
                    if group.pattern.match(data, position, end) is None:
                        position = data.find(group.anchor, position + 1, end)
                        continue
                else:
                    match = group.pattern.search(data, position, end)
                    if match is None:
                        break
                    position = match.start()  # the anchor byte: the string is on its line
                line_start = data.rfind(b"\n", start, position) + 1 or start
                line_end = data.find(b"\n", position, end)
                if line_end < 0:
                    line_end = end
                found[line_start] = line_end
                if line_end >= end:
                    break
                position = data.find(group.anchor, line_end + 1, end)
        return sorted(found.items())

    def _adapt(self, data: bytes, start: int, end: int) -> None:
        """Looks for each string by the byte of it that is rarest in this file (sampled)."""
        self._searched += end - start
        if self._sampled_at is not None and self._searched - self._sampled_at < RESAMPLE_BYTES:
            return
        counts = self._sample_counts
        until = start + min(end - start, SAMPLE_BYTES - self._sample_size)
        for byte, single in self._alphabet:
            counts[byte] += data.count(single, start, until)
        self._sample_size += until - start
        if self._sample_size < SAMPLE_BYTES:
            return
        sampled = dict(counts)
        self._plan = _anchor_plan(self._encoded, lambda byte: (sampled[byte], _COMMONNESS.get(byte, 0)))
        self._sampled_at = self._searched
        self._sample_counts = dict.fromkeys(counts, 0)
        self._sample_size = 0


def _cleaned_literals(literals: Iterable[str]) -> list[str] | None:
    """The strings worth looking for: each reduced to its longest part that bytes can show, and
    none that contains another (finding the shorter one finds its line). None when one reduces
    to nothing: then it cannot be looked for, and every line must be kept."""
    pieces = set()
    for literal in literals:
        piece = max(_NOT_IN_BYTES.split(literal), key=len)
        if not piece:
            return None
        pieces.add(piece)
    kept: list[str] = []
    for piece in sorted(pieces, key=lambda text: (len(text), text)):
        if not any(shorter in piece for shorter in kept):
            kept.append(piece)
    return kept


def _anchor_plan(literals: Iterable[bytes], commonness: Callable[[int], tuple[int, int]]) -> tuple[_AnchorGroup, ...]:
    """Groups the strings by their least common byte (``commonness``: smaller is rarer)."""
    groups: dict[int, list[tuple[bytes, int]]] = {}
    for literal in literals:
        index = min(range(len(literal)), key=lambda position: commonness(literal[position]))
        groups.setdefault(literal[index], []).append((literal, index))
    plan = []
    for byte, entries in groups.items():
        anchor = byte.to_bytes(1, "big")
        # After the anchor byte, each string: a lookbehind for its part up to the anchor, then the
        # rest. The pattern starts with a literal byte, which re finds without leaving C.
        alternatives = [
            (b"(?<=" + re.escape(literal[:index + 1]) + b")" if index else b"") + re.escape(literal[index + 1:])
            for literal, index in entries
        ]
        pattern = re.compile(re.escape(anchor) + b"(?:" + b"|".join(alternatives) + b")")
        plan.append(_AnchorGroup(anchor, tuple(entries), pattern))
    return tuple(plan)


def _every_line(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    line_start = start
    while True:
        line_end = data.find(b"\n", line_start, end)
        if line_end < 0:
            spans.append((line_start, end))
            return spans
        spans.append((line_start, line_end))
        line_start = line_end + 1


_LITERAL = _sre_constants.LITERAL
_REPEATS = tuple(getattr(_sre_constants, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
                 if hasattr(_sre_constants, name))


def required_literals(pattern: str | re.Pattern[str]) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` (searched in text) contains, or None when
    no such strings can be named (then any text may match).

    Read from the parsed pattern: a run of literal characters in the pattern's main sequence
    (or in a group, or in a part repeated at least once) is in every match; an alternation gives
    one string per branch. Case-insensitive parts, character classes, lookarounds and
    backreferences give nothing. Of several runs, the longest is chosen (the more characters,
    the fewer lines hold it by chance).
    """
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
    if not isinstance(compiled.pattern, str):
        return None
    return _pattern_literals(compiled.pattern, compiled.flags)


@functools.lru_cache(maxsize=1024)
def _pattern_literals(pattern: str, flags: int) -> frozenset[str] | None:
    try:
        parsed = _sre_parser.parse(pattern, flags)
        return _best_requirement(_sequence_requirements(parsed, parsed.state.flags))
    except Exception:  # a private module: whatever it does differently, filter nothing
        return None


def best_requirement(*requirements: frozenset[str] | None) -> frozenset[str] | None:
    """Of several requirements that all hold (a logger and a pattern, say), the one that keeps
    the fewest lines: the one whose shortest string is the longest."""
    return _best_requirement([requirement for requirement in requirements if requirement])


def _best_requirement(requirements: list[frozenset[str]]) -> frozenset[str] | None:
    if not requirements:
        return None
    return max(requirements, key=lambda strings: (min(map(len, strings)), -len(strings)))


def _literal_repeat(argument: object, flags: int) -> bool:
    """A repeat, at least once, of literal characters only (case-sensitive)."""
    low, _high, inner = argument  # type: ignore[misc]
    return low >= 1 and not flags & re.IGNORECASE and all(op is _LITERAL for op, _ in inner)


def _sequence_requirements(items: Iterable[tuple[object, object]], flags: int) -> list[frozenset[str]]:
    """Every requirement of a parsed sequence: each a set of strings one of which a match holds."""
    requirements: list[frozenset[str]] = []
    run: list[str] = []
    for op, argument in items:
        if op is _LITERAL and not flags & re.IGNORECASE:
            run.append(chr(argument))  # type: ignore[arg-type]
            continue
        if op in _REPEATS and _literal_repeat(argument, flags):
            low, high, inner = argument  # type: ignore[misc]
            # Literal characters repeated: "cd+e" holds "cd" (the first copy follows "c") and
            # "de" (the last one comes before "e"); "x{2}y" holds "xxy".
            copies = [chr(code) for _, code in inner] * low  # type: ignore[misc]
            run += copies
            if high != low:
                requirements.append(frozenset({"".join(run)}))
                run = list(copies)
            continue
        before = run  # a run of literals just before this item
        if run:
            requirements.append(frozenset({"".join(run)}))
            run = []
        if op is _sre_constants.SUBPATTERN:
            _group, add_flags, del_flags, inner = argument  # type: ignore[misc]
            requirements += _sequence_requirements(inner, (flags | add_flags) & ~del_flags)
        elif op is getattr(_sre_constants, "ATOMIC_GROUP", None):
            requirements += _sequence_requirements(argument, flags)  # type: ignore[arg-type]
        elif op in _REPEATS:
            low, _high, inner = argument  # type: ignore[misc]
            if low >= 1:
                requirements += _sequence_requirements(inner, flags)
        elif op is _sre_constants.BRANCH:
            _unused, branches = argument  # type: ignore[misc]
            # The parser moves a prefix common to every branch out in front ("C(?:lass...|annot
            # ...)"): put it back on each branch, the run it belongs to.
            prefix = [(_LITERAL, ord(character)) for character in before]
            union: set[str] = set()
            for branch in branches:
                best = _best_requirement(_sequence_requirements([*prefix, *branch], flags))
                if best is None:
                    break  # a branch that may match anything: the alternation asks for nothing
                union |= best
            else:
                requirements.append(frozenset(union))
        # Anything else (a class, any character, an anchor, a lookaround, a backreference)
        # consumes characters no single string names, or none.
    if run:
        requirements.append(frozenset({"".join(run)}))
    return requirements


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
