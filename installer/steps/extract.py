"""The extract step: one node home per node on this server, from its product's zip."""

from __future__ import annotations

from pathlib import Path

from installer.contract import Status, StepReport
from installer.errors import DistributionError
from installer.events import Progress, human_size
from installer.faults import crash_point
from installer.plan.derive import NodeLayout
from installer.steps.base import Step, uncompressed_size, zip_for


def zip_fingerprint(path: Path) -> dict[str, object]:
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class ExtractStep(Step):
    """One home per node on this server, from its product's zip."""

    def _homes(self) -> dict[str, dict[str, object]]:
        return self.context.state.step(self.name).setdefault("homes", {})

    def _classify(self) -> tuple[list[NodeLayout], list[NodeLayout], list[NodeLayout]]:
        """(done, missing, foreign): foreign homes exist but the installer did not create them."""
        records = self.context.state.steps.get(self.name, {}).get("homes", {})
        done, missing, foreign = [], [], []
        for node in self.context.server.nodes:
            if not node.home.exists():
                missing.append(node)
            elif node.name in records:
                done.append(node)
            else:
                foreign.append(node)
        return done, missing, foreign

    def check(self) -> StepReport:
        done, missing, foreign = self._classify()
        if foreign:
            return StepReport.checked(Status.FAILED, "exists but was not created by the installer: "
                                      + ", ".join(str(node.home) for node in foreign))
        if missing:
            return StepReport.checked(Status.PENDING, "to extract: " + ", ".join(node.name for node in missing))
        return StepReport.checked(Status.DONE, f"{len(done)} node home(s) in place")

    def preview(self) -> StepReport:
        _, missing, foreign = self._classify()
        lines = [f"refuse: {node.home} exists and was not created by the installer" for node in foreign]
        for node in missing:
            source = zip_for(self.context.plan, node)
            size = uncompressed_size(source)
            lines.append(f"extract {source.name} ({human_size(size)}) into {node.home}")
        return StepReport.previewed(tuple(lines) or ("all node homes are in place",))

    def apply(self, *, force: bool = False) -> StepReport:
        from installer.distribution import extract_homes

        _, missing, foreign = self._classify()
        if foreign:
            raise DistributionError(
                "these folders exist but were not created by the installer: "
                + ", ".join(str(node.home) for node in foreign),
                "move them away (the installer never deletes or overwrites a folder it did not create)")
        if not missing:
            return StepReport.applied(False, "all node homes are in place")
        plan, state = self.context.plan, self.context.state
        groups: dict[Path, list[NodeLayout]] = {}
        for node in missing:
            groups.setdefault(zip_for(plan, node), []).append(node)
        total = sum(uncompressed_size(source) * len(nodes) for source, nodes in groups.items())
        finished = 0
        for source, nodes in groups.items():
            # Record intent before the homes appear: a home that exists under its final name was
            # renamed into place complete, so after a crash it is recognised as ours.
            for node in nodes:
                self._homes()[node.name] = {"zip": zip_fingerprint(source), "home": str(node.home)}
            state.save()
            base = finished

            def progress(done: int, _total: int, base: int = base, label: str = source.name) -> None:
                if (base + done) * 2 >= total:
                    crash_point("extract:half")
                self.context.emit(Progress(self.name, label, base + done, total))

            extract_homes(source, [node.home for node in nodes], on_progress=progress)
            finished += uncompressed_size(source) * len(nodes)
        return StepReport.applied(True, "extracted " + ", ".join(node.name for node in missing))
