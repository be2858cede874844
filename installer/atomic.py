"""Atomic, reversible file writes.

Every file we change is written to a temporary file in the same folder, flushed and fsynced,
given the original's mode (or the requested one), then renamed over the target; the folder is
fsynced so the rename survives a crash. A reader sees either the old bytes or the new ones.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


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
) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``mode``: permission bits for the result; default keeps the existing file's mode (0644 for
    a new file). ``validate`` is called on the temporary file before the rename and may raise
    to abort the write, leaving the original untouched.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
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
        os.replace(tmp, path)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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
