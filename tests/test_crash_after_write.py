"""A crash between a file's rename and the state save: the file already holds what the plan
wants while the state still records the previous write. The next run must call it done (not
"changed by hand" with an empty diff) and record it, without writing it again."""

from __future__ import annotations

import json

import pytest
import yaml

from installer.engine import Installer
from installer.files import base
from installer.files.hosts import read_block
from installer.plan.check import check_plan
from installer.state import state_path
from tests.support.plans import write_seed_plan

SERVER = "server-206"
CLUSTER = "wso2.esb.domain"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the crash point runs, no handler saves the state."""


@pytest.fixture
def cluster(tmp_path):
    # Only the hosts step runs here: the distributions are never opened.
    missing = {key: tmp_path / "not-needed" / name
               for key, name in (("esb", "esb.zip"), ("elb", "elb.zip"), ("jdbc_driver", "driver.jar"))}
    return write_seed_plan(tmp_path / "cluster", missing)


def installer_for(cluster):
    """A fresh engine, as a new process would build it: the state is read from disk."""
    return Installer(check_plan(cluster.plan, check_files=False), SERVER, selected=("hosts",))


def set_database_hostname(cluster, hostname):
    data = yaml.safe_load(cluster.plan.read_text())
    data["database"]["hostname"] = hostname
    cluster.plan.write_text(yaml.safe_dump(data, sort_keys=False))


def recorded_on_disk(cluster, path):
    document = json.loads(state_path(cluster.install_dir(SERVER), SERVER).read_text())
    return document["steps"]["hosts"]["files"][str(path)]


def test_crash_after_the_rename_is_done_not_drifted_and_the_next_apply_records_it(cluster, monkeypatch):
    hosts = cluster.hosts_file(SERVER)
    installer_for(cluster).apply()
    first_record = recorded_on_disk(cluster, hosts)

    # The plan changes; the next apply is killed right after the new hosts file is renamed into place.
    set_database_hostname(cluster, "carbondb2.mysql-wso2.com")

    def crash_point(name):
        if name == "written:hosts":
            raise Killed(name)

    monkeypatch.setattr(base, "crash_point", crash_point)
    with pytest.raises(Killed):
        installer_for(cluster).apply()
    monkeypatch.undo()
    assert "carbondb2.mysql-wso2.com" in [name for _, name in read_block(hosts.read_bytes(), CLUSTER)]
    assert recorded_on_disk(cluster, hosts) == first_record  # the state never heard of the write

    (name, check), = installer_for(cluster).status()
    assert check.status == "done", check.message
    assert not check.diffs

    before = hosts.stat()
    (outcome,) = installer_for(cluster).apply()
    assert outcome.status == "done" and not outcome.changed
    after = hosts.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    assert recorded_on_disk(cluster, hosts) != first_record

    # Why the record matters: with the stale one, going back to the old plan was "changed by hand".
    set_database_hostname(cluster, "carbondb.mysql-wso2.com")
    (name, check), = installer_for(cluster).status()
    assert check.status == "pending", check.message
    (outcome,) = installer_for(cluster).apply()
    assert outcome.changed
    assert recorded_on_disk(cluster, hosts) == first_record
