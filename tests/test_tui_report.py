"""The exported report: Markdown and JSON with every step and check, and no secret in either."""

from __future__ import annotations

import json

from installer.plan.check import check_plan
from installer.report import ReportItem, build_report, to_json, to_markdown, write_report
from tests.support.build_distributions import build_all
from tests.support.plans import write_seed_plan

SECRET = "S3cret-report-pw"


def seed_layout(tmp_path):
    cluster = write_seed_plan(tmp_path, build_all(tmp_path / "dists"))
    return check_plan(cluster.plan).layout


def test_secrets_never_reach_either_format(tmp_path):
    layout = seed_layout(tmp_path)
    items = [ReportItem("configure", "done", f"wrote <password>{SECRET}</password>"),
             ReportItem("database", "failed", f"login with {SECRET} refused", hint=f"try {SECRET} again")]
    report = build_report(layout, "server-206", items, secrets=(SECRET,))
    markdown, document = to_markdown(report), to_json(report)
    assert SECRET not in markdown and SECRET not in document
    assert "********" in markdown
    parsed = json.loads(document)
    assert parsed["ok"] is False and parsed["server"] == "server-206"
    assert [item["name"] for item in parsed["items"]] == ["configure", "database"]


def test_all_passed_is_ok_and_an_unavailable_step_is_not(tmp_path):
    layout = seed_layout(tmp_path)
    passed = build_report(layout, "server-132", [ReportItem("preflight", "done"), ReportItem("hosts", "done")])
    assert passed.ok and "**all steps and checks passed**" in to_markdown(passed)
    pending = build_report(layout, "server-132", [ReportItem("preflight", "done"),
                                                  ReportItem("verify", "pending")])
    assert not pending.ok
    assert "| ✗ | verify | pending |" in to_markdown(pending)


def test_the_report_names_this_servers_nodes_and_hosts_block(tmp_path):
    layout = seed_layout(tmp_path)
    report = build_report(layout, "server-132", [ReportItem("preflight", "done")])
    markdown = to_markdown(report)
    assert "| worker3 | worker | 3 | 4001 |" in markdown
    assert "127.0.0.2 mgt.esb.wso2.com" in markdown  # workers reach the manager by its host name
    markdown_path, json_path = write_report(report, tmp_path / "out")
    assert markdown_path.read_text() == markdown and json.loads(json_path.read_text())["server"] == "server-132"
