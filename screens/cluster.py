"""Step 3, Cluster: the clustering domains, the public host names the ELB routes by, the tenant
range and the ELB's ports (ports below 1024 need root)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens.base import FormScreen
from screens.widgets import ProblemList
from screens.wizard import DraftCheck

ASSETS = Path(__file__).resolve().parent.parent / "assets"


class ClusterScreen(FormScreen):
    STEP = "cluster"
    CSS_PATH = str(ASSETS / "cluster.tcss")
    SECTIONS = ("cluster",)
    # "ports below 1024 need root" is reported on elb_ports as a whole: show it by the HTTP port.
    FIELD_ALIASES = {"cluster.elb_ports": "cluster.elb_ports.http"}

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static("Clustering", classes="section-title")
            yield self.form_field("cluster.domain", note="every ESB node's axis2.xml and the ELB's loadbalancer.conf")
            yield self.form_field("cluster.lb_domain", note="the ELB's own clustering domain")
            yield self.form_field("cluster.tenant_range", note='"*" for all tenants, a tenant id, or a range 1-100')
            yield Static("Host names the ELB routes by", classes="section-title")
            yield self.form_field("cluster.hostnames.worker", note="service requests, sent to the workers")
            yield self.form_field("cluster.hostnames.mgt", note="the management console, sent to the manager")
            yield self.form_field("cluster.hostnames.elb", note="the ELB itself, a well-known member")
            yield Static("ELB ports", classes="section-title")
            yield self.form_field("cluster.elb_ports.http", note="80 needs root; 8280 otherwise")
            yield self.form_field("cluster.elb_ports.https", note="443 needs root; 8243 otherwise")
            yield Static("", id="derived")
            yield ProblemList()

    def after_check(self, check: DraftCheck) -> None:
        derived = self.query_one("#derived", Static)
        manager = check.layout.manager if check.layout is not None else None
        if manager is None or check.plan is None:
            derived.update("")
            return
        ports = check.plan.cluster.elb_ports
        mapping = ", ".join(f"port.mapping.{elb} = {target}" for elb, target in manager.port_mapping)
        derived.update(Text.assemble(
            ("Derived: ", "bold"), f"the ELB listens on {ports.http}/{ports.https}; the manager ({manager.name}) "
            f"gets {mapping}; its WSDL endpoints point at http://{check.plan.cluster.hostnames.worker}:{ports.http}.",
            style=""))
