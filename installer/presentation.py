"""Rich renderables shared by both front ends: a plan's derived layout (the CLI's ``plan check``
prints it, the wizard's Review shows it) and a node's log lines (``logs`` on a terminal, the
wizard's Launch panes): the same wherever an operator looks, and readable at 80 columns."""

from __future__ import annotations

import re

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from installer.plan.derive import Layout


class FitWidth:
    """The first of ``choices`` whose natural width fits the width it is given, else the last (which
    folds what does not fit rather than cutting it): the layout reads the same at 200 columns as
    before, and at 80 (the wizard's Review, a narrow terminal) it has fewer, taller columns."""

    def __init__(self, *choices: RenderableType) -> None:
        if not choices:
            raise ValueError("FitWidth needs at least one renderable")
        self.choices = choices

    def choose(self, console: Console, options: ConsoleOptions) -> RenderableType:
        for choice in self.choices[:-1]:
            if Measurement.get(console, options.update_width(UNBOUNDED_WIDTH), choice).maximum <= options.max_width:
                return choice
        return self.choices[-1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.choose(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.choose(console, options))


UNBOUNDED_WIDTH = 10_000  # "as wide as it likes", to measure a renderable's natural width


def layout_tables(layout: Layout) -> list[RenderableType]:
    """Per server its nodes and hosts block, then the manager's port mapping and databases and the
    deployment synchronisation. Every value is shown whole at any width: a table too wide for the
    screen folds its cells onto more lines (never "…")."""
    tables: list[RenderableType] = []
    for server in layout.servers:
        # (The narrow table has no bottom edge: a blank line after it, as after the others.)
        tables.append(FitWidth(nodes_table(layout, server.name),
                               Padding(nodes_table(layout, server.name, narrow=True), (0, 0, 1, 0))))
        hosts = Table(title=escape(f"{server.name}: {server.hosts_file} block"), title_justify="left",
                      box=box.SIMPLE_HEAD)
        for column in ("address", "host name", "why"):
            hosts.add_column(column, overflow="fold")
        for entry in server.hosts_entries:
            hosts.add_row(Text(entry.address), Text(entry.hostname), Text(entry.reason))
        tables.append(hosts)
    manager = layout.manager
    if manager is not None:
        mapping = Table(title="manager port mapping and databases", title_justify="left", box=box.SIMPLE_HEAD)
        mapping.add_column("what", overflow="fold")
        mapping.add_column("value", overflow="fold")
        for elb_port, target in manager.port_mapping:
            mapping.add_row(f"port.mapping.{elb_port}", str(target))
        for database in layout.databases:
            mapping.add_row(Text(database.name), Text(f"{database.purpose} ({', '.join(database.nodes)})"))
        mapping.add_row("registry cacheId", Text(layout.registry_cache_id))
        tables.append(mapping)
    if any(node.is_esb for node in layout.nodes):
        tables.append(deployment_sync_table(layout))
    return tables


def nodes_table(layout: Layout, server_name: str, *, narrow: bool = False) -> Table:
    """A server's nodes in start order: offset, ports, well-known members, start flags. ``narrow``:
    the role under the node's name and the ports one under the other (about 75 columns for the
    guide's cluster instead of about 105); cells fold rather than being cut when even that is
    too wide."""
    plan = layout.plan
    server = layout.server(server_name)
    title = escape(f"{server.name} ({server.address}) - homes in {server.install_dir}")
    # No vertical rules: the layout fits narrower screens.
    if narrow:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      padding=(0, 0), leading=1)
        columns: tuple[str, ...] = ("node", "offset", "ports", "WKA members", "flags")
    else:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        columns = ("node", "role", "offset", "member port", "HTTP/HTTPS", "servlet", "WKA members", "flags")
    for column in columns:
        table.add_column(column, overflow="fold")
    for node in layout.start_order(server.name):
        http = "/".join(map(str, node.transport_ports(plan)))
        servlet = "/".join(map(str, node.servlet_ports))
        pinned = " (pinned)" if node.offset_pinned else ""
        members = Text("\n".join(f"{member.host}:{member.port}" for member in node.wka_members) or "-")
        flags = Text("\n".join(node.start_flags(first_start=True)) or "-")
        if narrow:
            table.add_row(Text.assemble(node.name, "\n", (node.role, "dim")), Text(f"{node.offset}{pinned}"),
                          Text(f"member {node.member_port}\nhttp/s {http}\nservlet {servlet}"), members, flags)
        else:
            table.add_row(*map(Text, (node.name, node.role, f"{node.offset}{pinned}", str(node.member_port), http,
                                      servlet)), members, flags)
    return table


def deployment_sync_table(layout: Layout) -> Table:
    """carbon.xml's ``<DeploymentSynchronizer>`` per ESB node: who commits, who checks out, where."""
    spec = layout.plan.cluster.deployment_sync
    if spec.repository == "svn":
        where = f"svn: {spec.svn_url}" + (f" as {spec.svn_user} (password given at run time)" if spec.svn_user else "")
    else:
        where = f"registry: {layout.plan.database.registry_db}, mounted at /_system/config on every ESB node"
    table = Table(title=escape(f"deployment synchronisation ({where})"), title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("node", "enabled", "auto commit", "auto checkout"):
        table.add_column(column, overflow="fold")
    for node in layout.nodes:
        if node.is_esb:
            sync = layout.deployment_sync_settings(node)
            table.add_row(Text(node.name), *(("yes" if flag else "no") for flag in
                                              (sync.enabled, sync.auto_commit, sync.auto_checkout)))
    return table


# --- a node's log lines ------------------------------------------------------------------------------

# The time in either Carbon layout: "[2013-08-20 12:27:08,123]" (wso2carbon.log after TID and
# server key, the console at the start of the line).
_LOG_TIME = re.compile(r"^(?:TID:\s*)?(?:\[[^\]]*\]\s*)*?\[\d{4}-\d\d-\d\d (?P<time>\d\d:\d\d:\d\d)(?:,\d+)?\]")
LOG_TIME_WIDTH = 8  # HH:MM:SS
LEVEL_STYLES = {"FATAL": "bold red", "ERROR": "bold red", "WARN": "yellow", "INFO": "green", "DEBUG": "dim",
                "TRACE": "dim"}


def abbreviate_logger(name: str, width: int) -> str:
    """A logger's name in about ``width`` cells: the package names cut to their first letter from
    the left until it fits (log4j's ``%c{1.}``, logback's ``%logger{width}``:
    ``o.a.s.deployers.ProxyServiceDeployer``), else the class's own name alone, which is never cut."""
    if len(name) <= width:
        return name
    parts = name.split(".")
    for index in range(len(parts) - 1):
        parts[index] = parts[index][:1]
        short = ".".join(parts)
        if len(short) <= width:
            return short
    return parts[-1]


def log_line_view(line: str, width: int, *, style: str = "") -> RenderableType:
    """One line of a node's log as a person reads it in ``width`` columns: its time, level, logger
    (shortened to fit: see ``abbreviate_logger``) and message, the message wrapping under itself
    rather than being cut, without what Carbon repeats on every line (``TID: [0] [ESB]``, the date,
    the logger again at the end). Lines in no Carbon layout (stack traces, the JVM's own) wrap as
    they are. ``style`` marks the whole line (a failure, a milestone)."""
    from installer.expectations import parse_line

    parsed = parse_line(line)
    if parsed.level is None or parsed.logger is None:
        return Text(line.expandtabs(4), style=style, overflow="fold", no_wrap=False)
    found = _LOG_TIME.match(line)
    # The logger gets a quarter of the width (at least its class's own name), the message the rest.
    logger = abbreviate_logger(parsed.logger, max(width // 4, 1))
    head = Text(style=style)
    head.append(f"{parsed.level:<5}", style=LEVEL_STYLES.get(parsed.level, ""))
    head.append(" ")
    head.append(logger, style="cyan")
    head.append(" ")
    head.append(parsed.message)
    return _HangingLine(Text(f"{found['time'] if found else '':<{LOG_TIME_WIDTH}}", style=f"dim {style}"), head)


class _HangingLine:
    """The time, then the rest wrapped (folding what has no space to break at) in the columns
    after it: every line after the first starts under the level. Lighter than a table grid: a
    busy node writes hundreds of lines a second."""

    def __init__(self, time: Text, head: Text) -> None:
        self.time = time
        self.head = head

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(LOG_TIME_WIDTH + 2, LOG_TIME_WIDTH + 1 + self.head.cell_len)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.head.wrap(console, max(options.max_width - LOG_TIME_WIDTH - 1, 1), overflow="fold")
        indent = Text(" " * (LOG_TIME_WIDTH + 1))
        for index, part in enumerate(lines):
            yield from (self.time + " " if index == 0 else indent).render(console)
            yield from part.render(console)
            yield Segment.line()
