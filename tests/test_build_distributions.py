"""The fixture-distribution builder (tests/support/build_distributions.py)."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from tests.paths import REPO_DIR
from tests.support import distribution_texts
from tests.support.build_distributions import (
    AXIS2_XML,
    CARBON_XML,
    CATALINA_SERVER_XML,
    COMPONENTS_LIB_DIR,
    JDBC_DRIVER_CLASS,
    LOADBALANCER_CONF,
    MASTER_DATASOURCES_XML,
    MB,
    MYSQL_SQL,
    REGISTRY_XML,
    USER_MGT_XML,
    WSO2SERVER_SH,
    FixtureFile,
    Padding,
    build_all,
    build_elb,
    build_esb,
    elb_files,
    elb_realistic_padding,
    esb_files,
    esb_realistic_padding,
)
from tests.support.distribution_texts import FixtureTemplate, render, template, template_names

CARBON_NS = {"c": "http://wso2.org/projects/carbon/carbon.xml"}
TOP_FOLDERS = {"esb": "wso2esb-4.7.0", "elb": "wso2elb-2.0.3"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("distributions"))


def member_bytes(zip_path: Path, name: str) -> bytes:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.read(name)


def test_build_all_writes_the_three_files(built):
    assert {key: path.name for key, path in built.items()} == {
        "esb": "wso2esb-4.7.0.zip",
        "elb": "wso2elb-2.0.3.zip",
        "jdbc_driver": "mysql-connector-java-5.1.25-bin.jar",
    }
    for path in built.values():
        assert zipfile.is_zipfile(path)
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None


def test_two_builds_give_identical_bytes(built, tmp_path):
    again = build_all(tmp_path)
    for key, path in built.items():
        assert again[key].read_bytes() == path.read_bytes(), key


@pytest.mark.parametrize("product", ["esb", "elb"])
def test_zip_has_one_top_folder_and_every_folder_entry(built, product):
    top = TOP_FOLDERS[product]
    with zipfile.ZipFile(built[product]) as archive:
        names = archive.namelist()
    assert names[0] == f"{top}/"
    assert all(name.startswith(f"{top}/") for name in names)
    # Every folder that holds something has an entry of its own, before its contents.
    for position, name in enumerate(names):
        parent = name.rstrip("/").rsplit("/", 1)[0] + "/"
        if name != f"{top}/":
            assert parent in names[:position], name


@pytest.mark.parametrize("product", ["esb", "elb"])
def test_unix_modes_are_recorded(built, product):
    top = TOP_FOLDERS[product]
    with zipfile.ZipFile(built[product]) as archive:
        infos = archive.infolist()
    for info in infos:
        mode = info.external_attr >> 16
        assert info.create_system == 3, info.filename
        if info.is_dir():
            assert mode == stat.S_IFDIR | 0o755, info.filename
        elif info.filename == f"{top}/{WSO2SERVER_SH}":
            assert mode == stat.S_IFREG | 0o755
        else:
            assert mode == stat.S_IFREG | 0o644, info.filename
        expected_compression = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
        assert info.compress_type == expected_compression, info.filename


def test_the_esb_has_the_empty_folders_the_installer_uses(built):
    with zipfile.ZipFile(built["esb"]) as archive:
        names = archive.namelist()
    lib = f"wso2esb-4.7.0/{COMPONENTS_LIB_DIR}"
    assert lib in names
    assert not [name for name in names if name.startswith(lib) and name != lib]
    assert "wso2esb-4.7.0/repository/logs/" in names


def xml_members() -> list[tuple[str, str]]:
    return [
        (product, path)
        for product, files in (("esb", esb_files()), ("elb", elb_files()))
        for path in files
        if path.endswith(".xml")
    ]


@pytest.mark.parametrize(("product", "path"), xml_members())
def test_every_xml_file_parses(built, product, path):
    data = member_bytes(built[product], f"{TOP_FOLDERS[product]}/{path}")
    etree.fromstring(data)


@pytest.mark.parametrize(
    ("product", "name", "server_key", "version"),
    [
        ("esb", "WSO2 Enterprise Service Bus", "ESB", "4.7.0"),
        ("elb", "WSO2 Elastic Load Balancer", "ELB", "2.0.3"),
    ],
)
def test_carbon_xml_names_the_product(built, product, name, server_key, version):
    data = member_bytes(built[product], f"{TOP_FOLDERS[product]}/{CARBON_XML}")
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    root = etree.fromstring(data)
    assert root.findtext("c:Name", namespaces=CARBON_NS) == name
    assert root.findtext("c:ServerKey", namespaces=CARBON_NS) == server_key
    assert root.findtext("c:Version", namespaces=CARBON_NS) == version
    assert root.findtext("c:Ports/c:Offset", namespaces=CARBON_NS) == "0"
    # HostName / MgtHostName exist only as the comments the carbon.xml patcher inserts after.
    comments = [comment.text for comment in root.iter(etree.Comment)]
    assert "HostName>www.wso2.org</HostName" in comments
    assert "MgtHostName>mgt.wso2.org</MgtHostName" in comments
    assert root.find("c:HostName", namespaces=CARBON_NS) is None


def clustering_of(data: bytes) -> etree._Element:
    return etree.fromstring(data).find("clustering")


def test_esb_axis2_xml_has_clustering_off_with_multicast_defaults(built):
    clustering = clustering_of(member_bytes(built["esb"], f"wso2esb-4.7.0/{AXIS2_XML}"))
    parameters = {p.get("name"): p for p in clustering.findall("parameter")}
    assert clustering.get("class") == "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
    assert clustering.get("enable") == "false"
    assert parameters["membershipScheme"].text == "multicast"
    assert parameters["domain"].text == "wso2.carbon.domain"
    assert parameters["localMemberPort"].text == "4000"
    assert "localMemberHost" not in parameters and "mcastBindAddress" not in parameters
    assert [(m.findtext("hostName"), m.findtext("port")) for m in clustering.iterfind("members/member")] == [
        ("127.0.0.1", "4000"),
        ("127.0.0.1", "4001"),
    ]
    assert [p.get("name") for p in parameters["properties"]] == ["backendServerURL", "mgtConsoleURL"]


def test_elb_axis2_xml_has_wka_clustering_on_without_members(built):
    clustering = clustering_of(member_bytes(built["elb"], f"wso2elb-2.0.3/{AXIS2_XML}"))
    parameters = {p.get("name"): p.text for p in clustering.findall("parameter")}
    assert clustering.get("enable") == "true"
    assert parameters["membershipScheme"] == "wka"
    assert parameters["domain"] == "wso2.carbon.lb.domain"
    assert parameters["mcastBindAddress"] == "127.0.0.1"
    assert parameters["localMemberPort"] == "4000"
    assert "properties" not in parameters and "localMemberHost" not in parameters
    assert clustering.find("members") is None


@pytest.mark.parametrize("product", ["esb", "elb"])
def test_pass_through_transports_on_8280_and_8243(built, product):
    root = etree.fromstring(member_bytes(built[product], f"{TOP_FOLDERS[product]}/{AXIS2_XML}"))
    receivers = {r.get("name"): r for r in root.iterfind("transportReceiver")}
    assert receivers["http"].get("class").endswith("PassThroughHttpListener")
    assert receivers["https"].get("class").endswith("PassThroughHttpSSLListener")
    assert receivers["http"].findtext("parameter[@name='port']") == "8280"
    assert receivers["https"].findtext("parameter[@name='port']") == "8243"
    # WSDLEPRPrefix is there only as a comment, which the manager's patcher replaces.
    assert receivers["https"].find("parameter[@name='WSDLEPRPrefix']") is None
    assert any("WSDLEPRPrefix" in c.text for c in receivers["https"].iter(etree.Comment))


def test_loadbalancer_conf_has_the_shapes_its_parser_must_keep(built):
    text = member_bytes(built["elb"], f"wso2elb-2.0.3/{LOADBALANCER_CONF}").decode("ascii")
    assert text.count("{") == text.count("}")
    assert "\t" in text and "; #" in text and ";\x20\n" in text
    assert re.search(r"^loadbalancer \{$", text, re.MULTILINE)
    assert re.search(
        r"esb \{\n.*?hosts\s+esb\.cloud-test\.wso2\.com;.*?wso2\.esb\.domain \{", text, re.DOTALL
    )


def test_mysql_sql_has_the_shapes_the_database_step_must_handle(built):
    sql = member_bytes(built["esb"], f"wso2esb-4.7.0/{MYSQL_SQL}").decode("ascii")
    tables = re.findall(r"^CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql, re.MULTILINE)
    assert 10 <= len(tables) <= 15
    assert {"REG_CLUSTER_LOCK", "REG_PATH", "REG_RESOURCE", "UM_TENANT", "UM_USER", "UM_ROLE"} <= set(tables)
    # Not idempotent, as in Carbon: plain CREATE TABLE for the user manager, plain CREATE INDEX.
    assert re.search(r"^CREATE TABLE UM_USER \(", sql, re.MULTILINE)
    assert re.search(r"^CREATE TABLE IF NOT EXISTS REG_PATH\(", sql, re.MULTILINE)
    assert len(re.findall(r"^CREATE (?:UNIQUE )?INDEX ", sql, re.MULTILINE)) >= 3
    assert "\n-- " in sql and "/*" in sql
    assert re.search(r"'[^'\n]*;[^'\n]*'", sql), "a string literal holding ';'"
    assert "CREATE DATABASE" not in sql.upper() and "\nUSE " not in sql.upper()


def test_jdbc_driver_jar_declares_the_driver_class(built):
    with zipfile.ZipFile(built["jdbc_driver"]) as jar:
        names = jar.namelist()
        assert "META-INF/MANIFEST.MF" in names
        assert jar.read("META-INF/services/java.sql.Driver").decode("ascii").strip() == JDBC_DRIVER_CLASS
        assert jar.read("com/mysql/jdbc/Driver.class").startswith(b"\xca\xfe\xba\xbe")


def test_mutate_changes_the_files_before_zipping(tmp_path):
    broken = b"<axisconfig><clustering enable='true'>"

    def break_axis2_and_drop_the_sql(files: dict[str, FixtureFile]) -> None:
        files[AXIS2_XML] = FixtureFile(broken)
        del files[MYSQL_SQL]

    path = build_esb(tmp_path, mutate=break_axis2_and_drop_the_sql, file_name="broken-esb.zip")
    assert path == tmp_path / "broken-esb.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.read(f"wso2esb-4.7.0/{AXIS2_XML}") == broken
        assert f"wso2esb-4.7.0/{MYSQL_SQL}" not in archive.namelist()
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(broken)
    # The default builds are untouched by a mutation: each gets fresh files.
    assert esb_files()[AXIS2_XML].data != broken


def test_a_version_gives_its_own_top_folder(tmp_path):
    path = build_elb(tmp_path, version="2.0.4")
    assert path.name == "wso2elb-2.0.4.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0] == "wso2elb-2.0.4/"
        carbon = etree.fromstring(archive.read(f"wso2elb-2.0.4/{CARBON_XML}"))
    assert carbon.findtext("c:Version", namespaces=CARBON_NS) == "2.0.4"


def test_command_line_writes_the_files(tmp_path):
    out_dir = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.build_distributions", str(out_dir)],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "mysql-connector-java-5.1.25-bin.jar",
        "wso2elb-2.0.3.zip",
        "wso2esb-4.7.0.zip",
    ]
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.parametrize("product", ["esb", "elb"])
@pytest.mark.parametrize("through_symlink", [False, True])
def test_wso2server_sh_runs_the_standin_from_carbon_home(built, tmp_path, product, through_symlink):
    install_dir = tmp_path / "install"
    with zipfile.ZipFile(built[product]) as archive:
        archive.extractall(install_dir)
    home = install_dir / TOP_FOLDERS[product]
    script = home / WSO2SERVER_SH
    if through_symlink:
        link = tmp_path / "elsewhere" / "start.sh"
        link.parent.mkdir()
        link.symlink_to(script)
        script = link
    # A fake Python that reports what the launcher gave it.
    fake_python = tmp_path / "fake-python"
    fake_python.write_text(
        '#!/bin/sh\nprintf "cwd=%s\\n" "$(pwd)"\nprintf "path=%s\\n" "$PYTHONPATH"\nprintf "%s\\n" "$@"\n'
    )
    fake_python.chmod(0o755)
    environment = {
        "PATH": os.environ["PATH"],
        "CARBON_STANDIN_PYTHON": str(fake_python),
        "CARBON_STANDIN_PYTHONPATH": str(REPO_DIR),
        "PYTHONPATH": "/already/there",
    }
    result = subprocess.run(
        ["sh", str(script), "-Dsetup"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"CARBON_HOME environment variable is set to {home}"
    assert lines[1] == f"cwd={home}"
    assert lines[2] == f"path={REPO_DIR}:/already/there"
    assert lines[3:7] == ["-m", "tests.support.carbon_standin", "--carbon-home", str(home)]
    assert lines[-1] == "-Dsetup"
    assert ("-Dwso2.loadbalancer=true" in lines) == (product == "elb")


def test_padding_adds_about_the_requested_size_deterministically(tmp_path):
    plain = build_esb(tmp_path / "plain")
    padding = Padding(total_bytes=3 * MB, jar_count=7, seed=1)
    padded = build_esb(tmp_path / "padded", padding=padding)
    again = build_esb(tmp_path / "again", padding=padding)

    added = padded.stat().st_size - plain.stat().st_size
    assert 0.95 * padding.total_bytes <= added <= 1.05 * padding.total_bytes
    assert padded.read_bytes() == again.read_bytes()
    with zipfile.ZipFile(padded) as archive:
        jars = [jar.path for jar in padding.jars()]
        assert len(set(jars)) == 7
        for jar in jars:
            with zipfile.ZipFile(io.BytesIO(archive.read(f"wso2esb-4.7.0/{jar}"))) as inner:
                assert inner.testzip() is None
                assert "META-INF/MANIFEST.MF" in inner.namelist()


def test_padding_is_streamed_not_held_in_memory(tmp_path):
    # One jar of 6 MB: a builder that held the jar (or the zip) in memory would peak above it.
    padding = Padding(total_bytes=6 * MB, jar_count=1, seed=2)
    tracemalloc.start()
    try:
        build_esb(tmp_path, padding=padding)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MB


def test_realistic_padding_aims_at_real_pack_sizes():
    esb = esb_files()
    esb_padding = esb_realistic_padding(esb)
    assert esb_padding.total_bytes == 150 * MB
    assert esb_padding.jar_count + sum(not path.endswith("/") for path in esb) == 1_000
    elb = elb_files()
    elb_padding = elb_realistic_padding(elb)
    assert elb_padding.total_bytes == 40 * MB
    assert elb_padding.jar_count + sum(not path.endswith("/") for path in elb) == 300
    sizes = sorted(jar.size for jar in esb_padding.jars())
    assert sizes[len(sizes) // 2] < 200_000 < 2 * MB < sizes[-1], "many small jars, a few multi-MB ones"


def longest_shared_run(mine: list[str], theirs: list[str]) -> int:
    """Longest run of consecutive identical lines (non-blank ones counted) in both lists."""
    positions: dict[str, list[int]] = {}
    for index, line in enumerate(theirs):
        positions.setdefault(line, []).append(index)
    longest = 0
    for start, line in enumerate(mine):
        if not line:
            continue
        for other in positions.get(line, []):
            length = 0
            while start + length < len(mine) and other + length < len(theirs):
                if mine[start + length] != theirs[other + length]:
                    break
                length += 1
            longest = max(longest, sum(1 for text in mine[start : start + length] if text))
    return longest


def test_fixture_texts_are_our_own_not_copies(carbon_configs_dir):
    # The project's rule: fixtures are modelled on the real files, never copied from them. A
    # block of pure data (a keystore, the default members) may match; a dozen lines may not.
    corpus = [
        [line.strip() for line in path.read_text(errors="replace").splitlines()]
        for path in carbon_configs_dir.rglob("*")
        if path.is_file() and path.name != "SOURCES.md"
    ]
    for product, files in (("esb", esb_files()), ("elb", elb_files())):
        for path, entry in files.items():
            if path.endswith((".jar", "/")):
                continue
            mine = [line.strip() for line in entry.data.decode("ascii").splitlines()]
            longest = max(longest_shared_run(mine, theirs) for theirs in corpus)
            assert longest < 12, f"{product} {path}: {longest} lines identical to a real file"


# --------------------------------------------------------------------------------------------
# The template files the texts come from (tests/support/templates)
# --------------------------------------------------------------------------------------------


def text_members(zip_path: Path) -> dict[str, str]:
    """Every file of a distribution zip but the jars, decoded (they are all ASCII)."""
    with zipfile.ZipFile(zip_path) as archive:
        return {
            info.filename: archive.read(info).decode("ascii")
            for info in archive.infolist()
            if not info.is_dir() and not info.filename.endswith(".jar")
        }


@pytest.mark.parametrize("name", template_names())
def test_every_template_renders_to_a_well_formed_file(name):
    fixture_template = template(name)
    assert fixture_template.is_valid(), name
    values = {identifier: f"value-of-{identifier}" for identifier in fixture_template.get_identifiers()}
    text = render(name, **values)
    assert "@{" not in text
    assert all(value in text for value in values.values())
    if name.endswith(".xml"):
        etree.fromstring(text.encode("ascii"))
    if name.endswith(".sh"):
        checked = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_every_template_goes_into_a_distribution(monkeypatch):
    # A template no function renders is dead text that still looks like part of a fixture.
    rendered = set()

    def recording_render(template_name: str, /, **values: str) -> str:
        rendered.add(template_name)
        return render(template_name, **values)

    monkeypatch.setattr(distribution_texts, "render", recording_render)
    esb_files()
    elb_files()
    assert rendered == set(template_names())


@pytest.mark.parametrize("product", ["esb", "elb"])
def test_no_placeholder_is_left_in_a_distribution(built, product):
    members = text_members(built[product])
    assert len(members) >= 10
    for name, text in members.items():
        assert "@{" not in text, name


@pytest.mark.parametrize("product", ["esb", "elb"])
def test_wso2server_sh_is_an_executable_shell_script(built, product):
    name = f"{TOP_FOLDERS[product]}/{WSO2SERVER_SH}"
    with zipfile.ZipFile(built[product]) as archive:
        mode = archive.getinfo(name).external_attr >> 16
        script = archive.read(name).decode("ascii")
    assert mode == stat.S_IFREG | 0o755
    assert script.startswith("#!/bin/sh\n")
    # The ELB's extra system properties go before the caller's arguments, one blank apart;
    # the ESB has none, and a single blank.
    extra = (
        " -Dwso2.loadbalancer=true -Dloadbalancer.conf=file:repository/conf/loadbalancer.conf"
        if product == "elb"
        else ""
    )
    assert script.endswith(f'--carbon-home "$CARBON_HOME"{extra} "$@"\n')


@pytest.mark.parametrize(
    ("product", "path", "declaration"),
    [
        ("esb", AXIS2_XML, '<?xml version="1.0" encoding="ISO-8859-1"?>\n'),
        ("elb", AXIS2_XML, '<?xml version="1.0" encoding="ISO-8859-1"?>\n'),
        ("esb", CARBON_XML, '<?xml version="1.0" encoding="ISO-8859-1"?>\n'),
        ("esb", REGISTRY_XML, '<?xml version="1.0" encoding="ISO-8859-1"?>\n'),
        ("esb", CATALINA_SERVER_XML, "<?xml version='1.0' encoding='utf-8'?>\n"),
        ("esb", MASTER_DATASOURCES_XML, None),
        ("esb", USER_MGT_XML, None),
        ("elb", USER_MGT_XML, None),
    ],
)
def test_xml_declarations_are_those_of_the_real_files(built, product, path, declaration):
    text = text_members(built[product])[f"{TOP_FOLDERS[product]}/{path}"]
    if declaration is None:
        assert not text.startswith("<?xml")
    else:
        assert text.startswith(declaration)


@pytest.mark.parametrize(
    ("product", "path", "fragment"),
    [
        # Trailing blanks and tabs the patchers must keep: what an editor "fixes" first.
        ("esb", CATALINA_SERVER_XML, 'keystorePass="wso2carbon"\x20\n'),
        ("esb", MASTER_DATASOURCES_XML, "\n\x20\x20\n"),
        ("esb", USER_MGT_XML, "-->\t\n"),
        ("esb", CARBON_XML, "\n\t\n\t<!--\n"),
        ("esb", MYSQL_SQL, "ON UM_TENANT (UM_DOMAIN_NAME);\x20\n"),
        ("esb", MYSQL_SQL, "CREATE TABLE UM_USER (\x20\n"),
        ("elb", LOADBALANCER_CONF, "instances to keep\x20\n"),
        ("elb", LOADBALANCER_CONF, "session_timeout 90000;\x20\n"),
        ("elb", LOADBALANCER_CONF, "\n\x20\x20\x20\x20\n}\n"),
        ("elb", LOADBALANCER_CONF, "#size_of_cache\t\t100;\n"),
    ],
)
def test_the_whitespace_kept_on_purpose_is_still_there(built, product, path, fragment):
    assert fragment in text_members(built[product])[f"{TOP_FOLDERS[product]}/{path}"]


def test_the_elb_user_mgt_xml_ends_without_a_newline(built):
    text = text_members(built["elb"])[f"wso2elb-2.0.3/{USER_MGT_XML}"]
    assert text.endswith("</UserManager>")


def test_template_placeholders_are_at_braces_and_nothing_else():
    text = '@{name} ${carbon.home} "$@" %U%@%D user@host @@{name} @@ {name}'
    rendered = FixtureTemplate(text).substitute(name="ESB")
    assert rendered == 'ESB ${carbon.home} "$@" %U%@%D user@host @{name} @@ {name}'
    for mistake in ("@{Name}", "@{ name}", "@{name", "@{}"):
        with pytest.raises(ValueError):
            FixtureTemplate(mistake).substitute(name="ESB")


def test_render_wants_exactly_the_placeholders_and_takes_values_literally():
    with pytest.raises(KeyError):
        render("esb/README.txt")
    with pytest.raises(ValueError, match="edition"):
        render("esb/README.txt", version="4.7.0", edition="x")
    odd = "@{version} ${carbon.home} $$ @@{x}"
    assert render("esb/README.txt", version=odd).startswith(f"WSO2 Enterprise Service Bus {odd} (")
