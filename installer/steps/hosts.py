"""The hosts step: this server's marked block in its hosts file."""

from __future__ import annotations

from installer.contract import Status, StepReport
from installer.errors import ConfigFileError, DriftError
from installer.files.base import FilePatch
from installer.files.hosts import read_block, render_hosts, shadowing_lines
from installer.steps.base import Step


class HostsStep(Step):
    """This server's marked block in its hosts file."""

    def _patch(self) -> FilePatch:
        context = self.context
        cluster_id = context.plan.cluster.domain
        hosts_label = str(context.server.hosts_file)
        entries = [(entry.address, entry.hostname) for entry in context.server.hosts_entries]

        def transform(original: bytes) -> bytes:
            shadows = shadowing_lines(original, cluster_id, entries, path=hosts_label)
            if shadows:
                listing = "; ".join(str(shadow) for shadow in shadows)
                raise ConfigFileError(
                    f"{hosts_label} already maps cluster host names to other addresses ({listing})",
                    "remove or correct those lines: resolvers may pick any of them instead of ours")
            return render_hosts(original, cluster_id, entries, path=hosts_label)

        def owned(data: bytes) -> bytes:
            block = read_block(data, cluster_id, path=hosts_label)
            return repr(block).encode()

        # In containers /etc/hosts is a bind mount that no rename can replace: write it in place.
        return FilePatch(path=context.server.hosts_file, label="hosts file", transform=transform, owned_part=owned,
                         in_place_fallback=True)

    def check(self) -> StepReport:
        patch = self._patch()
        state = self.context.state
        recorded = state.file_fingerprint(self.name, patch.path)
        result = patch.check(recorded)
        if result.outdates(recorded):
            # Written by a run killed before its state save. Only the in-memory record changes:
            # the engine skips apply for a done step but saves the state after it, so an apply run
            # keeps this; status and dry runs never save.
            state.record_file(self.name, patch.path, result.fingerprint)
        return StepReport.checked(result.status, f"{patch.path}: {result.reason}", (result,))

    def preview(self) -> StepReport:
        patch = self._patch()
        result = patch.check(self.context.state.file_fingerprint(self.name, patch.path))
        lines = [f"{entry.address} {entry.hostname}  # {entry.reason}" for entry in self.context.server.hosts_entries]
        return StepReport.previewed(tuple(lines), (result.diff,) if result.diff.changed else ())

    def apply(self, *, force: bool = False) -> StepReport:
        from installer.atomic import backup_once
        from installer.files.base import write_error

        patch = self._patch()
        state = self.context.state
        result = patch.check(state.file_fingerprint(self.name, patch.path))
        if result.status == Status.DRIFTED and not force:
            raise DriftError([result])
        if result.status == Status.DONE:
            # Recorded even when nothing is written: the record may predate a crash after the write.
            state.record_file(self.name, patch.path, result.fingerprint)
            return StepReport.applied(False, f"{patch.path} is up to date")
        try:
            backup = backup_once(patch.path)
        except OSError as error:
            raise write_error(patch.path, error) from error
        if backup is not None:
            state.step(self.name)["backup"] = str(backup)
        written = patch.write()
        state.record_file(self.name, patch.path, written.fingerprint)
        message = f"{patch.path} updated"
        if written.in_place:
            message += " in place (it is a mount point, a bind mount: no rename can replace it)"
        if backup:
            message += f" (original kept as {backup})"
        return StepReport.applied(written.changed, message, (written.diff,) if written.changed else ())
