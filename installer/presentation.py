"""Rich renderables of a plan's derived layout, shared by both front ends (the CLI prints them,
the wizard's Review shows them): the same tables wherever an operator looks."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from installer.plan.derive import Layout


def layout_tables(layout: Layout) -> list[Table]:
    plan = layout.plan
    tables = []
    for server in layout.servers:
        # No vertical rules: the layout fits narrower screens (the wizard's Review at 80 columns).
        table = Table(title=escape(f"{server.name} ({server.address}) - homes in {server.install_dir}"), title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("node", "role", "offset", "member port", "HTTP/HTTPS", "servlet"):
            table.add_column(column, no_wrap=True)
        # A member is never split; on a narrow screen the flags fold onto more lines.
        longest_member = max((len(f"{member.host}:{member.port}") for node in server.nodes
                              for member in node.wka_members), default=1)
        table.add_column("WKA members", min_width=longest_member, overflow="fold")
        table.add_column("flags", overflow="fold")
        for node in layout.start_order(server.name):
            http = "/".join(map(str, node.transport_ports(plan)))
            pinned = " (pinned)" if node.offset_pinned else ""
            members = "\n".join(f"{member.host}:{member.port}" for member in node.wka_members) or "-"
            flags = "\n".join(node.start_flags(first_start=True)) or "-"
            table.add_row(*map(Text, (node.name, node.role, f"{node.offset}{pinned}", str(node.member_port), http,
                                      "/".join(map(str, node.servlet_ports)), members, flags)))
        tables.append(table)
        hosts = Table(title=escape(f"{server.name}: {server.hosts_file} block"), title_justify="left", box=box.SIMPLE_HEAD)
        hosts.add_column("address")
        hosts.add_column("host name")
        hosts.add_column("why")
        for entry in server.hosts_entries:
            hosts.add_row(Text(entry.address), Text(entry.hostname), Text(entry.reason))
        tables.append(hosts)
    manager = layout.manager
    if manager is not None:
        mapping = Table(title="manager port mapping and databases", title_justify="left", box=box.SIMPLE_HEAD)
        mapping.add_column("what")
        mapping.add_column("value")
        for elb_port, target in manager.port_mapping:
            mapping.add_row(f"port.mapping.{elb_port}", str(target))
        for database in layout.databases:
            mapping.add_row(Text(database.name), Text(f"{database.purpose} ({', '.join(database.nodes)})"))
        mapping.add_row("registry cacheId", Text(layout.registry_cache_id))
        tables.append(mapping)
    if any(node.is_esb for node in layout.nodes):
        tables.append(deployment_sync_table(layout))
    return tables


def deployment_sync_table(layout: Layout) -> Table:
    """carbon.xml's ``<DeploymentSynchronizer>`` per ESB node: who commits, who checks out, where."""
    spec = layout.plan.cluster.deployment_sync
    if spec.repository == "svn":
        where = f"svn: {spec.svn_url}" + (f" as {spec.svn_user} (password given at run time)" if spec.svn_user else "")
    else:
        where = f"registry: {layout.plan.database.registry_db}, mounted at /_system/config on every ESB node"
    table = Table(title=escape(f"deployment synchronisation ({where})"), title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("node", "enabled", "auto commit", "auto checkout"):
        table.add_column(column, no_wrap=True)
    for node in layout.nodes:
        if node.is_esb:
            sync = layout.deployment_sync_settings(node)
            table.add_row(Text(node.name), *(("yes" if flag else "no") for flag in
                                              (sync.enabled, sync.auto_commit, sync.auto_checkout)))
    return table
