"""How fast and how cheaply we follow a log: ``LogFollower`` against ``tail -F | grep``.

    python -m tests.benchmarks.bench_logwatch [--lines N] [--idle SECONDS] [--big-mb MB] [--repeat N]
                                              [--work DIR] [--keep]

Three measurements, each with both sides on the same file in the same run:

1. latency: one child process follows the log the way the installer watches the ELB: with
   ``LogFollower.follow`` and the ELB's ``LineFilter`` (every ELB milestone, the cross-node
   milestone "the ELB sees worker1 join" and every failure signature, from
   ``assets/expectations.yaml``), matching each line it is handed against all of them and printing
   the joins; beside it, ``tail -n0 -F FILE | grep --line-buffered -E PATTERN``. The parent
   appends N matching lines at random intervals (5-40 ms, with non-matching lines between) and
   times each from just before its ``write`` to its arrival on each side's stdout.
2. idle CPU: both sides keep following the now quiet log for SECONDS; the CPU time each process
   uses in that window is read from ``/proc/PID/task/*/schedstat`` (nanoseconds).
3. a large log from its start: a child follows a generated MB-megabyte log (Carbon's file layout)
   from offset 0 until the matching line at its end, against ``tail -n +1 -F FILE | grep -m1``,
   alternately, N times each; wall time, and peak memory (the child's own VmHWM, and ru_maxrss
   from ``wait4``). Once each, for reference: the follower parsing every line and matching one
   milestone (the installer before line filters), and one regex search per line ("raw").

Goals, each reported PASS or MISS: p99 latency <= 50 ms; idle CPU no more than ``tail -F``'s;
the large log from its start in at most 2x the time of ``tail | grep`` (medians); peak memory
following it < 100 MB. A miss is reported, not an error: the exit status is 0 whenever the
measurement itself worked.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.paths import REPO_DIR

GOAL_P99_MS = 50.0
GOAL_PEAK_MB = 100.0
GOAL_CATCH_UP_RATIO = 2.0
WORKER_HOST = "127.0.0.3"
WORKER_MEMBER_PORT = 4000
DOMAIN = "wso2.esb.domain"
# The ELB of the seed's layout: the node whose log shows the join (launch.node_values' keys).
ELB_VALUES = {"node": "elb", "domain": "wso2.carbon.lb.domain", "member_host": "127.0.0.2", "member_port": 4000,
              "offset": 0, "servlet_http_port": 9763, "servlet_https_port": 9443,
              "transport_http_port": 80, "transport_https_port": 443}
CHILD_MODES = ("ours", "per-line", "raw")
QUALIFIED_JOIN_LOGGER = "org.apache.axis2.clustering.management.DefaultGroupManagementAgent"
# The same milestone for grep, in ERE (grep does not know Python's \s or lazy quantifiers).
GREP_PATTERN = (
    r"Application member Host: ?127\.0\.0\.3, .*Port: ?4000, .*Domain: ?wso2\.esb\.domain, "
    r"Sub-domain: ?worker, Active: ?true joined application cluster"
)


def join_line(seq: int) -> str:
    return (
        f"TID: [0] [ELB] [2013-08-20 12:27:08,123]  INFO {{{QUALIFIED_JOIN_LOGGER}}} -  Application member "
        f"Host:{WORKER_HOST}, Remote Host:null, Port: {WORKER_MEMBER_PORT}, HTTP:8280, HTTPS:8243, "
        f"Domain: {DOMAIN}, Sub-domain:worker, Active:true joined application cluster seq={seq} "
        f"{{{QUALIFIED_JOIN_LOGGER}}}\n"
    )


def filler_line(seq: int) -> str:
    return (
        f"TID: [0] [ELB] [2013-08-20 12:27:08,123]  INFO {{org.apache.synapse.mediators.builtin.LogMediator}} -  "
        f"To: /services/echo, MessageID: urn:uuid:{seq:08d}-0000-4000-8000-000000000000, Direction: request "
        f"{{org.apache.synapse.mediators.builtin.LogMediator}}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_logwatch",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=500, help="matching lines timed (default 500)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of quiet log for the CPU test (default 10)")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the large log in MB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side on the large log, alternating (default 3)")
    parser.add_argument("--work", type=Path, help="folder for the logs (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument("--child-follow", metavar="FILE", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--from-start", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--exit-on-match", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=CHILD_MODES, default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_follow:
        return _child_follow(args.child_follow, from_start=args.from_start, exit_on_match=args.exit_on_match,
                             mode=args.mode)

    tail, grep = shutil.which("tail"), shutil.which("grep")
    if tail is None or grep is None:
        print("tail and grep are needed for the baseline (coreutils, grep).")
        return 2
    if not Path("/proc/self/task").is_dir():
        print("/proc is needed to read the CPU time of the followers.")
        return 2
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="bench-logwatch-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}; cpus {os.cpu_count()}, load {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    try:
        latency_and_idle = _latency_and_idle(work / "latency.log", tail, grep, args.lines, args.idle)
        big = _large_log(work / "big.log", tail, grep, args.big_mb, max(1, args.repeat))
    finally:
        if not args.keep:
            for name in ("latency.log", "big.log"):
                (work / name).unlink(missing_ok=True)
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
    _report(latency_and_idle, big, args)
    return 0


# --- 1 and 2: latency, then idle CPU --------------------------------------------------------------------

@dataclass
class Side:
    name: str
    processes: list[subprocess.Popen]
    output: subprocess.Popen  # the process whose stdout carries the matches
    arrivals: dict[int, float] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.output.stdout is not None
        for raw in self.output.stdout:
            now = time.perf_counter()
            text = raw.decode(errors="replace")
            found = re.search(r"seq=(-?\d+)", text)
            if found:
                self.arrivals.setdefault(int(found.group(1)), now)
                self.ready.set()

    def cpu_ns(self) -> int:
        return sum(_process_cpu_ns(process.pid) for process in self.processes)


@dataclass(frozen=True)
class LatencyResult:
    latencies_ms: dict[str, list[float]]
    missing: dict[str, int]
    active_cpu_ms: dict[str, float]
    idle_cpu_ms: dict[str, float]
    idle_seconds: float


def _latency_and_idle(log: Path, tail: str, grep: str, line_count: int, idle_seconds: float) -> LatencyResult:
    log.write_text(filler_line(0) * 100)
    ours_process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.bench_logwatch", "--child-follow", str(log)],
        cwd=REPO_DIR, stdout=subprocess.PIPE)
    tail_process = subprocess.Popen([tail, "-n0", "-F", str(log)], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
    grep_process = subprocess.Popen([grep, "--line-buffered", "-E", GREP_PATTERN], stdin=tail_process.stdout,
                                    stdout=subprocess.PIPE)
    assert tail_process.stdout is not None
    tail_process.stdout.close()  # grep holds it now; tail gets SIGPIPE when grep is gone
    sides = [Side("ours", [ours_process], ours_process), Side("tail|grep", [tail_process, grep_process], grep_process)]
    readers = [threading.Thread(target=side.read, daemon=True) for side in sides]
    for reader in readers:
        reader.start()
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        # Warm-up: both must be following before anything is timed (tail -n0 misses earlier lines).
        deadline = time.monotonic() + 30
        while not all(side.ready.is_set() for side in sides):
            if time.monotonic() > deadline:
                raise SystemExit("a follower did not start within 30 s")
            os.write(descriptor, join_line(-1).encode())
            time.sleep(0.1)
        time.sleep(0.5)
        written: dict[int, float] = {}
        cpu_before = {side.name: side.cpu_ns() for side in sides}
        generator = random.Random(4000)
        filler = 0
        for seq in range(line_count):
            for _ in range(generator.randint(0, 3)):
                filler += 1
                os.write(descriptor, filler_line(filler).encode())
            time.sleep(generator.uniform(0.005, 0.040))
            data = join_line(seq).encode()
            written[seq] = time.perf_counter()
            os.write(descriptor, data)
        time.sleep(1.0)  # the last lines arrive
        active_cpu = {side.name: (side.cpu_ns() - cpu_before[side.name]) / 1e6 for side in sides}
        # 2: nothing more is written; how much CPU does following a quiet log cost?
        time.sleep(1.0)
        idle_before = {side.name: side.cpu_ns() for side in sides}
        tail_before = _process_cpu_ns(tail_process.pid)
        time.sleep(idle_seconds)
        idle_cpu = {side.name: (side.cpu_ns() - idle_before[side.name]) / 1e6 for side in sides}
        idle_cpu["tail"] = (_process_cpu_ns(tail_process.pid) - tail_before) / 1e6  # tail alone: the goal
    finally:
        os.close(descriptor)
    latencies = {
        side.name: [(side.arrivals[seq] - written[seq]) * 1000 for seq in written if seq in side.arrivals]
        for side in sides
    }
    missing = {side.name: sum(seq not in side.arrivals for seq in written) for side in sides}
    ours_process.send_signal(signal.SIGTERM)
    tail_process.terminate()
    for process in (ours_process, tail_process, grep_process):
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for reader in readers:
        reader.join(5)
    return LatencyResult(latencies, missing, active_cpu, idle_cpu, idle_seconds)


def _process_cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in nanoseconds (schedstat: exact, unlike ticks)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        except FileNotFoundError:  # a thread that just ended
            pass
    return total


# --- 3: a large log from its start ----------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    seconds: float
    cpu_seconds: float
    peak_mb: float  # ru_maxrss from wait4 (an upper bound: see README)
    own_peak_mb: float | None = None  # VmHWM the child read itself just before exiting


@dataclass(frozen=True)
class LargeLogResult:
    size_mb: float
    lines: int
    ours: list[RunResult]
    baseline: list[RunResult]
    per_line: RunResult  # every line parsed, one milestone matched: the installer before filters
    raw: RunResult  # the follower with one regex search per line, as grep does
    baseline_peaks_mb: tuple[float, float]  # tail, grep (largest)

    @staticmethod
    def median_seconds(runs: list[RunResult]) -> float:
        return statistics.median(run.seconds for run in runs)


def _large_log(log: Path, tail: str, grep: str, size_mb: int, repeat: int) -> LargeLogResult:
    started = time.perf_counter()
    lines = _write_large_log(log, size_mb * 1024 * 1024)
    size = log.stat().st_size
    print(f"generated {log.name}: {size / 2**20:.0f} MB, {lines} lines in {time.perf_counter() - started:.1f} s")
    with open(log, "rb") as handle:  # into the page cache, for both sides alike
        while handle.read(16 * 2**20):
            pass

    ours: list[RunResult] = []
    baseline: list[RunResult] = []
    peaks = (0.0, 0.0)
    for round_index in range(repeat):
        # Alternate which side goes first: a shared machine's load drifts.
        for side in (("baseline", "ours") if round_index % 2 == 0 else ("ours", "baseline")):
            if side == "ours":
                ours.append(_run_our_child(log))
            else:
                run, (tail_peak, grep_peak) = _run_baseline(log, tail, grep)
                baseline.append(run)
                peaks = (max(peaks[0], tail_peak), max(peaks[1], grep_peak))
    per_line = _run_our_child(log, "--mode", "per-line")
    raw = _run_our_child(log, "--mode", "raw")
    return LargeLogResult(size / 2**20, lines, ours, baseline, per_line, raw, peaks)


def _run_baseline(log: Path, tail: str, grep: str) -> tuple[RunResult, tuple[float, float]]:
    started = time.perf_counter()
    tail_process = subprocess.Popen([tail, "-n", "+1", "-F", str(log)], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
    grep_process = subprocess.Popen([grep, "-m1", "-E", GREP_PATTERN], stdin=tail_process.stdout,
                                    stdout=subprocess.DEVNULL)
    assert tail_process.stdout is not None
    tail_process.stdout.close()
    _pid, status, grep_usage = os.wait4(grep_process.pid, 0)
    grep_process.returncode = os.waitstatus_to_exitcode(status)
    baseline_seconds = time.perf_counter() - started
    tail_process.terminate()  # tail -F never ends by itself
    _pid, _status, tail_usage = os.wait4(tail_process.pid, 0)
    tail_process.returncode = 0
    if grep_process.returncode != 0:
        raise SystemExit(f"grep did not find the last line (status {grep_process.returncode})")
    baseline = RunResult(
        baseline_seconds,
        sum(usage.ru_utime + usage.ru_stime for usage in (grep_usage, tail_usage)),
        max(grep_usage.ru_maxrss, tail_usage.ru_maxrss) / 1024,
    )
    return baseline, (tail_usage.ru_maxrss / 1024, grep_usage.ru_maxrss / 1024)


def _run_our_child(log: Path, *extra: str) -> RunResult:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.bench_logwatch", "--child-follow", str(log),
         "--from-start", "--exit-on-match", *extra], cwd=REPO_DIR, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0 or "seq=999999999" not in output:
        raise SystemExit(f"our follower did not find the last line (status {process.returncode})")
    own_peak = re.search(r"VmHWM_KB=(\d+)", output)
    return RunResult(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                     int(own_peak.group(1)) / 1024 if own_peak else None)


def _write_large_log(path: Path, size: int) -> int:
    """Carbon-like lines (file layout), about 1 MB at a time, then the one matching line."""
    loggers = ["org.apache.synapse.mediators.builtin.LogMediator",
               "org.apache.axis2.clustering.tribes.TribesMembershipListener",
               "org.wso2.carbon.core.deployment.DeploymentInterceptor"]
    block_lines = [
        f"TID: [0] [ESB] [2013-08-20 12:{(i // 60) % 60:02d}:{i % 60:02d},{i % 1000:03d}]  INFO "
        f"{{{loggers[i % 3]}}} -  Deploying service {i} of the synapse configuration {{{loggers[i % 3]}}}\n"
        for i in range(6000)
    ]
    block = "".join(block_lines).encode()
    lines = 0
    with open(path, "wb") as file:
        while file.tell() + len(block) < size:
            file.write(block)
            lines += len(block_lines)
        file.write(join_line(999_999_999).encode())
    return lines + 1


# --- the child: our follower -------------------------------------------------------------------------------

def _child_follow(path: Path, *, from_start: bool, exit_on_match: bool, mode: str = "ours") -> int:
    from collections.abc import Callable

    from installer.expectations import (
        MilestoneWatch,
        cross_node_expectations,
        default_expectations,
        expectations_for,
        parse_line,
    )
    from installer.logwatch import LineFilter, LogFollower

    # The milestone the installer waits for on the ELB: worker1 joined as a worker.
    [milestone] = [m for m in cross_node_expectations({
        "domain": DOMAIN, "elb_node": "elb", "manager_node": "manager", "managers": [],
        "workers": [{"member_node": "worker1", "member_host": WORKER_HOST, "member_port": WORKER_MEMBER_PORT}],
    }) if m.observer == "elb"]
    only: LineFilter | None = None
    matches: Callable[[str], bool]
    if mode == "ours":
        # What a MilestoneWatch of the ELB does: read with its filter (every ELB milestone, the
        # join, every failure signature), then match each line it is handed against all of them.
        # Stateless here, so that every join line is reported (the latency test needs them all).
        elb_milestones = expectations_for("elb", ELB_VALUES)
        catalog = default_expectations().failure_catalog(ELB_VALUES)
        watch = MilestoneWatch()
        watch.add_node("elb", milestones=elb_milestones, values=ELB_VALUES)
        watch.add_cross_node([milestone])
        only = watch.line_filter("elb")

        def matches(text: str) -> bool:
            parsed = parse_line(text)
            for other in elb_milestones:
                other.matches(parsed)
            catalog.match(parsed)
            return milestone.matches(parsed)
    elif mode == "per-line":
        # The installer before line filters: parse the layout of every line, match the milestone.
        def matches(text: str) -> bool:
            return milestone.matches(parse_line(text))
    else:
        raw_pattern = re.compile(GREP_PATTERN)

        def matches(text: str) -> bool:  # one search per line, as grep does
            return raw_pattern.search(text) is not None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out = sys.stdout
    with LogFollower(path, start_offset=0 if from_start else None) as follower:
        for line in follower.follow(stop, only=only):
            if matches(line.text):
                out.write(line.text + "\n")
                out.flush()
                if exit_on_match:
                    break
    with open("/proc/self/status") as status:
        peak = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    out.write(f"VmHWM_KB={peak.group(1) if peak else 0}\n")
    out.flush()
    return 0


# --- report ------------------------------------------------------------------------------------------------

def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def _report(result: LatencyResult, big: LargeLogResult, args: argparse.Namespace) -> None:
    print()
    print(f"1. latency, write -> match, {args.lines} lines at random 5-40 ms intervals (same file, same run)")
    summary = {}
    for name, latencies in result.latencies_ms.items():
        p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
        summary[name] = (p50, p99)
        print(f"  {name:9}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(latencies):6.2f} ms"
              f"  ({result.missing[name]} missing)  cpu while active {result.active_cpu_ms[name]:7.1f} ms")
    ours_p50, ours_p99 = summary["ours"]
    base_p50, base_p99 = summary["tail|grep"]
    print(f"  ratio ours/tail|grep: p50 {ours_p50 / base_p50:.2f}x, p99 {ours_p99 / base_p99:.2f}x")
    print(f"  p99 {ours_p99:.2f} ms (goal <= {GOAL_P99_MS:.0f} ms)  "
          f"{_verdict(ours_p99 <= GOAL_P99_MS and result.missing['ours'] == 0)}")

    print()
    print(f"2. CPU while following a quiet log for {result.idle_seconds:.0f} s (schedstat, all threads)")
    ours_idle = result.idle_cpu_ms["ours"]
    tail_idle = result.idle_cpu_ms["tail"]
    print(f"  ours     : {ours_idle * 1000:9.1f} us")
    print(f"  tail -F  : {tail_idle * 1000:9.1f} us   (tail|grep: {result.idle_cpu_ms['tail|grep'] * 1000:.1f} us)")
    ratio = "n/a (both 0)" if ours_idle == tail_idle == 0 else (
        "inf" if tail_idle == 0 else f"{ours_idle / tail_idle:.2f}x")
    print(f"  ratio ours/tail -F: {ratio}")
    print(f"  ours <= tail -F  {_verdict(ours_idle <= tail_idle)}")

    print()
    print(f"3. following a {big.size_mb:.0f} MB log ({big.lines} lines) from its start to its last line, "
          f"{len(big.ours)} runs each, alternating")
    print(f"  tail|grep: {', '.join(f'{run.seconds:.2f}' for run in big.baseline)} s "
          f"(cpu {', '.join(f'{run.cpu_seconds:.2f}' for run in big.baseline)} s), "
          f"peak tail {big.baseline_peaks_mb[0]:.1f} MB, grep {big.baseline_peaks_mb[1]:.1f} MB")
    print(f"  ours     : {', '.join(f'{run.seconds:.2f}' for run in big.ours)} s "
          f"(cpu {', '.join(f'{run.cpu_seconds:.2f}' for run in big.ours)} s)")
    for label, run in (("ours, best", min(big.ours, key=lambda run: run.seconds)), ("per line", big.per_line),
                       ("raw", big.raw)):
        own = f"{run.own_peak_mb:.1f} MB" if run.own_peak_mb is not None else "n/a"
        print(f"  {label:10}: {run.seconds:6.2f} s (cpu {run.cpu_seconds:5.2f} s), peak {own} "
              f"(VmHWM; ru_maxrss {run.peak_mb:.1f} MB), {big.size_mb / run.seconds:.0f} MB/s")
    print("  (ours: the ELB's line filter, every line it keeps matched against every ELB milestone, the")
    print("   join and every failure signature; per line: every line parsed, the join matched (before);")
    print("   raw: one regex search per line)")
    baseline = big.median_seconds(big.baseline)
    ratio = big.median_seconds(big.ours) / baseline
    print(f"  ratio ours/tail|grep (medians): {ratio:.2f}x time; per line {big.per_line.seconds / baseline:.2f}x, "
          f"raw {big.raw.seconds / baseline:.2f}x")
    print(f"  ratio {ratio:.2f}x (goal <= {GOAL_CATCH_UP_RATIO:.1f}x)  {_verdict(ratio <= GOAL_CATCH_UP_RATIO)}")
    peak = max(run.peak_mb for run in (*big.ours, big.per_line, big.raw))
    print(f"  peak memory {peak:.1f} MB (goal < {GOAL_PEAK_MB:.0f} MB)  {_verdict(peak < GOAL_PEAK_MB)}")
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  (this benchmark process peaked at {own_peak:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
