"""The hosts step against files that are not what they should be: the wrong file, a symlink, a
bind mount (rename fails with EBUSY), an immutable file (EPERM). Each ends in a clear error with
the file unchanged, or in a correct file; never in a traceback or a replaced symlink."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from installer import atomic
from installer.engine import Installer
from installer.errors import ConfigFileError, InstallerError
from installer.files.hosts import read_block, render_hosts
from installer.plan.check import check_plan
from tests.support.plans import write_seed_plan

SERVER = "server-206"
CLUSTER = "wso2.esb.domain"
OWN_LINES = b"127.0.0.1\tlocalhost\n10.9.9.9 other.example.org\n"


@pytest.fixture
def cluster(tmp_path):
    # Only the hosts step runs here: the distributions are never opened.
    missing = {key: tmp_path / "not-needed" / name
               for key, name in (("esb", "esb.zip"), ("elb", "elb.zip"), ("jdbc_driver", "driver.jar"))}
    return write_seed_plan(tmp_path / "cluster", missing)


def hosts_step(cluster):
    installer = Installer(check_plan(cluster.plan, check_files=False), SERVER, selected=("hosts",))
    return installer, installer.step("hosts")


def entries_of(installer):
    return [(entry.address, entry.hostname) for entry in installer.server.hosts_entries]


@pytest.mark.parametrize("kind", ["passwd", "plan"])
def test_a_file_that_is_not_a_hosts_file_is_refused_with_file_and_line(cluster, kind):
    hosts = cluster.hosts_file(SERVER)
    if kind == "passwd":
        hosts.write_bytes(b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n")
    else:
        hosts.write_bytes(cluster.plan.read_bytes())
    before = hosts.read_bytes()
    installer, step = hosts_step(cluster)
    with pytest.raises(ConfigFileError) as raised:
        installer.apply()
    assert raised.value.message.startswith(f"{hosts}, line 1:")
    assert "hosts_file" in raised.value.hint
    assert hosts.read_bytes() == before
    assert not list(hosts.parent.glob("*.wso2-cluster.*"))  # not even a backup: nothing was to be written
    # status says the same, without a traceback
    (name, check), = installer.status()
    assert check.status == "failed" and f"{hosts}, line 1:" in check.message


def test_a_symlinked_hosts_file_stays_a_symlink_and_its_target_is_updated(cluster):
    hosts = cluster.hosts_file(SERVER)
    real = hosts.parent / "etc" / "hosts.real"
    real.parent.mkdir()
    real.write_bytes(OWN_LINES)
    hosts.unlink()
    hosts.symlink_to(os.path.relpath(real, hosts.parent))
    link_text = os.readlink(hosts)

    installer, step = hosts_step(cluster)
    result = step.apply()
    assert result.changed
    assert hosts.is_symlink() and os.readlink(hosts) == link_text
    assert real.read_bytes().startswith(OWN_LINES)
    assert read_block(real.read_bytes(), CLUSTER) == entries_of(installer)
    # Still reversible: the original bytes are kept beside the path the plan names.
    assert (hosts.parent / "hosts.wso2-cluster.orig").read_bytes() == OWN_LINES
    assert step.check().status == "done"
    assert not step.apply().changed


def fail_replace_onto(monkeypatch, target, code):
    """``os.replace`` in the atomic writer fails with ``code`` for ``target`` only (backups still work)."""
    real_replace = os.replace

    def replace(source, destination):
        if os.path.realpath(destination) == os.path.realpath(target):
            raise OSError(code, os.strerror(code))
        return real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_a_bind_mounted_hosts_file_is_written_in_place(cluster, monkeypatch):
    # /etc/hosts in a container is a bind mount: renaming onto it fails with EBUSY.
    hosts = cluster.hosts_file(SERVER)
    # A stale block of ours longer than the new one: the in-place write must cut the old tail off.
    stale = b"".join(b"10.0.0.%d stale%d.example\n" % (number, number) for number in range(40))
    hosts.write_bytes(OWN_LINES + b"# BEGIN wso2-cluster-installer wso2.esb.domain\n" + stale
                      + b"# END wso2-cluster-installer wso2.esb.domain\n")
    before = hosts.read_bytes()
    inode = hosts.stat().st_ino
    fail_replace_onto(monkeypatch, hosts, errno.EBUSY)

    installer, step = hosts_step(cluster)
    result = step.apply()
    assert result.changed
    assert "in place" in result.message and "hosts.wso2-cluster.orig" in result.message
    assert hosts.read_bytes() == render_hosts(before, CLUSTER, entries_of(installer))
    assert hosts.stat().st_ino == inode
    assert (hosts.parent / "hosts.wso2-cluster.orig").read_bytes() == before
    # No temporary file or crash-recovery copy left once the write went through.
    assert sorted(path.name for path in hosts.parent.iterdir() if "hosts" in path.name) == [
        "hosts", "hosts.wso2-cluster.orig"]
    assert step.check().status == "done"


def test_an_interrupted_in_place_write_is_not_written_over(cluster, monkeypatch):
    hosts = cluster.hosts_file(SERVER)
    fail_replace_onto(monkeypatch, hosts, errno.EBUSY)
    # What an in-place write killed half-way leaves: its copy of the bytes it was replacing.
    previous = hosts.parent / ".hosts.wso2-cluster.previous"
    previous.write_bytes(hosts.read_bytes())
    hosts.write_bytes(b"127.0.0.1\tlocalhost\n")
    installer, step = hosts_step(cluster)
    with pytest.raises(InstallerError) as raised:
        step.apply()
    assert str(previous) in raised.value.message and raised.value.hint
    assert hosts.read_bytes() == b"127.0.0.1\tlocalhost\n"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EACCES, errno.EROFS])
def test_a_file_that_cannot_be_replaced_is_a_clear_error_and_unchanged(cluster, monkeypatch, code):
    # chattr +i makes rename onto the file fail with EPERM, even for root.
    hosts = cluster.hosts_file(SERVER)
    before = hosts.read_bytes()
    fail_replace_onto(monkeypatch, hosts, code)
    installer, step = hosts_step(cluster)
    with pytest.raises(ConfigFileError) as raised:
        installer.apply()
    assert str(hosts) in raised.value.message and os.strerror(code) in raised.value.message
    assert raised.value.hint
    if code == errno.EPERM:
        assert "chattr -i" in raised.value.hint
    assert hosts.read_bytes() == before and stat.S_ISREG(hosts.lstat().st_mode)
    assert not list(hosts.parent.glob(".hosts.*.tmp"))
    assert installer.state.step_status("hosts") == "failed"
