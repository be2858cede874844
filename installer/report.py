"""The installation report of one server: each step and check with its result, and the layout
it was made for; Markdown for people, JSON for tools. Secrets never get in: every text passes
through the same redaction the diffs use, with this run's passwords named explicitly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from installer.atomic import atomic_write_text
from installer.errors import Remedy
from installer.files.base import redact_passwords
from installer.plan.derive import Layout

REPORT_FORMAT = 1
PASSED = ("done", "ok")


@dataclass(frozen=True)
class ReportItem:
    """One line of the checklist: a step or a verification check."""

    name: str
    status: str  # a step: done | pending | failed | drifted | skipped; a check: ok | failed | pending
    detail: str = ""
    hint: str = ""
    kind: str = "step"  # step | check
    remedy: Remedy | None = None  # for the front end to word (the report itself keeps the hint only)

    @property
    def passed(self) -> bool:
        return self.status in PASSED


@dataclass(frozen=True)
class NodeSummary:
    name: str
    role: str
    offset: int
    member_port: int
    home: str


@dataclass(frozen=True)
class Report:
    server: str
    address: str
    plan_path: str
    plan_fingerprint: str
    created: str
    items: tuple[ReportItem, ...]
    nodes: tuple[NodeSummary, ...] = ()
    hosts_lines: tuple[str, ...] = ()
    format: int = field(default=REPORT_FORMAT)

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.passed for item in self.items)


def build_report(layout: Layout, server_name: str, items: Iterable[ReportItem], *, secrets: Sequence[str] = (),
                 created: str | None = None) -> Report:
    """The report of ``server_name``; every text is redacted (``secrets``: this run's passwords)."""
    server = layout.server(server_name)
    source = layout.plan.source

    def clean(text: str) -> str:
        return redact_passwords(text, tuple(secrets))

    return Report(
        server=server.name,
        address=server.address,
        plan_path=clean(str(source.path)),
        plan_fingerprint=source.fingerprint,
        created=created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        items=tuple(ReportItem(clean(item.name), clean(item.status), clean(item.detail), clean(item.hint), item.kind)
                    for item in items),
        nodes=tuple(NodeSummary(node.name, node.role, node.offset, node.member_port, clean(str(node.home)))
                    for node in layout.start_order(server.name)),
        hosts_lines=tuple(clean(f"{entry.address} {entry.hostname}") for entry in server.hosts_entries),
    )


def to_json(report: Report) -> str:
    document = asdict(report)
    document["ok"] = report.ok
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(report: Report) -> str:
    verdict = "all steps and checks passed" if report.ok else "not everything passed (see below)"
    lines = [
        f"# WSO2 cluster installation report: {report.server}",
        "",
        f"- server: {report.server} ({report.address})",
        f"- plan: `{report.plan_path}` (sha256 {report.plan_fingerprint[:12]})",
        f"- made: {report.created}",
        f"- result: **{verdict}**",
        "",
        "## Checklist",
        "",
        "| | item | status | details | what to do |",
        "|---|---|---|---|---|",
    ]
    for item in report.items:
        mark = "✓" if item.passed else "✗"
        lines.append(f"| {mark} | {_cell(item.name)} | {_cell(item.status)} | {_cell(item.detail)} | {_cell(item.hint)} |")
    lines += ["", "## Nodes on this server", "", "| node | role | offset | member port | home |", "|---|---|---|---|---|"]
    for node in report.nodes:
        lines.append(f"| {node.name} | {node.role} | {node.offset} | {node.member_port} | `{node.home}` |")
    lines += ["", "## Hosts block", "", "```", *report.hosts_lines, "```", ""]
    return "\n".join(lines)


def write_report(report: Report, folder: Path) -> tuple[Path, Path]:
    """``report-<server>.md`` and ``report-<server>.json`` in ``folder``, written atomically."""
    folder = Path(folder)
    markdown = folder / f"report-{report.server}.md"
    document = folder / f"report-{report.server}.json"
    atomic_write_text(markdown, to_markdown(report))
    atomic_write_text(document, to_json(report))
    return markdown, document
