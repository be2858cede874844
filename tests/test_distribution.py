"""installer.distribution: recognising the zips and installing them into node homes.

The zips here are written by the tests themselves with ``zipfile``, entry by entry, so each test
controls exactly the names, modes, links and bytes it is about.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import struct
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from installer.distribution import (
    DistributionInfo,
    expect_product,
    extract_homes,
    inspect_distribution,
    inspect_jdbc_driver,
)
from installer.errors import DistributionError
from tests.paths import REPO_DIR

CARBON_NS = "http://wso2.org/projects/carbon/carbon.xml"
ESB_TOP = "wso2esb-4.7.0"
WHEN = (2013, 7, 1, 12, 30, 0)


# --- writing test zips -----------------------------------------------------------------------


def file_entry(name, data=b"", mode=0o644, *, when=WHEN, compress=zipfile.ZIP_DEFLATED, extra=b""):
    info = zipfile.ZipInfo(name, date_time=when)
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = compress
    info.extra = extra
    return info, data


def folder_entry(name, mode=0o755, *, when=WHEN):
    info = zipfile.ZipInfo(name.rstrip("/") + "/", date_time=when)
    info.create_system = 3
    info.external_attr = ((stat.S_IFDIR | mode) << 16) | 0x10
    return info, b""


def link_entry(name, target, *, when=WHEN):
    info = zipfile.ZipInfo(name, date_time=when)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def write_zip(path: Path, entries) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests need
        with zipfile.ZipFile(path, "w") as archive:
            for info, data in entries:
                archive.writestr(info, data)
    return path


def carbon_xml(name: str | None, version: str | None, *, decoy: str = "") -> bytes:
    parts = [f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<Server xmlns="{CARBON_NS}">\n', decoy]
    if name is not None:
        parts.append(f"    <Name>{name}</Name>\n    <ServerKey>KEY</ServerKey>\n")
    if version is not None:
        parts.append(f"    <Version>{version}</Version>\n")
    parts.append("    <Ports><Offset>0</Offset></Ports>\n</Server>\n")
    return "".join(parts).encode()


def product_entries(top=ESB_TOP, name="WSO2 Enterprise Service Bus", version="4.7.0", *, carbon=None):
    """A small but complete-looking product: folders with modes, an executable, a symlink."""
    return [
        folder_entry(top, 0o755),
        folder_entry(f"{top}/bin", 0o755),
        file_entry(f"{top}/bin/wso2server.sh", b"#!/bin/sh\necho start\n", 0o755),
        file_entry(f"{top}/bin/secret.properties", b"key=value\n", 0o600),
        file_entry(
            f"{top}/repository/conf/carbon.xml", carbon if carbon is not None else carbon_xml(name, version)
        ),
        folder_entry(f"{top}/repository/logs", 0o750),
        file_entry(f"{top}/lib/big.jar", bytes(range(256)) * 4000, 0o644),
        file_entry(f"{top}/lib/stored.txt", b"stored bytes\n" * 10, 0o644, compress=zipfile.ZIP_STORED),
        link_entry(f"{top}/lib/current.jar", "big.jar"),
        link_entry(f"{top}/bin/conf", "../repository/conf"),
        file_entry(f"{top}/README.txt", b"readme\n", 0o444),
    ]


@pytest.fixture
def esb_zip(tmp_path) -> Path:
    return write_zip(tmp_path / "wso2esb-4.7.0.zip", product_entries())


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: kind, permission bits, and content or link target."""
    tree: dict[str, tuple] = {}
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            path = Path(folder, name)
            status = path.lstat()
            relative = str(path.relative_to(root))
            if stat.S_ISLNK(status.st_mode):
                tree[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(status.st_mode):
                tree[relative] = ("dir", stat.S_IMODE(status.st_mode))
            else:
                tree[relative] = ("file", stat.S_IMODE(status.st_mode), path.read_bytes())
    return tree


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- inspect_distribution --------------------------------------------------------------------


def test_inspect_recognises_the_esb(esb_zip):
    info = inspect_distribution(esb_zip)
    assert info.product == "esb"
    assert info.product_name == "WSO2 Enterprise Service Bus"
    assert info.product_version == "4.7.0"
    assert info.top_folder == ESB_TOP
    assert info.has_start_script
    with zipfile.ZipFile(esb_zip) as archive:
        files = [entry for entry in archive.infolist() if not entry.is_dir()]
    assert info.file_count == len(files) == 8
    assert info.total_bytes == sum(entry.file_size for entry in files)
    assert info.description == "WSO2 Enterprise Service Bus 4.7.0"


def test_inspect_recognises_the_elb(tmp_path):
    path = write_zip(
        tmp_path / "wso2elb-2.0.3.zip",
        product_entries("wso2elb-2.0.3", "WSO2 Elastic Load Balancer", "2.0.3"),
    )
    info = inspect_distribution(path)
    assert (info.product, info.product_version, info.top_folder) == ("elb", "2.0.3", "wso2elb-2.0.3")


def test_carbon_xml_name_decides_over_the_folder_name(tmp_path):
    # A renamed folder does not make an Application Server an ESB.
    path = write_zip(tmp_path / "as.zip", product_entries(ESB_TOP, "WSO2 Application Server", "5.2.0"))
    info = inspect_distribution(path)
    assert info.product == "unknown"
    assert info.description == "WSO2 Application Server 5.2.0"


def test_the_top_folder_names_the_product_when_carbon_xml_does_not(tmp_path):
    path = write_zip(tmp_path / "esb.zip", product_entries(carbon=carbon_xml(None, None)))
    info = inspect_distribution(path)
    assert info.product == "esb"
    assert info.product_name is None
    assert info.product_version == "4.7.0"  # from the folder name


def test_name_is_read_in_carbon_xml_default_namespace_only(tmp_path):
    decoy = '    <x:Name xmlns:x="urn:other">WSO2 Elastic Load Balancer</x:Name>\n'
    carbon = carbon_xml("WSO2 Enterprise Service Bus", "4.7.0", decoy=decoy)
    info = inspect_distribution(write_zip(tmp_path / "esb.zip", product_entries(carbon=carbon)))
    assert info.product == "esb"


def test_missing_start_script_is_reported(tmp_path):
    entries = [entry for entry in product_entries() if not entry[0].filename.endswith("wso2server.sh")]
    info = inspect_distribution(write_zip(tmp_path / "esb.zip", entries))
    assert not info.has_start_script
    assert any("wso2server.sh" in warning for warning in expect_product(info, "esb", "4.7.0"))


def test_expect_product_refuses_the_wrong_product(tmp_path):
    path = write_zip(
        tmp_path / "wso2elb-2.0.3.zip",
        product_entries("wso2elb-2.0.3", "WSO2 Elastic Load Balancer", "2.0.3"),
    )
    with pytest.raises(DistributionError) as caught:
        expect_product(inspect_distribution(path), "esb", "4.7.0")
    assert caught.value.message == (
        "wso2elb-2.0.3.zip is WSO2 Elastic Load Balancer 2.0.3, "
        "but the esb distribution must be WSO2 Enterprise Service Bus."
    )
    assert caught.value.hint


def test_expect_product_refuses_an_unknown_product(tmp_path):
    path = write_zip(tmp_path / "as.zip", product_entries("wso2as-5.2.0", "WSO2 Application Server", "5.2.0"))
    with pytest.raises(DistributionError, match="as.zip is WSO2 Application Server 5.2.0, but the elb"):
        expect_product(inspect_distribution(path), "elb", "2.0.3")


def test_expect_product_warns_about_another_version(tmp_path, esb_zip):
    assert expect_product(inspect_distribution(esb_zip), "esb", "4.7.0") == []
    newer = write_zip(tmp_path / "wso2esb-4.8.1.zip", product_entries("wso2esb-4.8.1", version="4.8.1"))
    warnings_found = expect_product(inspect_distribution(newer), "esb", "4.7.0")
    assert len(warnings_found) == 1
    assert "4.8.1" in warnings_found[0] and "4.7.0" in warnings_found[0]
    assert expect_product(inspect_distribution(newer), "esb", None) == []


def test_truncated_zip_is_refused(tmp_path, esb_zip):
    data = esb_zip.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DistributionError) as caught:
        inspect_distribution(truncated)
    assert "truncated.zip" in caught.value.message
    assert "truncated" in caught.value.message.replace("truncated.zip", "")
    assert "download" in caught.value.hint.lower()
    with pytest.raises(DistributionError, match="truncated"):
        extract_homes(truncated, [tmp_path / "homes" / "worker1"])
    assert not (tmp_path / "homes").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    not_zip = tmp_path / "wso2esb-4.7.0.zip"
    not_zip.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(DistributionError, match=r"wso2esb-4\.7\.0\.zip is not a zip file") as caught:
        inspect_distribution(not_zip)
    assert caught.value.hint
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(DistributionError, match="empty"):
        inspect_distribution(empty)
    with pytest.raises(DistributionError, match="does not exist"):
        inspect_distribution(tmp_path / "missing.zip")


def test_missing_carbon_xml_is_refused(tmp_path):
    entries = [entry for entry in product_entries() if not entry[0].filename.endswith("carbon.xml")]
    with pytest.raises(
        DistributionError, match=r"esb\.zip has no wso2esb-4\.7\.0/repository/conf/carbon\.xml"
    ):
        inspect_distribution(write_zip(tmp_path / "esb.zip", entries))


@pytest.mark.parametrize(
    "extra_entry",
    [
        file_entry("README.txt", b"loose file"),
        file_entry(
            "wso2elb-2.0.3/repository/conf/carbon.xml", carbon_xml("WSO2 Elastic Load Balancer", "2.0.3")
        ),
    ],
    ids=["file-beside-the-folder", "two-folders"],
)
def test_a_zip_without_a_single_top_folder_is_refused(tmp_path, extra_entry):
    path = write_zip(tmp_path / "repacked.zip", [*product_entries(), extra_entry])
    with pytest.raises(DistributionError, match="repacked.zip does not have a single top folder"):
        inspect_distribution(path)
    with pytest.raises(DistributionError, match="single top folder"):
        extract_homes(path, [tmp_path / "home"])
    assert not (tmp_path / "home").exists()


# --- inspect_jdbc_driver ---------------------------------------------------------------------


def test_jdbc_driver_from_the_services_file(tmp_path):
    jar = write_zip(
        tmp_path / "mysql-connector-java-5.1.25-bin.jar",
        [
            file_entry(
                "META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nImplementation-Version: 5.1.25\r\n"
            ),
            file_entry(
                "META-INF/services/java.sql.Driver",
                b"com.mysql.jdbc.Driver\ncom.mysql.fabric.jdbc.FabricMySQLDriver\n",
            ),
            file_entry("com/mysql/jdbc/Driver.class", b"\xca\xfe\xba\xbe"),
        ],
    )
    info = inspect_jdbc_driver(jar)
    assert info.driver_classes == ("com.mysql.jdbc.Driver", "com.mysql.fabric.jdbc.FabricMySQLDriver")
    assert info.driver_class == "com.mysql.jdbc.Driver"
    assert info.version == "5.1.25"


def test_jdbc_driver_found_by_its_class_file_without_a_services_file(tmp_path):
    jar = write_zip(tmp_path / "old.jar", [file_entry("com/mysql/cj/jdbc/Driver.class", b"\xca\xfe\xba\xbe")])
    info = inspect_jdbc_driver(jar)
    assert info.driver_classes == ("com.mysql.cj.jdbc.Driver",)
    assert info.driver_class == "com.mysql.cj.jdbc.Driver"
    assert info.version is None


def test_a_jar_without_a_mysql_driver_is_refused(tmp_path):
    postgres = write_zip(
        tmp_path / "postgresql-42.jar",
        [file_entry("META-INF/services/java.sql.Driver", b"org.postgresql.Driver\n")],
    )
    with pytest.raises(
        DistributionError, match="postgresql-42.jar is a JDBC driver for org.postgresql.Driver"
    ):
        inspect_jdbc_driver(postgres)
    nothing = write_zip(tmp_path / "commons-lang.jar", [file_entry("org/apache/Lang.class", b"\xca\xfe")])
    with pytest.raises(DistributionError, match="commons-lang.jar contains no MySQL JDBC driver"):
        inspect_jdbc_driver(nothing)
    not_a_jar = tmp_path / "driver.jar"
    not_a_jar.write_text("not a jar")
    with pytest.raises(DistributionError, match="driver.jar is not a zip file"):
        inspect_jdbc_driver(not_a_jar)


# --- extract_homes: refusing unsafe archives -------------------------------------------------


UNSAFE_ENTRIES = {
    "dot-dot": ([file_entry(f"{ESB_TOP}/../evil", b"x")], f"{ESB_TOP}/../evil"),
    "dot-dot-at-the-top": ([file_entry("../evil", b"x")], "../evil"),
    "absolute": ([file_entry("/etc/x", b"x")], "/etc/x"),
    "backslash": ([file_entry(f"{ESB_TOP}\\..\\..\\evil", b"x")], f"{ESB_TOP}\\..\\..\\evil"),
    "symlink-to-etc-passwd": ([link_entry(f"{ESB_TOP}/lib/passwd", "/etc/passwd")], f"{ESB_TOP}/lib/passwd"),
    "symlink-out-of-the-home": ([link_entry(f"{ESB_TOP}/a", "../../x")], f"{ESB_TOP}/a"),
    "symlink-just-out-of-the-home": ([link_entry(f"{ESB_TOP}/lib/a", "../../x")], f"{ESB_TOP}/lib/a"),
    # Each link looks harmless alone: up/s -> .. stays in the home, but a -> up/s/.. leaves it.
    "symlink-chain": (
        [link_entry(f"{ESB_TOP}/up/s", ".."), link_entry(f"{ESB_TOP}/a", "up/s/..")],
        f"{ESB_TOP}/a",
    ),
    "symlink-loop": ([link_entry(f"{ESB_TOP}/x", "y"), link_entry(f"{ESB_TOP}/y", "x")], f"{ESB_TOP}/x"),
    # A file written "inside" a symlink would land wherever the link points.
    "file-through-a-symlink": (
        [link_entry(f"{ESB_TOP}/lib/out", "../bin"), file_entry(f"{ESB_TOP}/lib/out/x", b"x")],
        f"{ESB_TOP}/lib/out/x",
    ),
    "duplicate": (
        [file_entry(f"{ESB_TOP}/bin/wso2server.sh", b"#!/bin/sh\nrm -rf /\n", 0o755)],
        f"{ESB_TOP}/bin/wso2server.sh",
    ),
}


@pytest.mark.parametrize("case", UNSAFE_ENTRIES, ids=list(UNSAFE_ENTRIES))
def test_unsafe_entries_are_refused_before_anything_is_written(tmp_path, case):
    extra, named = UNSAFE_ENTRIES[case]
    # The unsafe entry comes last, so that an extractor checking as it goes would have written
    # the rest already.
    path = write_zip(tmp_path / "evil.zip", [*product_entries(), *extra])
    install_dir = tmp_path / "opt" / "wso2"
    install_dir.mkdir(parents=True)
    with pytest.raises(DistributionError) as caught:
        extract_homes(path, [install_dir / "worker1", install_dir / "worker2"])
    assert "evil.zip" in caught.value.message
    assert repr(named) in caught.value.message
    assert caught.value.hint
    assert listing(install_dir) == []
    assert listing(tmp_path) == ["evil.zip", "opt"]


# --- extract_homes: what a home looks like ---------------------------------------------------


def test_home_has_the_zip_content_without_the_top_folder(tmp_path, esb_zip):
    home = tmp_path / "opt" / "manager"
    extract_homes(esb_zip, [home])
    assert not (home / ESB_TOP).exists()
    assert (home / "bin" / "wso2server.sh").read_bytes() == b"#!/bin/sh\necho start\n"
    assert (home / "lib" / "big.jar").read_bytes() == bytes(range(256)) * 4000
    assert (home / "lib" / "stored.txt").read_bytes() == b"stored bytes\n" * 10
    assert listing(tmp_path / "opt") == ["manager"]


def test_permission_bits_are_kept(tmp_path, esb_zip):
    home = tmp_path / "home"
    extract_homes(esb_zip, [home])

    def mode(relative):
        return stat.S_IMODE((home / relative).lstat().st_mode)

    assert mode("bin/wso2server.sh") == 0o755
    assert mode("bin/secret.properties") == 0o600
    assert mode("README.txt") == 0o444
    assert mode("repository/conf/carbon.xml") == 0o644
    assert mode("repository/logs") == 0o750
    assert os.access(home / "bin" / "wso2server.sh", os.X_OK)


def test_setuid_bits_are_dropped(tmp_path):
    path = write_zip(
        tmp_path / "esb.zip", [*product_entries(), file_entry(f"{ESB_TOP}/bin/suid", b"x", 0o4755)]
    )
    extract_homes(path, [tmp_path / "home"])
    assert stat.S_IMODE((tmp_path / "home" / "bin" / "suid").stat().st_mode) == 0o755


def test_symlinks_inside_the_home_are_kept_as_symlinks(tmp_path, esb_zip):
    home = tmp_path / "home"
    extract_homes(esb_zip, [home])
    assert (home / "lib" / "current.jar").is_symlink()
    assert os.readlink(home / "lib" / "current.jar") == "big.jar"
    assert (home / "lib" / "current.jar").read_bytes() == (home / "lib" / "big.jar").read_bytes()
    assert os.readlink(home / "bin" / "conf") == "../repository/conf"
    assert (home / "bin" / "conf" / "carbon.xml").is_file()


def test_modification_times_come_from_the_zip(tmp_path):
    utc_mtime = 1_400_000_000
    extended_timestamp = struct.pack("<HHBI", 0x5455, 5, 1, utc_mtime)
    path = write_zip(
        tmp_path / "esb.zip",
        [*product_entries(), file_entry(f"{ESB_TOP}/lib/utc.txt", b"x", extra=extended_timestamp)],
    )
    home = tmp_path / "home"
    extract_homes(path, [home])
    dos_time = time.mktime((*WHEN, 0, 0, -1))
    assert (home / "bin" / "wso2server.sh").stat().st_mtime == dos_time
    assert (home / "repository" / "logs").stat().st_mtime == dos_time  # folders too, after their content
    assert (home / "lib" / "current.jar").lstat().st_mtime == dos_time
    assert (home / "lib" / "utc.txt").stat().st_mtime == utc_mtime  # unzip prefers the UTC field


def test_several_homes_get_identical_independent_trees(tmp_path, esb_zip):
    homes = [tmp_path / "opt" / name for name in ("manager", "worker1", "worker2", "worker3")]
    extract_homes(esb_zip, homes)
    reference = snapshot(homes[0])
    assert len(reference) == 13  # 8 files and links, 5 folders
    for home in homes[1:]:
        assert snapshot(home) == reference
    # Copies, never hard links: a node changing its carbon.xml must not change the others'.
    carbon = [home / "repository" / "conf" / "carbon.xml" for home in homes]
    assert len({path.stat().st_ino for path in carbon}) == len(homes)
    assert all(path.stat().st_nlink == 1 for path in carbon)
    carbon[1].write_text("changed")
    assert carbon[2].read_bytes() == carbon[0].read_bytes() != b"changed"


def test_larger_files_are_copied_correctly_into_every_home(tmp_path):
    # Several MiB, so that chunked decompression and chunked kernel copies are both exercised.
    big = os.urandom(3 * 1024 * 1024 + 12345)
    path = write_zip(
        tmp_path / "esb.zip", [*product_entries(), file_entry(f"{ESB_TOP}/lib/huge.jar", big * 4)]
    )
    homes = [tmp_path / f"home{index}" for index in range(3)]
    extract_homes(path, homes)
    for home in homes:
        assert (home / "lib" / "huge.jar").read_bytes() == big * 4


# --- extract_homes: failures and interruptions -----------------------------------------------


def test_crc_corruption_is_detected_and_no_home_is_left(tmp_path):
    payload = b"0123456789abcdef" * 4096
    entries = [
        *product_entries(),
        file_entry(f"{ESB_TOP}/lib/damaged.jar", payload, compress=zipfile.ZIP_STORED),
    ]
    path = write_zip(tmp_path / "esb.zip", entries)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{ESB_TOP}/lib/damaged.jar")
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    data_start = info.header_offset + 30 + name_length + extra_length
    assert data[data_start : data_start + 16] == b"0123456789abcdef"
    data[data_start + 1000] ^= 0xFF
    path.write_bytes(bytes(data))

    install_dir = tmp_path / "opt"
    with pytest.raises(DistributionError) as caught:
        extract_homes(path, [install_dir / "worker1", install_dir / "worker2"])
    assert f"{ESB_TOP}/lib/damaged.jar" in caught.value.message
    assert "CRC" in caught.value.message
    assert "download" in caught.value.hint.lower()
    assert listing(install_dir) == []


def test_an_existing_home_is_refused_and_left_alone(tmp_path, esb_zip):
    existing = tmp_path / "worker1"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(DistributionError, match="worker1 already exists"):
        extract_homes(esb_zip, [tmp_path / "worker2", existing])
    assert listing(existing) == ["keep.txt"]
    assert listing(tmp_path) == ["worker1", "wso2esb-4.7.0.zip"]


def test_the_same_home_twice_is_refused(tmp_path, esb_zip):
    with pytest.raises(DistributionError, match="given twice"):
        extract_homes(esb_zip, [tmp_path / "worker1", tmp_path / "x" / ".." / "worker1"])


def test_a_stale_staging_folder_is_removed_and_the_home_redone(tmp_path, esb_zip):
    home = tmp_path / "worker1"
    stale = tmp_path / ".worker1.partial"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "wso2server.sh").write_text("half written")
    (stale / "leftover.txt").write_text("from the interrupted run")
    (stale / "bin").chmod(0o555)  # as if the run had been killed after restoring folder modes
    extract_homes(esb_zip, [home])
    assert listing(tmp_path) == ["worker1", "wso2esb-4.7.0.zip"]
    assert not (home / "leftover.txt").exists()
    reference = tmp_path / "reference"
    reference.mkdir()
    extract_homes(esb_zip, [reference / "home"])
    assert snapshot(home) == snapshot(reference / "home")


def test_progress_is_monotonic_and_ends_at_the_total(tmp_path):
    chunk = os.urandom(256 * 1024)
    path = write_zip(
        tmp_path / "esb.zip",
        [*product_entries(), *(file_entry(f"{ESB_TOP}/lib/part{index}.jar", chunk) for index in range(40))],
    )
    homes = [tmp_path / f"home{index}" for index in range(3)]
    calls: list[tuple[int, int]] = []
    started = time.monotonic()
    extract_homes(path, homes, on_progress=lambda done, total: calls.append((done, total)))
    elapsed = time.monotonic() - started
    total = inspect_distribution(path).total_bytes * len(homes)
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert all(call_total == total for _done, call_total in calls)
    done_values = [done for done, _total in calls]
    assert done_values == sorted(done_values)
    assert len(set(done_values)) == len(done_values)  # no call without progress
    assert len(calls) <= 2 + elapsed * 110


def test_an_empty_home_list_does_nothing(tmp_path, esb_zip):
    extract_homes(esb_zip, [])
    assert listing(tmp_path) == ["wso2esb-4.7.0.zip"]


# The child extracts into three homes; the parent kills it as soon as the first staging folder
# holds a few files, i.e. while it is still busy.
_EXTRACT_IN_CHILD = """
import sys
from pathlib import Path
from installer.distribution import extract_homes
extract_homes(Path(sys.argv[1]), [Path(arg) for arg in sys.argv[2:]])
"""


def _moderately_large_zip(path: Path) -> Path:
    entries = list(product_entries())
    block = os.urandom(1024 * 1024)
    for index in range(64):
        entries.append(
            file_entry(f"{ESB_TOP}/lib/l{index:02d}.jar", block[index:] + block[:index], compress=0)
        )
    for index in range(600):
        entries.append(file_entry(f"{ESB_TOP}/repository/samples/s{index:03d}.xml", b"<x/>" * index))
    return write_zip(path, entries)


def _files_under(folder: Path) -> int:
    return sum(len(files) for _folder, _subfolders, files in os.walk(folder))


def test_a_killed_extraction_leaves_no_home_and_a_rerun_completes(tmp_path):
    path = _moderately_large_zip(tmp_path / "esb.zip")
    install_dir = tmp_path / "opt"
    homes = [install_dir / name for name in ("worker1", "worker2", "worker3")]
    child = subprocess.Popen(
        [sys.executable, "-c", _EXTRACT_IN_CHILD, str(path), *map(str, homes)],
        cwd=REPO_DIR,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
    )
    staging = install_dir / ".worker1.partial"
    deadline = time.monotonic() + 60
    try:
        while _files_under(staging) < 20:
            assert child.poll() is None, "the child finished before it could be interrupted"
            assert time.monotonic() < deadline, "the child never started extracting"
            time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not any(home.exists() for home in homes)
    assert staging.exists()  # the proof that it was interrupted mid-way

    extract_homes(path, homes)
    assert listing(install_dir) == ["worker1", "worker2", "worker3"]
    reference = tmp_path / "reference"
    extract_homes(path, [reference])
    expected = snapshot(reference)
    for home in homes:
        assert snapshot(home) == expected


def test_distribution_info_is_a_frozen_value(esb_zip):
    info = inspect_distribution(esb_zip)
    assert isinstance(info, DistributionInfo)
    with pytest.raises(AttributeError):
        info.product = "elb"  # type: ignore[misc]


def test_too_little_free_space_is_refused_before_writing(tmp_path, esb_zip, monkeypatch):
    import installer.distribution as distribution

    monkeypatch.setattr(
        distribution.shutil, "disk_usage", lambda folder: SimpleNamespace(total=10**9, used=10**9, free=4096)
    )
    with pytest.raises(DistributionError, match="needs about .* but only 0 MB is free"):
        extract_homes(esb_zip, [tmp_path / "opt" / "worker1"])
    assert not (tmp_path / "opt").exists()


def test_a_write_failure_half_way_leaves_no_home(tmp_path, esb_zip, monkeypatch):
    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", disk_full)
    install_dir = tmp_path / "opt"
    with pytest.raises(DistributionError, match="No space left on device") as caught:
        extract_homes(esb_zip, [install_dir / "worker1", install_dir / "worker2"])
    assert "space" in caught.value.hint
    assert listing(install_dir) == []


def test_copies_fall_back_when_the_kernel_refuses_copy_file_range(tmp_path, esb_zip, monkeypatch):
    def cross_device(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cross_device)
    homes = [tmp_path / "worker1", tmp_path / "worker2"]
    extract_homes(esb_zip, homes)
    assert snapshot(homes[1]) == snapshot(homes[0])
    assert (homes[1] / "lib" / "big.jar").read_bytes() == bytes(range(256)) * 4000
