"""Following a log without reading it whole: pieces, offsets, late files, rotation, truncation,
long lines, bounded memory and a prompt stop, with inotify and with the polling fallback."""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from installer.logwatch import ChangeWaiter, LogFollower, LogLine

BOTH_MODES = pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])


def append(path: Path, data: str | bytes) -> None:
    with open(path, "ab") as file:
        file.write(data.encode() if isinstance(data, str) else data)


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


def drain(follower: LogFollower) -> list[LogLine]:
    """Polls until nothing more comes (one poll returns at most a batch)."""
    lines: list[LogLine] = []
    while batch := follower.poll():
        lines.extend(batch)
    return lines


class FollowThread:
    """Runs ``follow()`` in a thread and collects what it yields, with the time each line came."""

    def __init__(self, follower: LogFollower, *, use_inotify: bool = True) -> None:
        self.follower = follower
        self.stop = threading.Event()
        self.lines: list[LogLine] = []
        self.arrivals: list[float] = []
        self.use_inotify = use_inotify
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for line in self.follower.follow(self.stop, use_inotify=self.use_inotify):
            self.lines.append(line)
            self.arrivals.append(time.monotonic())

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.lines) >= count, f"only {len(self.lines)} of {count} lines arrived: {texts(self.lines)[-5:]}"

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()
        self.follower.close()


# --- reading -------------------------------------------------------------------------------------------

def test_lines_written_in_pieces_come_out_whole_with_offsets(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(b"")
    with LogFollower(log) as follower:
        append(log, "INFO - Tribes")
        assert follower.poll() == []  # no newline yet: nothing is complete
        append(log, "ClusteringAgent Initializing cluster...\nINFO - Tri")
        first = follower.poll()
        append(log, "besUtil No members")
        assert follower.poll() == []
        append(log, " in current cluster\n")
        second = follower.poll()
    assert first == [LogLine("INFO - TribesClusteringAgent Initializing cluster...", 0, 1, 0)]
    second_offset = len("INFO - TribesClusteringAgent Initializing cluster...\n")
    assert second == [LogLine("INFO - TribesUtil No members in current cluster", second_offset, 2, 0)]


def test_default_start_is_the_current_end_and_zero_is_the_beginning(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("old 1\nold 2\n")
    from_end = LogFollower(log)
    from_start = LogFollower(log, start_offset=0)
    append(log, "new\n")
    assert texts(from_end.poll()) == ["new"]
    assert texts(from_start.poll()) == ["old 1", "old 2", "new"]
    from_end.close()
    from_start.close()


def test_position_resumes_at_the_unfinished_line(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    follower = LogFollower(log)
    append(log, "one\ntwo\nthr")
    assert texts(follower.poll()) == ["one", "two"]
    saved = follower.position
    follower.close()
    assert saved == len("one\ntwo\n")
    append(log, "ee\n")
    with LogFollower(log, start_offset=saved) as resumed:
        assert resumed.poll() == [LogLine("three", saved, 1, 0)]


def test_an_offset_past_the_end_means_a_new_file_and_reads_from_zero(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("short\n")
    with LogFollower(log, start_offset=10_000) as follower:
        assert texts(follower.poll()) == ["short"]


def test_a_file_created_later_is_read_from_its_beginning(tmp_path):
    log = tmp_path / "logs" / "wso2carbon.log"
    follower = LogFollower(log)  # neither the file nor its folder exists
    assert follower.poll() == []
    log.parent.mkdir()
    log.write_text("first line\nsecond")
    assert texts(follower.poll()) == ["first line"]
    append(log, "\n")
    assert texts(follower.poll()) == ["second"]
    follower.close()


def test_crlf_and_invalid_utf8(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_bytes(b"")
    with LogFollower(log) as follower:
        append(log, b"windows\r\nbad \xff byte\ncaf\xc3\xa9\n")
        assert texts(follower.poll()) == ["windows", "bad \ufffd byte", "caf\u00e9"]


def test_one_poll_reads_a_bounded_slice(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("x" * 99 + "\n" * 1)
    log.write_text(("y" * 99 + "\n") * 5000)  # 500 kB
    with LogFollower(log, start_offset=0, chunk_bytes=4096, batch_bytes=16384) as follower:
        first = follower.poll()
        assert 100 <= len(first) <= 16384 // 100 + 1
        rest = drain(follower)
    assert len(first) + len(rest) == 5000
    assert [line.line_number for line in first + rest] == list(range(1, 5001))


# --- rotation and truncation ------------------------------------------------------------------------------

def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log) as follower:
        append(log, "before 1\nbefore 2\nhalf of a li")
        assert texts(follower.poll()) == ["before 1", "before 2"]
        log.rename(tmp_path / "wso2carbon.log.2013-08-20")
        append(tmp_path / "wso2carbon.log.2013-08-20", "ne\nafter the rename, old file\n")
        log.write_text("new 1\nnew 2\n")
        lines = follower.poll()
    assert texts(lines) == ["half of a line", "after the rename, old file", "new 1", "new 2"]
    assert [line.generation for line in lines] == [0, 0, 1, 1]
    assert [line.line_number for line in lines] == [3, 4, 5, 6]
    assert lines[2].offset == 0


def test_a_writer_still_using_the_old_file_is_heard_during_the_grace_period(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log, rotation_grace=5.0) as follower:
        old_writer = open(log, "a")  # noqa: SIM115 - kept open across the rename, like a logger
        log.rename(tmp_path / "wso2carbon.log.1")
        log.write_text("new file\n")
        assert texts(follower.poll()) == ["new file"]  # switched to the new file
        old_writer.write("late line in the old file\nand its unfinished last")
        old_writer.close()
        assert texts(follower.poll()) == ["late line in the old file"]


def test_the_old_files_last_unfinished_line_is_handed_out_when_its_grace_ends(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log, rotation_grace=0.0) as follower:
        append(log, "complete\nunfinished")
        log.rename(tmp_path / "wso2carbon.log.1")
        log.write_text("new\n")
        first = follower.poll()  # reads the old file and switches
        second = follower.poll()  # the grace (0 s) is over: the old file is finished
    assert texts(first + second) == ["complete", "new", "unfinished"]


def test_rotation_while_the_path_is_missing_keeps_reading_the_open_file(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log) as follower:
        log.rename(tmp_path / "wso2carbon.log.1")
        append(tmp_path / "wso2carbon.log.1", "still writing the renamed file\n")
        assert texts(follower.poll()) == ["still writing the renamed file"]
        assert follower.needs_polling  # its events no longer carry our file's name
        log.write_text("recreated\n")
        assert texts(follower.poll()) == ["recreated"]


def test_copytruncate_starts_again_from_zero(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log) as follower:
        append(log, "line 1\nline 2\n")
        assert texts(follower.poll()) == ["line 1", "line 2"]
        (tmp_path / "wso2carbon.log.1").write_bytes(log.read_bytes())  # logrotate copytruncate
        os.truncate(log, 0)
        append(log, "new\n")
        lines = follower.poll()
    assert lines == [LogLine("new", 0, 3, 1)]


def test_copytruncate_is_noticed_even_when_the_file_grew_past_our_offset_again(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log) as follower:
        append(log, "line 1\nline 2\n")
        assert texts(follower.poll()) == ["line 1", "line 2"]
        os.truncate(log, 0)
        append(log, "after truncation, longer than before\n")  # before we look again
        lines = follower.poll()
        append(log, "and on\n")
        lines += follower.poll()
    assert lines == [
        LogLine("after truncation, longer than before", 0, 3, 1),
        LogLine("and on", len("after truncation, longer than before\n"), 4, 1),
    ]


@BOTH_MODES
def test_no_line_lost_or_duplicated_across_rotations_while_following(tmp_path, use_inotify):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    follow = FollowThread(LogFollower(log), use_inotify=use_inotify)
    written = 0
    writer = open(log, "a", buffering=1)  # noqa: SIM115 - reopened at each rotation
    for rotation in range(12):
        for burst in range(10):
            for _ in range(25):
                writer.write(f"[2013-08-20 12:27:08,123]  INFO - Seq line {written}\n")
                written += 1
            if burst % 3 == 0:
                time.sleep(0.001)
        # log4j's way: rename, keep writing a little to the old handle, then open the new file.
        log.rename(tmp_path / f"wso2carbon.log.{rotation}")
        for _ in range(3):
            writer.write(f"[2013-08-20 12:27:08,123]  INFO - Seq line {written}\n")
            written += 1
        writer.close()
        writer = open(log, "a", buffering=1)  # noqa: SIM115
        # A follower cannot hear about a file that came and went between two of its looks (nor
        # can tail -F): let it see this one before the next rotation.
        follow.wait_for(written - 3)
    writer.write(f"[2013-08-20 12:27:08,123]  INFO - Seq line {written}\n")
    written += 1
    writer.close()
    follow.wait_for(written)
    follow.finish()
    numbers = [int(line.text.rsplit(" ", 1)[1]) for line in follow.lines]
    assert sorted(numbers) == list(range(written))  # every line once: none lost, none twice
    assert [line.line_number for line in follow.lines] == list(range(1, written + 1))


# --- long lines and memory ------------------------------------------------------------------------------

def test_a_one_megabyte_line_comes_out_whole(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    big = "ERROR - CarbonServerManager " + "x" * (1024 * 1024)
    with LogFollower(log) as follower:
        append(log, "before\n" + big[:300_000])
        assert texts(follower.poll()) == ["before"]
        append(log, big[300_000:] + "\nafter\n")
        lines = drain(follower)
    assert texts(lines) == [big, "after"]
    assert not lines[0].continues
    assert lines[1].offset == len("before\n") + len(big) + 1


def test_a_line_longer_than_the_limit_comes_in_pieces_without_splitting_characters(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    long_line = "\u00e9t\u00e9 " * 40_000  # 2-byte characters: 200 kB in UTF-8
    with LogFollower(log, chunk_bytes=4096, max_line_bytes=65_537) as follower:
        append(log, long_line + "\nnext\n")
        lines = drain(follower)
    pieces, rest = lines[:-1], lines[-1]
    assert len(pieces) >= 3
    assert all(piece.continues for piece in pieces[:-1]) and not pieces[-1].continues
    assert "".join(texts(pieces)) == long_line  # nothing lost, no U+FFFD from a cut character
    assert {piece.line_number for piece in pieces} == {1}
    assert rest == LogLine("next", len(long_line.encode()) + 1, 2, 0)
    assert [piece.offset for piece in pieces[1:]] == [
        pieces[0].offset + sum(len(p.text.encode()) for p in pieces[:i]) for i in range(1, len(pieces))
    ]


def test_memory_stays_bounded_while_following_a_large_file(tmp_path):
    """200 MB: 50 MB of log lines and 150 MB of holes (NUL bytes, no newline: over-long lines)."""
    log = tmp_path / "wso2carbon.log"
    block = "".join(
        f"TID: [0] [ESB] [2013-08-20 12:27:08,{i % 1000:03d}]  INFO "
        f"{{org.apache.axis2.clustering.tribes.TribesClusteringAgent}} -  line {i} "
        f"{{org.apache.axis2.clustering.tribes.TribesClusteringAgent}}\n"
        for i in range(6000)
    ).encode()
    megabyte = 1024 * 1024
    with open(log, "wb") as file:
        while file.tell() < 200 * megabyte:
            file.write(block[: megabyte - 100] + b"\n" * 100)  # 1 MB of lines ...
            file.seek(3 * megabyte, os.SEEK_CUR)  # ... then 3 MB of hole
        file.truncate()
    size = log.stat().st_size
    assert size >= 200 * megabyte

    tracemalloc.start()
    try:
        seen_bytes = 0
        count = 0
        with LogFollower(log, start_offset=0, max_line_bytes=megabyte) as follower:
            while batch := follower.poll():
                count += len(batch)
                seen_bytes += sum(len(line.text) + (0 if line.continues else 1) for line in batch)
            unfinished_from = follower.position
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    newlines_per_block = (block[: megabyte - 100] + b"\n" * 100).count(b"\n")
    assert count > 50 * newlines_per_block  # the lines, and the holes in 1 MB pieces
    # Everything came out but the unfinished end (the last hole has no newline): at most a piece.
    assert seen_bytes == unfinished_from
    assert 0 < size - unfinished_from <= megabyte
    assert peak < 24 * megabyte, f"peak {peak / megabyte:.1f} MB while following a {size / megabyte:.0f} MB file"


# --- following in a thread --------------------------------------------------------------------------------

@BOTH_MODES
def test_follow_yields_new_lines_quickly(tmp_path, use_inotify):
    log = tmp_path / "wso2carbon.log"
    log.write_text("old\n")
    follow = FollowThread(LogFollower(log), use_inotify=use_inotify)
    for index in range(20):
        append(log, f"line {index}\n")
        # Each line arrives while the follower keeps following (how fast: bench_logwatch's latency figures).
        follow.wait_for(index + 1, timeout=10)
    follow.finish()
    assert texts(follow.lines) == [f"line {index}" for index in range(20)]


@BOTH_MODES
def test_stop_is_prompt(tmp_path, use_inotify):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    follow = FollowThread(LogFollower(log), use_inotify=use_inotify)
    time.sleep(0.3)  # idle: blocked in its wait, which has no timeout of its own
    follow.stop.set()
    follow.thread.join(10)  # generous: without the stop the follower would wait forever
    assert not follow.thread.is_alive()
    follow.follower.close()


def test_follow_waits_for_a_folder_and_file_created_later(tmp_path):
    log = tmp_path / "node" / "repository" / "logs" / "wso2carbon.log"
    follow = FollowThread(LogFollower(log))
    time.sleep(0.1)
    log.parent.mkdir(parents=True)
    log.write_text("Starting WSO2 Carbon...\n")
    follow.wait_for(1, timeout=5)
    follow.finish()
    assert texts(follow.lines) == ["Starting WSO2 Carbon..."]


def test_an_idle_follower_does_not_poll_when_inotify_is_available(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    (tmp_path / "audit.log").write_text("")
    follower = LogFollower(log)
    polls = 0
    original_poll = follower.poll

    def counting_poll() -> list[LogLine]:
        nonlocal polls
        polls += 1
        return original_poll()

    follower.poll = counting_poll  # type: ignore[method-assign]
    with ChangeWaiter([follower], threading.Event()) as probe:
        if not probe.uses_inotify:
            pytest.skip("inotify is not available here")
    follow = FollowThread(follower)
    time.sleep(0.2)
    before = polls
    for _ in range(20):
        append(tmp_path / "audit.log", "another log in the same folder\n")  # not ours: no wake-up
    time.sleep(0.8)
    idle_polls = polls - before
    append(log, "ours\n")
    follow.wait_for(1)
    follow.finish()
    assert idle_polls == 0, f"{idle_polls} polls in 0.8 s of quiet"


def test_the_polling_fallback_backs_off_when_idle(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    stop = threading.Event()
    delays: list[float | None] = []
    original_wait = stop.wait

    def recording_wait(timeout: float | None = None) -> bool:
        delays.append(timeout)
        return original_wait(timeout)

    stop.wait = recording_wait  # type: ignore[method-assign]
    with LogFollower(log) as follower, ChangeWaiter([follower], stop, interval=0.01, use_inotify=False) as waiter:
        for _ in range(10):
            waiter.wait()
        waiter.reset_backoff()
        waiter.wait()
    # What each idle wait asked for, not how long it took: doubling up to 50 ms, short again after lines.
    assert delays == [0.01, 0.02, 0.04] + [0.05] * 7 + [0.01]


def test_a_waiter_returns_at_its_timeout(tmp_path):
    log = tmp_path / "wso2carbon.log"
    log.write_text("")
    with LogFollower(log) as follower, ChangeWaiter([follower], threading.Event()) as waiter:
        started = time.monotonic()
        waiter.wait(0.15)
        elapsed = time.monotonic() - started
    # Not before its timeout (nothing changed); the upper bound only catches a wait with no timeout.
    assert 0.14 <= elapsed < 10
