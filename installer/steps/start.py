"""The start step: this server's nodes, started in order, each awaited through its log."""

from __future__ import annotations

from installer import launch, processes
from installer.contract import Status, StepReport
from installer.errors import InstallerError
from installer.lock import locked_state
from installer.plan.derive import NodeLayout
from installer.processes import NodeProcess, is_running
from installer.steps.base import Step


class StartStep(Step):
    """The seed's "Starting the ELB server" / "Starting the ESB server": this server's nodes in
    order (ELB, manager, workers), each awaited through its log milestones before the next."""

    def _record(self) -> dict:
        return self.context.state.step(self.name)

    def process(self, node_name: str) -> NodeProcess | None:
        record = self.context.state.steps.get(self.name, {}).get("processes", {}).get(node_name)
        return NodeProcess.from_record(node_name, record) if record else None

    def node_processes(self) -> dict[str, NodeProcess | None]:
        return {node.name: self.process(node.name) for node in self.context.server.nodes}

    def launch_offsets(self) -> dict[str, dict[str, int]]:
        """Where each node's logs stood at its first start by the installer: membership is read
        from there, so what a restarted manager did not see again still counts (joins and
        departures are taken in log order)."""
        records = self.context.state.steps.get(self.name, {}).get("processes", {})
        return {name: dict(record.get("first_log_offsets") or record.get("log_offsets", {}))
                for name, record in records.items()}

    def _order(self) -> tuple[NodeLayout, ...]:
        return self.context.layout.start_order(self.context.server.name)

    def check(self) -> StepReport:
        stopped = [node.name for node in self._order() if not is_running(self.process(node.name))]
        if stopped:
            return StepReport.checked(Status.PENDING, "not running: " + ", ".join(stopped))
        return StepReport.checked(Status.DONE, f"{len(self._order())} node(s) running")

    def preview(self) -> StepReport:
        lines = []
        setup_done = self._record().get("manager_setup_done", False)
        for node in self._order():
            if is_running(self.process(node.name)):
                lines.append(f"{node.name}: already running (pid {self.process(node.name).pid})")
                continue
            argv = " ".join(processes.node_argv(node, first_start=node.role == "manager" and not setup_done))
            lines.append(f"{node.name}: {argv}, then wait for its milestones")
        return StepReport.previewed(tuple(lines))

    def apply(self, *, force: bool = False) -> StepReport:
        return StepReport.applied(True, self.start(self._order()))

    def start(self, nodes: tuple[NodeLayout, ...]) -> str:
        """Start ``nodes`` (in the given order) that are not running; wait for each. Holds the
        install dir's lock (already held when apply or restart calls this)."""
        with locked_state(self.context.state, "start"):
            return self._start_locked(nodes)

    def _start_locked(self, nodes: tuple[NodeLayout, ...]) -> str:
        problems = [f"{node.name}: {problem}" for node in nodes if (problem := processes.java_problem(node))]
        if problems:
            raise InstallerError("; ".join(problems), "set JAVA_HOME to a JDK Carbon supports, then run again",
                                 title="Java is needed")
        state = self.context.state
        stop = self.context.stop
        started = []
        for node in nodes:
            if stop is not None and stop.is_set():
                raise launch.StartStopped(f"stopped before {node.name} was started"
                                          + (f" ({', '.join(started)} started)" if started else ""),
                                          "start the nodes again when you are ready")
            if is_running(self.process(node.name)):
                self.note(f"{node.name}: already running")
                continue
            first_start = node.role == "manager" and not self._record().get("manager_setup_done", False)
            offsets = launch.log_offsets(node)
            record = processes.start_node(node, first_start=first_start)
            previous = self._record().setdefault("processes", {}).get(node.name, {})
            entry = {**record.to_record(), "log_offsets": offsets, "first_start": first_start,
                     "first_log_offsets": previous.get("first_log_offsets") or offsets}
            self._record()["processes"][node.name] = entry
            if first_start:
                # Recorded before waiting: -Dsetup recreates the registry tables and must never
                # run again, not even after a crash while this node was starting.
                self._record()["manager_setup_done"] = True
            state.save()
            self.note(f"{node.name}: started (pid {record.pid}): {' '.join(record.argv)}")
            try:
                result, died = launch.wait_for_node(self.context.layout, node, record, offsets,
                                                    on_event=self._event, cancel=stop)
            except BaseException:  # interrupted (Ctrl-C) or a bug: not left half-started either
                self._stop_unstarted(node, record)
                raise
            if result.outcome != "completed" and not died and stop is not None and stop.is_set():
                self._stop_unstarted(node, record)
                raise launch.StartStopped(f"stopped while {node.name} was starting: it was stopped too, not left "
                                          "half-started", "start the nodes again when you are ready")
            if result.outcome != "completed":
                # Said from what the node did before we stop it (its exit status, its last lines).
                error = launch.startup_error(node, record, result, died=died)
                self._stop_unstarted(node, record)
                raise error
            started.append(node.name)
        return ("started " + ", ".join(started)) if started else "every node was already running"

    def stop(self, nodes: tuple[NodeLayout, ...], *, timeout: float = processes.STOP_TIMEOUT) -> list[str]:
        """Stop ``nodes`` in reverse start order, holding the install dir's lock."""
        with locked_state(self.context.state, "stop"):
            outcomes = []
            for node in reversed(nodes):
                record = self.process(node.name)
                outcome = processes.stop_node(record, timeout=timeout) if record else "not running"
                outcomes.append(f"{node.name}: {outcome}")
                self.note(f"{node.name}: {outcome}")
            return outcomes

    def _stop_unstarted(self, node: NodeLayout, record: NodeProcess) -> None:
        """A node that did not reach its milestones is stopped, not left half-running: the next
        start would take it for started ("already running") and never wait for it again."""
        outcome = processes.stop_node(record)
        if outcome != "not running":
            self.note(f"{node.name}: {outcome}, as it did not finish starting", "warning")

    def _event(self, event: object) -> None:
        message, level = launch.describe(event)  # type: ignore[arg-type]
        self.note(message, level)
