"""Validation and derivation of large and hostile plans: the indexes that keep them from growing
quadratically report exactly what the scans they replaced did (timing is the benchmark's:
tests/benchmarks/bench_scale.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from installer.plan import check
from installer.plan.check import validate
from installer.plan.derive import derive
from installer.plan.model import KeyPath, Plan, parse_plan
from tests.paths import REPO_DIR

SEED_PLAN = REPO_DIR / "assets" / "examples" / "seed.yaml"


def hostile_plan_text(nodes: int, servers: int = 3) -> str:
    """Duplicate names (within and across servers), pinned offsets and member ports given twice,
    extra ELBs and managers, a pinned offset past the port range, and hosts that need two
    addresses on several servers."""
    data = yaml.safe_load(SEED_PLAN.read_text())
    data["servers"] = []
    index = 0
    for server in range(servers):
        entries = []
        for _ in range(nodes // servers):
            role = "elb" if index in (0, 7) else "manager" if index % 9 == 1 else "worker"
            entry: dict[str, object] = {"name": "twice" if index % 5 == 4 else f"node{index}", "role": role}
            if index % 6 == 5:
                entry["offset"] = 3
            if index % 8 == 3:
                entry["member_port"] = 4002
            if index == 13:
                entry["offset"] = 60000
            entries.append(entry)
            index += 1
        data["servers"].append({"name": "server-a" if server == 2 else f"server-{server}",
                                "address": f"192.0.2.{server + 1}", "install_dir": "/opt/wso2", "nodes": entries})
    data["servers"].append({"name": "server-a", "address": "192.0.2.99", "install_dir": "/opt/wso2",
                            "nodes": [{"name": "node1", "role": "worker"}]})
    return yaml.safe_dump(data, sort_keys=False)


def scanning_node_path(plan: Plan):
    """The search every problem used to make: the first node of that name, in plan order."""
    def node_path(node_name: str | None, key: str | None = None) -> KeyPath:
        for server_index, server in enumerate(plan.servers):
            for node_index, node in enumerate(server.nodes):
                if node.name == node_name:
                    base: KeyPath = ("servers", server_index, "nodes", node_index)
                    return (*base, key) if key else base
        return ("servers",)
    return node_path


def problems_of(text: str, tmp_path: Path, *, scanning: bool, monkeypatch: pytest.MonkeyPatch) -> list:
    plan, problems = parse_plan(text, tmp_path / "plan.yaml")
    assert plan is not None
    with monkeypatch.context() as patch:
        if scanning:
            patch.setattr(check, "_NodePaths", scanning_node_path)
        _layout, more = validate(plan, check_files=False, is_root=True)
    return [(problem.line, problem.path, problem.message, problem.severity) for problem in problems + more]


@pytest.mark.parametrize("nodes", [30, 600])
def test_a_hostile_plan_gets_the_same_problems_as_with_a_search_per_problem(tmp_path, monkeypatch, nodes):
    text = hostile_plan_text(nodes)
    indexed = problems_of(text, tmp_path, scanning=False, monkeypatch=monkeypatch)
    scanned = problems_of(text, tmp_path, scanning=True, monkeypatch=monkeypatch)
    assert indexed == scanned
    messages = " ".join(message for _, _, message, _ in indexed)
    for kind in ("is already used on", "a second ELB", "a second manager", "is already used by", "above 65535",
                 "server name 'server-a' is already used"):
        assert kind in messages, kind


def test_a_problem_about_a_duplicated_name_points_at_its_first_node(tmp_path, monkeypatch):
    text = SEED_PLAN.read_text().replace("{name: worker3, role: worker, offset: 3}",
                                         "{name: worker2, role: manager, offset: 3}")
    problems = problems_of(text, tmp_path, scanning=False, monkeypatch=monkeypatch)
    paths = {message.split(";")[0]: path for _, path, message, _ in problems}
    assert paths["node name 'worker2' is already used on server-206"] == "servers[1].nodes[1].name"
    # The second manager is the second worker2: its problem is shown at the first worker2's line.
    assert paths["a second manager (worker2)"] == "servers[0].nodes[2].role"


def test_layout_lookups_answer_as_the_scans_did(tmp_path):
    text = hostile_plan_text(30)
    plan, _problems = parse_plan(text, tmp_path / "plan.yaml")
    layout = derive(plan)
    every_node = tuple(node for server in layout.servers for node in server.nodes)
    assert layout.nodes == every_node
    assert layout.node("twice") is next(node for node in every_node if node.name == "twice")
    assert layout.node("node1") is next(node for node in every_node if node.name == "node1")
    assert layout.server("server-a") is next(server for server in layout.servers if server.name == "server-a")
    for role in ("elb", "manager", "worker", "nobody"):
        assert layout.nodes_with_role(role) == tuple(node for node in every_node if node.role == role)
    assert layout.elb is layout.nodes_with_role("elb")[0]
    with pytest.raises(KeyError):
        layout.node("missing")
    with pytest.raises(KeyError):
        layout.server("missing")
