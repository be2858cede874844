"""Bad input through the real CLI: a clear message, and nothing half-written."""

from __future__ import annotations

import resource
import stat
import subprocess
import sys
import zipfile

import pytest

from cli.parser import main
from tests.paths import REPO_DIR
from tests.support.build_distributions import FixtureFile, build_all, build_elb, build_esb
from tests.support.plans import SEED_PLAN, write_seed_plan
from tests.test_apply_e2e import apply, run_cli, tree_snapshot

SERVER = "server-206"


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


def assert_nothing_installed(cluster):
    homes = cluster.install_dir(SERVER)
    assert not homes.exists() or not [p for p in homes.iterdir() if p.name != ".wso2-cluster"], \
        sorted(str(p) for p in homes.iterdir())
    assert b"BEGIN wso2-cluster-installer" not in cluster.hosts_file(SERVER).read_bytes()


def test_zip_slip_archive_is_refused_with_the_entry_named(tmp_path, distributions):
    evil = tmp_path / "evil" / "wso2esb-4.7.0.zip"
    evil.parent.mkdir()
    with zipfile.ZipFile(distributions["esb"]) as source, zipfile.ZipFile(evil, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("wso2esb-4.7.0/../../escaped.txt", b"gotcha")
    cluster = write_seed_plan(tmp_path, {**distributions, "esb": evil})
    result = apply(cluster, SERVER)
    assert result.returncode == 2, result.stdout
    assert "distributions.esb" in result.stderr and "wso2esb-4.7.0/../../escaped.txt" in result.stderr
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "server-206" / "escaped.txt").exists()
    assert_nothing_installed(cluster)


def test_truncated_zip_is_refused(tmp_path, distributions):
    cut = tmp_path / "cut" / "wso2esb-4.7.0.zip"
    cut.parent.mkdir()
    data = distributions["esb"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    cluster = write_seed_plan(tmp_path, {**distributions, "esb": cut})
    result = apply(cluster, SERVER)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "wso2esb-4.7.0.zip" in result.stderr and "distributions.esb" in result.stderr
    assert_nothing_installed(cluster)


def test_wrong_products_zip_is_refused(tmp_path, distributions):
    cluster = write_seed_plan(tmp_path, {**distributions, "esb": distributions["elb"]})
    result = apply(cluster, SERVER)
    assert result.returncode == 2
    assert "distributions.esb" in result.stderr and "Elastic Load Balancer" in result.stderr
    assert_nothing_installed(cluster)


def test_missing_files_are_named_by_plan_check(tmp_path, distributions, capsys):
    cluster = write_seed_plan(tmp_path, {**distributions, "jdbc_driver": tmp_path / "nope.jar"})
    assert main(["plan", "check", str(cluster.plan)]) == 2
    err = capsys.readouterr().err
    assert "distributions.jdbc_driver" in err and "nope.jar does not exist" in err


def test_malformed_xml_inside_a_distribution_names_file_and_line(tmp_path):
    def break_registry(files):
        text = files["repository/conf/registry.xml"].data.decode()
        lines = text.splitlines(keepends=True)
        lines[5] = lines[5].rstrip("\n") + " <unclosed>\n"
        files["repository/conf/registry.xml"] = FixtureFile("".join(lines).encode())

    dists = tmp_path / "dists"
    broken = {
        "esb": build_esb(dists, mutate=break_registry),
        "elb": build_elb(dists),
        "jdbc_driver": build_all(tmp_path / "more")["jdbc_driver"],
    }
    cluster = write_seed_plan(tmp_path / "run", broken)
    result = apply(cluster, SERVER)
    assert result.returncode == 1
    assert "repository/conf/registry.xml in wso2esb-4.7.0.zip" in result.stderr
    assert "line 6" in result.stderr  # where the unclosed tag is
    # Preflight renders every file from the zips: nothing is extracted or written.
    assert_nothing_installed(cluster)


def test_malformed_xml_found_after_extraction_leaves_every_file_unpatched(tmp_path, distributions):
    cluster = write_seed_plan(tmp_path, distributions)
    assert apply(cluster, SERVER, "--only", "preflight,extract").returncode == 0
    extracted = tree_snapshot(cluster.install_dir(SERVER))
    registry = cluster.home(SERVER, "worker2") / "repository/conf/registry.xml"
    registry.write_bytes(registry.read_bytes().replace(b"</wso2registry>", b"<oops></wso2registry>"))
    result = apply(cluster, SERVER)
    assert result.returncode == 1
    assert str(registry) in result.stderr and "line" in result.stderr
    # Every file of every node renders before the first write: nothing patched anywhere.
    after = tree_snapshot(cluster.install_dir(SERVER))
    changed = sorted(path for path in after if after[path] != extracted.get(path))
    assert changed == ["worker2/repository/conf/registry.xml"]
    assert b"BEGIN wso2-cluster-installer" not in cluster.hosts_file(SERVER).read_bytes()


def test_plan_check_prints_the_layout(tmp_path, distributions, capsys):
    cluster = write_seed_plan(tmp_path, distributions)
    assert main(["plan", "check", str(cluster.plan)]) == 0
    out = capsys.readouterr().out
    assert "worker3" in out and "3 (pinned)" in out and "port.mapping.80" in out and "9764" in out
    assert "the plan is valid" in out


def test_plan_check_lists_every_error_with_exit_2(tmp_path, distributions):
    cluster = write_seed_plan(tmp_path, distributions)
    text = cluster.plan.read_text().replace("role: manager", "role: worker").replace("port: 9\n", "port: 0\n")
    cluster.plan.write_text(text)
    result = run_cli("plan", "check", cluster.plan)
    assert result.returncode == 2
    assert "2 problems" in result.stderr
    assert "plan.yaml:" in result.stderr and "database.port" in result.stderr and "no node with role manager" in result.stderr


def test_existing_folder_not_ours_is_never_overwritten(tmp_path, distributions):
    cluster = write_seed_plan(tmp_path, distributions)
    mine = cluster.home(SERVER, "worker2")
    mine.mkdir(parents=True)
    (mine / "precious.txt").write_text("keep me")
    result = apply(cluster, SERVER)
    assert result.returncode == 1
    assert str(mine) in result.stderr and "move" in result.stderr
    assert (mine / "precious.txt").read_text() == "keep me"
    assert not cluster.home(SERVER, "manager").exists()


def test_hosts_line_mapping_our_name_elsewhere_is_refused(tmp_path, distributions):
    cluster = write_seed_plan(tmp_path, distributions)
    hosts = cluster.hosts_file(SERVER)
    hosts.write_text(hosts.read_text() + "10.1.1.1 elb.wso2.com\n")
    before = hosts.read_bytes()
    result = apply(cluster, SERVER)
    assert result.returncode == 1
    assert "elb.wso2.com" in result.stderr and "10.1.1.1" in result.stderr
    assert hosts.read_bytes() == before
    assert stat.S_ISREG(hosts.stat().st_mode)


# --- YAML that is valid but hostile or broken: exit 2 with file:line, never a traceback ------------------

def seed_text():
    return SEED_PLAN.read_text()


def line_of(text, needle):
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def nested_lists(depth):
    return "[" * depth + "]" * depth


BAD_YAML = {
    # name: (edit of the seed plan, text on the line the error must name, a word the message must say)
    "python object tag": (lambda t: t.replace("  domain: wso2.esb.domain ",
                                              '  domain: !!python/object/apply:os.system ["echo pwned"] '),
                          "!!python/object/apply", "tag"),
    "python object tag on a scalar": (lambda t: t.replace("user: regadmin", "user: !!python/object:os.system regadmin"),
                                      "!!python/object:os.system", "tag"),
    "unknown local tag": (lambda t: t.replace('tenant_range: "*"', "tenant_range: !foo bar"), "!foo", "tag"),
    "unknown tag on a mapping": (lambda t: t.replace("  elb_ports: {", "  elb_ports: !ports {"), "!ports", "tag"),
    "int tag on text": (lambda t: t.replace("port: 3306", "port: !!int abc"), "!!int abc", "abc"),
    "bool tag on text": (lambda t: t.replace("admin_user: root", "admin_user: !!bool maybe"), "!!bool maybe", "maybe"),
    "number too long to read": (lambda t: t.replace("port: 3306", "port: " + "9" * 5000), "port: 999", "database.port"),
    "deep flow nesting": (lambda t: t.replace('tenant_range: "*"', "tenant_range: " + nested_lists(5000)),
                          "[[[[", "nested"),
    "deep block nesting": (lambda t: t.replace('tenant_range: "*"', "tenant_range:\n    " + "- " * 2000 + "x"),
                           "- - - -", "nested"),
    "alias inside its own value": (lambda t: t.replace("  hostnames: {worker: worker.esb.wso2.com,",
                                                       "  hostnames: &names {loop: *names, worker: worker.esb.wso2.com,"),
                                   "*names", "alias"),
}


@pytest.mark.parametrize("case", sorted(BAD_YAML))
def test_hostile_or_broken_yaml_is_a_plan_error_with_file_and_line(tmp_path, capsys, case):
    edit, needle, word = BAD_YAML[case]
    text = edit(seed_text())
    assert text != seed_text()
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    code = main(["plan", "check", str(path), "--no-files"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "RecursionError" not in out + err
    assert code == 2, err
    [located] = [line for line in err.splitlines() if f"plan.yaml:{line_of(text, needle)}:" in line]
    assert word in located, err


def billion_laughs_lists():
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def billion_laughs_mappings():
    lines = ["lol0: &lol0 {" + ", ".join(f"k{index}: lol" for index in range(9)) + "}"]
    for level in range(1, 10):
        lines.append(f"lol{level}: &lol{level} {{" + ", ".join(f"k{index}: *lol{level - 1}" for index in range(9)) + "}")
    return "\n".join(lines) + "\n"


def limit_resources():
    # A regression must fail this test, not take the machine's memory (or spin for ever): the
    # child gets 1 GB of address space and two minutes of CPU.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))


def run_limited(*argv):
    return subprocess.run([sys.executable, *map(str, argv)], cwd=REPO_DIR, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, preexec_fn=limit_resources)


@pytest.mark.parametrize("bomb", [billion_laughs_lists, billion_laughs_mappings])
def test_alias_bomb_is_refused_by_plan_check(tmp_path, bomb):
    text = seed_text() + bomb()
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    result = run_limited("-m", "cli", "plan", "check", path, "--no-files")
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    bomb_lines = range(line_of(text, "lol0:"), len(text.splitlines()) + 1)
    assert any(f"plan.yaml:{line}:" in result.stderr for line in bomb_lines), result.stderr
    assert "alias" in result.stderr


@pytest.mark.parametrize("bomb", [billion_laughs_lists, billion_laughs_mappings])
def test_alias_bomb_is_refused_by_the_wizards_loader(tmp_path, bomb):
    # The wizard opens plans with PlanDraft.from_yaml and shows a yaml.YAMLError as "cannot be opened".
    path = tmp_path / "plan.yaml"
    path.write_text(seed_text() + bomb())
    script = ("import sys, yaml\n"
              "from installer.plan.draft import PlanDraft\n"
              "try:\n"
              "    PlanDraft.from_yaml(open(sys.argv[1]).read())\n"
              "except yaml.YAMLError as error:\n"
              "    print('refused:', error)\n")
    result = run_limited("-c", script, path)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.startswith("refused:") and "alias" in result.stdout and "line" in result.stdout


PORT_PROBLEMS = {
    # name: (edit of the seed plan, the text on the line the error must name, the key path)
    "offset above the port range": (lambda t: t.replace("offset: 3}", "offset: 60000}"),
                                    "offset: 60000", "servers[1].nodes[1].offset"),
    "member port on the database port": (
        lambda t: t.replace("port: 3306", "port: 4005").replace(
            "- {name: worker2, role: worker}", "- {name: worker2, role: worker, member_port: 4005}"),
        "member_port: 4005", "servers[0].nodes[2].member_port"),
    "ELB port on the database port": (lambda t: t.replace("port: 3306", "port: 443"), "elb_ports:",
                                      "cluster.elb_ports.https"),
}


@pytest.mark.parametrize("case", sorted(PORT_PROBLEMS))
def test_impossible_ports_are_plan_errors_on_their_line(tmp_path, capsys, case):
    edit, needle, key = PORT_PROBLEMS[case]
    text = edit(seed_text())
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    assert main(["plan", "check", str(path), "--no-files"]) == 2
    err = capsys.readouterr().err
    assert f"plan.yaml:{line_of(text, needle)}: {key}:" in err, err
