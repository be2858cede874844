"""The verify step: the seed's "Testing the cluster", and more."""

from __future__ import annotations

from installer import clustertest, launch, verify
from installer.contract import Status, StepReport
from installer.errors import SHOW_DIFFS, Remedy
from installer.lock import LockedError, locked_state
from installer.processes import is_running
from installer.steps.base import Step
from installer.steps.configure import ConfigureStep
from installer.steps.hosts import HostsStep
from installer.steps.start import StartStep


class VerifyStep(Step):
    """The seed's "Testing the cluster", and more: every check must hold."""

    always_apply = True

    def report(self, *, cluster_test: bool = False, timeouts: clustertest.Timeouts | None = None,
               progress: clustertest.Progress | None = None) -> verify.VerifyReport:
        """Every check; with ``cluster_test``, the probe proxy too (see ``installer.clustertest``):
        run on the manager's server, read from the workers' logs elsewhere."""
        context = self.context
        start = StartStep(context)
        configure = ConfigureStep(context)
        hosts = HostsStep(context)

        def drift() -> list[verify.CheckOutcome]:
            outcomes = []
            for step in (configure, hosts):
                check = step.check()
                drifted = [file.path for file in check.files if file.status == Status.DRIFTED]
                outcomes.append(verify.CheckOutcome(
                    f"no drift ({step.name})", not drifted,
                    "files as the installer wrote them" if not drifted else "changed by hand: " + ", ".join(map(str, drifted)),
                    remedy=Remedy(SHOW_DIFFS) if drifted else None))
            return outcomes

        checks = [
            lambda: verify.check_processes(context.server, start.node_processes()),
            lambda: verify.check_ports(context.layout, context.server),
            lambda: launch.membership_checks(context.layout, context.server.name, start.launch_offsets()),
            lambda: verify.check_routing(context.layout, context.server.name),
            lambda: verify.check_datasources(context.layout, context.server, context.secrets.db_password),
            lambda: verify.check_hosts(context.server),
            drift,
        ]
        if cluster_test:
            checks.append(lambda: self.cluster_test(timeouts=timeouts, progress=progress))
        return verify.VerifyReport(context.server.name, tuple(verify.run_checks(checks)))

    def cluster_test(self, *, timeouts: clustertest.Timeouts | None = None,
                     progress: clustertest.Progress | None = None) -> list[verify.CheckOutcome]:
        """The cluster test as this server can run it (``installer.clustertest``)."""
        start = StartStep(self.context)
        running = {name for name, record in start.node_processes().items() if is_running(record)}
        return verify.run_checks([lambda: clustertest.cluster_test_outcomes(
            self.context.layout, self.context.server.name, running=running, launch_offsets=start.launch_offsets(),
            timeouts=timeouts or clustertest.Timeouts(), progress=progress or (lambda text: None))])

    def check(self) -> StepReport:
        if StartStep(self.context).check().status != Status.DONE:
            return StepReport.checked(Status.PENDING, "checked once this server's nodes are started")
        report = self.report()
        if report.ok:
            return StepReport.checked(Status.DONE, f"{len(report.checks)} checks hold")
        if not report.failures:
            return StepReport.checked(Status.PENDING, report.summary + ": " + "; ".join(c.detail for c in report.pending))
        return StepReport.checked(Status.FAILED, "; ".join(check.detail for check in report.failures))

    def record(self, report: verify.VerifyReport) -> bool:
        """Keep the verdict in this server's state (Welcome offers Resume until it is green).
        Under the install dir's lock, which reads the state again first; while another run
        holds it, the verdict is not kept (that run records its own) and False is returned."""
        try:
            with locked_state(self.context.state, "verify"):
                self.context.state.mark(self.name, Status.DONE.value if report.ok else report.status, report.summary)
                self.context.state.save()
        except LockedError:
            return False
        return True

    def preview(self) -> StepReport:
        return StepReport.previewed(("check processes, ports, membership in the ELB's and manager's logs, routing through "
                                     "the ELB, datasources, host names and drift",))

    def apply(self, *, force: bool = False) -> StepReport:
        report = self.report()
        marks = {verify.PASSED: "ok  ", verify.FAILED: "FAIL", verify.PENDING: "wait"}
        for check in report.checks:
            self.note(f"{marks[check.status]} {check.name}: {check.detail}", "info" if check.ok else "warning")
        if report.failures:
            raise verify.VerificationFailed(report)
        if report.pending:
            # Normal on the first server of several: nothing failed, the rest is not started yet.
            waiting = "; ".join(dict.fromkeys(check.hint for check in report.pending if check.hint))
            return StepReport.applied(False, f"{report.summary} on {self.context.server.name}: {waiting}",
                                      status=Status.PENDING)
        return StepReport.applied(False, f"the cluster holds on {self.context.server.name}: {len(report.checks)} checks")
