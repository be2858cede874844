"""Builds the fixture distributions: ``wso2esb-4.7.0.zip``, ``wso2elb-2.0.3.zip`` and a JDBC driver.

The zips have the layout of the real packs (one top folder, directory entries, unix modes in
``external_attr``, deflate) and our own, much shorter configuration files: template files under
``tests/support/templates``, rendered by ``tests.support.distribution_texts``.
``bin/wso2server.sh`` starts the Carbon stand-in (``tests.support.carbon_standin``) instead of a
JVM.

Everything is deterministic: fixed timestamps, sorted entries, seeded randomness, so two builds
give the same bytes. ``realistic=True`` adds padding jars (seeded random bytes, so they do not
compress) until the ESB is about 150 MB / 1,000 files and the ELB about 40 MB / 300 files, for
benchmarks of extraction and hashing; the padding is streamed into the zip, so the builder never
holds more than one small jar entry in memory.

Usage::

    python -m tests.support.build_distributions OUT_DIR [--realistic]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import stat
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support import distribution_texts as texts

ESB_VERSION = "4.7.0"
ELB_VERSION = "2.0.3"
# The Carbon kernel patch release the ESB 4.7.0 source tree builds on (SOURCES.md, section D).
ESB_CARBON_VERSION = "4.0.5"
ELB_CARBON_VERSION = "4.1.0"
JDBC_DRIVER_VERSION = "5.1.25"
JDBC_DRIVER_FILE_NAME = f"mysql-connector-java-{JDBC_DRIVER_VERSION}-bin.jar"
JDBC_DRIVER_CLASS = "com.mysql.jdbc.Driver"

# Paths inside a product home, for tests that look at or break one file (see ``mutate``).
WSO2SERVER_SH = "bin/wso2server.sh"
VERSION_TXT = "bin/version.txt"
CARBON_XML = "repository/conf/carbon.xml"
AXIS2_XML = "repository/conf/axis2/axis2.xml"
MASTER_DATASOURCES_XML = "repository/conf/datasources/master-datasources.xml"
USER_MGT_XML = "repository/conf/user-mgt.xml"
REGISTRY_XML = "repository/conf/registry.xml"
CATALINA_SERVER_XML = "repository/conf/tomcat/catalina-server.xml"
LOG4J_PROPERTIES = "repository/conf/log4j.properties"
LOADBALANCER_CONF = "repository/conf/loadbalancer.conf"
MYSQL_SQL = "dbscripts/mysql.sql"
# Directories are keys ending in "/" (see ``FixtureFile.directory``).
COMPONENTS_LIB_DIR = "repository/components/lib/"
LOGS_DIR = "repository/logs/"

# Every entry of every zip and jar gets this timestamp, so that builds are reproducible.
# (A date of the ESB 4.7.0 era; zip timestamps have no time zone.)
ZIP_DATE_TIME = (2013, 6, 28, 10, 30, 0)
_UNIX = 3  # ZipInfo.create_system: the mode bits in external_attr are unix ones
_MSDOS_DIRECTORY = 0x10

MB = 1_000_000


@dataclass(frozen=True)
class FixtureFile:
    """One entry of a product home: its bytes and its unix permission bits.

    A directory is a key ending in ``/`` mapped to ``FixtureFile.directory()``.
    """

    data: bytes
    mode: int = 0o644

    @classmethod
    def text(cls, content: str, *, mode: int = 0o644) -> FixtureFile:
        # ASCII only: the files declare ISO-8859-1, UTF-8 or nothing, and ASCII is all three.
        return cls(content.encode("ascii"), mode)

    @classmethod
    def directory(cls, *, mode: int = 0o755) -> FixtureFile:
        return cls(b"", mode)


@dataclass(frozen=True)
class Padding:
    """Incompressible jars added to a distribution to give it a realistic size.

    ``total_bytes`` is about what the jars add to the zip; ``jar_count`` jars go into
    ``folder``, with sizes spread like a real pack's (many small ones, a few of several MB).
    """

    total_bytes: int
    jar_count: int
    seed: int = 470
    folder: str = "repository/components/plugins"

    def jars(self) -> list[PaddingJar]:
        """The jars, each with its path and size, in a fixed order."""
        rng = random.Random(self.seed)
        # Log-normal sizes: for 1,000 jars the median is ~50 KB and the largest few are 3-7 MB,
        # as in a Carbon plugins folder; then scaled so that they add up to total_bytes.
        weights = [rng.lognormvariate(0.0, 1.5) for _ in range(self.jar_count)]
        scale = self.total_bytes / sum(weights) if weights else 0.0
        jars = []
        for index, weight in enumerate(weights):
            first = _NAME_WORDS[rng.randrange(len(_NAME_WORDS))]
            second = _NAME_WORDS[rng.randrange(len(_NAME_WORDS))]
            # The index keeps names unique whatever words come out.
            name = f"org.wso2.fixture.{first}.{second}_4.0.{index}.jar"
            jars.append(
                PaddingJar(
                    path=f"{self.folder.rstrip('/')}/{name}",
                    size=max(_MIN_PADDING_JAR, round(weight * scale)),
                    seed=self.seed * 1_000_003 + index,
                )
            )
        return jars


@dataclass(frozen=True)
class PaddingJar:
    path: str  # inside the product home
    size: int  # about how many bytes the jar takes
    seed: int


_MIN_PADDING_JAR = 2_048
_NAME_WORDS = (
    "axis2", "synapse", "registry", "user", "core", "security", "transport", "mediation",
    "tenant", "deployment", "clustering", "logging", "ui", "statistics", "tracer", "proxy",
    "endpoint", "sequence", "task", "event", "throttle", "caching", "rest", "api", "priority",
)  # fmt: skip

# How much a zip entry costs besides its data (local header + central directory record +
# data descriptor, for a name of ~40 characters); used to hit a padding jar's size.
_ENTRY_OVERHEAD = 30 + 46 + 16 + 2 * 40
# Entries of a padding jar are between these sizes, like compiled classes and resources.
_PADDING_ENTRY_SIZES = (512, 48 * 1024)

# Realistic sizes (SOURCES.md found none published; these are typical of the era's packs).
ESB_REALISTIC_TOTAL_BYTES = 150 * MB
ESB_REALISTIC_FILE_COUNT = 1_000
ELB_REALISTIC_TOTAL_BYTES = 40 * MB
ELB_REALISTIC_FILE_COUNT = 300


# --------------------------------------------------------------------------------------------
# Contents
# --------------------------------------------------------------------------------------------


def esb_files(version: str = ESB_VERSION) -> dict[str, FixtureFile]:
    """The files of a WSO2 ESB home (paths relative to ``wso2esb-<version>/``); a new dict each call."""
    files = {
        WSO2SERVER_SH: FixtureFile.text(texts.wso2server_sh(), mode=0o755),
        VERSION_TXT: FixtureFile.text(
            texts.version_txt(product_name="WSO2 Enterprise Service Bus", version=version)
        ),
        "bin/wso2carbon-version.txt": FixtureFile.text(
            texts.wso2carbon_version_txt(carbon_version=ESB_CARBON_VERSION)
        ),
        CARBON_XML: FixtureFile.text(
            texts.carbon_xml(
                name="WSO2 Enterprise Service Bus",
                server_key="ESB",
                version=version,
                server_role="EnterpriseServiceBus",
            )
        ),
        AXIS2_XML: FixtureFile.text(texts.esb_axis2_xml(version)),
        MASTER_DATASOURCES_XML: FixtureFile.text(texts.esb_master_datasources_xml()),
        USER_MGT_XML: FixtureFile.text(texts.esb_user_mgt_xml()),
        REGISTRY_XML: FixtureFile.text(texts.esb_registry_xml()),
        CATALINA_SERVER_XML: FixtureFile.text(texts.catalina_server_xml()),
        LOG4J_PROPERTIES: FixtureFile.text(
            texts.log4j_properties(
                product_label=f"WSO2 ESB {version}",
                error_log="${carbon.home}/repository/logs/wso2-esb-errors.log",
            )
        ),
        MYSQL_SQL: FixtureFile.text(texts.esb_mysql_sql()),
        "README.txt": FixtureFile.text(texts.esb_readme_txt(version)),
        # Where the operator (and the installer) puts the JDBC driver: empty in a fresh pack.
        COMPONENTS_LIB_DIR: FixtureFile.directory(),
        LOGS_DIR: FixtureFile.directory(),
    }
    for path, bundle, bundle_version in (
        ("lib/org.wso2.carbon.server-4.0.0.jar", "org.wso2.carbon.server", "4.0.0"),
        ("lib/endorsed/saxon9he.jar", "net.sf.saxon", "9.1.0"),
        (
            f"repository/components/plugins/org.wso2.carbon.core_{ESB_CARBON_VERSION}.jar",
            "org.wso2.carbon.core",
            ESB_CARBON_VERSION,
        ),
        (
            f"repository/components/plugins/org.wso2.carbon.registry.core_{ESB_CARBON_VERSION}.jar",
            "org.wso2.carbon.registry.core",
            ESB_CARBON_VERSION,
        ),
        ("repository/components/plugins/axis2_1.6.1.wso2v7.jar", "axis2", "1.6.1.wso2v7"),
        ("repository/components/plugins/synapse-core_2.1.1.wso2v4.jar", "synapse-core", "2.1.1.wso2v4"),
    ):
        files[path] = FixtureFile(bundle_jar(bundle, bundle_version))
    return files


def elb_files(version: str = ELB_VERSION) -> dict[str, FixtureFile]:
    """The files of a WSO2 ELB home (paths relative to ``wso2elb-<version>/``); a new dict each call."""
    files = {
        # The real ELB script adds these two system properties to the JVM's command line.
        WSO2SERVER_SH: FixtureFile.text(
            texts.wso2server_sh(
                extra_arguments=(
                    "-Dwso2.loadbalancer=true -Dloadbalancer.conf=file:repository/conf/loadbalancer.conf"
                )
            ),
            mode=0o755,
        ),
        VERSION_TXT: FixtureFile.text(
            texts.version_txt(product_name="WSO2 Elastic Load Balancer", version=version)
        ),
        "bin/wso2carbon-version.txt": FixtureFile.text(
            texts.wso2carbon_version_txt(carbon_version=ELB_CARBON_VERSION)
        ),
        CARBON_XML: FixtureFile.text(
            texts.carbon_xml(
                name="WSO2 Elastic Load Balancer",
                server_key="ELB",
                version=version,
                server_role="LoadBalancer",
            )
        ),
        AXIS2_XML: FixtureFile.text(texts.elb_axis2_xml()),
        LOADBALANCER_CONF: FixtureFile.text(texts.elb_loadbalancer_conf()),
        USER_MGT_XML: FixtureFile.text(texts.elb_user_mgt_xml()),
        # The ELB is a Carbon server too: its servlet ports (9763/9443 + offset) come from here.
        CATALINA_SERVER_XML: FixtureFile.text(texts.catalina_server_xml()),
        LOG4J_PROPERTIES: FixtureFile.text(
            texts.log4j_properties(
                product_label=f"WSO2 ELB {version}",
                error_log="repository/logs/wso2-elb-errors.log",
            )
        ),
        "README.txt": FixtureFile.text(texts.elb_readme_txt(version)),
        LOGS_DIR: FixtureFile.directory(),
    }
    for path, bundle, bundle_version in (
        ("lib/org.wso2.carbon.server-4.1.0.jar", "org.wso2.carbon.server", "4.1.0"),
        (
            f"repository/components/plugins/org.wso2.carbon.lb.common_{ELB_CARBON_VERSION}.jar",
            "org.wso2.carbon.lb.common",
            ELB_CARBON_VERSION,
        ),
        ("repository/components/plugins/axis2_1.6.1.wso2v8.jar", "axis2", "1.6.1.wso2v8"),
    ):
        files[path] = FixtureFile(bundle_jar(bundle, bundle_version))
    return files


def esb_realistic_padding(files: Mapping[str, FixtureFile]) -> Padding:
    """Padding that brings an ESB home with ``files`` to about 150 MB and 1,000 files."""
    return Padding(
        total_bytes=ESB_REALISTIC_TOTAL_BYTES,
        jar_count=max(0, ESB_REALISTIC_FILE_COUNT - _file_count(files)),
        seed=470,
    )


def elb_realistic_padding(files: Mapping[str, FixtureFile]) -> Padding:
    """Padding that brings an ELB home with ``files`` to about 40 MB and 300 files."""
    return Padding(
        total_bytes=ELB_REALISTIC_TOTAL_BYTES,
        jar_count=max(0, ELB_REALISTIC_FILE_COUNT - _file_count(files)),
        seed=203,
    )


def _file_count(files: Mapping[str, FixtureFile]) -> int:
    return sum(1 for path in files if not path.endswith("/"))


# --------------------------------------------------------------------------------------------
# Jars
# --------------------------------------------------------------------------------------------


def _class_file_bytes(seed: str, size: int = 64) -> bytes:
    """A few bytes that start like a Java class file (magic, then version 50.0 = Java 6)."""
    rng = random.Random(seed)
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x32" + rng.randbytes(size)


def _manifest(lines: Mapping[str, str]) -> bytes:
    # Jar manifests use CRLF line ends and end with an empty line.
    body = "".join(f"{key}: {value}\r\n" for key, value in lines.items())
    return f"Manifest-Version: 1.0\r\n{body}\r\n".encode("ascii")


def jar_bytes(entries: Mapping[str, bytes]) -> bytes:
    """A small jar (a zip) holding ``entries``, with their parent directories, deterministic."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        for name in sorted(_with_parent_directories(entries)):
            if name.endswith("/"):
                jar.mkdir(_zip_info(name, 0o755, directory=True))
            else:
                jar.writestr(_zip_info(name, 0o644), entries[name])
    return buffer.getvalue()


def bundle_jar(bundle: str, version: str) -> bytes:
    """A small OSGi-bundle-like jar: manifest plus one class file."""
    package = bundle.replace("-", "_").replace(".", "/")
    return jar_bytes(
        {
            "META-INF/MANIFEST.MF": _manifest(
                {
                    "Bundle-ManifestVersion": "2",
                    "Bundle-SymbolicName": bundle,
                    "Bundle-Version": version,
                    "Created-By": "wso2-cluster-installer test fixtures",
                }
            ),
            f"{package}/Activator.class": _class_file_bytes(f"{bundle}-{version}"),
        }
    )


def build_jdbc_driver(out_dir: Path, file_name: str = JDBC_DRIVER_FILE_NAME) -> Path:
    """Write a stand-in MySQL Connector/J jar that declares ``com.mysql.jdbc.Driver``."""
    class_path = JDBC_DRIVER_CLASS.replace(".", "/") + ".class"
    data = jar_bytes(
        {
            "META-INF/MANIFEST.MF": _manifest(
                {
                    "Implementation-Title": "MySQL Connector/J (wso2-cluster-installer test fixture)",
                    "Implementation-Version": JDBC_DRIVER_VERSION,
                    "Created-By": "wso2-cluster-installer test fixtures",
                }
            ),
            # How JDBC 4 finds drivers on the class path (java.util.ServiceLoader).
            "META-INF/services/java.sql.Driver": f"{JDBC_DRIVER_CLASS}\n".encode("ascii"),
            class_path: _class_file_bytes(JDBC_DRIVER_CLASS),
        }
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name
    _replace_with(path, lambda handle: handle.write(data))
    return path


def _padding_entry_sizes(jar: PaddingJar, rng: random.Random) -> Iterator[int]:
    """Sizes of the entries of a padding jar, adding up to about its size."""
    remaining = jar.size - 200  # the manifest entry and the end of the central directory
    low, high = _PADDING_ENTRY_SIZES
    while remaining > _ENTRY_OVERHEAD:
        size = min(rng.randint(low, high), remaining - _ENTRY_OVERHEAD)
        yield size
        remaining -= size + _ENTRY_OVERHEAD


def _write_padding_jar(stream: IO[bytes], jar: PaddingJar) -> None:
    """Write a padding jar into ``stream`` (a zip entry being written), one entry at a time."""
    rng = random.Random(jar.seed)
    bundle = jar.path.rsplit("/", 1)[-1].removesuffix(".jar")
    package = bundle.split("_", 1)[0].replace(".", "/")
    # ``stream`` cannot seek, so ZipFile writes data descriptors after each entry: a valid jar.
    with zipfile.ZipFile(stream, "w") as inner:
        inner.writestr(
            _zip_info("META-INF/MANIFEST.MF", 0o644),
            _manifest({"Bundle-SymbolicName": bundle, "Created-By": "wso2-cluster-installer test fixtures"}),
        )
        for index, size in enumerate(_padding_entry_sizes(jar, rng)):
            # Seeded random bytes: deterministic, and they do not compress, as jars do not
            # compress a second time inside a distribution zip.
            inner.writestr(_zip_info(f"{package}/C{index:04d}.class", 0o644), rng.randbytes(size))


# --------------------------------------------------------------------------------------------
# Zips
# --------------------------------------------------------------------------------------------


def _zip_info(name: str, mode: int, *, directory: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.create_system = _UNIX
    if directory:
        info.external_attr = ((stat.S_IFDIR | mode) << 16) | _MSDOS_DIRECTORY
        info.compress_type = zipfile.ZIP_STORED
        # ZipFile.mkdir(ZipInfo) writes these fields as they are (Python 3.11 does not set them).
        info.file_size = info.compress_size = info.CRC = 0
    else:
        info.external_attr = (stat.S_IFREG | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _with_parent_directories(paths: Iterable[str]) -> set[str]:
    """``paths`` plus every folder above them (as ``a/``, ``a/b/``)."""
    names = set(paths)
    for path in list(names):
        parts = path.rstrip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            names.add("/".join(parts[:depth]) + "/")
    return names


def _check_path(path: str) -> None:
    parts = path.rstrip("/").split("/")
    if path.startswith("/") or "" in parts or ".." in parts or "\\" in path:
        raise ValueError(f"not a relative path inside the product home: {path!r}")


def _replace_with(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through a temporary file, so a failed build never leaves half a file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as handle:
            write(handle)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_distribution_zip(
    path: Path,
    top_folder: str,
    files: Mapping[str, FixtureFile],
    *,
    padding: Padding | None = None,
) -> Path:
    """Write a distribution zip: ``files`` (and ``padding`` jars) under ``top_folder/``.

    Every folder gets its own entry (mode 0755), files keep their mode; entries are sorted and
    dated ``ZIP_DATE_TIME``, so the same input always gives the same bytes.
    """
    top = top_folder.strip("/")
    padding_jars = {jar.path: jar for jar in padding.jars()} if padding else {}
    for name in [*files, *padding_jars]:
        _check_path(name)
    clashes = set(files) & set(padding_jars)
    if clashes:
        raise ValueError(f"padding jars would replace fixture files: {sorted(clashes)}")
    for name, entry in files.items():
        if name.endswith("/") and entry.data:
            raise ValueError(f"a directory cannot hold data: {name!r}")

    names = _with_parent_directories([*files, *padding_jars])

    def write(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w") as archive:
            archive.mkdir(_zip_info(f"{top}/", 0o755, directory=True))
            # Sorted names put each folder right before its contents.
            for name in sorted(names):
                arcname = f"{top}/{name}"
                if name in padding_jars:
                    with archive.open(_zip_info(arcname, 0o644), "w") as stream:
                        _write_padding_jar(stream, padding_jars[name])
                elif name.endswith("/"):
                    mode = files[name].mode if name in files else 0o755
                    archive.mkdir(_zip_info(arcname, mode, directory=True))
                else:
                    entry = files[name]
                    archive.writestr(_zip_info(arcname, entry.mode), entry.data)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace_with(path, write)
    return path


def build_esb(
    out_dir: Path,
    *,
    realistic: bool = False,
    mutate: Callable[[dict[str, FixtureFile]], None] | None = None,
    file_name: str | None = None,
    version: str = ESB_VERSION,
    padding: Padding | None = None,
) -> Path:
    """Write ``wso2esb-<version>.zip`` into ``out_dir`` and return its path.

    ``mutate`` may change the files (replace, delete, add) before they are zipped.
    ``realistic`` pads the zip to about 150 MB / 1,000 files; ``padding`` sets it explicitly.
    """
    files = esb_files(version)
    if mutate is not None:
        mutate(files)
    if padding is None and realistic:
        padding = esb_realistic_padding(files)
    path = Path(out_dir) / (file_name or f"wso2esb-{version}.zip")
    return write_distribution_zip(path, f"wso2esb-{version}", files, padding=padding)


def build_elb(
    out_dir: Path,
    *,
    realistic: bool = False,
    mutate: Callable[[dict[str, FixtureFile]], None] | None = None,
    file_name: str | None = None,
    version: str = ELB_VERSION,
    padding: Padding | None = None,
) -> Path:
    """Write ``wso2elb-<version>.zip`` into ``out_dir`` and return its path (see ``build_esb``).

    ``realistic`` pads the zip to about 40 MB / 300 files.
    """
    files = elb_files(version)
    if mutate is not None:
        mutate(files)
    if padding is None and realistic:
        padding = elb_realistic_padding(files)
    path = Path(out_dir) / (file_name or f"wso2elb-{version}.zip")
    return write_distribution_zip(path, f"wso2elb-{version}", files, padding=padding)


def build_all(out_dir: Path, *, realistic: bool = False) -> dict[str, Path]:
    """Write the ESB zip, the ELB zip and the JDBC driver; keys as in a plan's ``distributions``."""
    return {
        "esb": build_esb(out_dir, realistic=realistic),
        "elb": build_elb(out_dir, realistic=realistic),
        "jdbc_driver": build_jdbc_driver(out_dir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.build_distributions",
        description="Write the fixture WSO2 ESB/ELB distributions and JDBC driver into OUT_DIR.",
    )
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="pad the zips to realistic sizes (ESB ~150 MB / 1,000 files, ELB ~40 MB / 300 files)",
    )
    arguments = parser.parse_args(argv)
    built = build_all(arguments.out_dir, realistic=arguments.realistic)
    for path in built.values():
        with zipfile.ZipFile(path) as archive:
            entry_count = len(archive.infolist())
        print(f"{path}: {path.stat().st_size:,} bytes, {entry_count} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
