"""Deployment synchronisation through svn with a login, from the plan to the nodes' carbon.xml.

The svn password is a secret like the database passwords: it comes from this run (here
``Secrets``, for the CLI ``WSO2_SVN_PASSWORD``), never the plan; without it the configure step
stops before writing anything and says which password it needs; with it every ESB node's
carbon.xml holds it (mode 0600) and it appears nowhere else: not in the state file, the
installer's log, the diffs of a run, ``status --diff`` or ``apply --dry-run``. Once written, a
later run without it reads it back from our own carbon.xml and calls the step done.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml
from lxml import etree

from installer import Secrets, Session
from installer.errors import GIVE_PASSWORD, Remedy, SecretError
from installer.files.base import REDACTED, redact_passwords
from installer.files.carbon import read_carbon
from installer.files.xmlsplice import escape_text
from installer.secrets import SECRET_ENV_NAMES, SVN_PASSWORD_ENV
from installer.steps.configure import CARBON_XML, SVN_PASSWORD_UNKNOWN
from tests.paths import REPO_DIR
from tests.support.build_distributions import build_all
from tests.support.plans import write_seed_plan

SERVER = "server-206"  # the ELB, the manager and worker2
ESB_NODES = ("manager", "worker2")
SVN_URL = "https://svn.example.com/repos/esb"
SVN_USER = "depsync"
# Every character XML escapes or quotes, and a leading space that must survive.
SVN_PASSWORD = ' sv<n&"p\'w0rd'
OTHER_SVN_PASSWORD = "0ther-svn-pa55"
DB_PASSWORD = "Pa55-depsync-db"
STEPS = ("extract", "configure")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    return build_all(tmp_path_factory.mktemp("dists"))


def svn_cluster(root, distributions, *, user: str | None = SVN_USER):
    def edit(data):
        sync = {"repository": "svn", "svn_url": SVN_URL}
        if user:
            sync["svn_user"] = user
        data["cluster"]["deployment_sync"] = sync

    return write_seed_plan(root, distributions, edit=edit)


@pytest.fixture
def cluster(tmp_path, distributions):
    return svn_cluster(tmp_path, distributions)


def session(cluster, server=SERVER, **secrets) -> Session:
    return Session.open(cluster.plan, server, check_files=False, secrets=Secrets(**secrets), steps=STEPS)


def leaks(text: str, *passwords: str) -> list[str]:
    """The forms of the passwords found in ``text``: as given, trimmed, and escaped for XML."""
    forms = {form for password in passwords for form in (password, password.strip(), escape_text(password),
                                                         escape_text(password).strip())}
    return sorted(form for form in forms if form in text)


def carbon_file(cluster, node: str):
    return cluster.home(SERVER, node) / CARBON_XML


def active_synchronizers(data: bytes) -> list[etree._Element]:
    return etree.fromstring(data).xpath("/*/*[local-name()='DeploymentSynchronizer']")


# --- without the password ----------------------------------------------------------------------------

def test_configure_without_the_svn_password_stops_before_writing_and_says_which(cluster):
    run = session(cluster, db_password=DB_PASSWORD)
    [need] = run.secrets_needed()
    assert (need.secret, need.steps, need.blocking) == ("svn_password", ("configure",), True)

    with pytest.raises(SecretError) as raised:
        run.apply()
    error = raised.value
    assert error.remedy == Remedy(GIVE_PASSWORD, secret="svn_password")
    assert "cluster.deployment_sync" in error.message and SVN_USER in error.message
    for node in ESB_NODES:
        assert str(carbon_file(cluster, node)) in error.message
    assert str(carbon_file(cluster, "elb")) not in error.message  # the ELB needs no svn login
    # Every node was rendered before any was written: the homes are as extracted.
    for node in (*ESB_NODES, "elb"):
        data = carbon_file(cluster, node).read_bytes()
        assert active_synchronizers(data) == []
        assert SVN_PASSWORD_UNKNOWN.encode() not in data
    assert dict(run.check())["configure"].status == "pending"


@pytest.mark.parametrize("server", ["server-206", "server-132"])
def test_the_svn_password_is_asked_for_on_every_server_with_esb_nodes(cluster, server):
    needs = {need.secret: need.steps for need in session(cluster, server).secrets_needed()}
    assert needs == {"db_password": ("configure",), "svn_password": ("configure",)}
    given = session(cluster, server, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD)
    assert given.secrets_needed() == ()


@pytest.mark.parametrize("user", [None, "registry"])
def test_no_svn_password_is_asked_for_without_an_svn_login(tmp_path, distributions, user):
    if user is None:
        cluster = svn_cluster(tmp_path, distributions, user=None)  # an anonymous svn repository
    else:
        cluster = write_seed_plan(tmp_path, distributions)  # the seed: the registry
    run = session(cluster, db_password=DB_PASSWORD)
    assert run.secrets_needed() == ()
    run.apply()
    for node in ESB_NODES:
        sync = read_carbon(carbon_file(cluster, node).read_bytes()).deployment_sync
        assert sync.svn_user is None and sync.svn_password is None
        assert sync.repository_type == ("svn" if user is None else "registry")


# --- with the password ---------------------------------------------------------------------------------

def test_with_the_password_every_esb_carbon_xml_holds_it_owner_only_and_nothing_else_does(cluster):
    run = session(cluster, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD)
    reports = run.apply()

    for node in ESB_NODES:
        path = carbon_file(cluster, node)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, node
        sync = read_carbon(path.read_bytes()).deployment_sync
        assert (sync.repository_type, sync.svn_url, sync.svn_user) == ("svn", SVN_URL, SVN_USER)
        assert sync.svn_password == SVN_PASSWORD  # exactly, leading space included
        assert (sync.enabled, sync.auto_commit, sync.auto_checkout) == (
            "true", "true" if node == "manager" else "false", "true")
        [element] = active_synchronizers(path.read_bytes())
        assert element.findtext("{*}SvnPassword") == SVN_PASSWORD
    elb = carbon_file(cluster, "elb").read_bytes()
    assert active_synchronizers(elb) == [] and read_carbon(elb).deployment_sync is None
    assert leaks(elb.decode("utf-8"), SVN_PASSWORD) == []

    # Nowhere else: the diffs of the run, the state file, the installer's log.
    diffs = "".join(diff.text for report in reports for diff in report.diffs)
    assert f"<SvnPassword>{REDACTED}</SvnPassword>" in diffs
    assert leaks(diffs, SVN_PASSWORD, DB_PASSWORD) == []
    assert leaks(run.state_file.read_text(), SVN_PASSWORD, DB_PASSWORD) == []
    assert leaks(run.log_file.read_text(), SVN_PASSWORD, DB_PASSWORD) == []
    for path in cluster.install_dir(SERVER).rglob("*"):
        if path.is_file() and path.name != "carbon.xml":
            assert leaks(path.read_bytes().decode("latin-1"), SVN_PASSWORD) == [], path


def test_a_later_run_without_the_password_reads_it_back_and_calls_configure_done(cluster):
    session(cluster, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD).apply()

    later = session(cluster)  # no password at all: both are read back from our own files
    assert dict(later.check())["configure"].status == "done"
    assert later.secrets_needed() == ()
    [_extract, configure] = later.apply()
    assert configure.status == "done" and not configure.changed
    for node in ESB_NODES:
        assert read_carbon(carbon_file(cluster, node).read_bytes()).deployment_sync.svn_password == SVN_PASSWORD


def test_another_svn_user_is_not_given_the_previous_users_password(cluster):
    session(cluster, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD).apply()
    data = yaml.safe_load(cluster.plan.read_text())
    data["cluster"]["deployment_sync"]["svn_user"] = "someone-else"
    cluster.plan.write_text(yaml.safe_dump(data, sort_keys=False))

    later = session(cluster)
    assert dict(later.check())["configure"].status == "pending"
    assert "svn_password" in [need.secret for need in later.secrets_needed()]
    with pytest.raises(SecretError) as raised:
        later.apply()
    assert raised.value.remedy == Remedy(GIVE_PASSWORD, secret="svn_password")
    assert "someone-else" in raised.value.message
    for node in ESB_NODES:
        sync = read_carbon(carbon_file(cluster, node).read_bytes()).deployment_sync
        assert (sync.svn_user, sync.svn_password) == (SVN_USER, SVN_PASSWORD)  # left as it was


def test_a_new_password_rewrites_the_esb_nodes_only(cluster):
    session(cluster, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD).apply()
    elb_before = carbon_file(cluster, "elb").read_bytes()

    run = session(cluster, svn_password=OTHER_SVN_PASSWORD)
    [(_, check)] = [(name, report) for name, report in run.check() if name == "configure"]
    assert check.status == "pending"
    [_extract, configure] = run.apply()
    assert sorted(diff.path for diff in configure.diffs) == sorted(carbon_file(cluster, node) for node in ESB_NODES)
    # Only the hidden password changes: each diff still says that the file changes.
    assert all(diff.changed and "only a password changes" in diff.text for diff in configure.diffs)
    assert [diff.path for diff in check.diffs] == [diff.path for diff in configure.diffs]
    assert leaks("".join(diff.text for diff in configure.diffs), SVN_PASSWORD, OTHER_SVN_PASSWORD) == []
    for node in ESB_NODES:
        path = carbon_file(cluster, node)
        assert read_carbon(path.read_bytes()).deployment_sync.svn_password == OTHER_SVN_PASSWORD
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert carbon_file(cluster, "elb").read_bytes() == elb_before


# --- the command line --------------------------------------------------------------------------------

def run_cli(*args, svn_password: str = SVN_PASSWORD):
    env = {name: value for name, value in os.environ.items() if name not in SECRET_ENV_NAMES}
    env.pop("WSO2_CLUSTER_CRASH_AT", None)
    env.update({"WSO2_DB_PASSWORD": DB_PASSWORD, SVN_PASSWORD_ENV: svn_password})
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO_DIR, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def test_status_diff_and_dry_run_never_show_the_svn_password(cluster):
    common = ("--plan", cluster.plan, "--server", SERVER)
    dry_run = run_cli("apply", *common, "--dry-run", "--skip", "database,start,verify")
    assert dry_run.returncode == 0, dry_run.stdout + dry_run.stderr
    assert "<DeploymentSynchronizer>" in dry_run.stdout
    assert f"<SvnPassword>{REDACTED}</SvnPassword>" in dry_run.stdout
    assert leaks(dry_run.stdout + dry_run.stderr, SVN_PASSWORD, DB_PASSWORD) == []
    assert not cluster.install_dir(SERVER).exists()

    session(cluster, db_password=DB_PASSWORD, svn_password=SVN_PASSWORD).apply()
    # Another password than the one on disk: carbon.xml is to be rewritten, its diff printed.
    status = run_cli("status", *common, "--diff", svn_password=OTHER_SVN_PASSWORD)
    for node in ESB_NODES:
        # Pending, and its diff says so even though the only change is the hidden password.
        assert f"{carbon_file(cluster, node)}: only a password changes" in status.stdout.replace("\n", ""), \
            status.stdout + status.stderr
    assert leaks(status.stdout + status.stderr, SVN_PASSWORD, OTHER_SVN_PASSWORD, DB_PASSWORD) == []


def test_the_svn_password_file_option_keeps_the_password_exactly(cluster, tmp_path):
    secret_file = tmp_path / "svn-password"
    secret_file.write_text(SVN_PASSWORD + "\n")
    result = run_cli("apply", "--plan", cluster.plan, "--server", SERVER, "--only", ",".join(STEPS),
                     "--svn-password-file", secret_file, svn_password="")
    assert result.returncode == 0, result.stdout + result.stderr
    for node in ESB_NODES:
        assert read_carbon(carbon_file(cluster, node).read_bytes()).deployment_sync.svn_password == SVN_PASSWORD
    assert leaks(result.stdout + result.stderr, SVN_PASSWORD) == []


# --- the pieces --------------------------------------------------------------------------------------

def test_diffs_hide_the_svn_password_element_whatever_it_holds():
    text = ("<DeploymentSynchronizer>\n    <SvnUser>depsync</SvnUser>\n"
            "    <SvnPassword> sv&lt;n&amp;\"p'w0rd</SvnPassword>\n</DeploymentSynchronizer>\n"
            "<password>db</password>\n<svnpassword>x</svnpassword>\n")
    redacted = redact_passwords(text)
    assert f"<SvnPassword>{REDACTED}</SvnPassword>" in redacted
    assert f"<password>{REDACTED}</password>" in redacted and f"<svnpassword>{REDACTED}</svnpassword>" in redacted
    assert "sv&lt;n" not in redacted and "depsync" in redacted


def test_the_svn_password_is_a_secret_of_the_run():
    secrets = Secrets(db_password=DB_PASSWORD, svn_password=SVN_PASSWORD)
    assert SVN_PASSWORD in secrets.values
    assert SVN_PASSWORD.strip() not in repr(secrets) and "svn_password=set" in repr(secrets)
    assert "svn_password=missing" in repr(Secrets())
    # Never passed on to the processes the installer starts.
    assert SVN_PASSWORD_ENV == "WSO2_SVN_PASSWORD" and SVN_PASSWORD_ENV in SECRET_ENV_NAMES
