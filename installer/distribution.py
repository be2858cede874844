"""The product zips and the JDBC driver jar: what they are, and installing them into node homes.

``inspect_distribution`` and ``inspect_jdbc_driver`` read only a zip's central directory and
one small member, so a preflight over a 150 MB download costs milliseconds.

``extract_homes`` installs one distribution into several node homes at once. It decompresses
every entry once, into the first home, and gives the other homes kernel-side copies of the
result (``copy_file_range``), with a small thread pool over the entries; that is what makes
four ESB homes cheaper than four ``unzip`` runs. Each home is built in a hidden sibling folder
(``.<name>.partial``) and renamed into place only when complete, so an interrupted run never
leaves a half-extracted home under its final name. Every entry is checked before anything is
written: no absolute paths, no ``..``, no backslashes, no duplicates, no symlink that leads out
of the home.

The extracted files are not fsynced (unzip does not fsync either, and doing so would add the
time the disk needs to write every home). The rename protects against a killed or crashed
process, not against a power cut: after one, a home can exist with its most recent files empty.
"""

from __future__ import annotations

import contextlib
import errno
import lzma
import os
import queue
import re
import shutil
import stat
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree

from installer.atomic import fsync_dir, temporary_sibling_dir
from installer.errors import DistributionError

ProgressCallback = Callable[[int, int], None]

PRODUCT_NAMES: dict[str, str] = {
    "esb": "WSO2 Enterprise Service Bus",
    "elb": "WSO2 Elastic Load Balancer",
}
_TOP_FOLDER_PREFIXES = {"esb": "wso2esb-", "elb": "wso2elb-"}

CARBON_XML = "repository/conf/carbon.xml"
START_SCRIPT = "bin/wso2server.sh"
JDBC_SERVICES_FILE = "META-INF/services/java.sql.Driver"
# Connector/J 5.1 ships com.mysql.jdbc.Driver; 8.x adds com.mysql.cj.jdbc.Driver and keeps the
# old name as a deprecated alias. The seed's datasources name com.mysql.jdbc.Driver.
MYSQL_DRIVER_CLASSES = ("com.mysql.jdbc.Driver", "com.mysql.cj.jdbc.Driver")

# carbon.xml is about 30 KB; anything far bigger is not a carbon.xml, and must not be read
# into memory on the strength of a name.
_CARBON_XML_MAX_BYTES = 4 * 1024 * 1024
_SMALL_MEMBER_MAX_BYTES = 1024 * 1024
# Linux PATH_MAX: a longer symlink target cannot be created anyway.
_SYMLINK_TARGET_MAX_BYTES = 4096
# Linux gives up resolving after 40 symlinks (ELOOP); so do we when checking targets.
_MAX_SYMLINK_HOPS = 40

_CHUNK_BYTES = 1024 * 1024
_COPY_CHUNK_BYTES = 8 * 1024 * 1024
# zlib, file writes and copy_file_range all release the GIL, so threads give real parallelism;
# one more worker than cores keeps a core busy while another worker waits on the disk.
_WORKERS = max(2, min(4, (os.cpu_count() or 1) + 1))
# Progress: at most ~100 calls a second, and at least every few MB when things are slower.
_PROGRESS_MIN_INTERVAL = 0.01
_PROGRESS_STEP_BYTES = 4 * 1024 * 1024
_PROGRESS_QUIET_INTERVAL = 0.25

_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_UNIX_CREATOR = 3  # "version made by" host 3 = Unix: external_attr's high 16 bits are st_mode
_EXTENDED_TIMESTAMP_EXTRA = 0x5455  # Info-ZIP "UT": a UTC mtime, which unzip prefers to DOS time

# What reading a damaged entry raises: a bad CRC or local header (BadZipFile), data that ends
# early (EOFError), a corrupt stream (zlib/lzma), a method this Python cannot decompress.
_UNREADABLE_ENTRY_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, NotImplementedError)

_DOWNLOAD_AGAIN = "Download it again (and compare its checksum with the published one)."


# --------------------------------------------------------------------------------------------
# What a distribution is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributionInfo:
    """What a product zip holds, from its central directory and its ``carbon.xml``."""

    path: Path
    product: str  # "esb" | "elb" | "unknown"
    product_name: str | None  # carbon.xml <Name>
    product_version: str | None  # carbon.xml <Version> (else the top folder's suffix)
    top_folder: str  # e.g. "wso2esb-4.7.0"
    has_start_script: bool  # <top>/bin/wso2server.sh
    file_count: int  # files and symlinks, not folders
    total_bytes: int  # uncompressed

    @property
    def description(self) -> str:
        """``WSO2 Elastic Load Balancer 2.0.3``, as the operator would say it."""
        name = self.product_name or f"an unnamed product (top folder {self.top_folder})"
        return f"{name} {self.product_version}" if self.product_version else name


@dataclass(frozen=True)
class DriverInfo:
    """A JDBC driver jar and the MySQL driver classes it provides."""

    path: Path
    driver_classes: tuple[str, ...]
    version: str | None  # Implementation-Version / Bundle-Version from the manifest

    @property
    def driver_class(self) -> str:
        """The class to name in a datasource: the seed's ``com.mysql.jdbc.Driver`` when present."""
        for preferred in MYSQL_DRIVER_CLASSES:
            if preferred in self.driver_classes:
                return preferred
        return self.driver_classes[0]


def inspect_distribution(path: Path) -> DistributionInfo:
    """Identify a WSO2 product zip without extracting it.

    Raises DistributionError when the file is not a readable zip, has no single top folder or
    no ``repository/conf/carbon.xml``.
    """
    path = Path(path)
    with _open_zip(path, kind="distribution") as archive:
        infos = archive.infolist()
        top_folder = _single_top_folder(path, infos)
        members = {info.filename: info for info in infos}
        carbon_xml = members.get(f"{top_folder}/{CARBON_XML}")
        if carbon_xml is None or carbon_xml.is_dir():
            raise DistributionError(
                f"{path.name} has no {top_folder}/{CARBON_XML}, so it is not a WSO2 Carbon product "
                "distribution (or it is incomplete).",
                f"Use the product zip as downloaded from WSO2. {_DOWNLOAD_AGAIN}",
            )
        product_name, version_from_xml = _read_carbon_name_and_version(path, archive, carbon_xml)
        files = [info for info in infos if not info.is_dir()]
        product = _product_from(product_name, top_folder)
        version = version_from_xml or _version_from_top_folder(top_folder)
        return DistributionInfo(
            path=path,
            product=product,
            product_name=product_name,
            product_version=version,
            top_folder=top_folder,
            has_start_script=f"{top_folder}/{START_SCRIPT}" in members,
            file_count=len(files),
            total_bytes=sum(info.file_size for info in files),
        )


def expect_product(info: DistributionInfo, product: str, expected_version: str | None) -> list[str]:
    """Refuse a zip that is not ``product``; return warnings for a version other than expected."""
    if product not in PRODUCT_NAMES:
        raise ValueError(f"unknown product key {product!r}; expected one of {sorted(PRODUCT_NAMES)}")
    wanted = PRODUCT_NAMES[product]
    if info.product != product:
        raise DistributionError(
            f"{info.path.name} is {info.description}, but the {product} distribution must be {wanted}.",
            "Check the distributions section of the plan: the esb and elb zips may be swapped, "
            "or a different product was downloaded.",
        )
    warnings: list[str] = []
    if expected_version is not None and info.product_version != expected_version:
        found = info.product_version or "of an unknown version"
        warnings.append(
            f"{info.path.name} is {wanted} {found}, not {expected_version}: the installer was made "
            f"for {expected_version}, and the configuration files it patches may differ."
        )
    if not info.has_start_script:
        warnings.append(f"{info.path.name} has no {info.top_folder}/{START_SCRIPT}: nodes cannot be started.")
    return warnings


def inspect_jdbc_driver(path: Path) -> DriverInfo:
    """Check that ``path`` is a jar with a MySQL JDBC driver; list its driver classes."""
    path = Path(path)
    with _open_zip(path, kind="JDBC driver jar") as archive:
        members = {info.filename: info for info in archive.infolist()}
        services = members.get(JDBC_SERVICES_FILE)
        if services is not None:
            listed = _services_file_classes(_read_small_member(path, archive, services))
            driver_classes = [name for name in listed if name.startswith("com.mysql.")]
            if listed and not driver_classes:
                raise DistributionError(
                    f"{path.name} is a JDBC driver for {', '.join(listed)}, not for MySQL.",
                    "Use MySQL Connector/J (for example mysql-connector-java-5.1.25-bin.jar).",
                )
        else:
            driver_classes = []
        if not driver_classes:
            # Drivers older than JDBC 4 have no services file; recognise the class files.
            driver_classes = [
                name for name in MYSQL_DRIVER_CLASSES if name.replace(".", "/") + ".class" in members
            ]
        if not driver_classes:
            raise DistributionError(
                f"{path.name} contains no MySQL JDBC driver (no {JDBC_SERVICES_FILE} naming one, and "
                f"no {' or '.join(name.replace('.', '/') + '.class' for name in MYSQL_DRIVER_CLASSES)}).",
                "Use MySQL Connector/J (for example mysql-connector-java-5.1.25-bin.jar).",
            )
        manifest = members.get("META-INF/MANIFEST.MF")
        version = None
        if manifest is not None:
            version = _manifest_version(_read_small_member(path, archive, manifest))
        return DriverInfo(path=path, driver_classes=tuple(driver_classes), version=version)


# --------------------------------------------------------------------------------------------
# Installing a distribution into node homes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One zip entry, checked, with its path inside a home (top folder stripped)."""

    info: zipfile.ZipInfo
    relative: str  # "bin/wso2server.sh"; "" for the top folder itself
    kind: str  # "file" | "dir" | "symlink"
    permissions: int | None  # None: not recorded, use the defaults
    mtime: float
    link_target: str | None = None


@dataclass(frozen=True)
class _ExtractionPlan:
    files: list[_Entry]
    folders: list[_Entry]  # folders that have an entry of their own (mode and mtime to restore)
    folder_paths: list[str]  # every folder to create, parents first
    symlinks: list[_Entry]
    # Uncompressed bytes of files and symlinks, as inspect_distribution counts them.
    total_bytes: int


def check_archive(zip_path: Path) -> None:
    """Check every entry of a distribution as extraction would, writing nothing.

    Raises DistributionError naming the first unsafe entry (absolute path, ``..``, a link leaving
    the home, ...); used by plan validation so a bad zip is refused before anything changes.
    """
    extract_homes(zip_path, [])


def extract_homes(
    zip_path: Path,
    homes: Sequence[Path],
    *,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Install the distribution ``zip_path`` into each of ``homes`` (its top folder stripped).

    Every entry is checked before anything is written; each home appears under its final name
    only when it is complete. Permission bits, symlinks and modification times recorded in the
    zip are kept. ``on_progress(done_bytes, total_bytes)`` is called from this thread, at most
    about 100 times a second, first with ``(0, total)`` and last with ``(total, total)``, where
    ``total`` is the zip's uncompressed size (``DistributionInfo.total_bytes``) x number of homes.

    Raises DistributionError, naming the entry, for an unsafe or damaged zip (nothing is left
    under a home's name) and for a home that already exists.
    """
    zip_path = Path(zip_path)
    homes = [Path(home) for home in homes]
    _check_homes(homes)
    with _open_zip(zip_path, kind="distribution") as archive:
        plan = _plan_extraction(zip_path, archive)
        if not homes:
            return
        _check_free_space(zip_path, plan, homes)
        total_bytes = plan.total_bytes * len(homes)
        progress = _ProgressReporter(total_bytes, on_progress)
        progress.report(force=True)
        try:
            with contextlib.ExitStack() as staging_folders:
                stagings: list[Path] = []
                for home in homes:
                    _remove_stale_staging(home)
                    stagings.append(staging_folders.enter_context(temporary_sibling_dir(home)))
                _create_folders_and_symlinks(plan, stagings)
                progress.add(sum(link.info.file_size for link in plan.symlinks) * len(stagings))
                _extract_files(zip_path, archive, plan.files, stagings, progress)
                _restore_folder_metadata(plan, stagings)
                progress.report(force=True)
                for staging, home in zip(stagings, homes, strict=True):
                    if os.path.lexists(home):
                        raise DistributionError(
                            f"{home} appeared while {zip_path.name} was being extracted; it was left alone.",
                            "Make sure no other installer run works on the same install folder.",
                        )
                    os.rename(staging, home)
                    fsync_dir(home.parent)
        except OSError as error:
            raise _write_error(zip_path, error) from error


def _check_homes(homes: list[Path]) -> None:
    seen: set[Path] = set()
    for home in homes:
        absolute = Path(os.path.abspath(home))
        if absolute in seen:
            raise DistributionError(f"{home} is given twice as a node home.", "Each node needs its own home.")
        seen.add(absolute)
        if os.path.lexists(home):
            raise DistributionError(
                f"{home} already exists; a node home is only extracted when it is missing.",
                "Remove or rename it if it should be extracted again.",
            )


def _plan_extraction(zip_path: Path, archive: zipfile.ZipFile) -> _ExtractionPlan:
    """Check every entry and decide what to create; raise on the first unsafe entry."""
    infos = archive.infolist()
    # Names first: "../evil" or "/etc/x" must be reported as such, not as a second top folder.
    for info in infos:
        reason = _unsafe_name_reason(info.filename)
        if reason is not None:
            raise _unsafe_entry(zip_path, info.filename, reason)
    top_folder = _single_top_folder(zip_path, infos)
    entries: list[_Entry] = []
    seen: dict[str, str] = {}
    for info in infos:
        relative = info.filename.rstrip("/")[len(top_folder) + 1 :]
        if relative in seen:
            raise _unsafe_entry(zip_path, info.filename, f"appears twice (also as {seen[relative]!r})")
        seen[relative] = info.filename
        if info.flag_bits & 0x1:
            raise _unsafe_entry(zip_path, info.filename, "is encrypted")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise _unsafe_entry(
                zip_path, info.filename, f"uses unsupported compression method {info.compress_type}"
            )
        entries.append(_entry_for(zip_path, info, relative))
    if not any(entry.kind != "dir" for entry in entries):
        raise DistributionError(f"{zip_path.name} contains no files.", _DOWNLOAD_AGAIN)

    kinds = {entry.relative: entry.kind for entry in entries}
    for entry in entries:
        parent = PurePosixPath(entry.relative).parent
        for ancestor in (parent, *parent.parents):
            ancestor_kind = kinds.get(str(ancestor)) if str(ancestor) != "." else None
            if ancestor_kind in ("file", "symlink"):
                # Writing through a symlink entry is the classic way out of the home.
                raise _unsafe_entry(
                    zip_path,
                    entry.info.filename,
                    f"lies inside {ancestor}, which the zip makes a {ancestor_kind}",
                )

    symlink_targets: dict[str, str] = {}
    symlinks: list[_Entry] = []
    for index, entry in enumerate(entries):
        if entry.kind == "symlink":
            target = _read_symlink_target(zip_path, archive, entry.info)
            entry = _Entry(entry.info, entry.relative, "symlink", entry.permissions, entry.mtime, target)
            entries[index] = entry
            symlink_targets[entry.relative] = target
            symlinks.append(entry)
    for entry in symlinks:
        reason = _symlink_escape_reason(entry.relative, entry.link_target or "", symlink_targets)
        if reason is not None:
            raise _unsafe_entry(
                zip_path, entry.info.filename, f"is a symlink to {entry.link_target!r}, which {reason}"
            )

    folder_paths: set[str] = set()
    for entry in entries:
        path = PurePosixPath(entry.relative)
        for ancestor in (path, *path.parents) if entry.kind == "dir" else path.parents:
            if str(ancestor) not in (".", ""):
                folder_paths.add(str(ancestor))
    files = [entry for entry in entries if entry.kind == "file"]
    return _ExtractionPlan(
        files=files,
        folders=[entry for entry in entries if entry.kind == "dir"],
        folder_paths=sorted(folder_paths, key=lambda folder: (folder.count("/"), folder)),
        symlinks=symlinks,
        total_bytes=sum(entry.info.file_size for entry in entries if entry.kind != "dir"),
    )


def _entry_for(zip_path: Path, info: zipfile.ZipInfo, relative: str) -> _Entry:
    unix_mode = info.external_attr >> 16 if info.create_system == _UNIX_CREATOR else 0
    file_type = stat.S_IFMT(unix_mode)
    if info.is_dir() or file_type == stat.S_IFDIR:
        kind = "dir"
    elif file_type == stat.S_IFLNK:
        kind = "symlink"
    elif file_type in (0, stat.S_IFREG):
        kind = "file"
    else:
        raise _unsafe_entry(zip_path, info.filename, "is a device, fifo or socket, not a file")
    if kind == "dir" and relative and not info.is_dir():
        raise _unsafe_entry(zip_path, info.filename, "is marked as a folder but its name does not end in '/'")
    # setuid/setgid/sticky are dropped, as unzip does without -K: an installer often runs as root.
    permissions = unix_mode & 0o777 or None
    return _Entry(info, relative, kind, permissions, _entry_mtime(info))


def _unsafe_name_reason(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL character"
    if "\\" in name:
        return "contains a backslash, which some tools take as a folder separator"
    if name.startswith("/"):
        return "is an absolute path"
    if re.match(r"[A-Za-z]:", name):
        return "starts with a drive letter"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "has a '..' component, which leads out of the home"
    if "" in parts or "." in parts:
        return "has an empty or '.' path component"
    return None


def _symlink_escape_reason(link: str, target: str, symlink_targets: dict[str, str]) -> str | None:
    """Why following ``target`` from the symlink ``link`` could leave the home, or None.

    Resolved the way the kernel would, on the tree the zip describes: a symlink met on the way
    is replaced by its own target, so ``a -> x/s/..`` where ``x/s -> ..`` is caught although
    ``x/s/..`` looks harmless written out.
    """
    if not target:
        return "is empty"
    if len(target.encode("utf-8", "surrogateescape")) >= _SYMLINK_TARGET_MAX_BYTES:
        return "is too long"
    if "\x00" in target or "\\" in target:
        return "contains a NUL or a backslash"
    if target.startswith("/"):
        return "is absolute, outside the home"
    resolved = list(PurePosixPath(link).parent.parts)
    pending = target.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return "leads out of the home"
            resolved.pop()
            continue
        candidate = "/".join([*resolved, part])
        if candidate in symlink_targets:
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                return "never resolves (a symlink loop)"
            inner = symlink_targets[candidate]
            if inner.startswith("/"):
                return f"passes through {candidate}, a symlink to an absolute path"
            pending = inner.split("/") + pending
            continue
        resolved.append(part)
    return None


def _read_symlink_target(zip_path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size >= _SYMLINK_TARGET_MAX_BYTES:
        raise _unsafe_entry(zip_path, info.filename, f"is a symlink with a {info.file_size}-byte target")
    data = _read_member(zip_path, archive, info)
    return os.fsdecode(data)


def _entry_mtime(info: zipfile.ZipInfo) -> float:
    """The entry's modification time, as unzip reads it: the UTC "UT" field, else local DOS time."""
    extra = info.extra
    offset = 0
    while offset + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, offset)
        data = extra[offset + 4 : offset + 4 + size]
        if header_id == _EXTENDED_TIMESTAMP_EXTRA and len(data) >= 5 and data[0] & 0x1:
            return float(struct.unpack_from("<I", data, 1)[0])
        offset += 4 + size
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return time.time()


def _check_free_space(zip_path: Path, plan: _ExtractionPlan, homes: list[Path]) -> None:
    """Refuse early rather than fill the disk and fail half-way: cheap, and far kinder."""
    block = 4096
    per_home = sum(-(-entry.info.file_size // block) * block for entry in plan.files)
    per_home += block * (len(plan.folder_paths) + len(plan.symlinks) + 1)
    needed_by_device: dict[int, tuple[int, Path]] = {}
    for home in homes:
        existing = Path(os.path.abspath(home)).parent
        while not existing.exists():
            existing = existing.parent
        device = existing.stat().st_dev
        needed, _ = needed_by_device.get(device, (0, existing))
        needed_by_device[device] = (needed + per_home, existing)
    for needed, folder in needed_by_device.values():
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise DistributionError(
                f"Extracting {zip_path.name} needs about {_megabytes(needed)} in {folder}, "
                f"but only {_megabytes(free)} is free.",
                "Free some space or choose another install folder, then run again.",
            )


def _remove_stale_staging(home: Path) -> None:
    """Remove a staging folder left by an interrupted run, even one whose folders are read-only."""
    staging = home.with_name(f".{home.name}.partial")
    if not os.path.lexists(staging):
        return
    if staging.is_dir() and not staging.is_symlink():
        for folder, _subfolders, _files in os.walk(staging):
            with contextlib.suppress(OSError):
                os.chmod(folder, 0o700)
        shutil.rmtree(staging)
    else:
        staging.unlink()


def _create_folders_and_symlinks(plan: _ExtractionPlan, stagings: list[Path]) -> None:
    for staging in stagings:
        for folder in plan.folder_paths:
            os.mkdir(staging / folder)
        for link in plan.symlinks:
            path = staging / link.relative
            os.symlink(link.link_target or "", path)
            os.utime(path, (link.mtime, link.mtime), follow_symlinks=False)


def _restore_folder_metadata(plan: _ExtractionPlan, stagings: list[Path]) -> None:
    # Last, deepest first: writing into a folder changes its mtime, and a read-only folder
    # recorded in the zip could not have been written into.
    for folder in sorted(plan.folders, key=lambda entry: entry.relative.count("/"), reverse=True):
        for staging in stagings:
            path = staging / folder.relative if folder.relative else staging
            if folder.permissions is not None:
                os.chmod(path, folder.permissions)
            os.utime(path, (folder.mtime, folder.mtime))


def _extract_files(
    zip_path: Path,
    archive: zipfile.ZipFile,
    files: list[_Entry],
    stagings: list[Path],
    progress: _ProgressReporter,
) -> None:
    """Decompress each file once, into the first home, and copy it into the others; in parallel."""
    work: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
    # Big entries first, so that the last ones to finish are small and both cores stay busy.
    for entry in sorted(files, key=lambda entry: entry.info.compress_size, reverse=True):
        work.put(entry)
    abort = threading.Event()
    failures: list[BaseException] = []

    def extract_until_done() -> None:
        try:
            while not abort.is_set():
                try:
                    entry = work.get_nowait()
                except queue.Empty:
                    return
                _extract_one_file(zip_path, archive, entry, stagings, progress, abort)
        except BaseException as error:  # handed to the calling thread, which raises it
            failures.append(error)
            abort.set()

    # Plain threads and a queue rather than an executor with a future per entry: waiting on a
    # thousand futures a hundred times a second costs more CPU than the extraction itself.
    workers = [
        threading.Thread(target=extract_until_done, name=f"extract-{number}", daemon=True)
        for number in range(min(_WORKERS, len(files)))
    ]
    for worker in workers:
        worker.start()
    try:
        for worker in workers:
            while worker.is_alive():
                worker.join(_PROGRESS_MIN_INTERVAL)
                progress.report()
    finally:
        # On an error (or Ctrl-C) stop the other workers before the staging folders are removed.
        abort.set()
        for worker in workers:
            worker.join()
    if failures:
        raise failures[0]


def _extract_one_file(
    zip_path: Path,
    archive: zipfile.ZipFile,
    entry: _Entry,
    stagings: list[Path],
    progress: _ProgressReporter,
    abort: threading.Event,
) -> None:
    if abort.is_set():
        return
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptors: list[int] = []
    try:
        for staging in stagings:
            # Created private; the recorded mode is applied once the content is complete.
            descriptors.append(os.open(staging / entry.relative, flags, 0o600))
        first, others = descriptors[0], descriptors[1:]
        written = 0
        try:
            with archive.open(entry.info) as stream:
                while chunk := stream.read(_CHUNK_BYTES):
                    if abort.is_set():
                        return
                    _write_all(first, chunk)
                    written += len(chunk)
                    progress.add(len(chunk))
        except _UNREADABLE_ENTRY_ERRORS as error:
            # ZipExtFile checks the CRC when it reaches the end of the entry.
            raise DistributionError(
                f"{zip_path.name} is damaged: entry {entry.info.filename} cannot be read ({error}).",
                f"The archive is corrupt or incomplete. {_DOWNLOAD_AGAIN}",
            ) from error
        if written != entry.info.file_size:
            raise DistributionError(
                f"{zip_path.name} is damaged: entry {entry.info.filename} holds {written} bytes, "
                f"its header says {entry.info.file_size}.",
                f"The archive is corrupt or incomplete. {_DOWNLOAD_AGAIN}",
            )
        for other in others:
            for copied in _copy_file_content(first, other, written):
                if abort.is_set():
                    return
                progress.add(copied)
        permissions = entry.permissions if entry.permissions is not None else 0o644
        for descriptor in descriptors:
            os.fchmod(descriptor, permissions)
            os.utime(descriptor, (entry.mtime, entry.mtime))
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _copy_file_content(source: int, target: int, size: int) -> Iterator[int]:
    """Copy ``size`` bytes kernel-side, yielding each amount copied.

    ``copy_file_range`` shares extents on file systems that can (btrfs, xfs) and copies page to
    page elsewhere; ``sendfile`` covers kernels or file-system pairs that refuse it (EXDEV
    between mounts on older kernels, for example). Never a hard link: nodes change their files.
    """
    offset = 0
    use_copy_file_range = hasattr(os, "copy_file_range")
    while offset < size:
        count = min(_COPY_CHUNK_BYTES, size - offset)
        copied = 0
        if use_copy_file_range:
            try:
                copied = os.copy_file_range(source, target, count, offset, offset)
            except OSError as error:
                if error.errno not in (
                    errno.EXDEV,
                    errno.ENOSYS,
                    errno.EOPNOTSUPP,
                    errno.EINVAL,
                    errno.EPERM,
                ):
                    raise
                use_copy_file_range = False
                continue
        else:
            os.lseek(target, offset, os.SEEK_SET)
            copied = os.sendfile(target, source, offset, count)
        if copied == 0:
            raise OSError(errno.EIO, f"copy stopped at byte {offset} of {size}")
        offset += copied
        yield copied


class _ProgressReporter:
    """Counts bytes from the workers; reports from the calling thread, throttled."""

    def __init__(self, total_bytes: int, on_progress: ProgressCallback | None) -> None:
        self.total_bytes = total_bytes
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._done_bytes = 0
        self._reported_bytes = -1
        self._reported_at = 0.0

    def add(self, byte_count: int) -> None:
        with self._lock:
            self._done_bytes += byte_count

    def report(self, *, force: bool = False) -> None:
        if self._on_progress is None:
            return
        with self._lock:
            done = self._done_bytes
        now = time.monotonic()
        if done == self._reported_bytes:
            return
        if not force:
            since = now - self._reported_at
            if since < _PROGRESS_MIN_INTERVAL:
                return
            if done - self._reported_bytes < _PROGRESS_STEP_BYTES and since < _PROGRESS_QUIET_INTERVAL:
                return
        self._reported_bytes = done
        self._reported_at = now
        self._on_progress(done, self.total_bytes)


# --------------------------------------------------------------------------------------------
# Reading zips
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _open_zip(path: Path, *, kind: str) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as error:
        raise DistributionError(f"{path} does not exist.", "Check the path in the plan.") from error
    except IsADirectoryError as error:
        raise DistributionError(
            f"{path} is a folder, not a {kind} file.",
            "Give the zip file as downloaded, not an extracted copy.",
        ) from error
    except PermissionError as error:
        raise DistributionError(
            f"{path} cannot be read (permission denied).", "Check its permissions."
        ) from error
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise DistributionError(_not_a_zip_message(path, kind), _DOWNLOAD_AGAIN) from error
    with archive:
        yield archive


def _not_a_zip_message(path: Path, kind: str) -> str:
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
        size = path.stat().st_size
    except OSError:
        return f"{path.name} cannot be read as a zip file."
    if size == 0:
        return f"{path.name} is empty (0 bytes); it is not a {kind}."
    if start == b"PK\x03\x04":
        return (
            f"{path.name} is truncated or damaged: it starts like a zip, but the zip directory at its end "
            f"is missing ({size} bytes on disk)."
        )
    return f"{path.name} is not a zip file, so it cannot be a {kind}."


def _single_top_folder(path: Path, infos: list[zipfile.ZipInfo]) -> str:
    if not infos:
        raise DistributionError(f"{path.name} is an empty zip.", _DOWNLOAD_AGAIN)
    tops: set[str] = set()
    for info in infos:
        first, separator, _rest = info.filename.partition("/")
        # A top-level file has no "/" at all: the zip then has no single top folder.
        tops.add(first if separator else f"{first} (a file)")
    if len(tops) != 1 or next(iter(tops)).endswith(" (a file)") or not next(iter(tops)):
        shown = ", ".join(sorted(tops)[:5]) + (", ..." if len(tops) > 5 else "")
        raise DistributionError(
            f"{path.name} does not have a single top folder (a WSO2 zip holds one, such as wso2esb-4.7.0/); "
            f"found: {shown}.",
            f"Use the product zip as downloaded from WSO2, not a repacked one. {_DOWNLOAD_AGAIN}",
        )
    return next(iter(tops))


def _read_member(zip_path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except _UNREADABLE_ENTRY_ERRORS as error:
        raise DistributionError(
            f"{zip_path.name} is damaged: entry {info.filename} cannot be read ({error}).",
            f"The archive is corrupt or incomplete. {_DOWNLOAD_AGAIN}",
        ) from error


def _read_small_member(zip_path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > _SMALL_MEMBER_MAX_BYTES:
        raise DistributionError(
            f"{zip_path.name}: {info.filename} is {_megabytes(info.file_size)}, far bigger than such a file can be.",
            _DOWNLOAD_AGAIN,
        )
    return _read_member(zip_path, archive, info)


def _read_carbon_name_and_version(
    zip_path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo
) -> tuple[str | None, str | None]:
    if info.file_size > _CARBON_XML_MAX_BYTES:
        raise DistributionError(
            f"{zip_path.name}: {info.filename} is {_megabytes(info.file_size)}; a carbon.xml is a few KB.",
            _DOWNLOAD_AGAIN,
        )
    data = _read_member(zip_path, archive, info)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise DistributionError(
            f"{zip_path.name}: {info.filename} is not valid XML ({error}).", _DOWNLOAD_AGAIN
        ) from error
    # Carbon puts <Name> and <Version> in carbon.xml's default namespace
    # (http://wso2.org/projects/carbon/carbon.xml); older files have none.
    namespace = etree.QName(root).namespace

    def child_text(local_name: str) -> str | None:
        element = root.find(f"{{{namespace}}}{local_name}" if namespace else local_name)
        if element is None or element.text is None:
            return None
        text = element.text.strip()
        # An unfiltered kernel template says ${product.name}: that names nothing.
        return text if text and not text.startswith("${") else None

    return child_text("Name"), child_text("Version")


def _product_from(product_name: str | None, top_folder: str) -> str:
    for product, name in PRODUCT_NAMES.items():
        if product_name == name:
            return product
    if product_name is None:
        for product, prefix in _TOP_FOLDER_PREFIXES.items():
            if top_folder.startswith(prefix):
                return product
    return "unknown"


def _version_from_top_folder(top_folder: str) -> str | None:
    match = re.fullmatch(r"wso2[a-z]+-(\d[\w.-]*)", top_folder)
    return match.group(1) if match else None


def _services_file_classes(data: bytes) -> list[str]:
    classes = []
    for line in data.decode("utf-8", "replace").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            classes.append(name)
    return classes


def _manifest_version(data: bytes) -> str | None:
    attributes: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, separator, value = line.partition(":")
        if separator and not line.startswith(" "):
            attributes.setdefault(key.strip(), value.strip())
    return attributes.get("Implementation-Version") or attributes.get("Bundle-Version")


def _unsafe_entry(zip_path: Path, entry_name: str, reason: str) -> DistributionError:
    return DistributionError(
        f"{zip_path.name} was not extracted: entry {entry_name!r} {reason}.",
        "A genuine WSO2 distribution never contains such an entry; the file may have been tampered "
        f"with. {_DOWNLOAD_AGAIN}",
    )


def _write_error(zip_path: Path, error: OSError) -> DistributionError:
    where = f" ({error.filename})" if error.filename else ""
    return DistributionError(
        f"Extracting {zip_path.name} failed: {error.strerror or error}{where}.",
        "Check free space and permissions of the install folder, then run again: homes that were "
        "not complete were removed.",
    )


def _megabytes(byte_count: int) -> str:
    return f"{byte_count / (1024 * 1024):.0f} MB"
