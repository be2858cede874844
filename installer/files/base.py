"""The check / preview / apply contract for one file we change.

A ``FilePatch`` knows the file on disk, where its original comes from when the file is not on
disk yet (a node home not extracted: the pristine copy inside the zip), and a pure transform
(original bytes -> desired bytes). The same transform runs for ``check``, ``preview`` and
``apply``; only the final atomic write is gated, as in Ansible's check mode.

Drift: after we write a file its fingerprint is kept in the state file. If the file's
fingerprint no longer matches, someone changed it by hand: the file is reported as drifted,
with its diff, and not overwritten without ``force``.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from installer.atomic import atomic_write_bytes
from installer.contract import FileCheck, FileDiff, Status
from installer.errors import ConfigFileError
from installer.faults import crash_point

REDACTED = "********"
# <password> (datasources) and <SvnPassword> (carbon.xml's deployment synchronizer).
_PASSWORD_ELEMENT = re.compile(r"(<((?:svn)?password)\b[^>]*>)(.*?)(</\2>)", re.IGNORECASE | re.DOTALL)


class PatchFunction(Protocol):
    """The one signature of the file patchers (``patch_axis2``, ``patch_carbon``,
    ``patch_datasources``, ``patch_user_mgt``, ``patch_registry``, ``patch_loadbalancer``): the
    original bytes and the settings derived for the file give the bytes to write, ``original``
    itself when nothing would change; ``path`` names the file in errors. A file it cannot patch
    raises ``ConfigFileError``."""

    def __call__(self, original: bytes, settings: Any, /, *, path: str) -> bytes: ...


def redact_passwords(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Hide ``<password>`` / ``<SvnPassword>`` element contents and any known secret value."""
    text = _PASSWORD_ELEMENT.sub(lambda match: f"{match.group(1)}{REDACTED}{match.group(4)}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def write_error(path: Path, error: OSError) -> ConfigFileError:
    """An OSError from writing ``path`` (or its backup) as an error the operator can act on."""
    hints = {
        errno.EPERM: f"the file may be immutable (lsattr {path}; as root: chattr -i {path}), "
                     "or the installer is not allowed to replace it",
        errno.EACCES: f"run the installer as a user allowed to change {path} and its folder (sudo)",
        errno.EROFS: f"{path} is on a read-only file system: remount it read-write, or change the plan",
        errno.EBUSY: f"{path} is a mount point (a bind mount?) and cannot be replaced by rename",
        errno.ENOSPC: "free some space on that file system and run again",
        errno.EDQUOT: "free some space within your disk quota and run again",
    }
    reason = error.strerror or str(error)
    return ConfigFileError(f"{path} cannot be written: {reason}",
                           hints.get(error.errno or 0, "check the file, its folder and its file system"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unified_diff(path: Path, before: bytes | None, after: bytes, *, label: str = "",
                 secrets: tuple[str, ...] = (), binary: bool = False) -> FileDiff:
    if before == after:
        return FileDiff(path, "", label)
    if binary:
        if before is None:
            return FileDiff(path, f"new file {path} ({len(after)} bytes)\n", label)
        return FileDiff(path, f"binary file {path} changes ({len(before)} -> {len(after)} bytes)\n", label)
    old = redact_passwords((before or b"").decode("utf-8", "replace"), secrets).splitlines(keepends=True)
    new = redact_passwords(after.decode("utf-8", "replace"), secrets).splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"a/{path}" if before is not None else "/dev/null",
                                 tofile=f"b/{path}", n=2)
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    if not text and (before or b"") != after:
        # Only a hidden value changes (a password given anew): the file is still to be written,
        # so the diff must not read as "no change" (a pending or drifted file with nothing shown).
        text = f"{path}: only a password changes (its value is not shown)\n"
    return FileDiff(path, text, label)


@dataclass(frozen=True)
class FileWrite:
    """What ``FilePatch.write`` did: ``in_place`` when a bind-mounted file was overwritten in place."""

    changed: bool
    fingerprint: str
    diff: FileDiff
    in_place: bool = False


@dataclass
class FilePatch:
    """One file to make right.

    ``transform``: original bytes -> desired bytes; raises ``ConfigFileError`` when the original
    cannot be patched (malformed, missing structure).
    ``pristine``: where the original comes from when ``path`` does not exist yet; None means the
    file is created from ``transform(b"")``.
    ``owned_part``: the part of the file whose fingerprint detects drift (the whole file by
    default; only our marked block for a hosts file).
    ``mode``: permission bits the file must have (None: keep whatever it has).
    ``in_place_fallback``: a file that cannot be renamed over (EBUSY: a bind mount) is written in
    place instead of refused; only for files that are bind-mounted in practice (the hosts file).
    """

    path: Path
    label: str
    transform: Callable[[bytes], bytes]
    pristine: Callable[[], bytes | None] | None = None
    owned_part: Callable[[bytes], bytes] = field(default=lambda data: data)
    mode: int | None = None
    secrets: tuple[str, ...] = ()
    binary: bool = False
    in_place_fallback: bool = False

    def current(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigFileError(f"{self.path} cannot be read: {error.strerror}",
                                  "check the file's permissions") from error

    def original(self) -> bytes | None:
        """What the transform starts from: the file, else its pristine copy, else nothing."""
        data = self.current()
        if data is None and self.pristine is not None:
            data = self.pristine()
        return data

    def desired(self, original: bytes | None) -> bytes:
        return self.transform(original if original is not None else b"")

    def fingerprint(self, data: bytes) -> str:
        return sha256_bytes(self.owned_part(data))

    def mode_ok(self) -> bool:
        if self.mode is None:
            return True
        try:
            return (self.path.stat().st_mode & 0o777) == self.mode
        except FileNotFoundError:
            return False

    def check(self, recorded_fingerprint: str | None) -> FileCheck:
        current = self.current()
        original = current if current is not None else (self.pristine() if self.pristine else None)
        desired = self.desired(original)
        diff = unified_diff(self.path, current if current is not None else original, desired,
                            label=self.label, secrets=self.secrets, binary=self.binary)
        if current is None:
            return FileCheck(self.path, self.label, Status.PENDING, "not written yet", diff)
        fingerprint = self.fingerprint(current)
        if desired == current:
            # What the plan wants, whatever the record says: a run killed between the rename and
            # the state save leaves the previous write's fingerprint behind, and that is no hand
            # edit (it would be reported as drift with an empty diff, forever).
            if not self.mode_ok():
                return FileCheck(self.path, self.label, Status.PENDING, f"permissions to set to {self.mode:o}",
                                 diff, fingerprint)
            reason = "up to date"
            if recorded_fingerprint is not None and fingerprint != recorded_fingerprint:
                reason += " (an interrupted run wrote it; the next apply records it)"
            return FileCheck(self.path, self.label, Status.DONE, reason, diff, fingerprint)
        if recorded_fingerprint is not None and fingerprint != recorded_fingerprint:
            return FileCheck(self.path, self.label, Status.DRIFTED,
                             "changed by hand since the installer wrote it", diff, fingerprint)
        return FileCheck(self.path, self.label, Status.PENDING, "values to change", diff, fingerprint)

    def apply(self) -> tuple[bool, str, FileDiff]:
        """Write the desired content if it differs; returns (changed, fingerprint, diff)."""
        written = self.write()
        return written.changed, written.fingerprint, written.diff

    def write(self) -> FileWrite:
        """``apply``, saying also how the file was written.

        Raises ConfigFileError when the file cannot be written (immutable, read-only, no right to
        it); the file is then as it was.
        """
        current = self.current()
        original = current if current is not None else (self.pristine() if self.pristine else None)
        desired = self.desired(original)
        diff = unified_diff(self.path, current, desired, label=self.label, secrets=self.secrets,
                            binary=self.binary)
        fingerprint = self.fingerprint(desired)
        try:
            if current == desired:
                if self.mode is not None and not self.mode_ok():
                    self.path.chmod(self.mode)
                    return FileWrite(True, fingerprint, diff)
                return FileWrite(False, fingerprint, diff)
            written = atomic_write_bytes(self.path, desired, mode=self.mode,
                                         validate=lambda _tmp: crash_point(f"write:{self.path.name}"),
                                         in_place_fallback=self.in_place_fallback)
        except OSError as error:
            raise write_error(self.path, error) from error
        # The file is as the plan wants, the state does not know it yet: the window in which a
        # crash must not make the next run call the file "changed by hand".
        crash_point(f"written:{self.path.name}")
        return FileWrite(True, fingerprint, diff, in_place=written.in_place)
