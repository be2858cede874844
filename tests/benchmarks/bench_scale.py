"""How the cost of a plan grows with the cluster: check, derivation, apply and verify.

    python -m tests.benchmarks.bench_scale [--work DIR] [--keep] [--repeat N] [--hostile N,N,...]

Three series, each measured in this one run:

1. one server with 2, 8 and 32 workers (besides its ELB and manager);
2. a plan of 2, 8 and 16 servers, two workers each (the first also runs the ELB and the manager);
3. hostile plans for check and derivation alone: one server with thousands of nodes (more than
   its ports can hold, so the last ones are reported), and the same with a fifth of the names,
   a seventh of the offsets and an eleventh of the member ports given twice, and a third of the
   workers made managers: every node is an error to report.

For 1 and 2: ``check`` is ``check_plan`` (read the file, shape, cross-field validation, derivation,
open the zips), best of --repeat (3); ``derive`` is ``derive`` alone on the loaded plan, best of
--repeat; ``apply`` runs the extract and configure steps (``Session(..., steps=("extract",
"configure")).apply()``) on every server of the plan in turn, into fresh folders, with the fixture
distributions of ``tests.support.build_distributions`` (small zips: this measures the installer's
own work per node, not inflating); ``verify`` is ``Session.verify(record=False)`` on every server.
No database and no node runs: verify's checks run as they would before a start (no processes,
ports refused at once on loopback addresses 127.0.13.x, no logs, the database port is 9 where
nothing listens) and its drift checks re-read and re-parse every file the configure step wrote.

Each figure is printed with its growth against the smallest size, and the exponent k of
cost ~ nodes^k between the smallest and the largest (1.0: linear). Goal, reported PASS or MISS:
check and derivation grow no worse than n log n, i.e. from the smallest to the largest hostile
plan the time per n log2 n grows by at most 1.5x (a little room for a shared machine). Apply and
verify are reported, not judged. A miss is reported, not an error: the exit status is 0 whenever
the measurement itself worked.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.paths import REPO_DIR

WORKER_COUNTS = (2, 8, 32)
SERVER_COUNTS = (2, 8, 16)
HOSTILE_NODE_COUNTS = (1000, 2000, 4000, 8000, 15000)
GOAL_NLOGN_GROWTH = 1.5
APP_PASSWORD = "scale-App-Pa55"
DISCARD_PORT = 9  # nothing listens there: a connection to the "database" is refused at once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="folder for the plans and node homes (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of check and derive per size, best kept (default 3)")
    parser.add_argument("--hostile", default=",".join(map(str, HOSTILE_NODE_COUNTS)),
                        help="node counts of the hostile plans (default %(default)s)")
    args = parser.parse_args(argv)
    hostile_counts = tuple(int(part) for part in args.hostile.split(",") if part.strip())
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}; cpus {os.cpu_count()}, load {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    repeat = max(1, args.repeat)
    try:
        from tests.support.build_distributions import build_all

        distributions = build_all(work / "distributions")
        one_server = [_measure_cluster(work / f"workers-{count}", distributions, servers=1, workers_per_server=count,
                                       repeat=repeat) for count in WORKER_COUNTS]
        _report_series("1. one server: ELB, manager and N workers", "workers", WORKER_COUNTS, one_server)
        many_servers = [_measure_cluster(work / f"servers-{count}", distributions, servers=count,
                                         workers_per_server=2, repeat=repeat) for count in SERVER_COUNTS]
        _report_series("2. a plan of N servers, two workers each (the first also ELB and manager)", "servers",
                       SERVER_COUNTS, many_servers)
        hostile = [_measure_hostile(work / "hostile", count, repeat) for count in hostile_counts]
        _report_hostile(hostile)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(this benchmark process peaked at {peak:.1f} MB)")
    return 0


# --- plans ------------------------------------------------------------------------------------------------

def _server_address(index: int) -> str:
    return f"127.0.13.{index + 1}"


def write_plan(root: Path, distributions: dict[str, Path], *, servers: int, workers_per_server: int) -> Path:
    """The seed plan with ``servers`` servers on loopback addresses, the first running the ELB and
    the manager, each ``workers_per_server`` workers; homes and hosts files under ``root``."""
    data = yaml.safe_load((REPO_DIR / "assets" / "examples" / "seed.yaml").read_text())
    data["cluster"]["elb_ports"] = {"http": 8280, "https": 8243}
    data["distributions"] = {key: str(path) for key, path in distributions.items()}
    data["database"].update(address=_server_address(0), port=DISCARD_PORT, server="server-0")
    data["servers"] = []
    worker = 0
    for index in range(servers):
        name = f"server-{index}"
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "hosts").write_text(f"127.0.0.1\tlocalhost\n# {name}'s own line\n")
        nodes = [{"name": "elb", "role": "elb"}, {"name": "manager", "role": "manager"}] if index == 0 else []
        for _ in range(workers_per_server):
            worker += 1
            nodes.append({"name": f"worker{worker}", "role": "worker"})
        data["servers"].append({"name": name, "address": _server_address(index), "install_dir": str(folder / "wso2"),
                                "hosts_file": str(folder / "hosts"), "nodes": nodes})
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return plan


def write_hostile_plan(path: Path, nodes: int, *, duplicates: bool) -> Path:
    """One server with ``nodes`` nodes (an ELB, a manager, workers); with ``duplicates``, names,
    offsets and member ports given twice and a third of the workers made managers."""
    data = yaml.safe_load((REPO_DIR / "assets" / "examples" / "seed.yaml").read_text())
    data["cluster"]["elb_ports"] = {"http": 8280, "https": 8243}
    data["database"].update(address=_server_address(0), port=DISCARD_PORT, server="server-0")
    entries = []
    for index in range(nodes):
        role = "elb" if index == 0 else "manager" if index == 1 else "worker"
        entry: dict[str, object] = {"name": f"n{index}", "role": role}
        if duplicates and index > 1:
            if index % 3 == 0:
                entry["role"] = "manager"
            if index % 5 == 0:
                entry["name"] = "twice"
            if index % 7 == 0:
                entry["offset"] = 5
            if index % 11 == 0:
                entry["member_port"] = 4001
        entries.append(entry)
    data["servers"] = [{"name": "server-0", "address": _server_address(0), "install_dir": "/opt/wso2", "nodes": entries}]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Flow style per node, as people write them: one line each.
    text = yaml.safe_dump({key: value for key, value in data.items() if key != "servers"}, sort_keys=False)
    lines = ["servers:", "  - name: server-0", f"    address: {_server_address(0)}", "    install_dir: /opt/wso2",
             "    nodes:"]
    lines += [f"      - {yaml.safe_dump(entry, default_flow_style=True).strip()}" for entry in entries]
    path.write_text(text + "\n".join(lines) + "\n")
    return path


# --- measuring --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterFigures:
    nodes: int
    servers: int
    check: float
    derive: float
    apply: float  # every server of the plan, in turn
    verify: float  # every server of the plan, in turn
    verify_checks: int
    failed_steps: tuple[str, ...]


def _best(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def _measure_cluster(root: Path, distributions: dict[str, Path], *, servers: int, workers_per_server: int,
                     repeat: int) -> ClusterFigures:
    from installer.plan.check import check_plan
    from installer.plan.derive import derive
    from installer.secrets import Secrets
    from installer.session import Session

    plan_path = write_plan(root, distributions, servers=servers, workers_per_server=workers_per_server)
    check_seconds, checked = _best(lambda: check_plan(plan_path), repeat)
    derive_seconds, _layout = _best(lambda: derive(checked.plan), repeat)  # type: ignore[union-attr]
    secrets = Secrets(db_password=APP_PASSWORD)
    failed: list[str] = []
    started = time.perf_counter()
    for server in checked.layout.servers:  # type: ignore[union-attr]
        session = Session(checked, server.name, secrets=secrets, steps=("extract", "configure"))  # type: ignore[arg-type]
        for outcome in session.apply():
            if outcome.status.value != "done":
                failed.append(f"{server.name}: {outcome.name} {outcome.status.value}")
    apply_seconds = time.perf_counter() - started
    started = time.perf_counter()
    checks = 0
    for server in checked.layout.servers:  # type: ignore[union-attr]
        report = Session(checked, server.name, secrets=secrets).verify(record=False)  # type: ignore[arg-type]
        checks += len(report.checks)
    verify_seconds = time.perf_counter() - started
    return ClusterFigures(len(checked.layout.nodes), servers, check_seconds, derive_seconds,  # type: ignore[union-attr]
                          apply_seconds, verify_seconds, checks, tuple(failed))


@dataclass(frozen=True)
class HostileFigures:
    nodes: int
    clean_seconds: float
    clean_problems: int
    hostile_seconds: float
    hostile_problems: int


def _measure_hostile(folder: Path, nodes: int, repeat: int) -> HostileFigures:
    from installer.plan.check import check_parsed
    from installer.plan.model import load_plan_file

    figures = []
    for duplicates in (False, True):
        path = write_hostile_plan(folder / f"{'hostile' if duplicates else 'big'}-{nodes}.yaml", nodes,
                                  duplicates=duplicates)

        def check(path: Path = path) -> int:
            plan, problems = load_plan_file(path)
            _layout, problems = check_parsed(plan, problems, check_files=False, is_root=True)
            return len(problems)

        seconds, problems = _best(check, repeat)
        figures += [seconds, problems]
    return HostileFigures(nodes, *figures)  # type: ignore[arg-type]


# --- report -----------------------------------------------------------------------------------------------

def _exponent(small: tuple[int, float], large: tuple[int, float]) -> float:
    """k in cost ~ n^k between two sizes."""
    if small[1] <= 0 or large[0] == small[0]:
        return float("nan")
    return math.log(large[1] / small[1]) / math.log(large[0] / small[0])


def _report_series(title: str, unit: str, counts: tuple[int, ...], figures: list[ClusterFigures]) -> None:
    print()
    print(title)
    print(f"  {unit:>7} {'nodes':>5} | {'check':>9} {'derive':>9} | {'apply':>9} {'verify':>9}  (verify checks)")
    first = figures[0]
    for count, row in zip(counts, figures, strict=True):
        print(f"  {count:>7} {row.nodes:>5} | {row.check * 1000:7.1f}ms {row.derive * 1000:7.2f}ms | "
              f"{row.apply:8.2f}s {row.verify:8.2f}s  ({row.verify_checks})")
        if row.failed_steps:
            print(f"          steps not done: {'; '.join(row.failed_steps)}")
    print(f"  growth from {first.nodes} to {figures[-1].nodes} nodes ({figures[-1].nodes / first.nodes:.1f}x):")
    for label, pick in (("check", lambda row: row.check), ("derive", lambda row: row.derive),
                        ("apply", lambda row: row.apply), ("verify", lambda row: row.verify)):
        growth = [pick(row) / pick(first) for row in figures]
        exponent = _exponent((first.nodes, pick(first)), (figures[-1].nodes, pick(figures[-1])))
        per_node = [pick(row) / row.nodes * 1000 for row in figures]
        print(f"    {label:7}: {' -> '.join(f'{value:.1f}x' for value in growth)}   k = {exponent:.2f}   "
              f"per node {' -> '.join(f'{value:.2f}' for value in per_node)} ms")


def _report_hostile(figures: list[HostileFigures]) -> None:
    if not figures:
        return
    print()
    print("3. hostile plans, one server: read + shape + validate + derive (no files), best of runs")
    print(f"  {'nodes':>6} | {'clean':>8} {'problems':>8} | {'hostile':>8} {'problems':>8} | per n log2 n (us): clean, hostile")
    for row in figures:
        nlogn = row.nodes * math.log2(row.nodes)
        print(f"  {row.nodes:>6} | {row.clean_seconds:7.2f}s {row.clean_problems:>8} | {row.hostile_seconds:7.2f}s "
              f"{row.hostile_problems:>8} | {row.clean_seconds / nlogn * 1e6:.3f}, {row.hostile_seconds / nlogn * 1e6:.3f}")
    first, last = figures[0], figures[-1]
    for label, pick in (("clean", lambda row: row.clean_seconds), ("hostile", lambda row: row.hostile_seconds)):
        exponent = _exponent((first.nodes, pick(first)), (last.nodes, pick(last)))
        nlogn_growth = (pick(last) / (last.nodes * math.log2(last.nodes))) / (
            pick(first) / (first.nodes * math.log2(first.nodes)))
        verdict = "PASS" if nlogn_growth <= GOAL_NLOGN_GROWTH else "MISS"
        print(f"  {label:7}: {first.nodes} -> {last.nodes} nodes: {pick(last) / pick(first):.1f}x time, k = {exponent:.2f}; "
              f"time per n log n grew {nlogn_growth:.2f}x (goal <= {GOAL_NLOGN_GROWTH}x)  {verdict}")


if __name__ == "__main__":
    sys.exit(main())
