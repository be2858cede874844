"""Atomic, reversible file writes.

Every file we change is written to a temporary file in the same folder, flushed and fsynced,
given the original's mode (or the requested one), then renamed over the target; the folder is
fsynced so the rename survives a crash. A reader sees either the old bytes or the new ones.

A symlink is written through: its target gets the new bytes and the link stays a link. A file
that cannot be renamed over because it is a mount point (``/etc/hosts`` in a container is a bind
mount: EBUSY) can, where the caller allows it, be written in place instead, with a copy of the
bytes being replaced kept until the new ones are on disk.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from installer.errors import ConfigFileError

IN_PLACE_COPY_SUFFIX = ".wso2-cluster.previous"


@dataclass(frozen=True)
class Written:
    """How a write went: ``path`` is the file that holds the new bytes (a symlink's target for a
    symlink); ``in_place`` says the rename was refused and the bytes went into the file itself."""

    path: Path
    in_place: bool = False


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    validate: Callable[[Path], None] | None = None,
    in_place_fallback: bool = False,
) -> Written:
    """Replace ``path`` with ``data`` atomically.

    ``mode``: permission bits for the result; default keeps the existing file's mode (0644 for
    a new file). ``validate`` is called on the temporary file before the rename and may raise
    to abort the write, leaving the original untouched. ``in_place_fallback``: when the rename
    fails with EBUSY (a bind-mounted file), write the bytes into the existing file instead (see
    ``_write_in_place``). Raises OSError when the file cannot be written, ConfigFileError when an
    earlier in-place write of it was interrupted.
    """
    # Through a symlink: renaming onto the link itself would replace it with a regular file.
    path = Path(os.path.realpath(path))
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _refuse_after_interrupted_in_place_write(path)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        # Restrict first, then write: a file holding a password is never briefly world-readable.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError, PermissionError):
            stat = path.stat()
            os.chown(tmp, stat.st_uid, stat.st_gid)
        if validate is not None:
            validate(tmp)
        try:
            os.replace(tmp, path)
        except OSError as error:
            if error.errno != errno.EBUSY or not in_place_fallback or not path.is_file():
                raise
            _write_in_place(path, data, mode)
            tmp.unlink()
            return Written(path, in_place=True)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return Written(path)


def in_place_copy(path: Path) -> Path:
    """Where an in-place write of ``path`` keeps the bytes it replaces until the new ones are on disk."""
    return Path(path).with_name(f".{Path(path).name}{IN_PLACE_COPY_SUFFIX}")


def _write_in_place(path: Path, data: bytes, mode: int | None) -> None:
    """Overwrite ``path``'s own inode with ``data``: the only way to change a bind-mounted file.

    This is not atomic, so the bytes being replaced are first copied (atomically) beside the
    file; the copy is removed once the new bytes are fsynced. A copy still there later means this
    was interrupted, and the next write refuses until the operator has looked.
    """
    previous = in_place_copy(path)
    atomic_write_bytes(previous, path.read_bytes(), mode=0o600)
    touched = False
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            view = memoryview(data)
            written = 0
            touched = True
            while written < len(data):
                written += os.pwrite(fd, view[written:], written)
            # Write first, truncate after: a content that grows never leaves the file empty or
            # short at any moment, and one that shrinks only keeps a stale tail until here.
            os.ftruncate(fd, len(data))
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        if not touched:
            # Nothing of the file was changed: no trace of an interrupted write to leave.
            previous.unlink()
        raise
    previous.unlink()
    fsync_dir(path.parent)


def _refuse_after_interrupted_in_place_write(path: Path) -> None:
    previous = in_place_copy(path)
    if previous.exists():
        raise ConfigFileError(
            f"{path}: an earlier in-place write of this file was interrupted; "
            f"the bytes it was replacing are kept in {previous}",
            f"compare {path} with {previous}, restore it from there if it is damaged, "
            f"then delete {previous} and run again",
        )


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files an interrupted write of ``path`` left behind (it never got renamed)."""
    for stale in Path(path).parent.glob(f".{glob.escape(Path(path).name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8", mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode(encoding), mode=mode)


def backup_once(path: Path, suffix: str = ".wso2-cluster.orig") -> Path | None:
    """Keep a copy of ``path`` as it was before our first change; never overwrite that copy.

    Returns the backup path, or None when ``path`` does not exist.
    """
    path = Path(path)
    backup = path.with_name(path.name + suffix)
    if backup.exists() or not path.exists():
        return backup if backup.exists() else None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        shutil.copy2(path, tmp_name)
        os.replace(tmp_name, backup)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return backup


@contextlib.contextmanager
def temporary_sibling_dir(target: Path, label: str = "partial") -> Iterator[Path]:
    """A fresh folder next to ``target`` (same file system, so it can be renamed onto it).

    Removed again on error; on success the caller renames it into place.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.{label}")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
